// Stable error reasons on absl::Status, carried as payloads so that any layer
// can name why it failed without depending on gRPC; server/grpc_status.h turns
// them into google.rpc.ErrorInfo at the one gRPC boundary.
#ifndef VIGIL_BASE_ERROR_REASON_H_
#define VIGIL_BASE_ERROR_REASON_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace vigil {

inline constexpr absl::string_view kErrorDomain = "vigil.npm";
inline constexpr absl::string_view kReasonPayload = "vigil.npm/reason";
inline constexpr absl::string_view kMetadataPayloadPrefix = "vigil.npm/meta/";

// Returns `status` tagged with a stable UPPER_SNAKE_CASE reason and details
// (e.g. {"mutation_id", "..."}). OK statuses are returned unchanged.
inline absl::Status WithReason(
    absl::Status status, absl::string_view reason,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>>
        metadata = {}) {
  if (status.ok()) return status;
  status.SetPayload(kReasonPayload, absl::Cord(reason));
  for (const auto& [key, value] : metadata) {
    status.SetPayload(std::string(kMetadataPayloadPrefix) + std::string(key),
                      absl::Cord(value));
  }
  return status;
}

inline std::optional<std::string> ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

inline std::map<std::string, std::string> MetadataOf(const absl::Status& status) {
  std::map<std::string, std::string> out;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::StartsWith(url, kMetadataPayloadPrefix)) {
      out[std::string(url.substr(kMetadataPayloadPrefix.size()))] = std::string(value);
    }
  });
  return out;
}

}  // namespace vigil

#endif  // VIGIL_BASE_ERROR_REASON_H_
