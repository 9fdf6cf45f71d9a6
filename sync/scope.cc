#include "sync/scope.h"

#include "base/error_reason.h"
#include "sync/ids.h"

namespace vigil::sync {
namespace {

constexpr std::string_view kVisitPrefix = "visits/";
constexpr std::string_view kFacilityPrefix = "facilities/";

absl::Status Invalid(std::string_view text) {
  const std::string shown(text.substr(0, 128));
  return WithReason(absl::InvalidArgumentError("scope '" + shown +
                                               "' is not \"registry\", \"visits/{id}\" or "
                                               "\"facilities/{id}\""),
                    "SCOPE_INVALID", {{"scope", shown}});
}

}  // namespace

absl::StatusOr<Scope> Scope::Parse(std::string_view text) {
  if (text == "registry") return Registry();
  for (const auto& [prefix, kind] : {std::pair{kVisitPrefix, Kind::kVisit},
                                     std::pair{kFacilityPrefix, Kind::kFacility}}) {
    if (text.substr(0, prefix.size()) == prefix &&
        ValidateRecordId(text.substr(prefix.size())).ok()) {
      return Scope(kind, std::string(text), prefix.size());
    }
  }
  return Invalid(text);
}

absl::StatusOr<Scope> Scope::Visit(std::string_view visit_id) {
  std::string text = std::string(kVisitPrefix) + std::string(visit_id);
  if (!ValidateRecordId(visit_id).ok()) return Invalid(text);
  return Scope(Kind::kVisit, std::move(text), kVisitPrefix.size());
}

std::string_view VisitIdOf(std::string_view scope) {
  return scope.substr(0, kVisitPrefix.size()) == kVisitPrefix ? scope.substr(kVisitPrefix.size())
                                                              : std::string_view();
}

}  // namespace vigil::sync
