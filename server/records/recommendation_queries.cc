// The reporting desk's reads of recommendations (ReportService), from the
// records index (record_index.h): one with those that repeat it, its
// lineage, a filtered list, and how each addressed authority dealt with
// its recommendations. Each record is redacted as a pull redacts it.
#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/etag.h"
#include "server/records/review_queries.h"
#include "server/records/recommendation_reading.h"
#include "server/records/review_reading.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using review::Binding;
using review::DayOf;
using review::FilterInvalid;
using review::Overdue;
using review::Reading;
using review::RecommendationReader;
using vigil::v1::Recommendation;
using vigil::v1::RecommendationView;
using vigil::v1::Record;

constexpr int kKind = vigil::v1::RecordBody::kRecommendation;
// A lineage longer than this is cut (a repeat every year for a century).
constexpr std::size_t kMaxLineage = 100;

bool IssuedWithin(const Recommendation& r, const vigil::v1::DateRange& period) {
  return DayOf(period.start()) <= DayOf(r.issued_on()) &&
         DayOf(r.issued_on()) <= DayOf(period.end());
}

absl::Status NoSuchRecommendation(std::string_view id) {
  return WithReason(absl::NotFoundError("there is no such recommendation"), "RESOURCE_NOT_FOUND",
                    {{"name", absl::StrCat("recommendations/", std::string(id))}});
}

absl::Status CheckIdFilter(std::string_view field, std::string_view id) {
  if (!id.empty() && !sync::ValidateRecordId(id).ok()) {
    return FilterInvalid(field, "not a record id");
  }
  return absl::OkStatus();
}

absl::Status CheckListRequest(const vigil::v1::ListRecommendationsRequest& r) {
  RETURN_IF_ERROR(CheckIdFilter("addressee_authority_id", r.addressee_authority_id()));
  RETURN_IF_ERROR(CheckIdFilter("facility_id", r.facility_id()));
  RETURN_IF_ERROR(CheckIdFilter("finding_id", r.finding_id()));
  RETURN_IF_ERROR(CheckIdFilter("visit_id", r.visit_id()));
  if (!vigil::v1::FacilityType_IsValid(r.facility_type())) {
    return FilterInvalid("facility_type", "unknown enum value");
  }
  if (!vigil::v1::Priority_IsValid(r.priority())) {
    return FilterInvalid("priority", "unknown enum value");
  }
  if (!vigil::v1::RecommendationStatus_IsValid(r.status())) {
    return FilterInvalid("status", "unknown enum value");
  }
  if (r.has_issued()) RETURN_IF_ERROR(review::CheckPeriod(r.issued()));
  return absl::OkStatus();
}

// The index entries that serve the request's most selective filter.
RecordIndexKey ScannedKey(const vigil::v1::ListRecommendationsRequest& r) {
  if (!r.finding_id().empty()) return {kKind, "finding", r.finding_id()};
  if (!r.visit_id().empty()) return {kKind, "visit", r.visit_id()};
  if (!r.facility_id().empty()) return {kKind, "facility", r.facility_id()};
  if (!r.addressee_authority_id().empty()) {
    return {kKind, "addressee", r.addressee_authority_id()};
  }
  if (r.has_issued() && r.issued().start().year() == r.issued().end().year()) {
    return {kKind, "year", std::to_string(r.issued().start().year())};
  }
  return {kKind, "all", ""};
}

// Every recommendation issued within `period` (every one when unset),
// scanning the years it spans.
absl::Status ScanIssued(Reading& reading, const vigil::v1::DateRange* period,
                        absl::FunctionRef<absl::Status(std::string_view id)> visit) {
  absl::Status failed;
  auto each = [&](std::string_view, std::string_view id) {
    failed = visit(id);
    return failed.ok();
  };
  if (period == nullptr) {
    RETURN_IF_ERROR(reading.records().Scan({kKind, "all", ""}, "", each));
    return failed;
  }
  for (int year = period->start().year(); year <= period->end().year() && failed.ok(); ++year) {
    RETURN_IF_ERROR(reading.records().Scan({kKind, "year", std::to_string(year)}, "", each));
  }
  return failed;
}

}  // namespace

