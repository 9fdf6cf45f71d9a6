// The annual statistics (ReportService.GetStatistics) from the indexes: the
// visits of the period from the visit index's "year" entries, each with the
// summary its commits kept (types, announced, facility, findings by
// category and severity, interviews by kind, occupancy), and the
// recommendations issued in it from the records index's "year" entries. No
// record of a visit is read: a request reads what the period holds.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/status_macros.h"
#include "server/records/recommendation_reading.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "server/records/visit_index.h"

namespace vigil::server {
namespace {

using review::DayOf;
using review::FilterInvalid;
using review::Reading;
using review::RecommendationReader;
using vigil::internal::VisitSummary;
using vigil::v1::Record;

absl::Status CheckStatisticsPeriod(const vigil::v1::DateRange& period) {
  if (!period.has_start() || !period.has_end() || period.start().year() == 0 ||
      period.end().year() == 0) {
    return FilterInvalid("period", "start and end are required");
  }
  RETURN_IF_ERROR(review::CheckPeriod(period));
  if (period.end().year() - period.start().year() >= kMaxIndexedYears) {
    return FilterInvalid("period", absl::StrCat("spans more than ", kMaxIndexedYears, " years"));
  }
  return absl::OkStatus();
}

// Days from `from` to `to` (negative when earlier).
int DaysBetween(const vigil::v1::CivilDate& from, const vigil::v1::CivilDate& to) {
  return static_cast<int>(absl::CivilDay(to.year(), to.month(), to.day()) -
                          absl::CivilDay(from.year(), from.month(), from.day()));
}

struct Place {
  vigil::v1::PlaceVisited figures;
  std::int64_t occupancy_taken = -1;  // seconds of the snapshot counted
};

class StatisticsBuilder {
 public:
  StatisticsBuilder(Reading& reading, absl::Time now) : reading_(reading), now_(now) {}

  absl::StatusOr<vigil::v1::Statistics> Build(const vigil::v1::DateRange& period) {
    RecommendationReader recommendations(reading_, now_);
    RETURN_IF_ERROR(recommendations.RequireRegistry());
    *stats_.mutable_period() = period;
    RETURN_IF_ERROR(Visits(period));
    RETURN_IF_ERROR(Recommendations(recommendations, period));
    return std::move(stats_);
  }

 private:
  absl::Status Visits(const vigil::v1::DateRange& period) {
    std::set<std::string> seen;
    std::map<std::tuple<int, int, bool>, std::uint32_t> tallies;
    std::map<std::pair<int, int>, vigil::v1::FindingCount> findings;
    std::map<int, std::uint32_t> interviews;
    std::map<std::string, Place> places;
    absl::Status failed;
    for (int year = period.start().year(); year <= period.end().year() && failed.ok(); ++year) {
      RETURN_IF_ERROR(reading_.index().Scan(
          {"year", std::to_string(year)}, "", [&](std::string_view id, const VisitSummary& s) {
            if (!seen.insert(std::string(id)).second || !review::Overlaps(s.period(), period)) {
              return true;
            }
            absl::StatusOr<const ScopeGrant*> grant =
                reading_.GrantFor(absl::StrCat("visits/", std::string(id)));
            failed = grant.status();
            if (!failed.ok()) return false;
            if (!(*grant)->read) return true;
            stats_.set_visits_total(stats_.visits_total() + 1);
            ++tallies[{s.facility_type(), s.visit_type(), s.announced()}];
            for (const vigil::v1::FindingCount& c : s.findings_by_severity()) {
              vigil::v1::FindingCount& f = findings[{c.category(), c.severity()}];
              f.set_category(c.category());
              f.set_severity(c.severity());
              f.set_findings(f.findings() + c.findings());
              f.set_good_practices(f.good_practices() + c.good_practices());
            }
            for (const vigil::v1::InterviewCount& c : s.interviews_by_kind()) {
              interviews[c.kind()] += c.interviews();
            }
            Place& place = places[s.facility_id()];
            place.figures.set_visits(place.figures.visits() + 1);
            place.figures.set_name(s.facility_name());
            place.figures.set_type(s.facility_type());
            if (!s.occupancy().empty()) {
              const vigil::v1::OccupancySnapshot& o = s.occupancy().rbegin()->snapshot();
              stats_.set_occupancy_at_visits(stats_.occupancy_at_visits() + o.total());
              if (o.taken_at().seconds() > place.occupancy_taken) {
                place.occupancy_taken = o.taken_at().seconds();
                place.figures.set_occupancy(o.total());
                place.figures.set_official_capacity(o.official_capacity());
              }
            }
            return true;
          }));
    }
    RETURN_IF_ERROR(failed);
    for (const auto& [key, n] : tallies) {
      vigil::v1::VisitTally& t = *stats_.add_visits();
      t.set_facility_type(static_cast<vigil::v1::FacilityType>(std::get<0>(key)));
      t.set_visit_type(static_cast<vigil::v1::VisitType>(std::get<1>(key)));
      t.set_announced(std::get<2>(key));
      t.set_visits(n);
    }
    for (auto& [key, f] : findings) *stats_.add_findings() = f;
    for (const auto& [kind, n] : interviews) {
      vigil::v1::InterviewCount& c = *stats_.add_interviews();
      c.set_kind(static_cast<vigil::v1::InterviewKind>(kind));
      c.set_interviews(n);
    }
    std::vector<vigil::v1::PlaceVisited> listed;
    for (auto& [facility_id, place] : places) {
      vigil::v1::PlaceVisited& p = place.figures;
      p.set_facility(absl::StrCat("records/", facility_id));
      if (p.official_capacity() == 0 && !facility_id.empty()) {
        ASSIGN_OR_RETURN(std::optional<Record> facility, reading_.Shown(facility_id));
        if (facility.has_value() && facility->body().has_facility()) {
          p.set_official_capacity(facility->body().facility().official_capacity());
        }
      }
      if (p.official_capacity() > 0 && p.occupancy() > 0) {
        p.set_occupancy_rate(static_cast<double>(p.occupancy()) / p.official_capacity());
        p.set_overcrowded(p.occupancy() > p.official_capacity());
      }
      listed.push_back(std::move(p));
    }
    std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
      return std::forward_as_tuple(a.name(), a.facility()) <
             std::forward_as_tuple(b.name(), b.facility());
    });
    for (auto& p : listed) *stats_.add_places() = std::move(p);
    return absl::OkStatus();
  }

