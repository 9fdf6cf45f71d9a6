// Resource names of the review API (AIP-122) beyond a visit's own
// ("visits/{id}", which is its scope: sync::Scope), parsed once at the edge
// and spelled in one place.
#ifndef VIGIL_SERVER_RECORDS_RESOURCE_NAMES_H_
#define VIGIL_SERVER_RECORDS_RESOURCE_NAMES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {

inline absl::Status NameInvalid(std::string_view name, std::string_view form) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("name must be ", std::string(form))),
                    "NAME_INVALID", {{"name", std::string(name.substr(0, 100))}});
}

// What `caller` learns of the resource `name` (`what`: "open conflict",
// "record", ...) that is not there or that it may not see: NOT_FOUND
// (RESOURCE_NOT_FOUND) when it may learn of absence (NPM reviewers), else
// PERMISSION_DENIED like any denial, so that nobody else learns what exists.
inline absl::Status Absent(const Caller& caller, std::string_view what, std::string name) {
  if (!AccessPolicy::MayLearnOfAbsence(caller)) return AccessPolicy::Denied();
  return WithReason(absl::NotFoundError(absl::StrCat("there is no such ", std::string(what))),
                    "RESOURCE_NOT_FOUND", {{"name", name}});
}

// "visits/{visit id}": INVALID_ARGUMENT (NAME_INVALID) for anything else.
inline absl::StatusOr<sync::Scope> ParseVisitName(std::string_view name) {
  absl::StatusOr<sync::Scope> scope = sync::Scope::Parse(name);
  if (!scope.ok() || !scope->is_visit()) return NameInvalid(name, "visits/{visit id}");
  return scope;
}

// "{collection}/{id}" for an id of the record-id grammar (UUIDv7 or ULID):
// the id, or INVALID_ARGUMENT (NAME_INVALID) naming `form`.
inline absl::StatusOr<std::string> ParseIdName(std::string_view name,
                                               std::string_view collection,
                                               std::string_view form) {
  if (name.substr(0, collection.size()) != collection ||
      !sync::ValidateRecordId(name.substr(collection.size())).ok()) {
    return NameInvalid(name, form);
  }
  return std::string(name.substr(collection.size()));
}

// "records/{record id}": the record id.
inline absl::StatusOr<std::string> ParseRecordName(std::string_view name) {
  return ParseIdName(name, "records/", "records/{record id}");
}

// "recommendations/{record id}": the record id.
inline absl::StatusOr<std::string> ParseRecommendationName(std::string_view name) {
  return ParseIdName(name, "recommendations/", "recommendations/{record id}");
}

// "parallelUpdates/{mutation id}" (of the merged edit): the mutation id.
inline absl::StatusOr<std::string> ParseParallelUpdateName(std::string_view name) {
  return ParseIdName(name, "parallelUpdates/", "parallelUpdates/{mutation id}");
}
inline std::string ParallelUpdateName(std::string_view mutation_id) {
  return "parallelUpdates/" + std::string(mutation_id);
}

// "conflicts/{conflict id}" (ids are "cf-" and 32 hex digits): the id, or
// INVALID_ARGUMENT (NAME_INVALID).
inline absl::StatusOr<std::string> ParseConflictName(std::string_view name) {
  constexpr std::string_view kCollection = "conflicts/";
  const std::string_view id =
      name.substr(0, kCollection.size()) == kCollection ? name.substr(kCollection.size()) : "";
  bool valid = id.size() == 35 && id.substr(0, 3) == "cf-";
  for (char c : id.substr(valid ? 3 : id.size())) {
    valid = valid && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!valid) return NameInvalid(name, "conflicts/{conflict id}");
  return std::string(id);
}

// "visits/{visit id}/lateSubmissions/{mutation id}".
struct LateSubmissionName {
  sync::Scope visit;
  std::string mutation_id;

  static absl::StatusOr<LateSubmissionName> Parse(std::string_view name) {
    constexpr std::string_view kForm = "visits/{visit id}/lateSubmissions/{mutation id}";
    constexpr std::string_view kCollection = "/lateSubmissions/";
    const std::size_t at = name.find(kCollection);
    if (at == std::string_view::npos) return NameInvalid(name, kForm);
    absl::StatusOr<sync::Scope> visit = sync::Scope::Parse(name.substr(0, at));
    const std::string_view mutation_id = name.substr(at + kCollection.size());
    if (!visit.ok() || !visit->is_visit() || !sync::ValidateRecordId(mutation_id).ok()) {
      return NameInvalid(name, kForm);
    }
    return LateSubmissionName{*std::move(visit), std::string(mutation_id)};
  }
  static std::string Format(std::string_view visit_scope, std::string_view mutation_id) {
    return absl::StrCat(std::string(visit_scope), "/lateSubmissions/", std::string(mutation_id));
  }
  std::string str() const { return Format(visit.str(), mutation_id); }
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_RESOURCE_NAMES_H_
