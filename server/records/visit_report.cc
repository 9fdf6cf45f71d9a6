// A visit's report (ReportService.ExportVisitReport, and what
// PublishVisitReport renders) from one snapshot: the visit's records as the
// caller may see them (redacted as a pull redacts them), the facility and
// its authority from the registry, the facility's previous visit from the
// visit index, and the recommendations of the visit and the follow-ups made
// on it from the records index. The protection rules of visit_report.proto
// are applied here, and only here: the renderers (report_render.h) lay out
// what this file lets in.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/recommendation_reading.h"
#include "server/records/report_render.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using review::DayOf;
using review::Reading;
using review::RecommendationReader;
using vigil::v1::Record;

std::string RecordName(std::string_view id) { return absl::StrCat("records/", std::string(id)); }

// The live records of a visit's scope the caller may see, by kind.
struct VisitRecords {
  std::optional<Record> visit;
  std::vector<Record> findings;
  std::map<std::string, vigil::v1::Interview> interviews;  // by record id
  std::map<std::string, vigil::v1::Attachment> attachments;
  std::vector<vigil::v1::RegisterCheck> register_checks;
  std::vector<vigil::v1::OccupancySnapshot> occupancy;
};

absl::StatusOr<VisitRecords> ReadVisitRecords(Reading& reading, const sync::Scope& scope,
                                              std::string_view visit_id) {
  ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(std::string(scope.str())));
  SnapshotTables& tables = reading.tables();
  std::vector<std::string> ids;
  RETURN_IF_ERROR(tables.ScanChanges(scope.str(), 0, [&](std::uint64_t, std::string_view id) {
    ids.emplace_back(id);
    return true;
  }));
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, scope.str()); };
  VisitRecords out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<Record> record, tables.Head(id));
    if (!record.has_value())
      return absl::DataLossError(absl::StrCat("change of missing record ", id));
    if (record->deleted()) continue;
    ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *record, same_scope));
    if (shown == Visibility::kWithheld) continue;
    vigil::v1::RecordBody& body = *record->mutable_body();
    switch (body.kind_case()) {
      case vigil::v1::RecordBody::kVisit:
        if (id == visit_id) out.visit = *std::move(record);
        break;
      case vigil::v1::RecordBody::kFinding:
        out.findings.push_back(*std::move(record));
        break;
      case vigil::v1::RecordBody::kInterview:
        out.interviews[id] = std::move(*body.mutable_interview());
        break;
      case vigil::v1::RecordBody::kAttachment:
        out.attachments[id] = std::move(*body.mutable_attachment());
        break;
      case vigil::v1::RecordBody::kRegisterCheck:
        out.register_checks.push_back(std::move(*body.mutable_register_check()));
        break;
      case vigil::v1::RecordBody::kOccupancySnapshot:
        out.occupancy.push_back(std::move(*body.mutable_occupancy_snapshot()));
        break;
      default:
        // Identities, medical findings, allegations, comments: never in a
        // report.
        break;
    }
  }
  return out;
}

vigil::v1::ReportOccupancy OccupancyOf(const vigil::v1::OccupancySnapshot& s,
                                       std::uint32_t registry_capacity) {
  vigil::v1::ReportOccupancy o;
  *o.mutable_taken_at() = s.taken_at();
  o.set_total(s.total());
  o.set_women(s.women());
  o.set_juveniles(s.juveniles());
  o.set_foreigners(s.foreigners());
  o.set_pre_trial(s.pre_trial());
  o.set_official_capacity(s.official_capacity() != 0 ? s.official_capacity() : registry_capacity);
  o.set_source(s.source());
  return o;
}

// Builds one report; `quoted` collects the interviews whose pseudonyms it
// shows (audited as read).
class ReportBuilder {
 public:
  ReportBuilder(Reading& reading, const Caller& caller, absl::Time now,
                std::vector<std::string>& quoted)
      : reading_(reading), caller_(caller), now_(now), quoted_(quoted) {}

