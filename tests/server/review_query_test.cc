// ReviewService's queries over findings, interviews and a facility's
// history: every filter, pages and their tokens, redaction for each kind of
// caller, the counts kept in the visit index, and the indexes equal to a
// full scan.
#include <set>
#include <string>
#include <vector>

#include "datadir/operator_commands.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/index_rebuild.h"
#include "tests/server/review_fixture.h"

namespace vigil::review_testing {
namespace {

using google::protobuf::util::TimeUtil;

class ReviewQueryTest : public ReviewTest {
 protected:
  std::string Facility(const std::string& name) {
    const std::string id = NewId();
    v1::RecordBody body;
    body.mutable_facility()->set_name(name);
    body.mutable_facility()->set_official_capacity(120);
    User reviewer = As("reviewer");
    EXPECT_TRUE(reviewer.Push({Create("registry", body, id)}).ok());
    return id;
  }
  // A visit to `facility` planned for `month` of 2026.
  std::string PlannedVisit(const std::string& facility, int month) {
    const std::string id = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
    User reviewer = As("reviewer");
    v1::VisitView view;
    EXPECT_TRUE(reviewer.Get(id, &view).ok());
    v1::RecordBody body = view.record().body();
    v1::DateRange& window = *body.mutable_visit()->mutable_planned_window();
    window.mutable_start()->set_year(2026);
    window.mutable_start()->set_month(month);
    window.mutable_start()->set_day(1);
    window.mutable_end()->set_year(2026);
    window.mutable_end()->set_month(month);
    window.mutable_end()->set_day(3);
    Mutation m = Create("", body, id);
    m.set_base_revision(view.record().revision());
    grpc::Status s = reviewer.Push({m});
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }
  std::string Finding(User& who, const std::string& visit, v1::FindingCategory category,
                      const std::string& subcategory, v1::Severity severity, bool good) {
    const std::string id = NewId();
    v1::RecordBody body;
    body.mutable_finding()->set_title("finding");
    body.mutable_finding()->set_category(category);
    body.mutable_finding()->set_subcategory(subcategory);
    body.mutable_finding()->set_severity(severity);
    body.mutable_finding()->set_good_practice(good);
    grpc::Status s = who.Push({Create("visits/" + visit, body, id)});
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }
  // Every page of `request` as `who` reads it: the record ids, in order.
  std::vector<std::string> Findings(User& who, v1::ListFindingsRequest request) {
    std::vector<std::string> ids;
    for (int pages = 0; pages < 20; ++pages) {
      grpc::ClientContext ctx;
      v1::ListFindingsResponse page;
      grpc::Status s = who.review->ListFindings(&ctx, request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const auto& f : page.findings()) ids.push_back(f.id());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return ids;
  }
  std::vector<v1::Record> Interviews(User& who, v1::ListInterviewsRequest request) {
    grpc::ClientContext ctx;
    v1::ListInterviewsResponse page;
    grpc::Status s = who.review->ListInterviews(&ctx, request, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {page.interviews().begin(), page.interviews().end()};
  }
  void ExpectIndexesEqualAFullScan() {
    server_->Stop();
    auto dir = datadir::OpenStoppedDataDir(server_->data_dir(), "", "test");
    ASSERT_OK(dir.status());
    auto differences = server::CheckVisitIndex(*dir->storage, *dir->keys, [](std::uint64_t) {});
    ASSERT_OK(differences.status());
    EXPECT_TRUE(differences->empty()) << (*differences)[0];
  }
};

TEST_F(ReviewQueryTest, FindingsAreListedByEveryFilterAndPaged) {
  User reviewer = As("reviewer"), monitor = As("monitor");
  const std::string f1 = Facility("Central Prison"), f2 = Facility("Police station 4");
  const std::string a = PlannedVisit(f1, 3), b = PlannedVisit(f1, 9), c = PlannedVisit(f2, 3);
  using C = v1::FindingCategory;
  const std::string solitary_high =
      Finding(monitor, a, C::FINDING_CATEGORY_TREATMENT, "solitary", v1::SEVERITY_HIGH, false);
  const std::string good_low =
      Finding(monitor, a, C::FINDING_CATEGORY_SAFEGUARDS, "", v1::SEVERITY_LOW, true);
  const std::string solitary_low =
      Finding(monitor, b, C::FINDING_CATEGORY_TREATMENT, "solitary", v1::SEVERITY_LOW, false);
  const std::string urgent =
      Finding(monitor, c, C::FINDING_CATEGORY_TREATMENT, "", v1::SEVERITY_URGENT, false);
  {
    grpc::ClientContext ctx;
    v1::MarkRecordRequest mark;
    mark.set_name("records/" + solitary_high);
    mark.set_state(v1::REVIEW_MARK_STATE_ACCEPTED);
    mark.set_request_id(NewId());
    v1::GetRecordResponse out;
    ASSERT_TRUE(reviewer.review->MarkRecord(&ctx, mark, &out).ok());
  }
  using Ids = std::vector<std::string>;
  v1::ListFindingsRequest r;
  EXPECT_EQ(Findings(reviewer, r), (Ids{solitary_high, good_low, solitary_low, urgent}));
  r.set_page_size(1);
  EXPECT_EQ(Findings(reviewer, r), (Ids{solitary_high, good_low, solitary_low, urgent}))
      << "pages join up";
  auto with = [](auto set) {
    v1::ListFindingsRequest request;
    set(request);
    return request;
  };
  EXPECT_EQ(Findings(reviewer, with([&](auto& q) { q.set_parent("visits/" + a); })),
            (Ids{solitary_high, good_low}));
  EXPECT_EQ(Findings(reviewer, with([&](auto& q) { q.set_facility_id(f1); })),
            (Ids{solitary_high, good_low, solitary_low}));
  EXPECT_EQ(Findings(reviewer, with([&](auto& q) {
              q.set_facility_id(f1);
              q.set_page_size(1);
            })),
            (Ids{solitary_high, good_low, solitary_low}))
      << "pages join up across a facility's visits";
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_category(C::FINDING_CATEGORY_TREATMENT); })),
            (Ids{solitary_high, solitary_low, urgent}));
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_subcategory("solitary"); })),
            (Ids{solitary_high, solitary_low}));
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_severity(v1::SEVERITY_LOW); })),
            (Ids{good_low, solitary_low}));
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_good_practice(true); })), (Ids{good_low}));
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_good_practice(false); })),
            (Ids{solitary_high, solitary_low, urgent}));
  EXPECT_EQ(Findings(reviewer,
                     with([](auto& q) { q.set_review_mark(v1::REVIEW_MARK_STATE_ACCEPTED); })),
            (Ids{solitary_high}));
  EXPECT_EQ(Findings(reviewer,
                     with([](auto& q) { q.set_review_mark(v1::REVIEW_MARK_STATE_UNSPECIFIED); })),
            (Ids{good_low, solitary_low, urgent}));
  auto march = [](auto& q) {
    q.mutable_period()->mutable_start()->set_year(2026);
    q.mutable_period()->mutable_start()->set_month(3);
    q.mutable_period()->mutable_start()->set_day(2);
    q.mutable_period()->mutable_end()->set_year(2026);
    q.mutable_period()->mutable_end()->set_month(4);
    q.mutable_period()->mutable_end()->set_day(1);
  };
  EXPECT_EQ(Findings(reviewer, with(march)), (Ids{solitary_high, good_low, urgent}));
  EXPECT_EQ(Findings(reviewer, with([&](auto& q) {
              march(q);
              q.set_facility_id(f1);
              q.set_category(C::FINDING_CATEGORY_TREATMENT);
            })),
            (Ids{solitary_high}));

  // Bad filters and tokens.
  auto reason = [&](User& who, v1::ListFindingsRequest q) {
    grpc::ClientContext ctx;
    v1::ListFindingsResponse page;
    return Reason(who.review->ListFindings(&ctx, q, &page));
  };
  EXPECT_EQ(reason(reviewer, with([](auto& q) { q.set_facility_id("nope"); })), "FILTER_INVALID");
  EXPECT_EQ(reason(reviewer, with([](auto& q) { q.set_category(static_cast<C>(99)); })),
            "FILTER_INVALID");
  EXPECT_EQ(reason(reviewer, with([](auto& q) { q.set_parent("visits/x/y"); })), "NAME_INVALID");
  v1::ListFindingsRequest paged = with([](auto& q) { q.set_page_size(1); });
  grpc::ClientContext ctx;
  v1::ListFindingsResponse first;
  ASSERT_TRUE(reviewer.review->ListFindings(&ctx, paged, &first).ok());
  v1::ListFindingsRequest changed = with([](auto& q) { q.set_severity(v1::SEVERITY_LOW); });
  changed.set_page_token(first.next_page_token());
  EXPECT_EQ(reason(reviewer, changed), "PAGE_TOKEN_INVALID");
  paged.set_page_token(first.next_page_token());
  EXPECT_EQ(reason(monitor, paged), "PAGE_TOKEN_INVALID") << "another caller's token";

  // A field user sees the findings of the visits whose team they are on.
  auto outsider = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(outsider);
  tokens_["outsider"] = *outsider;
  ASSERT_OK(server_->AddToTeam(c, "outsider", v1::TEAM_ROLE_MONITOR));
  User stranger = As("outsider");
  EXPECT_EQ(Findings(stranger, {}), (Ids{urgent}));
  EXPECT_EQ(Findings(stranger, with([&](auto& q) { q.set_facility_id(f1); })), (Ids{}));
  EXPECT_EQ(reason(stranger, with([&](auto& q) { q.set_parent("visits/" + a); })),
            "SCOPE_NOT_PERMITTED");

  // A deleted finding leaves every list.
  Mutation gone = Create("", {}, urgent);
  gone.set_base_revision(1);
  gone.set_delete_(true);
  ASSERT_TRUE(monitor.Push({gone}).ok());
  EXPECT_EQ(Findings(reviewer, with([](auto& q) { q.set_severity(v1::SEVERITY_URGENT); })),
            (Ids{}));
  ExpectIndexesEqualAFullScan();
}

