// The review desk's queries over a visit's findings and interviews (the
// records index, record_index.h) and a facility's history (the visit
// index), each record redacted as a pull redacts it.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/auth/field_visibility.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "sync/ids.h"

namespace vigil::server {
namespace {

using review::AuditedAnswer;
using review::Binding;
using review::FilterInvalid;
using review::Reading;
using vigil::internal::VisitSummary;
using vigil::v1::Record;

// One List call over the records index: which entries to scan, and what a
// record must be to be listed.
struct RecordQuery {
  int kind = 0;
  std::string visit_id;     // the parent's, or ""
  std::string facility_id;  // or ""
  std::optional<vigil::v1::DateRange> period;
  // The index-served filters given, most selective first.
  std::vector<RecordIndexKey> keyed;
  // Every filter of the kind's own fields, on the record as the caller sees
  // it.
  std::function<bool(const Record&)> matches;
};

// Reads one page of `query` for the caller: the records, redacted, in
// index order, with `shown` applied to each; the position to resume at
// ("" when every entry was seen).
class RecordPager {
 public:
  RecordPager(Reading& reading, const Caller& caller, const RecordQuery& query,
              std::uint32_t page_size, std::uint32_t max_examined)
      : reading_(reading),
        caller_(caller),
        query_(query),
        page_size_(page_size),
        max_examined_(max_examined) {}

  absl::StatusOr<std::string> Page(std::string_view after, absl::FunctionRef<void(Record)> shown) {
    std::uint32_t taken = 0;
    auto take = [&](const std::string& id) -> absl::StatusOr<bool> {
      if (id.empty()) return false;  // the end of a visit's entries
      ASSIGN_OR_RETURN(std::optional<Record> record, Listed(id));
      if (!record.has_value()) return false;
      shown(*std::move(record));
      ++taken;
      return true;
    };
    return review::ScanPage<std::string>([&](auto visit) { return Scan(after, visit); }, page_size_,
                                         max_examined_, [&] { return taken; }, take);
  }

 private:
  using Visitor = absl::FunctionRef<bool(std::string_view, const std::string&)>;

  // The visits scanned one by one (besides one parent): one facility's, a
  // field user's own, or every visit when no index serves a filter;
  // nullopt when the first keyed filter is scanned across visits.
  std::optional<VisitIndexKey> VisitSet() const {
    if (!query_.facility_id.empty()) return VisitIndexKey{"facility", query_.facility_id};
    if (caller_.role != vigil::v1::ROLE_NPM_REVIEWER &&
        caller_.role != vigil::v1::ROLE_SERVICE_ACCOUNT) {
      return VisitIndexKey{"member", caller_.principal};
    }
    if (query_.keyed.empty()) return VisitIndexKey{"all", ""};
    return std::nullopt;
  }

  absl::Status Scan(std::string_view after, Visitor visit) {
    auto each = [&](std::string_view position, std::string_view id) {
      return visit(position, std::string(id));
    };
    if (!query_.visit_id.empty()) {
      return reading_.records().Scan({query_.kind, "visit", query_.visit_id}, after, each);
    }
    const std::optional<VisitIndexKey> visits = VisitSet();
    if (!visits.has_value()) return reading_.records().Scan(query_.keyed.front(), after, each);
    // Visit by visit, in visit id order: the rest of the visit of `after`
    // first, then the visits after it.
    bool stopped = false;
    auto scan_visit = [&](std::string_view visit_id, std::string_view from) {
      return reading_.records().Scan({query_.kind, "visit", std::string(visit_id)}, from,
                                     [&](std::string_view position, std::string_view id) {
                                       stopped = !each(position, id);
                                       return !stopped;
                                     });
    };
    std::string resume_visit;
    if (!after.empty()) {
      ASSIGN_OR_RETURN(RecordIndexKey at, RecordIndexKeyOf(after));
      resume_visit = std::move(at.value);
      RETURN_IF_ERROR(scan_visit(resume_visit, after));
      if (stopped) return absl::OkStatus();
    }
    absl::Status failed;
    RETURN_IF_ERROR(reading_.index().Scan(
        *visits, resume_visit, [&](std::string_view visit_id, const VisitSummary& summary) {
          if (query_.period.has_value() &&
              (!summary.has_period() || !review::Overlaps(*query_.period, summary.period()))) {
            return true;
          }
          failed = scan_visit(visit_id, "");
          // A visit counts as one entry examined, however few it holds, so
          // that a walk over visits is bounded too.
          if (failed.ok() && !stopped) {
            stopped = !each(EndOfEntries({query_.kind, "visit", std::string(visit_id)}), "");
          }
          return failed.ok() && !stopped;
        }));
    return failed;
  }

