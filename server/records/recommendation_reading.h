// What the reads of recommendations share (recommendation_queries.cc,
// visit_report.cc): "overdue", and RecommendationReader, the reads of one
// answer about recommendations at one snapshot, each record redacted as a
// pull redacts it. Internal to server/records.
#ifndef VIGIL_SERVER_RECORDS_RECOMMENDATION_READING_H_
#define VIGIL_SERVER_RECORDS_RECOMMENDATION_READING_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "server/records/review_reading.h"
#include "sync/scope.h"
#include "vigil/v1/report.pb.h"

namespace vigil::server::review {

inline constexpr int kRecommendationKind = vigil::v1::RecordBody::kRecommendation;

inline std::tuple<int, int, int> Today(absl::Time now) {
  const absl::CivilDay day = absl::ToCivilDay(now, absl::UTCTimeZone());
  return {static_cast<int>(day.year()), day.month(), day.day()};
}

// The deadline passed without a response.
inline bool Overdue(const vigil::v1::Recommendation& r, absl::Time now) {
  return r.has_deadline() && r.responses_size() == 0 && DayOf(r.deadline()) < Today(now);
}

// The reads of one answer about recommendations, at one snapshot.
class RecommendationReader {
 public:
  RecommendationReader(Reading& reading, absl::Time now) : reading_(reading), now_(now) {}

  // The registry's rights; PERMISSION_DENIED for a caller who may not read.
  absl::Status RequireRegistry() {
    ASSIGN_OR_RETURN(grant_, reading_.GrantFor(std::string(sync::Scope::Registry().str())));
    if (!grant_->read) {
      return WithReason(absl::PermissionDeniedError("you may not read recommendations"),
                        "SCOPE_NOT_PERMITTED", {{"scope", "registry"}});
    }
    return absl::OkStatus();
  }

  // The live recommendation `id` as the caller sees it, if any.
  absl::StatusOr<std::optional<Record>> Shown(std::string_view id) {
    ASSIGN_OR_RETURN(std::optional<Record> shown, reading_.Shown(id));
    if (shown.has_value() && !shown->body().has_recommendation()) return std::nullopt;
    return shown;
  }

  // The ids of the recommendations that repeat `id`.
  absl::StatusOr<std::vector<std::string>> RepeatedBy(std::string_view id) {
    return reading_.IndexedIds({kRecommendationKind, "repeats", std::string(id)});
  }

  absl::StatusOr<vigil::v1::RecommendationView> View(Record record) {
    vigil::v1::RecommendationView view;
    view.set_name(absl::StrCat("recommendations/", record.id()));
    view.set_etag(RecordEtag(record));
    view.set_overdue(Overdue(record.body().recommendation(), now_));
    ASSIGN_OR_RETURN(std::vector<std::string> repeated_by, RepeatedBy(record.id()));
    for (std::string& id : repeated_by) view.add_repeated_by_ids(std::move(id));
    *view.mutable_record() = std::move(record);
    return view;
  }

  // The type of facility `id` ("" or none: unspecified).
  absl::StatusOr<vigil::v1::FacilityType> FacilityTypeOf(const std::string& id) {
    auto it = facility_types_.find(id);
    if (it == facility_types_.end()) {
      vigil::v1::FacilityType type = vigil::v1::FACILITY_TYPE_UNSPECIFIED;
      if (!id.empty()) {
        ASSIGN_OR_RETURN(std::optional<Record> facility, reading_.tables().Head(id));
        if (facility.has_value() && facility->body().has_facility()) {
          type = facility->body().facility().type();
        }
      }
      it = facility_types_.emplace(id, type).first;
    }
    return it->second;
  }

  Reading& reading() { return reading_; }

 private:
  Reading& reading_;
  const absl::Time now_;
  const ScopeGrant* grant_ = nullptr;
  std::map<std::string, vigil::v1::FacilityType> facility_types_;
};

}  // namespace vigil::server::review

#endif  // VIGIL_SERVER_RECORDS_RECOMMENDATION_READING_H_