TEST_F(ReviewQueryTest, InterviewsAreListedAsMetadataWithNotesOnlyForTheirInterviewers) {
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string f1 = Facility("Central Prison");
  const std::string a = PlannedVisit(f1, 3), b = PlannedVisit(f1, 4);
  auto interview = [&](const std::string& visit, bool reprisal, bool quote,
                       v1::VulnerabilityTag tag) {
    const std::string id = NewId();
    v1::RecordBody body;
    v1::Interview& i = *body.mutable_interview();
    i.set_pseudonym("Detainee " + id.substr(30));
    i.set_kind(v1::INTERVIEW_KIND_PRIVATE);
    i.add_interviewer_user_ids("lead");
    i.set_reprisal_watch(reprisal);
    i.mutable_consent()->set_quote(quote);
    if (tag != v1::VULNERABILITY_TAG_UNSPECIFIED) i.add_vulnerability_tags(tag);
    i.set_notes("He was beaten on the night of the 3rd");
    EXPECT_TRUE(lead.Push({Create("visits/" + visit, body, id)}).ok());
    return id;
  };
  const std::string watched = interview(a, true, true, v1::VULNERABILITY_TAG_JUVENILE);
  const std::string other = interview(b, false, false, v1::VULNERABILITY_TAG_UNSPECIFIED);
  auto ids = [](const std::vector<v1::Record>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.id());
    return out;
  };
  using Ids = std::vector<std::string>;
  v1::ListInterviewsRequest all;
  const std::vector<v1::Record> listed = Interviews(reviewer, all);
  EXPECT_EQ(ids(listed), (Ids{watched, other}));
  for (const auto& r : listed) {
    EXPECT_TRUE(r.body().interview().notes().empty()) << "metadata only";
    EXPECT_TRUE(r.body().interview().reprisal_watch() || r.id() == other);
  }
  v1::ListInterviewsRequest q;
  q.set_reprisal_watch(true);
  EXPECT_EQ(ids(Interviews(reviewer, q)), (Ids{watched}));
  q.Clear();
  q.set_vulnerability(v1::VULNERABILITY_TAG_JUVENILE);
  EXPECT_EQ(ids(Interviews(reviewer, q)), (Ids{watched}));
  q.Clear();
  q.set_quote_consent(false);
  EXPECT_EQ(ids(Interviews(reviewer, q)), (Ids{other}));
  q.Clear();
  q.set_parent("visits/" + b);
  EXPECT_EQ(ids(Interviews(reviewer, q)), (Ids{other}));
  q.Clear();
  q.set_facility_id(f1);
  q.set_kind(v1::INTERVIEW_KIND_PRIVATE);
  EXPECT_EQ(ids(Interviews(reviewer, q)), (Ids{watched, other}));
  q.Clear();
  q.set_kind(v1::INTERVIEW_KIND_GROUP);
  EXPECT_TRUE(Interviews(reviewer, q).empty());

  // Notes: only for whoever may see them, and only when asked for.
  v1::ListInterviewsRequest notes;
  notes.set_with_notes(true);
  for (const auto& r : Interviews(lead, notes)) {
    EXPECT_FALSE(r.body().interview().notes().empty()) << "the interviewer";
  }
  for (const auto& r : Interviews(monitor, notes)) {
    EXPECT_TRUE(r.body().interview().notes().empty()) << "not an interviewer";
    EXPECT_NE(std::find(r.withheld_fields().begin(), r.withheld_fields().end(), "notes"),
              r.withheld_fields().end());
  }
  grpc::ClientContext ctx;
  v1::ListInterviewsResponse page;
  EXPECT_EQ(Reason(monitor.review->ListInterviews(&ctx, notes, &page)), "<none>");
  ExpectIndexesEqualAFullScan();
}

