// Authentication of every vigil.v1 call: the bearer token in the
// `authorization` header (gRPC metadata; the transport passes it in) names
// an enrolled device of an enabled user.
// Failed attempts are rate-limited per source address, logged and audited;
// authenticated devices are held to a request rate and a byte rate.
#ifndef VIGIL_SERVER_AUTH_AUTHENTICATOR_H_
#define VIGIL_SERVER_AUTH_AUTHENTICATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/caller.h"
#include "server/auth/identity_store.h"
#include "storage/storage.h"

namespace vigil::server {

struct AuthOptions {
  // Failed authentications per source address per minute before the source
  // is refused outright (RESOURCE_EXHAUSTED) until it cools down.
  // Default: 20.
  std::uint32_t failures_per_minute = 20;
  // Calls per device per minute. Default: 1200.
  std::uint32_t requests_per_minute = 1200;
  // Request bytes per device per minute (pushes and uploads). Default: 1 GiB.
  std::uint64_t bytes_per_minute = 1ull << 30;
};

// Token buckets by key: `per_minute` units refill evenly over a minute, and
// at most that many can be spent at once. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(double per_minute) : per_minute_(per_minute) {}
  // Spends `units` from `key`'s bucket. False (nothing spent) when the
  // bucket holds fewer; `retry_after` then says when it will hold them.
  bool TrySpend(std::string_view key, double units, absl::Time now,
                absl::Duration* retry_after = nullptr);
  // True when `key`'s bucket is empty (without spending).
  bool Exhausted(std::string_view key, absl::Time now);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  Bucket& Refill(std::string_view key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double per_minute_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

class Authenticator {
 public:
  // `identities` and `storage` are borrowed and must outlive this.
  Authenticator(IdentityStore* identities, storage::Storage* storage, AuthOptions options)
      : identities_(identities),
        storage_(storage),
        options_(options),
        failures_(options.failures_per_minute),
        requests_(options.requests_per_minute),
        bytes_(static_cast<double>(options.bytes_per_minute)) {}

  // The caller presenting `authorization` ("Bearer <token>"; nullopt when
  // the call carries none) from `source` (SourceOf), charged one request and
  // `request_bytes`. UNAUTHENTICATED (reasons CREDENTIALS_MISSING,
  // CREDENTIALS_MALFORMED and those of IdentityStore::Authenticate);
  // RESOURCE_EXHAUSTED with reason AUTH_RATE_LIMITED (too many failures from
  // this source) or RATE_LIMITED (this device's request or byte budget;
  // metadata "retry_after_ms").
  absl::StatusOr<Caller> Authenticate(std::optional<std::string_view> authorization,
                                      const std::string& source, std::uint64_t request_bytes = 0);
  // Charges more bytes to an authenticated device (streamed uploads).
  absl::Status ChargeBytes(const Caller& caller, std::uint64_t bytes);

  // The address of `peer` (gRPC's spelling: "ipv4:10.0.0.7:5678",
  // "ipv6:[::1]:5678", "unix:/path") without its port; one IPv6 /64 counts
  // as one source ("ipv6:[2001:db8::]/64").
  static std::string SourceOf(std::string peer);

  // RESOURCE_EXHAUSTED (AUTH_RATE_LIMITED) while `source` has used up its
  // failed attempts.
  absl::Status CheckSource(const std::string& source);
  // Counts, logs and audits a failed authentication from `source`; returns
  // `why`.
  absl::Status CountFailure(const std::string& source, absl::Status why);

 private:

  IdentityStore* identities_;
  storage::Storage* storage_;
  const AuthOptions options_;
  RateLimiter failures_;
  RateLimiter requests_;
  RateLimiter bytes_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_AUTH_AUTHENTICATOR_H_
