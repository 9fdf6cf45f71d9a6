// The request ids of the review desk's mutating methods (AIP-155): one
// grammar, one error for a malformed one and one for an id reused for
// another request. Internal to server/records.
#ifndef VIGIL_SERVER_RECORDS_REQUEST_IDS_H_
#define VIGIL_SERVER_RECORDS_REQUEST_IDS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "base/error_reason.h"
#include "sync/ids.h"

namespace vigil::server {

// OK for a UUIDv7 or a ULID; INVALID_ARGUMENT (REQUEST_ID_INVALID) else.
inline absl::Status CheckRequestId(std::string_view request_id) {
  if (sync::ValidateRecordId(request_id).ok()) return absl::OkStatus();
  return WithReason(
      absl::InvalidArgumentError("request_id must be a UUIDv7 or a ULID, new for each request"),
      "REQUEST_ID_INVALID");
}

// ALREADY_EXISTS (MUTATION_ID_REUSED): `request_id` was used for another
// request, whose first result it would otherwise get.
inline absl::Status RequestIdReused(std::string_view request_id) {
  return WithReason(absl::AlreadyExistsError(
                        "this request id was already used for another request; give every "
                        "request its own id"),
                    "MUTATION_ID_REUSED", {{"request_id", std::string(request_id)}});
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_REQUEST_IDS_H_
