// Record and mutation ids: UUIDv7 (RFC 9562) or ULID. Clients generate them
// offline; time and randomness are parameters.
#ifndef VIGIL_SYNC_IDS_H_
#define VIGIL_SYNC_IDS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::sync {

// 74 random bits are used from these 10 bytes (the version and variant bits
// overwrite the rest).
using UuidRandomBytes = std::array<uint8_t, 10>;

// A UUIDv7 in canonical form: 36 lowercase characters,
// "tttttttt-tttt-7rrr-vrrr-rrrrrrrrrrrr", whose first 48 bits are `now` in
// Unix milliseconds. Ids made later sort after earlier ones (as strings) when
// the millisecond differs. InvalidArgument if `now` is before 1970 or after
// the 48-bit millisecond range.
absl::StatusOr<std::string> NewUuidV7(absl::Time now,
                                      const UuidRandomBytes& random);

// OK if `id` is a canonical UUIDv7 (lowercase hex, hyphens at 8-13-18-23,
// version 7, RFC variant). InvalidArgument otherwise, saying why.
absl::Status ValidateUuidV7(std::string_view id);

// OK if `id` is a canonical ULID: 26 uppercase Crockford base32 characters
// (no I, L, O, U), first character 0-7. InvalidArgument otherwise.
absl::Status ValidateUlid(std::string_view id);

// A record or mutation id: a UUIDv7 or a ULID, in canonical form only, so
// that one id has exactly one spelling. InvalidArgument otherwise.
absl::Status ValidateRecordId(std::string_view id);

// The creation time embedded in a UUIDv7 or ULID (millisecond precision).
// InvalidArgument if `id` is neither.
absl::StatusOr<absl::Time> IdTime(std::string_view id);

// A UUIDv7 derived from `id` (a record or mutation id) and `purpose`: its
// time is `id`'s, its random bits a hash of both, so the server names what
// one request creates the same way when the request is retried.
// InvalidArgument if `id` is no valid id.
absl::StatusOr<std::string> DerivedId(std::string_view id, std::string_view purpose);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_IDS_H_
