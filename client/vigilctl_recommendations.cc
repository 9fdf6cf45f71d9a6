// vigilctl recommendations: issue, list, show (with lineage), respond,
// follow-up, status, authorities (ReportService).
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_review_session.h"
#include "client/vigilctl_values.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil::vigilctl {
namespace {

using vigil::v1::RecommendationView;
using Stub = vigil::v1::ReportService::Stub;

struct Args {
  std::string id, addressee, facility, visit, theme, priority, status, deadline, issued, text,
      rationale, overdue, repeated, from, to, finding, received, claims, checked, observed, note;
  std::vector<std::string> findings, repeats;
};

std::string Day(const vigil::v1::CivilDate& d) {
  if (d.year() == 0) return "-";
  return absl::FormatCivilTime(absl::CivilDay(d.year(), d.month(), d.day()));
}

std::string RecommendationText(const RecommendationView& view) {
  const vigil::v1::Recommendation& r = view.record().body().recommendation();
  std::string text =
      absl::StrCat(view.record().id(), "  issued ", Day(r.issued_on()), "  ", EnumWord(r.status()),
                   "  ", EnumWord(r.priority()), "  to ", r.addressee_authority_id(), "  deadline ",
                   Day(r.deadline()), view.overdue() ? "  OVERDUE" : "",
                   r.theme().empty() ? "" : "  [" + r.theme() + "]", "\n  ", r.text());
  if (!r.repeats_recommendation_ids().empty()) {
    absl::StrAppend(&text, "\n  repeats ", absl::StrJoin(r.repeats_recommendation_ids(), ", "));
  }
  if (!view.repeated_by_ids().empty()) {
    absl::StrAppend(&text, "\n  repeated by ", absl::StrJoin(view.repeated_by_ids(), ", "));
  }
  for (const auto& response : r.responses()) {
    absl::StrAppend(&text, "\n  response ", Day(response.received_on()), "  claims ",
                    EnumWord(response.claimed_status()), "  ", response.text());
  }
  for (const auto& check : r.follow_ups()) {
    absl::StrAppend(&text, "\n  follow-up ", Day(check.checked_on()), "  visits/", check.visit_id(),
                    "  ", EnumWord(check.observed_status()), "  ", check.note());
  }
  for (const auto& change : r.status_history()) {
    absl::StrAppend(&text, "\n  status ", FormatTimestamp(change.at()), "  ",
                    EnumWord(change.from()), " -> ", EnumWord(change.to()), "  by ",
                    change.user_id(), change.note().empty() ? "" : "  " + change.note());
  }
  return text;
}

// One call answered with a recommendation, retried with the same request.
template <typename Call>
int Answer(const Globals& g, const std::string& what, Call call) {
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  RecommendationView view;
  grpc::Status st =
      SameRequestRetried([&](grpc::ClientContext* context) { return call(*stub, context, &view); });
  if (!st.ok()) return Fail(what, st);
  g.out().Result(JsonObject().Proto("recommendation", view), RecommendationText(view));
  return kExitOk;
}

// The flags of `a` into `r`; INVALID_ARGUMENT for a date or word that is
// not one.
absl::Status Fill(const Args& a, vigil::v1::Recommendation& r) {
  r.set_addressee_authority_id(a.addressee);
  r.set_facility_id(a.facility);
  r.set_visit_id(a.visit);
  r.set_theme(a.theme);
  r.set_text(a.text);
  r.set_rationale(a.rationale);
  r.set_status_note(a.note);
  for (const auto& f : a.findings) r.add_finding_ids(f);
  for (const auto& id : a.repeats) r.add_repeats_recommendation_ids(id);
  RETURN_IF_ERROR(
      EnumArg<vigil::v1::Priority>(a.priority, "--priority", [&](auto v) { r.set_priority(v); }));
  RETURN_IF_ERROR(EnumArg<vigil::v1::RecommendationStatus>(a.status, "--status",
                                                           [&](auto v) { r.set_status(v); }));
  if (!a.deadline.empty()) {
    ASSIGN_OR_RETURN(*r.mutable_deadline(), DateArg(a.deadline, "--deadline"));
  }
  if (!a.issued.empty()) {
    ASSIGN_OR_RETURN(*r.mutable_issued_on(), DateArg(a.issued, "--issued"));
  }
  return absl::OkStatus();
}

int Issue(const Globals& g, const Args& a) {
  vigil::v1::CreateRecommendationRequest request;
  if (absl::Status s = Fill(a, *request.mutable_recommendation()); !s.ok()) {
    return Usage(s.message());
  }
  request.set_request_id(NewId());
  return Answer(g, "issuing the recommendation", [&](Stub& stub, auto* context, auto* view) {
    return stub.CreateRecommendation(context, request, view);
  });
}

int SetStatus(const Globals& g, const Args& a) {
  vigil::v1::UpdateRecommendationRequest request;
  request.set_name("recommendations/" + a.id);
  if (absl::Status s = Fill(a, *request.mutable_recommendation()); !s.ok()) {
    return Usage(s.message());
  }
  request.mutable_update_mask()->add_paths("status");
  request.mutable_update_mask()->add_paths("status_note");
  request.set_request_id(NewId());
  return Answer(g, "changing the status", [&](Stub& stub, auto* context, auto* view) {
    return stub.UpdateRecommendation(context, request, view);
  });
}

int Respond(const Globals& g, const Args& a) {
  vigil::v1::AddAuthorityResponseRequest request;
  request.set_name("recommendations/" + a.id);
  vigil::v1::AuthorityResponse& response = *request.mutable_response();
  response.set_text(a.text);
  absl::StatusOr<vigil::v1::CivilDate> received = DateArg(a.received, "--received");
  if (!received.ok()) return Usage(received.status().message());
  *response.mutable_received_on() = *received;
  absl::Status parsed = EnumArg<vigil::v1::RecommendationStatus>(
      a.claims, "--claims", [&](auto v) { response.set_claimed_status(v); });
  if (!parsed.ok()) return Usage(parsed.message());
  request.set_request_id(NewId());
  return Answer(g, "recording the response", [&](Stub& stub, auto* context, auto* view) {
    return stub.AddAuthorityResponse(context, request, view);
  });
}

int FollowUp(const Globals& g, const Args& a) {
  vigil::v1::AddFollowUpCheckRequest request;
  request.set_name("recommendations/" + a.id);
  vigil::v1::FollowUpCheck& check = *request.mutable_check();
  check.set_visit_id(a.visit);
  check.set_note(a.note);
  absl::StatusOr<vigil::v1::CivilDate> checked = DateArg(a.checked, "--checked");
  if (!checked.ok()) return Usage(checked.status().message());
  *check.mutable_checked_on() = *checked;
  absl::Status parsed = EnumArg<vigil::v1::RecommendationStatus>(
      a.observed, "--observed", [&](auto v) { check.set_observed_status(v); });
  if (!parsed.ok()) return Usage(parsed.message());
  request.set_request_id(NewId());
  return Answer(g, "recording the follow-up check", [&](Stub& stub, auto* context, auto* view) {
    return stub.AddFollowUpCheck(context, request, view);
  });
}

// A follow-up check made during the visit, recorded on this device: a
// FollowUpCheck record of the visit, which the server keeps in the
// recommendation when it is synced.
int Check(const Globals& g, const Args& a) {
  vigil::v1::RecordBody body;
  vigil::v1::FollowUpCheck& check = *body.mutable_follow_up_check();
  check.set_recommendation_id(a.id);
  check.set_note(a.note);
  if (a.checked.empty()) {
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    check.mutable_checked_on()->set_year(static_cast<int>(today.year()));
    check.mutable_checked_on()->set_month(today.month());
    check.mutable_checked_on()->set_day(today.day());
  } else {
    absl::StatusOr<vigil::v1::CivilDate> checked = DateArg(a.checked, "--checked");
    if (!checked.ok()) return Usage(checked.status().message());
    *check.mutable_checked_on() = *checked;
  }
  absl::Status parsed = EnumArg<vigil::v1::RecommendationStatus>(
      a.observed, "--observed", [&](auto v) { check.set_observed_status(v); });
  if (!parsed.ok()) return Usage(parsed.message());
  return CreateVisitRecord(g, a.visit, body);
}

// The lineage of one recommendation, oldest first.
int Show(const Globals& g, const Args& a) {
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  vigil::v1::GetRecommendationLineageRequest request;
  request.set_name("recommendations/" + a.id);
  vigil::v1::RecommendationLineage lineage;
  auto context = CallContext();
  if (grpc::Status st = stub->GetRecommendationLineage(context.get(), request, &lineage);
      !st.ok()) {
    return Fail("reading the recommendation", st);
  }
  std::vector<std::string> years;
  for (int year : lineage.issued_years()) years.push_back(std::to_string(year));
  std::string text = absl::StrCat("issued ", absl::StrJoin(years, ", "), "; now ",
                                  EnumWord(lineage.current_status()));
  for (const auto& view : lineage.recommendations()) {
    absl::StrAppend(&text, "\n", RecommendationText(view));
  }
  g.out().Result(JsonObject().Proto("lineage", lineage), text);
  return kExitOk;
}

int List(const Globals& g, const Args& a) {
  vigil::v1::ListRecommendationsRequest request;
  request.set_addressee_authority_id(a.addressee);
  request.set_facility_id(a.facility);
  request.set_visit_id(a.visit);
  request.set_theme(a.theme);
  request.set_finding_id(a.finding);
  absl::Status parsed = EnumArg<vigil::v1::Priority>(a.priority, "--priority",
                                                     [&](auto v) { request.set_priority(v); });
  if (parsed.ok()) {
    parsed = EnumArg<vigil::v1::RecommendationStatus>(a.status, "--status",
                                                      [&](auto v) { request.set_status(v); });
  }
  absl::StatusOr<std::optional<bool>> overdue = YesNo(a.overdue, "--overdue");
  absl::StatusOr<std::optional<bool>> repeated = YesNo(a.repeated, "--repeated");
  if (!overdue.ok()) parsed = overdue.status();
  if (!repeated.ok()) parsed = repeated.status();
  if (!parsed.ok()) return Usage(parsed.message());
  if (overdue->has_value()) request.set_overdue(**overdue);
  if (repeated->has_value()) request.set_repeated(**repeated);
  absl::StatusOr<std::optional<vigil::v1::DateRange>> period = PeriodArg(a.from, a.to);
  if (!period.ok()) return Usage(period.status().message());
  if (period->has_value()) *request.mutable_issued() = **period;
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  request.set_page_size(200);
  do {
    vigil::v1::ListRecommendationsResponse page;
    auto context = CallContext();
    if (grpc::Status st = stub->ListRecommendations(context.get(), request, &page); !st.ok()) {
      return Fail("listing recommendations", st);
    }
    for (const auto& view : page.recommendations()) {
      g.out().Result(JsonObject().Proto("recommendation", view), RecommendationText(view));
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return kExitOk;
}

int Authorities(const Globals& g, const Args& a) {
  vigil::v1::ListAuthorityRecordsRequest request;
  absl::StatusOr<std::optional<vigil::v1::DateRange>> period = PeriodArg(a.from, a.to);
  if (!period.ok()) return Usage(period.status().message());
  if (period->has_value()) *request.mutable_issued() = **period;
  int code = kExitOk;
  ReviewSession s;
  std::unique_ptr<Stub> stub;
  if (!StartReport(g, s, stub, &code)) return code;
  vigil::v1::ListAuthorityRecordsResponse response;
  auto context = CallContext();
  if (grpc::Status st = stub->ListAuthorityRecords(context.get(), request, &response); !st.ok()) {
    return Fail("reading the authorities' records", st);
  }
  for (const auto& r : response.authorities()) {
    g.out().Result(
        JsonObject().Proto("authority", r),
        absl::StrCat(r.authority_id(), "  ", Pad(r.authority_name(), 28), "  issued ", r.issued(),
                     ", responded ", r.responded(), ", implemented ", r.implemented(), " (",
                     static_cast<int>(r.implementation_rate() * 100), "%), partially ",
                     r.partially_implemented(), ", rejected ", r.rejected(), ", overdue ",
                     r.overdue()));
  }
  return kExitOk;
}

}  // namespace

void AddRecommendationCommands(CLI::App& app, const Globals& g, const OnCommand& on) {
  auto a = std::make_shared<Args>();
  auto* recs =
      app.add_subcommand("recommendations", "the NPM's recommendations and their follow-up");
  recs->require_subcommand(1);
  const std::string statuses = OneOf<vigil::v1::RecommendationStatus>("status");

  auto* issue = recs->add_subcommand("issue", "issue a recommendation (NPM reviewers)");
  issue->add_option("--addressee", a->addressee, "authority record id")->required();
  issue->add_option("--text", a->text, "the recommendation")->required();
  issue->add_option("--finding", a->findings, "finding record id it is made from (repeatable)");
  issue->add_option("--repeats", a->repeats, "earlier recommendation it repeats (repeatable)");
  issue->add_option("--visit", a->visit, "visit id (default: the findings')");
  issue->add_option("--facility", a->facility, "facility id (default: the visit's)");
  issue->add_option("--theme", a->theme, "theme");
  issue->add_option("--priority", a->priority, OneOf<vigil::v1::Priority>("priority"));
  issue->add_option("--deadline", a->deadline, "YYYY-MM-DD");
  issue->add_option("--issued", a->issued, "YYYY-MM-DD (default: today)");
  issue->add_option("--rationale", a->rationale, "why");
  on(issue, [&g, a] { return Issue(g, *a); });

  auto* list = recs->add_subcommand("list", "recommendations, filtered");
  list->add_option("--addressee", a->addressee, "authority record id");
  list->add_option("--facility", a->facility, "facility record id");
  list->add_option("--visit", a->visit, "visit id");
  list->add_option("--finding", a->finding, "made from this finding");
  list->add_option("--theme", a->theme, "theme");
  list->add_option("--priority", a->priority, OneOf<vigil::v1::Priority>("priority"));
  list->add_option("--status", a->status, statuses);
  list->add_option("--overdue", a->overdue, "yes or no");
  list->add_option("--repeated", a->repeated, "yes (repeats) or no (first issues)");
  list->add_option("--from", a->from, "issued from this day (YYYY-MM-DD)");
  list->add_option("--to", a->to, "issued up to this day (YYYY-MM-DD)");
  on(list, [&g, a] { return List(g, *a); });

  auto* show = recs->add_subcommand("show", "one recommendation and its lineage of repeats");
  show->add_option("ID", a->id, "recommendation record id")->required();
  on(show, [&g, a] { return Show(g, *a); });

  auto* respond = recs->add_subcommand("respond", "record an authority's response");
  respond->add_option("ID", a->id, "recommendation record id")->required();
  respond->add_option("--received", a->received, "YYYY-MM-DD")->required();
  respond->add_option("--text", a->text, "what it answered");
  respond->add_option("--claims", a->claims, statuses);
  on(respond, [&g, a] { return Respond(g, *a); });

  auto* follow = recs->add_subcommand("follow-up", "record a follow-up check of a later visit");
  follow->add_option("ID", a->id, "recommendation record id")->required();
  follow->add_option("--visit", a->visit, "the visit that checked it")->required();
  follow->add_option("--checked", a->checked, "YYYY-MM-DD")->required();
  follow->add_option("--observed", a->observed, statuses)->required();
  follow->add_option("--note", a->note, "what was seen");
  on(follow, [&g, a] { return FollowUp(g, *a); });

  auto* check = recs->add_subcommand(
      "check", "on a tablet during a visit: record a follow-up check (sent by sync)");
  check->add_option("ID", a->id, "recommendation record id")->required();
  check->add_option("--visit", a->visit, "the visit you are on")->required();
  check->add_option("--observed", a->observed, statuses)->required();
  check->add_option("--checked", a->checked, "YYYY-MM-DD (default: today)");
  check->add_option("--note", a->note, "what was seen");
  on(check, [&g, a] { return Check(g, *a); });

  auto* status = recs->add_subcommand("status", "change the status (kept in its history)");
  status->add_option("ID", a->id, "recommendation record id")->required();
  status->add_option("STATUS", a->status, statuses)->required();
  status->add_option("--note", a->note, "why");
  on(status, [&g, a] { return SetStatus(g, *a); });

  auto* authorities =
      recs->add_subcommand("authorities", "per authority: issued, responded, implemented");
  authorities->add_option("--from", a->from, "issued from this day (YYYY-MM-DD)");
  authorities->add_option("--to", a->to, "issued up to this day (YYYY-MM-DD)");
  on(authorities, [&g, a] { return Authorities(g, *a); });
}

}  // namespace vigil::vigilctl
