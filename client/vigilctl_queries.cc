// vigilctl review findings / interviews / facility: the review desk's
// queries (ListFindings, ListInterviews, GetFacilityHistory) with their
// filters.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_review_session.h"
#include "client/vigilctl_values.h"

namespace vigil::vigilctl {
namespace {

std::string FindingText(const vigil::v1::Record& r) {
  const vigil::v1::Finding& f = r.body().finding();
  return absl::StrCat(r.id(), "  ", r.scope(), "  ", EnumWord(f.category()),
                      f.subcategory().empty() ? "" : "/" + f.subcategory(), "  ",
                      EnumWord(f.severity()), f.good_practice() ? "  good practice" : "",
                      r.has_review() ? "  " + EnumWord(r.review().state()) : "", "  ", f.title());
}

std::string InterviewText(const vigil::v1::Record& r) {
  const vigil::v1::Interview& i = r.body().interview();
  std::vector<std::string> tags;
  for (int t : i.vulnerability_tags()) {
    tags.push_back(EnumWord(static_cast<vigil::v1::VulnerabilityTag>(t)));
  }
  std::vector<std::string> consent;
  if (i.consent().record()) consent.push_back("record");
  if (i.consent().quote()) consent.push_back("quote");
  if (i.consent().transmit()) consent.push_back("transmit");
  if (i.consent().photo()) consent.push_back("photo");
  std::string text =
      absl::StrCat(r.id(), "  ", r.scope(), "  ", EnumWord(i.kind()), "  ", i.pseudonym(),
                   tags.empty() ? "" : "  [" + absl::StrJoin(tags, ", ") + "]",
                   i.reprisal_watch() ? "  REPRISAL WATCH" : "",
                   "  consent: ", consent.empty() ? "none" : absl::StrJoin(consent, ", "));
  if (!i.notes().empty()) absl::StrAppend(&text, "\n  notes: ", i.notes());
  return text;
}

std::string Period(const vigil::v1::DateRange& p) {
  if (!p.has_start()) return "(no dates)";
  auto day = [](const vigil::v1::CivilDate& d) {
    return absl::FormatCivilTime(absl::CivilDay(d.year(), d.month(), d.day()));
  };
  return day(p.start()) + " to " + day(p.end());
}

std::string HistoryText(const vigil::v1::FacilityHistory& h) {
  const vigil::v1::Facility& f = h.facility().body().facility();
  std::string text =
      absl::StrCat(h.facility().id(), "  ", f.name().empty() ? "(facility)" : f.name(),
                   "  capacity ", f.official_capacity());
  for (const auto& v : h.visits()) {
    absl::StrAppend(&text, "\n  ", v.name(), "  ", Period(v.period()), "  ", EnumWord(v.state()),
                    "  ", EnumWord(v.type()), v.announced() ? "" : " unannounced", "  ",
                    v.counts().records(), " records, ", v.counts().open_conflicts(),
                    " open conflicts");
  }
  for (const auto& c : h.findings_by_category()) {
    absl::StrAppend(
        &text, "\n  findings ", Pad(EnumWord(c.category()), 28), " ", c.findings(),
        c.good_practices() > 0 ? absl::StrCat(" (", c.good_practices(), " good practices)") : "");
  }
  for (const auto& p : h.occupancy()) {
    const auto& o = p.snapshot();
    absl::StrAppend(&text, "\n  occupancy ", FormatTimestamp(o.taken_at()), "  ", o.total(), " / ",
                    o.official_capacity(),
                    o.official_capacity() > 0
                        ? absl::StrCat(" (", o.total() * 100 / o.official_capacity(), "%)")
                        : "");
  }
  if (h.truncated()) absl::StrAppend(&text, "\n  (more visits than one answer holds)");
  return text;
}

}  // namespace

int ReviewFindings(const Globals& g, const FindingFilterArgs& a) {
  vigil::v1::ListFindingsRequest request;
  if (!a.visit.empty()) {
    absl::StatusOr<std::string> visit_id = VisitArg(a.visit);
    if (!visit_id.ok()) return Usage(visit_id.status().message());
    request.set_parent("visits/" + *visit_id);
  }
  request.set_facility_id(a.facility);
  request.set_subcategory(a.subcategory);
  absl::Status parsed = EnumArg<vigil::v1::FindingCategory>(
      a.category, "--category", [&](auto v) { request.set_category(v); });
  if (parsed.ok()) {
    parsed = EnumArg<vigil::v1::Severity>(a.severity, "--severity",
                                          [&](auto v) { request.set_severity(v); });
  }
  if (parsed.ok()) {
    parsed = EnumArg<vigil::v1::ReviewMarkState>(a.mark, "--mark",
                                                 [&](auto v) { request.set_review_mark(v); });
  }
  absl::StatusOr<std::optional<bool>> good = YesNo(a.good_practice, "--good-practice");
  if (!good.ok()) parsed = good.status();
  if (!parsed.ok()) return Usage(parsed.message());
  if (good->has_value()) request.set_good_practice(**good);
  absl::StatusOr<std::optional<vigil::v1::DateRange>> period = PeriodArg(a.from, a.to);
  if (!period.ok()) return Usage(period.status().message());
  if (period->has_value()) *request.mutable_period() = **period;
  return AllPages<vigil::v1::ListFindingsRequest, vigil::v1::ListFindingsResponse>(
      g, request, "findings",
      [](auto& stub, auto* context, const auto& r, auto* page) {
        return stub.ListFindings(context, r, page);
      },
      [&](const vigil::v1::ListFindingsResponse& page) {
        for (const auto& f : page.findings()) {
          g.out().Result(JsonObject().Proto("finding", f), FindingText(f));
        }
      });
}

int ReviewInterviews(const Globals& g, const InterviewFilterArgs& a) {
  vigil::v1::ListInterviewsRequest request;
  if (!a.visit.empty()) {
    absl::StatusOr<std::string> visit_id = VisitArg(a.visit);
    if (!visit_id.ok()) return Usage(visit_id.status().message());
    request.set_parent("visits/" + *visit_id);
  }
  request.set_facility_id(a.facility);
  request.set_with_notes(a.notes);
  absl::Status parsed =
      EnumArg<vigil::v1::InterviewKind>(a.kind, "--kind", [&](auto v) { request.set_kind(v); });
  if (parsed.ok()) {
    parsed = EnumArg<vigil::v1::VulnerabilityTag>(a.vulnerability, "--vulnerability",
                                                  [&](auto v) { request.set_vulnerability(v); });
  }
  absl::StatusOr<std::optional<bool>> reprisal = YesNo(a.reprisal_watch, "--reprisal-watch");
  absl::StatusOr<std::optional<bool>> quote = YesNo(a.quote_consent, "--quote-consent");
  if (!reprisal.ok()) parsed = reprisal.status();
  if (!quote.ok()) parsed = quote.status();
  if (!parsed.ok()) return Usage(parsed.message());
  if (reprisal->has_value()) request.set_reprisal_watch(**reprisal);
  if (quote->has_value()) request.set_quote_consent(**quote);
  return AllPages<vigil::v1::ListInterviewsRequest, vigil::v1::ListInterviewsResponse>(
      g, request, "interviews",
      [](auto& stub, auto* context, const auto& r, auto* page) {
        return stub.ListInterviews(context, r, page);
      },
      [&](const vigil::v1::ListInterviewsResponse& page) {
        for (const auto& i : page.interviews()) {
          g.out().Result(JsonObject().Proto("interview", i), InterviewText(i));
        }
      });
}

int ReviewFacility(const Globals& g, const std::string& facility_id) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetFacilityHistoryRequest request;
  request.set_facility_id(facility_id);
  vigil::v1::FacilityHistory history;
  auto context = CallContext();
  if (grpc::Status st = s.stub->GetFacilityHistory(context.get(), request, &history); !st.ok()) {
    return Fail(absl::StrCat("reading the history of facility ", facility_id), st);
  }
  g.out().Result(JsonObject().Proto("history", history), HistoryText(history));
  return kExitOk;
}

}  // namespace vigil::vigilctl