TEST_F(ReviewQueryTest, FacilityHistoryShowsVisitsFindingsAndOccupancy) {
  User reviewer = As("reviewer"), monitor = As("monitor");
  const std::string f1 = Facility("Central Prison");
  const std::string later = PlannedVisit(f1, 9), earlier = PlannedVisit(f1, 2);
  using C = v1::FindingCategory;
  Finding(monitor, earlier, C::FINDING_CATEGORY_TREATMENT, "", v1::SEVERITY_HIGH, false);
  Finding(monitor, later, C::FINDING_CATEGORY_TREATMENT, "", v1::SEVERITY_LOW, false);
  const std::string good =
      Finding(monitor, later, C::FINDING_CATEGORY_SAFEGUARDS, "", v1::SEVERITY_LOW, true);
  auto occupancy = [&](const std::string& visit, int month, std::uint32_t total) {
    v1::RecordBody body;
    v1::OccupancySnapshot& o = *body.mutable_occupancy_snapshot();
    o.set_visit_id(visit);
    *o.mutable_taken_at() = TimeUtil::SecondsToTimestamp(1'767'225'600 + month * 2'600'000);
    o.set_total(total);
    o.set_official_capacity(120);
    EXPECT_TRUE(monitor.Push({Create("visits/" + visit, body, NewId())}).ok());
  };
  occupancy(later, 9, 150);
  occupancy(earlier, 2, 131);

  auto history = [](User& who, const std::string& facility, v1::FacilityHistory* out) {
    grpc::ClientContext ctx;
    v1::GetFacilityHistoryRequest request;
    request.set_facility_id(facility);
    return who.review->GetFacilityHistory(&ctx, request, out);
  };
  v1::FacilityHistory h;
  grpc::Status s = history(reviewer, f1, &h);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(h.facility().body().facility().name(), "Central Prison");
  ASSERT_EQ(h.visits_size(), 2);
  EXPECT_EQ(h.visits(0).name(), "visits/" + earlier) << "oldest first";
  EXPECT_EQ(h.visits(1).name(), "visits/" + later);
  EXPECT_EQ(h.visits(1).findings_by_category_size(), 2);
  ASSERT_EQ(h.findings_by_category_size(), 2);
  EXPECT_EQ(h.findings_by_category(0).category(), C::FINDING_CATEGORY_TREATMENT);
  EXPECT_EQ(h.findings_by_category(0).findings(), 2u);
  EXPECT_EQ(h.findings_by_category(1).findings(), 1u);
  EXPECT_EQ(h.findings_by_category(1).good_practices(), 1u);
  ASSERT_EQ(h.occupancy_size(), 2);
  EXPECT_EQ(h.occupancy(0).snapshot().total(), 131u) << "by time taken";
  EXPECT_EQ(h.occupancy(0).visit(), "visits/" + earlier);
  EXPECT_EQ(h.occupancy(1).snapshot().total(), 150u);
  EXPECT_EQ(h.occupancy(1).snapshot().official_capacity(), 120u);

  // A deleted finding leaves the counts.
  Mutation gone = Create("", {}, good);
  gone.set_base_revision(1);
  gone.set_delete_(true);
  ASSERT_TRUE(monitor.Push({gone}).ok());
  ASSERT_TRUE(history(reviewer, f1, &h).ok());
  EXPECT_EQ(h.findings_by_category_size(), 1);

  // A field user sees the visits whose team they are on.
  auto outsider = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(outsider);
  tokens_["outsider"] = *outsider;
  ASSERT_OK(server_->AddToTeam(later, "outsider", v1::TEAM_ROLE_MONITOR));
  User stranger = As("outsider");
  ASSERT_TRUE(history(stranger, f1, &h).ok());
  ASSERT_EQ(h.visits_size(), 1);
  EXPECT_EQ(h.visits(0).name(), "visits/" + later);
  EXPECT_EQ(h.occupancy_size(), 1);

  s = history(reviewer, NewId(), &h);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(s), "RESOURCE_NOT_FOUND");
  EXPECT_EQ(history(stranger, NewId(), &h).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(history(reviewer, "nope", &h)), "FILTER_INVALID");
  ExpectIndexesEqualAFullScan();
}

}  // namespace
}  // namespace vigil::review_testing
