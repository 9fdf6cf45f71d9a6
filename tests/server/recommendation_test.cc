// ReportService's recommendations: issued from findings, followed across
// visits (lineage of repeats), with authority responses, follow-up checks,
// a status history and overdue; each filter of ListRecommendations against
// a brute-force selection, and the per-authority records.
#include <algorithm>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/review_fixture.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil {
namespace {

using review_testing::Create;
using review_testing::Date;
using review_testing::Metadata;
using review_testing::NewId;
using review_testing::Reason;
using review_testing::ReviewTest;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;
using v1::Recommendation;
using v1::RecommendationView;

std::string IdOf(const RecommendationView& view) { return view.record().id(); }

class RecommendationTest : public ReviewTest {
 protected:
  std::unique_ptr<v1::ReportService::Stub> Report(const std::string& user) {
    return v1::ReportService::NewStub(server_->ChannelWithToken(tokens_.at(user)));
  }

  // A registry record made by the NPM unit.
  std::string Registry(const v1::RecordBody& body) {
    const std::string id = NewId();
    grpc::Status s = As("reviewer").Push({Create("registry", body, id)});
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }
  std::string NewAuthority(const std::string& name) {
    v1::RecordBody body;
    body.mutable_authority()->set_name(name);
    return Registry(body);
  }
  std::string NewFacility(v1::FacilityType type) {
    v1::RecordBody body;
    body.mutable_facility()->set_name("Facility");
    body.mutable_facility()->set_type(type);
    body.mutable_facility()->set_official_capacity(100);
    return Registry(body);
  }
  std::string NewFinding(const std::string& visit_id) {
    v1::RecordBody body;
    body.mutable_finding()->set_category(v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
    body.mutable_finding()->set_narrative("cells overcrowded");
    const std::string id = NewId();
    grpc::Status s = As("monitor").Push({Create("visits/" + visit_id, body, id)});
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  grpc::Status Issue(const Recommendation& r, RecommendationView* out,
                     const std::string& user = "reviewer", std::string request_id = "") {
    grpc::ClientContext ctx;
    v1::CreateRecommendationRequest request;
    *request.mutable_recommendation() = r;
    request.set_request_id(request_id.empty() ? NewId() : request_id);
    return Report(user)->CreateRecommendation(&ctx, request, out);
  }
  RecommendationView MustIssue(const Recommendation& r) {
    RecommendationView view;
    grpc::Status s = Issue(r, &view);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return view;
  }
  grpc::Status Update(const RecommendationView& of, const Recommendation& r,
                      std::vector<std::string> paths, RecommendationView* out,
                      std::string etag = "") {
    grpc::ClientContext ctx;
    v1::UpdateRecommendationRequest request;
    request.set_name(of.name());
    *request.mutable_recommendation() = r;
    for (auto& p : paths) request.mutable_update_mask()->add_paths(p);
    request.set_etag(etag.empty() ? of.etag() : etag);
    request.set_request_id(NewId());
    return Report("reviewer")->UpdateRecommendation(&ctx, request, out);
  }
  grpc::Status Get(const std::string& id, RecommendationView* out,
                   const std::string& user = "reviewer") {
    grpc::ClientContext ctx;
    v1::GetRecommendationRequest request;
    request.set_name("recommendations/" + id);
    return Report(user)->GetRecommendation(&ctx, request, out);
  }
  // Every page of `request`, `page_size` at a time.
  std::vector<std::string> ListAll(v1::ListRecommendationsRequest request,
                                   std::uint32_t page_size = 2) {
    std::vector<std::string> ids;
    request.set_page_size(page_size);
    for (int pages = 0; pages < 100; ++pages) {
      grpc::ClientContext ctx;
      v1::ListRecommendationsResponse page;
      grpc::Status s = Report("reviewer")->ListRecommendations(&ctx, request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& view : page.recommendations()) ids.push_back(IdOf(view));
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return ids;
  }

  Recommendation Draft(const std::string& authority, const std::string& text = "Reduce cells") {
    Recommendation r;
    r.set_addressee_authority_id(authority);
    r.set_text(text);
    r.set_theme("material conditions");
    r.set_priority(v1::PRIORITY_HIGH);
    return r;
  }
};

TEST_F(RecommendationTest, IssuedFromFindingsWithLinksBothWaysAndRetriedAsTheFirst) {
  const std::string authority = NewAuthority("Prison Service");
  const std::string facility = NewFacility(v1::FACILITY_TYPE_PRISON);
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  const std::string f1 = NewFinding(visit), f2 = NewFinding(visit), other = NewFinding(visit);
  Recommendation r = Draft(authority);
  r.add_finding_ids(f1);
  r.add_finding_ids(f2);
  r.mutable_deadline()->CopyFrom(Date(2030, 6, 30));
  const std::string request_id = NewId();
  RecommendationView issued;
  ASSERT_TRUE(Issue(r, &issued, "reviewer", request_id).ok());
  const Recommendation& got = issued.record().body().recommendation();
  EXPECT_EQ(issued.name(), "recommendations/" + IdOf(issued));
  EXPECT_EQ(issued.record().scope(), "registry");
  EXPECT_EQ(got.visit_id(), visit);        // from its findings
  EXPECT_EQ(got.facility_id(), facility);  // from the visit
  EXPECT_EQ(got.status(), v1::RECOMMENDATION_STATUS_OPEN);
  EXPECT_GT(got.issued_on().year(), 2025);
  ASSERT_EQ(got.status_history_size(), 1);
  EXPECT_EQ(got.status_history(0).to(), v1::RECOMMENDATION_STATUS_OPEN);
  EXPECT_FALSE(issued.overdue());
  // The other way: from a finding to what was made of it.
  v1::ListRecommendationsRequest by_finding;
  by_finding.set_finding_id(f2);
  EXPECT_THAT(ListAll(by_finding), ElementsAre(IdOf(issued)));
  by_finding.set_finding_id(other);
  EXPECT_TRUE(ListAll(by_finding).empty());
  // A retry answers with the first result and writes nothing.
  RecommendationView again;
  ASSERT_TRUE(Issue(r, &again, "reviewer", request_id).ok());
  EXPECT_EQ(IdOf(again), IdOf(issued));
  EXPECT_EQ(again.record().revision(), issued.record().revision());
  EXPECT_THAT(ListAll({}), ElementsAre(IdOf(issued)));
  // Field users read it (and their tablets pull it) but may not issue one;
  // the administrator sees no content.
  RecommendationView seen;
  EXPECT_TRUE(Get(IdOf(issued), &seen, "monitor").ok());
  EXPECT_EQ(seen.record().body().recommendation().text(), "Reduce cells");
  grpc::Status refused = Issue(r, &seen, "monitor");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(refused), "REVIEWER_ONLY");
  refused = Get(IdOf(issued), &seen, "admin");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  v1::PullRequest pull;
  pull.set_scope("registry");
  v1::PullResponse pulled;
  ASSERT_TRUE(As("monitor").sync->Pull(&ctx, pull, &pulled).ok());
  EXPECT_TRUE(std::any_of(pulled.records().begin(), pulled.records().end(),
                          [&](const v1::Record& rec) { return rec.id() == IdOf(issued); }));
}

TEST_F(RecommendationTest, BadInputGetsItsReasonAndWritesNothing) {
  const std::string authority = NewAuthority("Police");
  const std::string prison = NewFacility(v1::FACILITY_TYPE_PRISON);
  const std::string police = NewFacility(v1::FACILITY_TYPE_POLICE_CUSTODY);
  const std::string f_prison = NewFinding(NewVisit(v1::VISIT_STATE_IN_PROGRESS, prison));
  const std::string f_police = NewFinding(NewVisit(v1::VISIT_STATE_IN_PROGRESS, police));
  struct Case {
    std::string what;
    Recommendation r;
    grpc::StatusCode code;
    std::string reason, field;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, auto edit, std::string reason, std::string field = "") {
    Recommendation r = Draft(authority);
    edit(r);
    cases.push_back({what, r, grpc::StatusCode::INVALID_ARGUMENT, reason, field});
  };
  add(
      "no text", [](Recommendation& r) { r.clear_text(); }, "TEXT_REQUIRED");
  add(
      "no addressee", [](Recommendation& r) { r.clear_addressee_authority_id(); },
      "ADDRESSEE_REQUIRED");
  add(
      "addressee is a facility", [&](Recommendation& r) { r.set_addressee_authority_id(prison); },
      "RECOMMENDATION_INVALID", "addressee_authority_id");
  add(
      "no such finding", [](Recommendation& r) { r.add_finding_ids(NewId()); },
      "RECOMMENDATION_INVALID", "finding_ids");
  add(
      "findings of two facilities",
      [&](Recommendation& r) {
        r.add_finding_ids(f_prison);
        r.add_finding_ids(f_police);
      },
      "RECOMMENDATION_INVALID", "finding_ids");
  add(
      "repeats no recommendation",
      [&](Recommendation& r) { r.add_repeats_recommendation_ids(authority); },
      "RECOMMENDATION_INVALID", "repeats_recommendation_ids");
  add(
      "30 February", [](Recommendation& r) { *r.mutable_deadline() = Date(2024, 2, 30); },
      "DATE_INVALID", "deadline");
  add(
      "unknown priority", [](Recommendation& r) { r.set_priority(static_cast<v1::Priority>(99)); },
      "RECOMMENDATION_INVALID", "priority");
  for (const Case& c : cases) {
    RecommendationView out;
    grpc::Status s = Issue(c.r, &out);
    EXPECT_EQ(s.error_code(), c.code) << c.what;
    EXPECT_EQ(Reason(s), c.reason) << c.what;
    if (!c.field.empty()) {
      EXPECT_EQ(Metadata(s, "field"), c.field) << c.what;
    }
  }
  RecommendationView out;
  grpc::Status s = Issue(Draft(authority), &out, "reviewer", "not-a-uuid");
  EXPECT_EQ(Reason(s), "REQUEST_ID_INVALID");
  EXPECT_TRUE(ListAll({}).empty());
  // A name that is not one.
  grpc::ClientContext ctx;
  v1::GetRecommendationRequest get;
  get.set_name("records/" + authority);
  s = Report("reviewer")->GetRecommendation(&ctx, get, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "NAME_INVALID");
  s = Get(authority, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(s), "RESOURCE_NOT_FOUND");
}

TEST_F(RecommendationTest, LineageRunsFromTheFirstIssueToTheLatestRepeat) {
  const std::string authority = NewAuthority("Ministry of Justice");
  Recommendation first = Draft(authority, "Install call bells");
  *first.mutable_issued_on() = Date(2022, 5, 1);
  const RecommendationView r2022 = MustIssue(first);
  Recommendation second = Draft(authority, "Install call bells, as recommended in 2022");
  *second.mutable_issued_on() = Date(2023, 4, 2);
  second.add_repeats_recommendation_ids(IdOf(r2022));
  const RecommendationView r2023 = MustIssue(second);
  Recommendation third = Draft(authority, "Install call bells, third time");
  *third.mutable_issued_on() = Date(2024, 3, 3);
  third.add_repeats_recommendation_ids(IdOf(r2023));
  const RecommendationView r2024 = MustIssue(third);
  MustIssue(Draft(authority, "Unrelated"));

  grpc::ClientContext ctx;
  v1::GetRecommendationLineageRequest request;
  request.set_name(r2023.name());
  v1::RecommendationLineage lineage;
  ASSERT_TRUE(Report("service")->GetRecommendationLineage(&ctx, request, &lineage).ok());
  std::vector<std::string> ids;
  for (const auto& view : lineage.recommendations()) ids.push_back(IdOf(view));
  EXPECT_THAT(ids, ElementsAre(IdOf(r2022), IdOf(r2023), IdOf(r2024)));
  EXPECT_THAT(lineage.issued_years(), ElementsAre(2022, 2023, 2024));
  EXPECT_EQ(lineage.current_status(), v1::RECOMMENDATION_STATUS_OPEN);
  RecommendationView got;
  ASSERT_TRUE(Get(IdOf(r2022), &got).ok());
  EXPECT_THAT(got.repeated_by_ids(), ElementsAre(IdOf(r2023)));

  v1::ListRecommendationsRequest repeated;
  repeated.set_repeated(true);
  EXPECT_THAT(ListAll(repeated), UnorderedElementsAreArray({IdOf(r2023), IdOf(r2024)}));
  v1::ListRecommendationsRequest in_2023;
  *in_2023.mutable_issued()->mutable_start() = Date(2023, 1, 1);
  *in_2023.mutable_issued()->mutable_end() = Date(2023, 12, 31);
  EXPECT_THAT(ListAll(in_2023), ElementsAre(IdOf(r2023)));
  // A recommendation repeating itself is refused.
  RecommendationView out;
  Recommendation loop;
  loop.add_repeats_recommendation_ids(IdOf(r2024));
  grpc::Status s = Update(r2024, loop, {"repeats_recommendation_ids"}, &out);
  EXPECT_EQ(Reason(s), "RECOMMENDATION_INVALID");
  EXPECT_EQ(Metadata(s, "field"), "repeats_recommendation_ids");
}

TEST_F(RecommendationTest, ResponsesFollowUpsAndStatusHistory) {
  const std::string authority = NewAuthority("Police Directorate");
  const std::string facility = NewFacility(v1::FACILITY_TYPE_POLICE_CUSTODY);
  const std::string later_visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  Recommendation r = Draft(authority);
  *r.mutable_deadline() = Date(2020, 1, 31);
  r.set_facility_id(facility);
  RecommendationView view = MustIssue(r);
  EXPECT_TRUE(view.overdue());
  v1::ListRecommendationsRequest overdue;
  overdue.set_overdue(true);
  EXPECT_THAT(ListAll(overdue), ElementsAre(IdOf(view)));

  // A response: no longer overdue; its id the server's, its authority the
  // addressee.
  {
    grpc::ClientContext ctx;
    v1::AddAuthorityResponseRequest request;
    request.set_name(view.name());
    request.set_request_id(NewId());
    request.mutable_response()->set_text("Works are planned for next year.");
    request.mutable_response()->set_claimed_status(v1::RECOMMENDATION_STATUS_ACCEPTED);
    RecommendationView out;
    grpc::Status missing_date = Report("reviewer")->AddAuthorityResponse(&ctx, request, &out);
    EXPECT_EQ(Reason(missing_date), "RESPONSE_INVALID");
    grpc::ClientContext again;
    *request.mutable_response()->mutable_received_on() = Date(2020, 3, 1);
    ASSERT_TRUE(Report("reviewer")->AddAuthorityResponse(&again, request, &view).ok());
  }
  const Recommendation* got = &view.record().body().recommendation();
  ASSERT_EQ(got->responses_size(), 1);
  EXPECT_FALSE(got->responses(0).id().empty());
  EXPECT_EQ(got->responses(0).authority_id(), authority);
  EXPECT_FALSE(view.overdue());
  EXPECT_TRUE(ListAll(overdue).empty());

  // A follow-up check on a later visit.
  {
    grpc::ClientContext ctx;
    v1::AddFollowUpCheckRequest request;
    request.set_name(view.name());
    request.set_request_id(NewId());
    request.mutable_check()->set_visit_id(NewId());
    *request.mutable_check()->mutable_checked_on() = Date(2021, 2, 2);
    request.mutable_check()->set_observed_status(v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
    RecommendationView out;
    EXPECT_EQ(Reason(Report("reviewer")->AddFollowUpCheck(&ctx, request, &out)),
              "RECOMMENDATION_INVALID");  // no such visit
    grpc::ClientContext again;
    request.mutable_check()->set_visit_id(later_visit);
    request.mutable_check()->set_note("Two cells renovated out of ten.");
    ASSERT_TRUE(Report("reviewer")->AddFollowUpCheck(&again, request, &view).ok());
  }
  got = &view.record().body().recommendation();
  ASSERT_EQ(got->follow_ups_size(), 1);
  EXPECT_EQ(got->follow_ups(0).visit_id(), later_visit);

  // The NPM decides the status; each change is kept with its note.
  Recommendation change;
  change.set_status(v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
  change.set_status_note("seen on the follow-up visit");
  const RecommendationView before = view;
  ASSERT_TRUE(Update(view, change, {"status", "status_note"}, &view).ok());
  got = &view.record().body().recommendation();
  ASSERT_EQ(got->status_history_size(), 2);
  EXPECT_EQ(got->status_history(1).from(), v1::RECOMMENDATION_STATUS_OPEN);
  EXPECT_EQ(got->status_history(1).to(), v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
  EXPECT_EQ(got->status_history(1).note(), "seen on the follow-up visit");
  EXPECT_TRUE(got->has_status_changed_at());
  EXPECT_EQ(got->responses_size(), 1);  // an update keeps what it does not name
  EXPECT_EQ(got->text(), "Reduce cells");
  // A text change keeps the history as it is.
  Recommendation text;
  text.set_text("Reduce the number of people per cell");
  ASSERT_TRUE(Update(view, text, {"text"}, &view).ok());
  EXPECT_EQ(view.record().body().recommendation().status_history_size(), 2);

  RecommendationView out;
  grpc::Status s = Update(before, change, {"status"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Reason(s), "ETAG_MISMATCH");
  s = Update(view, change, {"status_history"}, &out);
  EXPECT_EQ(Reason(s), "FIELD_MASK_INVALID");
  s = Update(view, change, {}, &out);
  EXPECT_EQ(Reason(s), "FIELD_MASK_INVALID");
  Recommendation no_text;
  s = Update(view, no_text, {"text"}, &out);
  EXPECT_EQ(Reason(s), "TEXT_REQUIRED");
  ASSERT_TRUE(Get(IdOf(view), &out).ok());
  EXPECT_EQ(out.etag(), view.etag());  // nothing written by the refusals
}

TEST_F(RecommendationTest, EveryFilterSelectsWhatABruteForceSelects) {
  const std::vector<std::string> authorities = {NewAuthority("B Ministry"),
                                                NewAuthority("A Directorate")};
  const std::vector<std::string> facilities = {NewFacility(v1::FACILITY_TYPE_PRISON),
                                               NewFacility(v1::FACILITY_TYPE_POLICE_CUSTODY)};
  const std::vector<std::string> visits = {NewVisit(v1::VISIT_STATE_IN_PROGRESS, facilities[0]),
                                           NewVisit(v1::VISIT_STATE_IN_PROGRESS, facilities[1])};
  const std::vector<v1::RecommendationStatus> statuses = {
      v1::RECOMMENDATION_STATUS_OPEN, v1::RECOMMENDATION_STATUS_IMPLEMENTED,
      v1::RECOMMENDATION_STATUS_REJECTED, v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED};
  std::vector<RecommendationView> all;
  for (int i = 0; i < 12; ++i) {
    Recommendation r = Draft(authorities[i % 2], "Recommendation " + std::to_string(i));
    r.set_theme(i % 3 == 0 ? "health care" : "safeguards");
    r.set_priority(i % 4 == 0 ? v1::PRIORITY_URGENT : v1::PRIORITY_MEDIUM);
    r.set_status(statuses[i % 4]);
    r.set_visit_id(visits[(i / 2) % 2]);
    *r.mutable_issued_on() = Date(2022 + i % 3, 1 + i, 10);
    if (i % 5 == 1) *r.mutable_deadline() = Date(2021, 1, 1);
    if (i >= 3 && i % 3 == 0) r.add_repeats_recommendation_ids(IdOf(all[i - 3]));
    all.push_back(MustIssue(r));
  }
  struct Filter {
    std::string what;
    v1::ListRecommendationsRequest request;
    std::function<bool(const RecommendationView&)> selects;
  };
  auto of = [](const RecommendationView& v) -> const Recommendation& {
    return v.record().body().recommendation();
  };
  std::vector<Filter> filters;
  auto add = [&](std::string what, auto set, std::function<bool(const RecommendationView&)> f) {
    v1::ListRecommendationsRequest request;
    set(request);
    filters.push_back({what, request, f});
  };
  add(
      "none", [](auto&) {}, [](const auto&) { return true; });
  add(
      "addressee", [&](auto& q) { q.set_addressee_authority_id(authorities[1]); },
      [&](const auto& v) { return of(v).addressee_authority_id() == authorities[1]; });
  add(
      "facility", [&](auto& q) { q.set_facility_id(facilities[0]); },
      [&](const auto& v) { return of(v).facility_id() == facilities[0]; });
  add(
      "facility type", [&](auto& q) { q.set_facility_type(v1::FACILITY_TYPE_POLICE_CUSTODY); },
      [&](const auto& v) { return of(v).facility_id() == facilities[1]; });
  add(
      "visit", [&](auto& q) { q.set_visit_id(visits[1]); },
      [&](const auto& v) { return of(v).visit_id() == visits[1]; });
  add(
      "theme", [](auto& q) { q.set_theme("health care"); },
      [&](const auto& v) { return of(v).theme() == "health care"; });
  add(
      "priority", [](auto& q) { q.set_priority(v1::PRIORITY_URGENT); },
      [&](const auto& v) { return of(v).priority() == v1::PRIORITY_URGENT; });
  add(
      "status", [](auto& q) { q.set_status(v1::RECOMMENDATION_STATUS_REJECTED); },
      [&](const auto& v) { return of(v).status() == v1::RECOMMENDATION_STATUS_REJECTED; });
  add(
      "overdue", [](auto& q) { q.set_overdue(true); },
      [&](const auto& v) { return of(v).has_deadline(); });
  add(
      "not overdue", [](auto& q) { q.set_overdue(false); },
      [&](const auto& v) { return !of(v).has_deadline(); });
  add(
      "first issues", [](auto& q) { q.set_repeated(false); },
      [&](const auto& v) { return of(v).repeats_recommendation_ids().empty(); });
  add(
      "issued across years",
      [](auto& q) {
        *q.mutable_issued()->mutable_start() = Date(2022, 6, 1);
        *q.mutable_issued()->mutable_end() = Date(2023, 6, 30);
      },
      [&](const auto& v) {
        const auto& i = of(v).issued_on();
        const auto d = std::tuple(i.year(), i.month(), i.day());
        return std::tuple(2022, 6, 1) <= d && d <= std::tuple(2023, 6, 30);
      });
  add(
      "addressee and status",
      [&](auto& q) {
        q.set_addressee_authority_id(authorities[0]);
        q.set_status(v1::RECOMMENDATION_STATUS_OPEN);
      },
      [&](const auto& v) {
        return of(v).addressee_authority_id() == authorities[0] &&
               of(v).status() == v1::RECOMMENDATION_STATUS_OPEN;
      });
  for (const Filter& filter : filters) {
    std::vector<std::string> expected;
    for (const auto& v : all) {
      if (filter.selects(v)) expected.push_back(IdOf(v));
    }
    EXPECT_THAT(ListAll(filter.request), UnorderedElementsAreArray(expected)) << filter.what;
    EXPECT_THAT(ListAll(filter.request, 200), UnorderedElementsAreArray(expected)) << filter.what;
  }
  v1::ListRecommendationsRequest bad;
  bad.set_status(static_cast<v1::RecommendationStatus>(42));
  grpc::ClientContext ctx;
  v1::ListRecommendationsResponse page;
  grpc::Status s = Report("reviewer")->ListRecommendations(&ctx, bad, &page);
  EXPECT_EQ(Reason(s), "FILTER_INVALID");

  // Per authority: issued, responded, implemented, rate.
  grpc::ClientContext records_ctx;
  v1::ListAuthorityRecordsResponse records;
  ASSERT_TRUE(Report("reviewer")->ListAuthorityRecords(&records_ctx, {}, &records).ok());
  ASSERT_EQ(records.authorities_size(), 2);
  EXPECT_EQ(records.authorities(0).authority_name(), "A Directorate");
  for (const auto& a : records.authorities()) {
    std::uint32_t issued = 0, implemented = 0, rejected = 0, overdue_count = 0;
    for (const auto& v : all) {
      if (of(v).addressee_authority_id() != a.authority_id()) continue;
      ++issued;
      implemented += of(v).status() == v1::RECOMMENDATION_STATUS_IMPLEMENTED;
      rejected += of(v).status() == v1::RECOMMENDATION_STATUS_REJECTED;
      overdue_count += of(v).has_deadline();
    }
    EXPECT_EQ(a.issued(), issued);
    EXPECT_EQ(a.implemented(), implemented);
    EXPECT_EQ(a.rejected(), rejected);
    EXPECT_EQ(a.overdue(), overdue_count);
    EXPECT_EQ(a.responded(), 0u);
    EXPECT_DOUBLE_EQ(a.implementation_rate(), static_cast<double>(implemented) / issued);
  }
}

// A check recorded on a tablet during the visit (a FollowUpCheck record of
// the visit's scope) reaches the recommendation in the same commit, follows
// its edits and leaves with its deletion; a check naming no recommendation,
// or outside a visit, is refused and writes nothing.
TEST_F(RecommendationTest, AFollowUpCheckFromATabletReachesTheRecommendation) {
  const std::string authority = NewAuthority("Prison Service");
  const std::string facility = NewFacility(v1::FACILITY_TYPE_PRISON);
  const RecommendationView issued = MustIssue(Draft(authority));
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  v1::RecordBody body;
  v1::FollowUpCheck& check = *body.mutable_follow_up_check();
  check.set_recommendation_id(IdOf(issued));
  *check.mutable_checked_on() = Date(2026, 3, 2);
  check.set_observed_status(v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
  check.set_note("Half the radiators replaced.");
  const std::string id = NewId();
  grpc::Status s = As("monitor").Push({Create("visits/" + visit, body, id)});
  ASSERT_TRUE(s.ok()) << s.error_message();
  RecommendationView seen;
  ASSERT_TRUE(Get(IdOf(issued), &seen, "monitor").ok());
  ASSERT_EQ(seen.record().body().recommendation().follow_ups_size(), 1);
  const v1::FollowUpCheck& mirrored = seen.record().body().recommendation().follow_ups(0);
  EXPECT_EQ(mirrored.id(), id);
  EXPECT_EQ(mirrored.visit_id(), visit);
  EXPECT_EQ(mirrored.observed_status(), v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED);
  EXPECT_EQ(mirrored.note(), "Half the radiators replaced.");
  EXPECT_EQ(seen.record().revision(), issued.record().revision() + 1);
  // An edit follows; a deletion takes it out.
  check.set_observed_status(v1::RECOMMENDATION_STATUS_IMPLEMENTED);
  v1::Mutation edit = Create("visits/" + visit, body, id);
  edit.set_base_revision(1);
  ASSERT_TRUE(As("monitor").Push({edit}).ok());
  ASSERT_TRUE(Get(IdOf(issued), &seen).ok());
  ASSERT_EQ(seen.record().body().recommendation().follow_ups_size(), 1);
  EXPECT_EQ(seen.record().body().recommendation().follow_ups(0).observed_status(),
            v1::RECOMMENDATION_STATUS_IMPLEMENTED);
  v1::Mutation del = Create("visits/" + visit, body, id);
  del.set_base_revision(2);
  del.clear_body();
  del.set_delete_(true);
  ASSERT_TRUE(As("monitor").Push({del}).ok());
  ASSERT_TRUE(Get(IdOf(issued), &seen).ok());
  EXPECT_EQ(seen.record().body().recommendation().follow_ups_size(), 0);
  const std::uint64_t revision = seen.record().revision();
  // Refused: no such recommendation, or not in a visit.
  check.set_recommendation_id(NewId());
  s = As("monitor").Push({Create("visits/" + visit, body, NewId())});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "FOLLOW_UP_INVALID");
  check.set_recommendation_id(IdOf(issued));
  s = As("reviewer").Push({Create("registry", body, NewId())});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "FOLLOW_UP_INVALID");
  ASSERT_TRUE(Get(IdOf(issued), &seen).ok());
  EXPECT_EQ(seen.record().revision(), revision);
}

}  // namespace
}  // namespace vigil