  // The record `id` as the caller sees it, if it is listed.
  absl::StatusOr<std::optional<Record>> Listed(const std::string& id) {
    SnapshotTables& tables = reading_.tables();
    ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(id));
    if (!head.has_value()) return std::nullopt;
    const std::string visit_id(sync::VisitIdOf(head->scope()));
    ASSIGN_OR_RETURN(const ScopeGrant* grant, reading_.GrantFor(head->scope()));
    if (!grant->read) return std::nullopt;
    if (query_.visit_id.empty() && (!query_.facility_id.empty() || query_.period.has_value())) {
      ASSIGN_OR_RETURN(const VisitSummary* summary, SummaryOf(visit_id));
      if (!query_.facility_id.empty() && summary->facility_id() != query_.facility_id) {
        return std::nullopt;
      }
      if (query_.period.has_value() &&
          (!summary->has_period() || !review::Overlaps(*query_.period, summary->period()))) {
        return std::nullopt;
      }
    }
    auto same_scope = [&](std::string_view other) {
      return tables.HeadInScope(other, head->scope());
    };
    ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *head, same_scope));
    if (shown == Visibility::kWithheld || !query_.matches(*head)) return std::nullopt;
    return head;
  }

  absl::StatusOr<const VisitSummary*> SummaryOf(const std::string& visit_id) {
    auto it = summaries_.find(visit_id);
    if (it == summaries_.end()) {
      ASSIGN_OR_RETURN(std::optional<VisitSummary> s, reading_.index().Summary(visit_id));
      it = summaries_.emplace(visit_id, s.value_or(VisitSummary())).first;
    }
    return &it->second;
  }

  Reading& reading_;
  const Caller& caller_;
  const RecordQuery& query_;
  const std::uint32_t page_size_, max_examined_;
  std::map<std::string, VisitSummary> summaries_;
};

// An interview's metadata only: its notes gone, and with them the
// competing values and merges of the notes that the record carries.
void WithoutNotes(Record& r) {
  r.mutable_body()->mutable_interview()->clear_notes();
  auto about_notes = [](const vigil::v1::Conflict& c) { return c.field_path() == "notes"; };
  for (auto* list : {r.mutable_open_conflicts(), r.mutable_text_merges()}) {
    list->erase(std::remove_if(list->begin(), list->end(), about_notes), list->end());
  }
}

absl::Status CheckFacilityId(std::string_view id) {
  if (!id.empty() && !sync::ValidateRecordId(id).ok()) {
    return FilterInvalid("facility_id", "not a record id");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<vigil::v1::ListFindingsResponse> ReviewQueries::ListFindings(
    const Caller& caller, std::string_view visit_id,
    const vigil::v1::ListFindingsRequest& request) {
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  RETURN_IF_ERROR(CheckFacilityId(request.facility_id()));
  if (!vigil::v1::FindingCategory_IsValid(request.category()) ||
      !vigil::v1::Severity_IsValid(request.severity()) ||
      (request.has_review_mark() && !vigil::v1::ReviewMarkState_IsValid(request.review_mark()))) {
    return FilterInvalid("category", "unknown enum value");
  }
  if (request.has_period()) RETURN_IF_ERROR(review::CheckPeriod(request.period()));
  const std::string binding = Binding("ListFindings", caller, request);
  ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
  Reading reading(*storage_, *keys_, *policy_, caller);
  RETURN_IF_ERROR(reading.RequireParent(visit_id));
  RecordQuery query;
  query.kind = vigil::v1::RecordBody::kFinding;
  query.visit_id = std::string(visit_id);
  query.facility_id = request.facility_id();
  if (request.has_period()) query.period = request.period();
  if (request.category() != 0) {
    query.keyed.push_back({query.kind, "category", std::to_string(request.category())});
  }
  query.matches = [&request](const Record& r) {
    const vigil::v1::Finding& f = r.body().finding();
    return (request.category() == 0 || f.category() == request.category()) &&
           (request.subcategory().empty() || f.subcategory() == request.subcategory()) &&
           (request.severity() == 0 || f.severity() == request.severity()) &&
           (!request.has_good_practice() || f.good_practice() == request.good_practice()) &&
           (!request.has_review_mark() || r.review().state() == request.review_mark());
  };
  vigil::v1::ListFindingsResponse response;
  RecordPager pager(reading, caller, query, page_size, options_.max_examined_per_page);
  ASSIGN_OR_RETURN(const std::string next,
                   pager.Page(after, [&](Record r) { *response.add_findings() = std::move(r); }));
  if (!next.empty()) response.set_next_page_token(tokens_.SealPageToken(binding, next));
  return response;
}

void ReviewQueries::ListInterviews(const Caller& caller, std::string_view visit_id,
                                   const vigil::v1::ListInterviewsRequest& request,
                                   InterviewsDoneFn done) {
  AuditedAnswer<vigil::v1::ListInterviewsResponse>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids)
          -> absl::StatusOr<vigil::v1::ListInterviewsResponse> {
        ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
        RETURN_IF_ERROR(CheckFacilityId(request.facility_id()));
        if (!vigil::v1::InterviewKind_IsValid(request.kind()) ||
            !vigil::v1::VulnerabilityTag_IsValid(request.vulnerability())) {
          return FilterInvalid("kind", "unknown enum value");
        }
        const std::string binding = Binding("ListInterviews", caller, request);
        ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
        Reading reading(*storage_, *keys_, *policy_, caller);
        RETURN_IF_ERROR(reading.RequireParent(visit_id));
        RecordQuery query;
        query.kind = vigil::v1::RecordBody::kInterview;
        query.visit_id = std::string(visit_id);
        query.facility_id = request.facility_id();
        query.matches = [&request](const Record& r) {
          const vigil::v1::Interview& i = r.body().interview();
          const auto& tags = i.vulnerability_tags();
          return (request.kind() == 0 || i.kind() == request.kind()) &&
                 (request.vulnerability() == 0 ||
                  std::find(tags.begin(), tags.end(), request.vulnerability()) != tags.end()) &&
                 (!request.has_reprisal_watch() ||
                  i.reprisal_watch() == request.reprisal_watch()) &&
                 (!request.has_quote_consent() || i.consent().quote() == request.quote_consent());
        };
        vigil::v1::ListInterviewsResponse response;
        RecordPager pager(reading, caller, query, page_size, options_.max_examined_per_page);
        ASSIGN_OR_RETURN(const std::string next, pager.Page(after, [&](Record r) {
          if (!request.with_notes()) WithoutNotes(r);
          sensitive_ids.push_back(r.id());
          *response.add_interviews() = std::move(r);
        }));
        if (!next.empty()) response.set_next_page_token(tokens_.SealPageToken(binding, next));
        return response;
      },
      std::move(done));
}