absl::StatusOr<RecommendationView> ReviewQueries::GetRecommendation(
    const Caller& caller, std::string_view id, std::optional<std::uint64_t> revision,
    absl::Time now) {
  Reading reading(*storage_, *keys_, *policy_, caller);
  RecommendationReader reader(reading, now);
  RETURN_IF_ERROR(reader.RequireRegistry());
  ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
  if (!shown.has_value()) return NoSuchRecommendation(id);
  if (revision.has_value() && *revision < shown->revision()) {
    ASSIGN_OR_RETURN(Record at, reading.tables().Revision(*shown, *revision));
    ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(at.scope()));
    auto same_scope = [&](std::string_view other) {
      return reading.tables().HeadInScope(other, at.scope());
    };
    RETURN_IF_ERROR(Redact(*grant, at, same_scope).status());
    shown = std::move(at);
  }
  return reader.View(*std::move(shown));
}

absl::StatusOr<vigil::v1::RecommendationLineage> ReviewQueries::GetRecommendationLineage(
    const Caller& caller, std::string_view id, absl::Time now) {
  Reading reading(*storage_, *keys_, *policy_, caller);
  RecommendationReader reader(reading, now);
  RETURN_IF_ERROR(reader.RequireRegistry());
  ASSIGN_OR_RETURN(std::optional<Record> start, reader.Shown(id));
  if (!start.has_value()) return NoSuchRecommendation(id);
  // Every recommendation linked by repeats, back and forward.
  std::map<std::string, RecommendationView> found;
  std::deque<Record> pending = {*std::move(start)};
  std::set<std::string> seen = {std::string(id)};
  while (!pending.empty() && found.size() < kMaxLineage) {
    Record record = std::move(pending.front());
    pending.pop_front();
    const auto& repeats = record.body().recommendation().repeats_recommendation_ids();
    std::vector<std::string> linked(repeats.begin(), repeats.end());
    ASSIGN_OR_RETURN(RecommendationView view, reader.View(std::move(record)));
    linked.insert(linked.end(), view.repeated_by_ids().begin(), view.repeated_by_ids().end());
    for (const std::string& other : linked) {
      if (!seen.insert(other).second) continue;
      ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(other));
      if (shown.has_value()) pending.push_back(*std::move(shown));
    }
    const std::string key = view.record().id();
    found.emplace(key, std::move(view));
  }
  std::vector<RecommendationView*> ordered;
  for (auto& [key, view] : found) ordered.push_back(&view);
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    const auto& ra = a->record().body().recommendation();
    const auto& rb = b->record().body().recommendation();
    return std::pair(DayOf(ra.issued_on()), a->record().id()) <
           std::pair(DayOf(rb.issued_on()), b->record().id());
  });
  vigil::v1::RecommendationLineage lineage;
  lineage.set_current_status(ordered.back()->record().body().recommendation().status());
  for (RecommendationView* view : ordered) {
    const int year = view->record().body().recommendation().issued_on().year();
    if (lineage.issued_years().empty() ||
        lineage.issued_years(lineage.issued_years_size() - 1) != year) {
      lineage.add_issued_years(year);
    }
    *lineage.add_recommendations() = std::move(*view);
  }
  return lineage;
}