  absl::Status Recommendations(RecommendationReader& reader, const vigil::v1::DateRange& period) {
    std::set<std::string> ids;
    for (int year = period.start().year(); year <= period.end().year(); ++year) {
      ASSIGN_OR_RETURN(
          std::vector<std::string> of_year,
          reading_.IndexedIds({review::kRecommendationKind, "year", std::to_string(year)}));
      ids.insert(of_year.begin(), of_year.end());
    }
    std::map<std::pair<std::string, std::string>, std::uint32_t> tallies;
    vigil::v1::ImplementationStatus& impl = *stats_.mutable_implementation();
    vigil::v1::ResponseTimes& times = *stats_.mutable_response_times();
    std::vector<int> days;
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
      if (!shown.has_value()) continue;
      const vigil::v1::Recommendation& r = shown->body().recommendation();
      if (DayOf(r.issued_on()) < DayOf(period.start()) ||
          DayOf(period.end()) < DayOf(r.issued_on())) {
        continue;
      }
      ++tallies[{r.addressee_authority_id(), r.theme()}];
      impl.set_issued(impl.issued() + 1);
      if (!r.repeats_recommendation_ids().empty()) {
        stats_.set_repeated_recommendations(stats_.repeated_recommendations() + 1);
      }
      switch (r.status()) {
        case vigil::v1::RECOMMENDATION_STATUS_IMPLEMENTED:
          impl.set_implemented(impl.implemented() + 1);
          break;
        case vigil::v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED:
          impl.set_partially_implemented(impl.partially_implemented() + 1);
          break;
        case vigil::v1::RECOMMENDATION_STATUS_REJECTED:
          impl.set_rejected(impl.rejected() + 1);
          break;
        default:
          if (r.responses().empty()) {
            impl.set_no_response(impl.no_response() + 1);
          } else {
            impl.set_not_implemented(impl.not_implemented() + 1);
          }
      }
      if (r.responses().empty()) {
        if (review::Overdue(r, now_)) {
          times.set_no_response_overdue(times.no_response_overdue() + 1);
        } else {
          times.set_no_response_pending(times.no_response_pending() + 1);
        }
        continue;
      }
      const vigil::v1::AuthorityResponse* first = &r.responses(0);
      for (const vigil::v1::AuthorityResponse& a : r.responses()) {
        if (DayOf(a.received_on()) < DayOf(first->received_on())) first = &a;
      }
      times.set_responded(times.responded() + 1);
      days.push_back(DaysBetween(r.issued_on(), first->received_on()));
      if (!r.has_deadline()) {
        times.set_responded_without_deadline(times.responded_without_deadline() + 1);
      } else if (DayOf(first->received_on()) <= DayOf(r.deadline())) {
        times.set_responded_by_deadline(times.responded_by_deadline() + 1);
      } else {
        times.set_responded_after_deadline(times.responded_after_deadline() + 1);
      }
    }
    if (impl.issued() > 0) {
      impl.set_implementation_rate(static_cast<double>(impl.implemented()) / impl.issued());
    }
    if (!days.empty()) {
      std::sort(days.begin(), days.end());
      double sum = 0;
      for (int d : days) sum += d;
      times.set_mean_days_to_response(sum / days.size());
      const std::size_t mid = days.size() / 2;
      times.set_median_days_to_response(days.size() % 2 == 1 ? days[mid]
                                                             : (days[mid - 1] + days[mid]) / 2.0);
    }
    std::map<std::string, std::string> names;
    for (const auto& [key, n] : tallies) {
      vigil::v1::RecommendationTally& t = *stats_.add_recommendations();
      t.set_addressee(absl::StrCat("records/", key.first));
      auto name = names.find(key.first);
      if (name == names.end()) {
        std::string found;
        if (!key.first.empty()) {
          ASSIGN_OR_RETURN(std::optional<Record> a, reading_.Shown(key.first));
          if (a.has_value() && a->body().has_authority()) found = a->body().authority().name();
        }
        name = names.emplace(key.first, found).first;
      }
      t.set_addressee_name(name->second);
      t.set_theme(key.second);
      t.set_recommendations(n);
    }
    return absl::OkStatus();
  }

  Reading& reading_;
  const absl::Time now_;
  vigil::v1::Statistics stats_;
};

}  // namespace

absl::StatusOr<vigil::v1::Statistics> ReviewQueries::GetStatistics(
    const Caller& caller, const vigil::v1::DateRange& period, absl::Time now) {
  RETURN_IF_ERROR(CheckStatisticsPeriod(period));
  Reading reading(*storage_, *keys_, *policy_, caller);
  return StatisticsBuilder(reading, now).Build(period);
}

}  // namespace vigil::server