  absl::StatusOr<ReviewQueries::ReportRead> Build(std::string_view visit_id) {
    ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
    RETURN_IF_ERROR(reading_.RequireParent(visit_id));
    ASSIGN_OR_RETURN(VisitRecords records, ReadVisitRecords(reading_, scope, visit_id));
    if (!records.visit.has_value()) {
      return Absent(caller_, "visit", std::string(scope.str()));
    }
    ReviewQueries::ReportRead read;
    read.seq = reading_.tables().seq();
    read.visit_etag = RecordEtag(*records.visit);
    vigil::v1::VisitReport& r = read.report;
    const vigil::v1::Visit& visit = records.visit->body().visit();
    r.set_schema(kVisitReportSchema);
    r.set_visit(std::string(scope.str()));
    *r.mutable_generated_at() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now_));
    r.set_state(visit.state());
    r.set_summary(visit.summary());
    VisitDetails(visit, records, *r.mutable_visit_details(), *r.mutable_withheld());
    RETURN_IF_ERROR(Place(visit.facility_id(), records, *r.mutable_place()));
    Findings(records, r);
    RETURN_IF_ERROR(Changes(visit_id, visit, records, *r.mutable_changes_since_last_visit()));
    RETURN_IF_ERROR(Recommendations(visit_id, r));
    return read;
  }

  absl::StatusOr<vigil::v1::Briefing> BuildBriefing(std::string_view visit_id) {
    ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
    RETURN_IF_ERROR(reading_.RequireParent(visit_id));
    ASSIGN_OR_RETURN(const ScopeGrant* grant, reading_.GrantFor(std::string(scope.str())));
    if (grant->service) {
      return WithReason(absl::PermissionDeniedError("briefings are for visiting teams"),
                        "SCOPE_NOT_PERMITTED", {{"scope", std::string(scope.str())}});
    }
    ASSIGN_OR_RETURN(std::optional<Record> visit,
                     reading_.tables().HeadInScope(visit_id, scope.str()));
    if (!visit.has_value() || visit->deleted() || !visit->body().has_visit()) {
      return Absent(caller_, "visit", std::string(scope.str()));
    }
    const std::string facility_id = visit->body().visit().facility_id();
    vigil::v1::Briefing b;
    b.set_visit(std::string(scope.str()));
    *b.mutable_generated_at() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now_));
    RETURN_IF_ERROR(Place(facility_id, VisitRecords(), *b.mutable_place()));
    b.mutable_place()->clear_occupancy();
    // The facility's visits before this one (that started before it, or
    // before today when it has no dates yet) this caller may read, latest
    // first.
    ASSIGN_OR_RETURN(std::optional<vigil::internal::VisitSummary> mine,
                     reading_.index().Summary(visit_id));
    std::tuple<int, int, int> before = review::Today(now_);
    if (mine.has_value() && mine->period().start().year() != 0) {
      before = DayOf(mine->period().start());
    }
    std::vector<std::pair<std::string, vigil::internal::VisitSummary>> earlier;
    absl::Status failed;
    RETURN_IF_ERROR(
        reading_.index().Scan({"facility", facility_id}, "",
                              [&](std::string_view id, const vigil::internal::VisitSummary& s) {
                                if (id == visit_id || s.deleted() || !s.has_record() ||
                                    s.period().start().year() == 0 ||
                                    !(DayOf(s.period().start()) < before)) {
                                  return true;
                                }
                                absl::StatusOr<const ScopeGrant*> g =
                                    reading_.GrantFor(absl::StrCat("visits/", std::string(id)));
                                failed = g.status();
                                if (failed.ok() && (*g)->read)
                                  earlier.emplace_back(std::string(id), s);
                                return failed.ok();
                              }));
    RETURN_IF_ERROR(failed);
    std::sort(earlier.begin(), earlier.end(), [](const auto& x, const auto& y) {
      return std::make_tuple(DayOf(x.second.period().start()), x.first) >
             std::make_tuple(DayOf(y.second.period().start()), y.first);
    });
    std::map<int, vigil::v1::FindingCategoryCount> categories;
    std::vector<vigil::v1::OccupancyPoint> occupancy;
    for (const auto& [id, s] : earlier) {
      ASSIGN_OR_RETURN(const sync::Scope other, sync::Scope::Visit(id));
      ASSIGN_OR_RETURN(VisitRecords records, ReadVisitRecords(reading_, other, id));
      vigil::v1::BriefingVisit& v = *b.add_last_visits();
      v.set_visit(std::string(other.str()));
      v.set_type(s.visit_type());
      v.set_state(s.state());
      *v.mutable_period() = s.period();
      if (records.visit.has_value()) v.set_summary(records.visit->body().visit().summary());
      for (const vigil::v1::FindingCategoryCount& c : s.findings_by_category()) {
        vigil::v1::FindingCategoryCount& total = categories[c.category()];
        total.set_category(c.category());
        total.set_findings(total.findings() + c.findings());
        total.set_good_practices(total.good_practices() + c.good_practices());
      }
      for (const vigil::v1::OccupancyPoint& p : s.occupancy()) occupancy.push_back(p);
      for (const auto& [interview_id, i] : records.interviews) {
        if (!i.reprisal_watch()) continue;
        vigil::v1::BriefingReprisalWatch& w = *b.add_reprisal_watch();
        w.set_pseudonym(i.pseudonym());
        w.set_visit(std::string(other.str()));
        *w.mutable_conducted_at() = i.conducted_at();
        w.set_location(i.location());
        quoted_.push_back(interview_id);
      }
    }
    for (auto& [category, c] : categories) *b.add_findings_by_category() = c;
    std::sort(occupancy.begin(), occupancy.end(), [](const auto& x, const auto& y) {
      return std::make_pair(x.snapshot().taken_at().seconds(), x.record()) <
             std::make_pair(y.snapshot().taken_at().seconds(), y.record());
    });
    for (const vigil::v1::OccupancyPoint& p : occupancy) {
      *b.add_occupancy_trend() = OccupancyOf(p.snapshot(), b.place().official_capacity());
    }
    RETURN_IF_ERROR(OpenRecommendations(facility_id, b));
    return b;
  }

 private:
  absl::Status OpenRecommendations(const std::string& facility_id, vigil::v1::Briefing& b) {
    RecommendationReader reader(reading_, now_);
    ASSIGN_OR_RETURN(const std::vector<std::string> ids,
                     reading_.IndexedIds({review::kRecommendationKind, "facility", facility_id}));
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
      if (!shown.has_value()) continue;
      const vigil::v1::Recommendation& rec = shown->body().recommendation();
      if (rec.status() == vigil::v1::RECOMMENDATION_STATUS_IMPLEMENTED ||
          rec.status() == vigil::v1::RECOMMENDATION_STATUS_REJECTED) {
        continue;
      }
      vigil::v1::BriefingRecommendation& out = *b.add_open_recommendations();
      out.set_name(absl::StrCat("recommendations/", id));
      out.set_text(rec.text());
      out.set_theme(rec.theme());
      out.set_priority(rec.priority());
      *out.mutable_issued_on() = rec.issued_on();
      *out.mutable_deadline() = rec.deadline();
      out.set_status(rec.status());
      out.set_overdue(review::Overdue(rec, now_));
      const vigil::v1::FollowUpCheck* last = nullptr;
      for (const vigil::v1::FollowUpCheck& c : rec.follow_ups()) {
        if (last == nullptr || DayOf(last->checked_on()) <= DayOf(c.checked_on())) last = &c;
      }
      if (last != nullptr) {
        out.set_last_observed_status(last->observed_status());
        *out.mutable_last_checked_on() = last->checked_on();
      }
    }
    return absl::OkStatus();
  }

  void VisitDetails(const vigil::v1::Visit& visit, const VisitRecords& records,
                    vigil::v1::ReportVisit& out, vigil::v1::ReportWithheld& withheld) {
    out.set_type(visit.type());
    out.set_announced(visit.announced());
    *out.mutable_actual_start() = visit.actual_start();
    *out.mutable_actual_end() = visit.actual_end();
    out.set_cooperation(visit.cooperation());
    if (!visit.announced() && !visit.has_actual_start()) {
      withheld.set_unannounced_plan(true);
    } else {
      *out.mutable_planned_window() = visit.planned_window();
      for (const std::string& theme : visit.themes()) out.add_themes(theme);
      out.set_objectives(visit.objectives());
      for (const vigil::v1::TeamMember& m : visit.team()) {
        vigil::v1::ReportTeamMember& t = *out.add_team();
        t.set_display_name(m.display_name());
        t.set_role(m.role());
      }
    }
    std::map<int, std::uint32_t> kinds;
    for (const auto& [id, interview] : records.interviews) ++kinds[interview.kind()];
    for (const auto& [kind, n] : kinds) {
      vigil::v1::ReportInterviewCount& c = *out.add_interviews();
      c.set_kind(static_cast<vigil::v1::InterviewKind>(kind));
      c.set_interviews(n);
    }
    for (const vigil::v1::RegisterCheck& check : records.register_checks) {
      vigil::v1::ReportRegisterCheck& c = *out.add_register_checks();
      c.set_register_type(check.register_type());
      c.set_register_name(check.register_name());
      *c.mutable_period() = check.period();
      c.set_entries_reviewed(check.entries_reviewed());
      c.set_discrepancies(check.discrepancies_size());
    }
  }

  // A registry record the caller may see, redacted.
  absl::StatusOr<std::optional<Record>> Registry(const std::string& id) {
    if (id.empty()) return std::nullopt;
    return reading_.Shown(id);
  }

  absl::StatusOr<std::string> AuthorityName(const std::string& id) {
    ASSIGN_OR_RETURN(std::optional<Record> a, Registry(id));
    return a.has_value() && a->body().has_authority() ? a->body().authority().name() : "";
  }

  absl::Status Place(const std::string& facility_id, const VisitRecords& records,
                     vigil::v1::ReportPlace& out) {
    out.set_facility(RecordName(facility_id));
    ASSIGN_OR_RETURN(std::optional<Record> facility, Registry(facility_id));
    if (facility.has_value() && facility->body().has_facility()) {
      const vigil::v1::Facility& f = facility->body().facility();
      out.set_name(f.name());
      out.set_type(f.type());
      ASSIGN_OR_RETURN(*out.mutable_operator_(), AuthorityName(f.operator_authority_id()));
      out.set_official_capacity(f.official_capacity());
      *out.mutable_populations_held() = f.populations_held();
    }
    const vigil::v1::OccupancySnapshot* latest = nullptr;
    for (const vigil::v1::OccupancySnapshot& s : records.occupancy) {
      if (latest == nullptr || latest->taken_at().seconds() <= s.taken_at().seconds()) latest = &s;
    }
    if (latest != nullptr) *out.mutable_occupancy() = OccupancyOf(*latest, out.official_capacity());
    return absl::OkStatus();
  }

  // The finding as a report shows it: quotes and photos only as the
  // protection rules allow.
  vigil::v1::ReportFinding FindingOf(const Record& record, const VisitRecords& records,
                                     vigil::v1::ReportWithheld& withheld) {
    const vigil::v1::Finding& f = record.body().finding();
    vigil::v1::ReportFinding out;
    out.set_record(RecordName(record.id()));
    out.set_category(f.category());
    out.set_subcategory(f.subcategory());
    out.set_title(f.title());
    out.set_location(f.location());
    out.set_severity(f.severity());
    out.set_narrative(f.narrative());
    std::set<int> sources;
    for (const vigil::v1::FindingSource& s : f.sources()) {
      if (s.type() != vigil::v1::SOURCE_TYPE_UNSPECIFIED) sources.insert(s.type());
      if (s.quote().empty()) continue;
      auto interview = records.interviews.find(s.reference_id());
      if (interview == records.interviews.end() || !interview->second.consent().quote()) {
        withheld.set_quotes_without_consent(withheld.quotes_without_consent() + 1);
        continue;
      }
      vigil::v1::ReportQuote& q = *out.add_quotes();
      q.set_pseudonym(interview->second.pseudonym());
      q.set_text(s.quote());
      quoted_.push_back(interview->first);
    }
    for (int s : sources) out.add_sources(static_cast<vigil::v1::SourceType>(s));
    for (const std::string& id : f.evidence_attachment_ids()) {
      auto a = records.attachments.find(id);
      if (a == records.attachments.end() || a->second.media_type().rfind("image/", 0) != 0) {
        continue;  // not a photo this caller sees
      }
      const vigil::v1::Attachment& photo = a->second;
      bool consented = photo.consent_interview_id().empty();
      if (!consented) {
        auto interview = records.interviews.find(photo.consent_interview_id());
        consented = interview != records.interviews.end() && interview->second.consent().photo();
      }
      if (photo.identifiable() || !consented) {
        withheld.set_photos_identifiable_or_without_consent(
            withheld.photos_identifiable_or_without_consent() + 1);
        continue;
      }
      vigil::v1::ReportPhoto& p = *out.add_photos();
      p.set_attachment(RecordName(id));
      p.set_sha256(photo.sha256());
      p.set_media_type(photo.media_type());
      p.set_caption(photo.caption());
      *p.mutable_captured_at() = photo.captured_at();
    }
    return out;
  }

  void Findings(VisitRecords& records, vigil::v1::VisitReport& r) {
    std::sort(
        records.findings.begin(), records.findings.end(), [](const Record& a, const Record& b) {
          const vigil::v1::Finding& x = a.body().finding();
          const vigil::v1::Finding& y = b.body().finding();
          return std::make_tuple(x.category(), -static_cast<int>(x.severity()), x.title(), a.id()) <
                 std::make_tuple(y.category(), -static_cast<int>(y.severity()), y.title(), b.id());
        });
    for (const Record& record : records.findings) {
      vigil::v1::ReportFinding f = FindingOf(record, records, *r.mutable_withheld());
      if (record.body().finding().good_practice()) {
        *r.add_good_practices() = std::move(f);
        continue;
      }
      if (r.findings_by_theme().empty() ||
          r.findings_by_theme().rbegin()->category() != f.category()) {
        r.add_findings_by_theme()->set_category(f.category());
      }
      *r.mutable_findings_by_theme()->rbegin()->add_findings() = std::move(f);
    }
  }

  absl::Status Changes(std::string_view visit_id, const vigil::v1::Visit& visit,
                       const VisitRecords& records, vigil::v1::ReportChanges& out) {
    std::map<int, vigil::v1::FindingCategoryCount> now;
    for (const Record& record : records.findings) {
      const vigil::v1::Finding& f = record.body().finding();
      vigil::v1::FindingCategoryCount& c = now[f.category()];
      c.set_category(f.category());
      c.set_findings(c.findings() + 1);
      if (f.good_practice()) c.set_good_practices(c.good_practices() + 1);
    }
    for (auto& [category, c] : now) *out.add_findings_by_category() = c;
    ASSIGN_OR_RETURN(std::optional<vigil::internal::VisitSummary> mine,
                     reading_.index().Summary(visit_id));
    const vigil::v1::DateRange period = mine.has_value() ? mine->period() : vigil::v1::DateRange();
    std::optional<std::pair<std::string, vigil::internal::VisitSummary>> previous;
    absl::Status failed;
    RETURN_IF_ERROR(reading_.index().Scan(
        {"facility", visit.facility_id()}, "",
        [&](std::string_view id, const vigil::internal::VisitSummary& s) {
          if (id == visit_id || s.deleted() || !s.has_record() ||
              DayOf(s.period().start()) >= DayOf(period.start())) {
            return true;
          }
          absl::StatusOr<const ScopeGrant*> grant =
              reading_.GrantFor(absl::StrCat("visits/", std::string(id)));
          failed = grant.status();
          if (!failed.ok()) return false;
          if ((*grant)->read && (!previous.has_value() || DayOf(previous->second.period().start()) <
                                                              DayOf(s.period().start()))) {
            previous.emplace(std::string(id), s);
          }
          return true;
        }));
    RETURN_IF_ERROR(failed);
    if (previous.has_value()) {
      const vigil::internal::VisitSummary& s = previous->second;
      out.set_previous_visit(absl::StrCat("visits/", previous->first));
      *out.mutable_previous_period() = s.period();
      if (!s.occupancy().empty()) {
        out.set_previous_occupancy_total(s.occupancy().rbegin()->snapshot().total());
      }
      *out.mutable_previous_findings_by_category() = s.findings_by_category();
    }
    // Follow-ups made on this visit, of the facility's recommendations.
    RecommendationReader reader(reading_, now_);
    ASSIGN_OR_RETURN(
        const std::vector<std::string> ids,
        reading_.IndexedIds({review::kRecommendationKind, "facility", visit.facility_id()}));
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
      if (!shown.has_value()) continue;
      const vigil::v1::Recommendation& rec = shown->body().recommendation();
      for (const vigil::v1::FollowUpCheck& check : rec.follow_ups()) {
        if (check.visit_id() != visit_id) continue;
        vigil::v1::ReportFollowUp& f = *out.add_follow_ups();
        f.set_recommendation(absl::StrCat("recommendations/", id));
        f.set_recommendation_text(rec.text());
        *f.mutable_issued_on() = rec.issued_on();
        f.set_observed_status(check.observed_status());
        f.set_note(check.note());
      }
    }
    return absl::OkStatus();
  }

  absl::Status Recommendations(std::string_view visit_id, vigil::v1::VisitReport& r) {
    RecommendationReader reader(reading_, now_);
    ASSIGN_OR_RETURN(
        const std::vector<std::string> ids,
        reading_.IndexedIds({review::kRecommendationKind, "visit", std::string(visit_id)}));
    std::map<std::string, vigil::v1::ReportAddressee> by_authority;
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<Record> shown, reader.Shown(id));
      if (!shown.has_value()) continue;
      const vigil::v1::Recommendation& rec = shown->body().recommendation();
      vigil::v1::ReportAddressee& a = by_authority[rec.addressee_authority_id()];
      if (a.authority().empty()) {
        a.set_authority(RecordName(rec.addressee_authority_id()));
        ASSIGN_OR_RETURN(*a.mutable_name(), AuthorityName(rec.addressee_authority_id()));
      }
      vigil::v1::ReportRecommendation& out = *a.add_recommendations();
      out.set_name(absl::StrCat("recommendations/", id));
      out.set_text(rec.text());
      out.set_theme(rec.theme());
      out.set_priority(rec.priority());
      *out.mutable_deadline() = rec.deadline();
      out.set_status(rec.status());
      out.set_repeated(!rec.repeats_recommendation_ids().empty());
      for (const std::string& finding : rec.finding_ids()) out.add_findings(RecordName(finding));
    }
    std::vector<vigil::v1::ReportAddressee> addressees;
    for (auto& [id, a] : by_authority) addressees.push_back(std::move(a));
    std::sort(addressees.begin(), addressees.end(), [](const auto& x, const auto& y) {
      return std::forward_as_tuple(x.name(), x.authority()) <
             std::forward_as_tuple(y.name(), y.authority());
    });
    for (auto& a : addressees) *r.add_recommendations_by_addressee() = std::move(a);
    return absl::OkStatus();
  }

  Reading& reading_;
  const Caller& caller_;
  const absl::Time now_;
  std::vector<std::string>& quoted_;
};

}  // namespace

void ReviewQueries::ReadVisitReport(const Caller& caller, std::string_view visit_id, absl::Time now,
                                    ReportDoneFn done) {
  review::AuditedAnswer<ReportRead>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) -> absl::StatusOr<ReportRead> {
        Reading reading(*storage_, *keys_, *policy_, caller);
        ASSIGN_OR_RETURN(ReportRead read,
                         ReportBuilder(reading, caller, now, sensitive_ids).Build(visit_id));
        std::sort(sensitive_ids.begin(), sensitive_ids.end());
        sensitive_ids.erase(std::unique(sensitive_ids.begin(), sensitive_ids.end()),
                            sensitive_ids.end());
        return read;
      },
      std::move(done));
}

}  // namespace vigil::server

namespace vigil::server {

void ReviewQueries::GetBriefing(const Caller& caller, std::string_view visit_id, absl::Time now,
                                BriefingDoneFn done) {
  review::AuditedAnswer<vigil::v1::Briefing>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) -> absl::StatusOr<vigil::v1::Briefing> {
        Reading reading(*storage_, *keys_, *policy_, caller);
        return ReportBuilder(reading, caller, now, sensitive_ids).BuildBriefing(visit_id);
      },
      std::move(done));
}

}  // namespace vigil::server