absl::StatusOr<vigil::v1::ListRecommendationsResponse> ReviewQueries::ListRecommendations(
    const Caller& caller, const vigil::v1::ListRecommendationsRequest& request, absl::Time now) {
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  RETURN_IF_ERROR(CheckListRequest(request));
  const std::string binding = Binding("ListRecommendations", caller, request);
  ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
  Reading reading(*storage_, *keys_, *policy_, caller);
  RecommendationReader reader(reading, now);
  RETURN_IF_ERROR(reader.RequireRegistry());
  auto matches = [&](const Record& record) -> absl::StatusOr<bool> {
    const Recommendation& r = record.body().recommendation();
    const auto& repeats = r.repeats_recommendation_ids();
    const auto& findings = r.finding_ids();
    if ((!request.addressee_authority_id().empty() &&
         r.addressee_authority_id() != request.addressee_authority_id()) ||
        (!request.facility_id().empty() && r.facility_id() != request.facility_id()) ||
        (!request.visit_id().empty() && r.visit_id() != request.visit_id()) ||
        (!request.finding_id().empty() &&
         std::find(findings.begin(), findings.end(), request.finding_id()) == findings.end()) ||
        (!request.theme().empty() && r.theme() != request.theme()) ||
        (request.priority() != 0 && r.priority() != request.priority()) ||
        (request.status() != 0 && r.status() != request.status()) ||
        (request.has_overdue() && Overdue(r, now) != request.overdue()) ||
        (request.has_repeated() && repeats.empty() == request.repeated()) ||
        (request.has_issued() && !IssuedWithin(r, request.issued()))) {
      return false;
    }
    if (request.facility_type() == 0) return true;
    ASSIGN_OR_RETURN(const vigil::v1::FacilityType type, reader.FacilityTypeOf(r.facility_id()));
    return type == request.facility_type();
  };
  vigil::v1::ListRecommendationsResponse response;
  const RecordIndexKey key = ScannedKey(request);
  auto take = [&](const std::string& id) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
    if (!shown.has_value()) return false;
    ASSIGN_OR_RETURN(const bool listed, matches(*shown));
    if (!listed) return false;
    ASSIGN_OR_RETURN(*response.add_recommendations(), reader.View(*std::move(shown)));
    return true;
  };
  auto scan = [&](auto visit) {
    return reading.records().Scan(key, after, [&](std::string_view position, std::string_view id) {
      return visit(position, std::string(id));
    });
  };
  ASSIGN_OR_RETURN(
      const std::string next,
      review::ScanPage<std::string>(
          scan, page_size, options_.max_examined_per_page,
          [&] { return static_cast<std::uint32_t>(response.recommendations_size()); }, take));
  if (!next.empty()) response.set_next_page_token(tokens_.SealPageToken(binding, next));
  return response;
}

absl::StatusOr<vigil::v1::ListAuthorityRecordsResponse> ReviewQueries::ListAuthorityRecords(
    const Caller& caller, const vigil::v1::ListAuthorityRecordsRequest& request, absl::Time now) {
  if (request.has_issued()) RETURN_IF_ERROR(review::CheckPeriod(request.issued()));
  Reading reading(*storage_, *keys_, *policy_, caller);
  RecommendationReader reader(reading, now);
  RETURN_IF_ERROR(reader.RequireRegistry());
  std::map<std::string, vigil::v1::AuthorityRecord> by_id;
  RETURN_IF_ERROR(ScanIssued(reading, request.has_issued() ? &request.issued() : nullptr,
                             [&](std::string_view id) -> absl::Status {
                               ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
                               if (!shown.has_value()) return absl::OkStatus();
                               const Recommendation& r = shown->body().recommendation();
                               if (request.has_issued() && !IssuedWithin(r, request.issued()))
                                 return absl::OkStatus();
                               vigil::v1::AuthorityRecord& a = by_id[r.addressee_authority_id()];
                               a.set_issued(a.issued() + 1);
                               if (r.responses_size() > 0) a.set_responded(a.responded() + 1);
                               if (Overdue(r, now)) a.set_overdue(a.overdue() + 1);
                               switch (r.status()) {
                                 case vigil::v1::RECOMMENDATION_STATUS_IMPLEMENTED:
                                   a.set_implemented(a.implemented() + 1);
                                   break;
                                 case vigil::v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED:
                                   a.set_partially_implemented(a.partially_implemented() + 1);
                                   break;
                                 case vigil::v1::RECOMMENDATION_STATUS_REJECTED:
                                   a.set_rejected(a.rejected() + 1);
                                   break;
                                 default:
                                   break;
                               }
                               return absl::OkStatus();
                             }));
  std::vector<vigil::v1::AuthorityRecord> authorities;
  for (auto& [id, a] : by_id) {
    a.set_authority_id(id);
    ASSIGN_OR_RETURN(std::optional<Record> authority, reading.tables().Head(id));
    if (authority.has_value() && authority->body().has_authority()) {
      a.set_authority_name(authority->body().authority().name());
    }
    a.set_implementation_rate(static_cast<double>(a.implemented()) / a.issued());
    authorities.push_back(std::move(a));
  }
  std::sort(authorities.begin(), authorities.end(), [](const auto& a, const auto& b) {
    return std::pair(a.authority_name(), a.authority_id()) <
           std::pair(b.authority_name(), b.authority_id());
  });
  vigil::v1::ListAuthorityRecordsResponse response;
  for (auto& a : authorities) *response.add_authorities() = std::move(a);
  return response;
}

}  // namespace vigil::server
