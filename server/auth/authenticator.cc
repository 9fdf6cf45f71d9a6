#include "server/auth/authenticator.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/ops/logging.h"
#include "storage/audit_log.h"

namespace vigil::server {
namespace {

constexpr std::size_t kMaxBuckets = 100000;
constexpr std::size_t kMaxTokenBytes = 256;

}  // namespace

RateLimiter::Bucket& RateLimiter::Refill(std::string_view key, absl::Time now) {
  if (buckets_.size() >= kMaxBuckets) {
    // Forget the buckets that have refilled completely: they hold no state.
    absl::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.tokens + absl::ToDoubleMinutes(now - entry.second.updated) *
                                       per_minute_ >= per_minute_;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{per_minute_, now});
  Bucket& bucket = it->second;
  if (!inserted && now > bucket.updated) {
    bucket.tokens = std::min(
        per_minute_, bucket.tokens + absl::ToDoubleMinutes(now - bucket.updated) * per_minute_);
    bucket.updated = now;
  }
  return bucket;
}

bool RateLimiter::TrySpend(std::string_view key, double units, absl::Time now,
                           absl::Duration* retry_after) {
  absl::MutexLock lock(&mu_);
  Bucket& bucket = Refill(key, now);
  // A single request larger than the whole budget may pass when the bucket
  // is full, or it could never pass at all.
  if (bucket.tokens >= units || bucket.tokens >= per_minute_) {
    bucket.tokens -= units;
    return true;
  }
  if (retry_after != nullptr) {
    *retry_after = absl::Minutes((std::min(units, per_minute_) - bucket.tokens) / per_minute_);
  }
  return false;
}

bool RateLimiter::Exhausted(std::string_view key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return Refill(key, now).tokens < 1;
}

std::string Authenticator::SourceOf(std::string peer) {
  // "ipv4:1.2.3.4:5678", "ipv6:[::1]:5678", "unix:/path".
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    const std::size_t colon = peer.rfind(':');
    if (colon != std::string::npos && colon > 5) peer.resize(colon);
  }
  // One IPv6 host usually holds a whole /64: counted as one source, so that
  // rotating addresses inside it does not escape the failure limit.
  if (absl::StartsWith(peer, "ipv6:[") && absl::EndsWith(peer, "]")) {
    const std::string address = peer.substr(6, peer.size() - 7);
    in6_addr a{};
    if (inet_pton(AF_INET6, address.c_str(), &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
      std::memset(a.s6_addr + 8, 0, 8);
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(AF_INET6, &a, text, sizeof text) != nullptr) {
        return absl::StrCat("ipv6:[", text, "]/64");
      }
    }
  }
  return peer;
}

absl::Status Authenticator::CountFailure(const std::string& source, absl::Status why) {
  failures_.TrySpend(source, 1, absl::Now());
  const std::string reason = ReasonOf(why).value_or("UNAUTHENTICATED");
  LogWarn("auth.failed", {{"source", source}, {"reason", reason}});
  // The refusal is audited without delaying the answer; the rate limit
  // bounds how many entries one source can add.
  storage_->Submit(
      [source, reason](storage::CommitContext& ctx) {
        return storage::AppendAudit(
            ctx, AuditOf(Caller{"anonymous@" + source, ""}, "auth.failed", "", reason));
      },
      [](absl::StatusOr<storage::CommitResult> done) {
        if (!done.ok()) LogError("auth.audit_failed", {{"status", done.status()}});
      });
  return why;
}

absl::Status Authenticator::CheckSource(const std::string& source) {
  if (failures_.Exhausted(source, absl::Now())) {
    return WithReason(absl::ResourceExhaustedError(
                          "too many failed authentications from this address; try again in a "
                          "minute"),
                      "AUTH_RATE_LIMITED");
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> Authenticator::Authenticate(std::optional<std::string_view> authorization,
                                                   const std::string& source,
                                                   std::uint64_t request_bytes) {
  const absl::Time now = absl::Now();
  RETURN_IF_ERROR(CheckSource(source));
  if (!authorization.has_value()) {
    return CountFailure(source, WithReason(absl::UnauthenticatedError(
                                         "this call needs a device token: metadata "
                                         "'authorization: Bearer <token>'"),
                                     "CREDENTIALS_MISSING"));
  }
  const std::string_view value = *authorization;
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer || value.size() == kBearer.size() ||
      value.size() > kBearer.size() + kMaxTokenBytes) {
    return CountFailure(source, WithReason(absl::UnauthenticatedError(
                                         "the authorization metadata must be 'Bearer <token>'"),
                                     "CREDENTIALS_MALFORMED"));
  }
  absl::StatusOr<Caller> caller = identities_->Authenticate(value.substr(kBearer.size()));
  if (!caller.ok()) {
    if (caller.status().code() != absl::StatusCode::kUnauthenticated) return caller.status();
    return CountFailure(source, caller.status());
  }
  absl::Duration retry_after;
  if (!requests_.TrySpend(caller->device, 1, now, &retry_after)) {
    return WithReason(absl::ResourceExhaustedError("this device makes too many calls; slow down"),
                      "RATE_LIMITED",
                      {{"retry_after_ms", absl::StrCat(absl::ToInt64Milliseconds(retry_after))}});
  }
  RETURN_IF_ERROR(ChargeBytes(*caller, request_bytes));
  return caller;
}

absl::Status Authenticator::ChargeBytes(const Caller& caller, std::uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  absl::Duration retry_after;
  if (!bytes_.TrySpend(caller.device, static_cast<double>(bytes), absl::Now(), &retry_after)) {
    return WithReason(
        absl::ResourceExhaustedError("this device sends too many bytes per minute; slow down"),
        "RATE_LIMITED",
        {{"retry_after_ms", absl::StrCat(absl::ToInt64Milliseconds(retry_after))}});
  }
  return absl::OkStatus();
}

}  // namespace vigil::server