absl::StatusOr<vigil::v1::FacilityHistory> ReviewQueries::GetFacilityHistory(
    const Caller& caller, std::string_view facility_id) {
  if (!sync::ValidateRecordId(facility_id).ok()) {
    return FilterInvalid("facility_id", "not a record id");
  }
  Reading reading(*storage_, *keys_, *policy_, caller);
  SnapshotTables& tables = reading.tables();
  ASSIGN_OR_RETURN(std::optional<Record> facility, tables.Head(facility_id));
  if (!facility.has_value() || !facility->body().has_facility()) {
    return Absent(caller, "facility", absl::StrCat("records/", std::string(facility_id)));
  }
  vigil::v1::FacilityHistory history;
  ASSIGN_OR_RETURN(const ScopeGrant* registry, reading.GrantFor(facility->scope()));
  if (registry->read) {
    auto same_scope = [&](std::string_view id) {
      return tables.HeadInScope(id, facility->scope());
    };
    ASSIGN_OR_RETURN(Visibility shown, Redact(*registry, *facility, same_scope));
    if (shown != Visibility::kWithheld) *history.mutable_facility() = *std::move(facility);
  }
  std::map<int, vigil::v1::FindingCategoryCount> categories;
  std::uint32_t examined = 0;
  absl::Status failed;
  RETURN_IF_ERROR(reading.index().Scan(
      {"facility", std::string(facility_id)}, "",
      [&](std::string_view visit_id, const VisitSummary& s) {
        if (++examined > options_.max_examined_per_page) {
          history.set_truncated(true);
          return false;
        }
        absl::StatusOr<const ScopeGrant*> grant =
            reading.GrantFor(absl::StrCat("visits/", std::string(visit_id)));
        failed = grant.status();
        if (!failed.ok()) return false;
        if (!(*grant)->read) return true;
        vigil::v1::FacilityVisit& v = *history.add_visits();
        v.set_name(absl::StrCat("visits/", std::string(visit_id)));
        v.set_state(s.state());
        v.set_type(s.visit_type());
        v.set_announced(s.announced());
        *v.mutable_period() = s.period();
        *v.mutable_counts() = review::CountsOf(s);
        *v.mutable_findings_by_category() = s.findings_by_category();
        for (const vigil::v1::FindingCategoryCount& c : s.findings_by_category()) {
          vigil::v1::FindingCategoryCount& total = categories[c.category()];
          total.set_category(c.category());
          total.set_findings(total.findings() + c.findings());
          total.set_good_practices(total.good_practices() + c.good_practices());
        }
        for (const vigil::v1::OccupancyPoint& p : s.occupancy()) *history.add_occupancy() = p;
        return true;
      }));
  RETURN_IF_ERROR(failed);
  for (auto& [category, count] : categories) *history.add_findings_by_category() = count;
  auto& visits = *history.mutable_visits();
  std::stable_sort(visits.begin(), visits.end(),
                   [](const vigil::v1::FacilityVisit& a, const vigil::v1::FacilityVisit& b) {
                     return review::DayOf(a.period().start()) < review::DayOf(b.period().start());
                   });
  auto& points = *history.mutable_occupancy();
  std::stable_sort(points.begin(), points.end(),
                   [](const vigil::v1::OccupancyPoint& a, const vigil::v1::OccupancyPoint& b) {
                     using google::protobuf::util::TimeUtil;
                     return TimeUtil::TimestampToMicroseconds(a.snapshot().taken_at()) <
                            TimeUtil::TimestampToMicroseconds(b.snapshot().taken_at());
                   });
  return history;
}

}  // namespace vigil::server
