// vigil.v1.ReviewService over real gRPC: the visit lifecycle for every role
// and every pair of states, transitions recorded where the team sees them,
// open conflicts acknowledged on submission, etags and request ids, the team
// derived from the team table, ListVisits' filters and page tokens, the
// review queue's counts.
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "datadir/operator_commands.h"
#include "server/records/index_rebuild.h"
#include "tests/server/review_fixture.h"

namespace vigil::review_testing {
namespace {

// The machine as the issue states it, independently of the server's table:
// (from, to) -> who may make the move.
const std::map<std::pair<VisitState, VisitState>, std::set<std::string>>& Machine() {
  static const auto* machine = new std::map<std::pair<VisitState, VisitState>,
                                            std::set<std::string>>{
      {{v1::VISIT_STATE_PLANNED, v1::VISIT_STATE_IN_PROGRESS},
       {"lead", "monitor", "medical", "reviewer"}},
      {{v1::VISIT_STATE_IN_PROGRESS, v1::VISIT_STATE_PLANNED},
       {"lead", "monitor", "medical", "reviewer"}},
      {{v1::VISIT_STATE_IN_PROGRESS, v1::VISIT_STATE_SUBMITTED}, {"lead", "reviewer"}},
      {{v1::VISIT_STATE_CHANGES_REQUESTED, v1::VISIT_STATE_SUBMITTED}, {"lead", "reviewer"}},
      {{v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_IN_REVIEW}, {"reviewer"}},
      {{v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_SUBMITTED}, {"reviewer"}},
      {{v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_CHANGES_REQUESTED}, {"reviewer"}},
      {{v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_CHANGES_REQUESTED}, {"reviewer"}},
      {{v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_APPROVED}, {"reviewer"}},
      {{v1::VISIT_STATE_APPROVED, v1::VISIT_STATE_PUBLISHED}, {"reviewer"}},
      {{v1::VISIT_STATE_APPROVED, v1::VISIT_STATE_IN_REVIEW}, {"reviewer"}},
  };
  return *machine;
}


// Every move between two states, for every role: the machine's moves
// succeed for the roles that make them; the others get PERMISSION_DENIED
// (VISIT_TRANSITION_NOT_PERMITTED); moves the machine does not have get
// FAILED_PRECONDITION (VISIT_TRANSITION_NOT_ALLOWED, naming from and to); a
// caller who may not read the visit learns nothing.
TEST_F(ReviewTest, EveryTransitionForEveryRole) {
  const std::vector<VisitState> states = {
      v1::VISIT_STATE_PLANNED,   v1::VISIT_STATE_IN_PROGRESS,      v1::VISIT_STATE_SUBMITTED,
      v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_CHANGES_REQUESTED, v1::VISIT_STATE_APPROVED,
      v1::VISIT_STATE_PUBLISHED};
  const std::vector<std::string> roles = {"lead",     "monitor", "medical", "observer",
                                          "reviewer", "service", "admin"};
  int allowed = 0;
  for (VisitState from : states) {
    std::string visit = NewVisit(from);
    for (VisitState to : states) {
      if (to == from) continue;
      for (const std::string& role : roles) {
        SCOPED_TRACE(v1::VisitState_Name(from) + " -> " + v1::VisitState_Name(to) + " by " +
                     role);
        auto rule = Machine().find({from, to});
        grpc::Status s = As(role).Move(visit, to, nullptr, "a note");
        if (role == "admin") {
          EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
          EXPECT_EQ(Reason(s), "SCOPE_NOT_PERMITTED");
        } else if (rule == Machine().end()) {
          EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
          EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_ALLOWED");
          EXPECT_EQ(Metadata(s, "from"), v1::VisitState_Name(from));
          EXPECT_EQ(Metadata(s, "to"), v1::VisitState_Name(to));
        } else if (!rule->second.contains(role)) {
          EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
          EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_PERMITTED");
        } else {
          EXPECT_TRUE(s.ok()) << s.error_message();
          ++allowed;
          visit = NewVisit(from);  // start again from `from`
        }
      }
    }
  }
  EXPECT_EQ(allowed, 19);
}

// A tablet's push of the Visit record goes through the same machine.
TEST_F(ReviewTest, APushOfTheVisitRecordFollowsTheSameRules) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  v1::VisitView view;
  ASSERT_TRUE(As("monitor").Get(visit, &view).ok());
  EXPECT_EQ(std::vector<int>(view.allowed_transitions().begin(), view.allowed_transitions().end()),
            std::vector<int>{v1::VISIT_STATE_PLANNED});
  ASSERT_TRUE(As("lead").Get(visit, &view).ok());
  EXPECT_EQ(std::vector<int>(view.allowed_transitions().begin(), view.allowed_transitions().end()),
            (std::vector<int>{v1::VISIT_STATE_PLANNED, v1::VISIT_STATE_SUBMITTED}));
  auto push_state = [&](const std::string& who, VisitState to) {
    Mutation m = Create("", view.record().body(), visit);
    m.set_base_revision(view.record().revision());
    m.mutable_body()->mutable_visit()->set_state(to);
    return As(who).Push({m});
  };
  grpc::Status s = push_state("monitor", v1::VISIT_STATE_SUBMITTED);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_PERMITTED");
  s = push_state("lead", v1::VISIT_STATE_APPROVED);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_ALLOWED");
  ASSERT_TRUE(push_state("lead", v1::VISIT_STATE_SUBMITTED).ok());
  ASSERT_TRUE(As("reviewer").Get(visit, &view).ok());
  EXPECT_EQ(view.record().body().visit().state(), v1::VISIT_STATE_SUBMITTED);
  ASSERT_GE(view.record().body().visit().transitions_size(), 2);
  const v1::VisitTransition& last = *view.record().body().visit().transitions().rbegin();
  EXPECT_EQ(last.user_id(), "lead");
  EXPECT_EQ(last.from(), v1::VISIT_STATE_IN_PROGRESS);
  EXPECT_EQ(last.to(), v1::VISIT_STATE_SUBMITTED);
}

// Sending back needs the questions; every move is recorded with who, when,
// from, to and the note, in the record the team pulls and in the audit log;
// reopening an approved visit needs a reason.
TEST_F(ReviewTest, TransitionsAreRecordedWhereTheTeamSeesThem) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_REVIEW);
  User reviewer = As("reviewer");
  grpc::Status s = reviewer.Move(visit, v1::VISIT_STATE_CHANGES_REQUESTED);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "NOTE_REQUIRED");
  v1::VisitView sent_back;
  ASSERT_TRUE(reviewer
                  .Move(visit, v1::VISIT_STATE_CHANGES_REQUESTED, &sent_back,
                        "Which cells did you see in block C?")
                  .ok());
  EXPECT_EQ(sent_back.record().body().visit().state(), v1::VISIT_STATE_CHANGES_REQUESTED);
  EXPECT_EQ(sent_back.record().body().visit().reviewer_user_id(), "reviewer");

  grpc::ClientContext ctx;
  v1::PullRequest pull;
  pull.set_scope("visits/" + visit);
  v1::PullResponse page;
  ASSERT_TRUE(As("monitor").sync->Pull(&ctx, pull, &page).ok());
  const v1::Record* record = nullptr;
  for (const auto& r : page.records()) {
    if (r.id() == visit) record = &r;
  }
  ASSERT_NE(record, nullptr);
  const auto& transitions = record->body().visit().transitions();
  ASSERT_EQ(transitions.size(), 4);
  EXPECT_EQ(transitions[3].from(), v1::VISIT_STATE_IN_REVIEW);
  EXPECT_EQ(transitions[3].to(), v1::VISIT_STATE_CHANGES_REQUESTED);
  EXPECT_EQ(transitions[3].user_id(), "reviewer");
  EXPECT_EQ(transitions[3].note(), "Which cells did you see in block C?");
  EXPECT_GT(transitions[3].at().seconds(), 0);
  EXPECT_EQ(record->body().visit().team_size(), 4) << "the team table's members";

  grpc::ClientContext audit_ctx;
  v1::ExportAuditLogRequest export_request;
  v1::ExportAuditLogResponse log;
  ASSERT_TRUE(As("admin").admin->ExportAuditLog(&audit_ctx, export_request, &log).ok());
  bool audited = false;
  for (const std::string& line : log.json_lines()) {
    audited = audited ||
              (line.find("visit.transition from=VISIT_STATE_IN_REVIEW "
                         "to=VISIT_STATE_CHANGES_REQUESTED") != std::string::npos &&
               line.find("records/" + visit) != std::string::npos);
  }
  EXPECT_TRUE(audited);

  const std::string approved = NewVisit(v1::VISIT_STATE_APPROVED);
  s = reviewer.Move(approved, v1::VISIT_STATE_IN_REVIEW);
  EXPECT_EQ(Reason(s), "NOTE_REQUIRED");
  ASSERT_TRUE(reviewer.Move(approved, v1::VISIT_STATE_IN_REVIEW, nullptr, "new evidence").ok());
}

// A visit whose records hold open conflicts is submitted only when the
// submitter says so, and the transition records it.
TEST_F(ReviewTest, SubmittingWithOpenConflictsNeedsAcknowledgement) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  const std::string scope = "visits/" + visit;
  const std::string finding = NewId();
  v1::RecordBody body;
  body.mutable_finding()->set_title("Cell 4");
  User monitor = As("monitor"), lead = As("lead");
  ASSERT_TRUE(monitor.Push({Create(scope, body, finding)}).ok());
  for (auto [who, severity] : {std::pair{"monitor", v1::SEVERITY_LOW},
                               std::pair{"lead", v1::SEVERITY_HIGH}}) {
    v1::RecordBody edit = body;
    edit.mutable_finding()->set_severity(severity);
    Mutation m = Create("", edit, finding);
    m.set_base_revision(1);
    ASSERT_TRUE(As(who).Push({m}).ok());
  }
  v1::VisitView view;
  ASSERT_TRUE(lead.Get(visit, &view).ok());
  EXPECT_EQ(view.counts().open_conflicts(), 1u);
  EXPECT_EQ(view.counts().records(), 2u);
  grpc::Status s = lead.Move(visit, v1::VISIT_STATE_SUBMITTED);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "OPEN_CONFLICTS_NOT_ACKNOWLEDGED");
  EXPECT_EQ(Metadata(s, "open_conflicts"), "1");
  ASSERT_TRUE(lead.Move(visit, v1::VISIT_STATE_SUBMITTED, &view, "", /*acknowledge=*/true).ok());
  const v1::VisitTransition& t = *view.record().body().visit().transitions().rbegin();
  EXPECT_TRUE(t.acknowledged_open_conflicts());
  EXPECT_EQ(t.open_conflicts(), 1u);
}

// A stale etag is refused; a retried request id gets its first result; the
// same id for another request, or an id that is none, is refused.
TEST_F(ReviewTest, EtagsAndRequestIds) {
  const std::string visit = NewVisit(v1::VISIT_STATE_SUBMITTED);
  User reviewer = As("reviewer");
  v1::VisitView before;
  ASSERT_TRUE(reviewer.Get(visit, &before).ok());
  EXPECT_FALSE(before.etag().empty());
  const std::string request_id = NewId();
  v1::VisitView first, again;
  ASSERT_TRUE(reviewer
                  .Move(visit, v1::VISIT_STATE_IN_REVIEW, &first, "", false, before.etag(),
                        request_id)
                  .ok());
  EXPECT_NE(first.etag(), before.etag());
  ASSERT_TRUE(reviewer
                  .Move(visit, v1::VISIT_STATE_IN_REVIEW, &again, "", false, before.etag(),
                        request_id)
                  .ok())
      << "a retry is answered with the first result, whatever the etag now";
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  grpc::Status s = reviewer.Move(visit, v1::VISIT_STATE_APPROVED, nullptr, "", false,
                                 before.etag());
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_EQ(Reason(s), "ETAG_MISMATCH");
  s = reviewer.Move(visit, v1::VISIT_STATE_APPROVED, nullptr, "", false, "", request_id);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Reason(s), "MUTATION_ID_REUSED");
  s = reviewer.Move(visit, v1::VISIT_STATE_APPROVED, nullptr, "", false, "", "again-please");
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "REQUEST_ID_INVALID");
  v1::VisitView now;
  ASSERT_TRUE(reviewer.Get(visit, &now).ok());
  EXPECT_EQ(now.etag(), first.etag()) << "nothing refused changed anything";
  ASSERT_TRUE(reviewer.Move(visit, v1::VISIT_STATE_APPROVED, nullptr, "", false, now.etag()).ok());
}

// The team table decides, and the Visit record shows it: members set or
// removed by the admin appear in the record in the same commit; a team list
// a tablet pushes is not taken.
TEST_F(ReviewTest, TheVisitRecordsTeamIsTheTeamTables) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  User lead = As("lead");
  v1::VisitView view;
  ASSERT_TRUE(lead.Get(visit, &view).ok());
  std::map<std::string, v1::TeamRole> team;
  for (const auto& m : view.record().body().visit().team()) team[m.user_id()] = m.role();
  EXPECT_EQ(team, (std::map<std::string, v1::TeamRole>{{"lead", v1::TEAM_ROLE_TEAM_LEAD},
                                                        {"medical", v1::TEAM_ROLE_MEDICAL_EXPERT},
                                                        {"monitor", v1::TEAM_ROLE_MONITOR},
                                                        {"observer", v1::TEAM_ROLE_OBSERVER}}));
  // A tablet that adds someone to the list changes nothing of the team.
  Mutation m = Create("", view.record().body(), visit);
  m.set_base_revision(view.record().revision());
  v1::TeamMember* extra = m.mutable_body()->mutable_visit()->add_team();
  extra->set_id(NewId());
  extra->set_user_id("service");
  extra->set_role(v1::TEAM_ROLE_TEAM_LEAD);
  m.mutable_body()->mutable_visit()->set_summary("Day one");
  ASSERT_TRUE(lead.Push({m}).ok());
  ASSERT_TRUE(lead.Get(visit, &view).ok());
  EXPECT_EQ(view.record().body().visit().summary(), "Day one");
  EXPECT_EQ(view.record().body().visit().team_size(), 4);

  // The lead's subscription hears of the team change (a new revision of the
  // Visit record).
  grpc::ClientContext subscription;
  subscription.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::SubscribeRequest subscribe;
  subscribe.add_scopes("visits/" + visit);
  auto notices = lead.sync->Subscribe(&subscription, subscribe);
  v1::ChangeNotice initial, changed;
  ASSERT_TRUE(notices->Read(&initial));
  grpc::ClientContext ctx;
  v1::RemoveTeamMemberRequest remove;
  remove.set_visit_id(visit);
  remove.set_user_id("observer");
  v1::RemoveTeamMemberResponse removed;
  ASSERT_TRUE(As("admin").admin->RemoveTeamMember(&ctx, remove, &removed).ok());
  ASSERT_TRUE(notices->Read(&changed));
  EXPECT_GT(changed.seq(), initial.seq());
  subscription.TryCancel();
  notices->Finish();
  ASSERT_TRUE(lead.Get(visit, &view).ok());
  EXPECT_EQ(view.record().body().visit().team_size(), 3);
  EXPECT_GE(view.record().seq(), changed.seq());
  for (const auto& member : view.record().body().visit().team()) {
    EXPECT_NE(member.user_id(), "observer");
  }
}

// ListVisits: each filter, pages that join up, and page tokens bound to
// their query and caller; field users see only their own visits.
TEST_F(ReviewTest, ListVisitsFiltersAndPages) {
  const std::string facility_a = NewId(), facility_b = NewId();
  std::set<std::string> in_a, submitted;
  for (int i = 0; i < 7; ++i) {
    const bool a = i % 2 == 0;
    const VisitState state = i % 3 == 0 ? v1::VISIT_STATE_SUBMITTED : v1::VISIT_STATE_IN_PROGRESS;
    const std::string id = NewVisit(state, a ? facility_a : facility_b,
                                    i == 6 ? v1::VISIT_TYPE_FOLLOW_UP : v1::VISIT_TYPE_IN_DEPTH);
    if (a) in_a.insert(id);
    if (state == v1::VISIT_STATE_SUBMITTED) submitted.insert(id);
  }
  User reviewer = As("reviewer");
  auto all_pages = [&](User& who, v1::ListVisitsRequest request) {
    std::set<std::string> names;
    request.set_page_size(2);
    for (int pages = 0; pages < 20; ++pages) {
      v1::ListVisitsResponse response;
      grpc::Status s = who.List(request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_LE(response.visits_size(), 2);
      for (const auto& v : response.visits()) {
        EXPECT_TRUE(names.insert(v.name().substr(7)).second) << "no visit twice";
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return names;
  };
  v1::ListVisitsRequest by_facility;
  by_facility.set_facility_id(facility_a);
  EXPECT_EQ(all_pages(reviewer, by_facility), in_a);
  v1::ListVisitsRequest by_state;
  by_state.set_state(v1::VISIT_STATE_SUBMITTED);
  EXPECT_EQ(all_pages(reviewer, by_state), submitted);
  v1::ListVisitsRequest both = by_facility;
  both.set_state(v1::VISIT_STATE_SUBMITTED);
  std::set<std::string> expected;
  for (const auto& id : in_a) {
    if (submitted.contains(id)) expected.insert(id);
  }
  EXPECT_EQ(all_pages(reviewer, both), expected);
  v1::ListVisitsRequest follow_up;
  follow_up.set_visit_type(v1::VISIT_TYPE_FOLLOW_UP);
  EXPECT_EQ(all_pages(reviewer, follow_up).size(), 1u);
  v1::ListVisitsRequest unannounced;
  unannounced.set_announced(false);
  EXPECT_TRUE(all_pages(reviewer, unannounced).empty());
  v1::ListVisitsRequest with_monitor;
  with_monitor.set_team_member_user_id("monitor");
  EXPECT_EQ(all_pages(reviewer, with_monitor).size(), 7u);

  // A token goes with its query and its caller only.
  v1::ListVisitsRequest first = by_facility;
  first.set_page_size(1);
  v1::ListVisitsResponse page;
  ASSERT_TRUE(reviewer.List(first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  v1::ListVisitsRequest changed = first;
  changed.set_page_token(page.next_page_token());
  changed.set_facility_id(facility_b);
  grpc::Status s = reviewer.List(changed, &page);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "PAGE_TOKEN_INVALID");
  ASSERT_TRUE(reviewer.List(first, &page).ok());
  v1::ListVisitsRequest tampered = first;
  std::string token = page.next_page_token();
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  tampered.set_page_token(token);
  EXPECT_EQ(Reason(reviewer.List(tampered, &page)), "PAGE_TOKEN_INVALID");
  ASSERT_TRUE(reviewer.List(first, &page).ok());
  v1::ListVisitsRequest stolen = first;
  stolen.set_page_token(page.next_page_token());
  User service = As("service");
  EXPECT_EQ(Reason(service.List(stolen, &page)), "PAGE_TOKEN_INVALID");
  v1::ListVisitsRequest bad;
  bad.set_facility_id("not-an-id");
  EXPECT_EQ(Reason(reviewer.List(bad, &page)), "FILTER_INVALID");

  // A field user who is on no team sees nothing; one on every team, all.
  auto outsider = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(outsider);
  tokens_["outsider"] = *outsider;
  User out = As("outsider");
  EXPECT_TRUE(all_pages(out, v1::ListVisitsRequest()).empty());
  User monitor = As("monitor");
  EXPECT_EQ(all_pages(monitor, v1::ListVisitsRequest()).size(), 7u);
}

// The review queue: submitted, in review and sent-back visits, oldest
// submission first, with the facility, the team lead, the reviewer and the
// counts; reviewers only.
TEST_F(ReviewTest, ReviewQueueListsWhatWaitsWithItsCounts) {
  const std::string facility = NewId();
  v1::RecordBody registry;
  registry.mutable_facility()->set_name("Central Prison");
  registry.mutable_facility()->set_type(v1::FACILITY_TYPE_PRISON);
  User reviewer = As("reviewer");
  ASSERT_TRUE(reviewer.Push({Create("registry", registry, facility)}).ok());
  const std::string first = NewVisit(v1::VISIT_STATE_SUBMITTED, facility);
  const std::string second = NewVisit(v1::VISIT_STATE_IN_REVIEW, facility);
  NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  NewVisit(v1::VISIT_STATE_APPROVED, facility);
  v1::RecordBody finding;
  finding.mutable_finding()->set_title("No light in cell 9");
  ASSERT_TRUE(As("monitor").Push({Create("visits/" + first, finding, NewId())}).ok());

  v1::ListReviewQueueResponse queue;
  ASSERT_TRUE(reviewer.Queue(v1::ListReviewQueueRequest(), &queue).ok());
  ASSERT_EQ(queue.entries_size(), 2);
  EXPECT_EQ(queue.entries(0).name(), "visits/" + first);
  EXPECT_EQ(queue.entries(1).name(), "visits/" + second);
  const v1::ReviewQueueEntry& e = queue.entries(0);
  EXPECT_EQ(e.state(), v1::VISIT_STATE_SUBMITTED);
  EXPECT_EQ(e.facility_name(), "Central Prison");
  EXPECT_EQ(e.facility_type(), v1::FACILITY_TYPE_PRISON);
  EXPECT_EQ(e.team_lead_user_id(), "lead");
  EXPECT_EQ(e.days_since_submission(), 0u);
  EXPECT_GT(e.submitted_at().seconds(), 0);
  EXPECT_EQ(e.counts().records(), 2u);
  EXPECT_EQ(queue.entries(1).reviewer_user_id(), "reviewer");

  v1::ListReviewQueueRequest in_review;
  in_review.set_state(v1::VISIT_STATE_IN_REVIEW);
  ASSERT_TRUE(reviewer.Queue(in_review, &queue).ok());
  ASSERT_EQ(queue.entries_size(), 1);
  EXPECT_EQ(queue.entries(0).name(), "visits/" + second);
  v1::ListReviewQueueRequest paged;
  paged.set_page_size(1);
  ASSERT_TRUE(reviewer.Queue(paged, &queue).ok());
  ASSERT_EQ(queue.entries_size(), 1);
  paged.set_page_token(queue.next_page_token());
  ASSERT_TRUE(reviewer.Queue(paged, &queue).ok());
  ASSERT_EQ(queue.entries_size(), 1);
  EXPECT_EQ(queue.entries(0).name(), "visits/" + second);
  EXPECT_TRUE(queue.next_page_token().empty());

  grpc::Status s = As("lead").Queue(v1::ListReviewQueueRequest(), &queue);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(s), "REVIEWER_ONLY");
}


// The visit index is written in the same commits as what it indexes: after
// random pushes (creates, edits that conflict, deletes, late submissions,
// team changes, facility changes) it equals one recomputed from a full
// scan; an entry lost is found by the check and put back by a rebuild.
TEST_F(ReviewTest, TheVisitIndexEqualsAFullScanAndIsRebuilt) {
  std::mt19937 rng(5);
  const std::string facility = NewId();
  v1::RecordBody registry;
  registry.mutable_facility()->set_name("Police station 3");
  registry.mutable_facility()->set_type(v1::FACILITY_TYPE_POLICE_CUSTODY);
  User reviewer = As("reviewer"), monitor = As("monitor");
  ASSERT_TRUE(reviewer.Push({Create("registry", registry, facility)}).ok());
  std::vector<std::string> visits;
  for (VisitState state : {v1::VISIT_STATE_IN_PROGRESS, v1::VISIT_STATE_SUBMITTED,
                           v1::VISIT_STATE_APPROVED}) {
    visits.push_back(NewVisit(state, facility));
  }
  std::map<std::string, std::pair<std::string, std::uint64_t>> findings;  // id -> visit, revision
  for (int i = 0; i < 60; ++i) {
    const std::string& visit = visits[rng() % visits.size()];
    v1::RecordBody body;
    body.mutable_finding()->set_title("finding " + std::to_string(i));
    body.mutable_finding()->set_severity(static_cast<v1::Severity>(1 + rng() % 4));
    const int action = rng() % 4;
    if (action == 0 || findings.empty()) {
      const std::string id = NewId();
      v1::PushResponse r;
      ASSERT_TRUE(monitor.Push({Create("visits/" + visit, body, id)}, &r).ok());
      if (r.results(0).revision() > 0) findings[id] = {visit, r.results(0).revision()};
      continue;
    }
    auto it = std::next(findings.begin(), rng() % findings.size());
    Mutation m = Create("", body, it->first);
    m.set_base_revision(action == 1 ? 1 : it->second.second);  // stale bases conflict
    m.set_delete_(action == 3);
    v1::PushResponse r;
    grpc::Status s = (rng() % 2 ? monitor : reviewer).Push({m}, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (r.results(0).revision() > 0) it->second.second = r.results(0).revision();
  }
  // Decide on some of the approved visit's late submissions: the pending
  // count follows.
  {
    grpc::ClientContext list_ctx;
    v1::ListLateSubmissionsRequest request;
    request.set_parent("visits/" + visits[2]);
    v1::ListLateSubmissionsResponse late;
    ASSERT_TRUE(reviewer.review->ListLateSubmissions(&list_ctx, request, &late).ok());
    ASSERT_GE(late.late_submissions_size(), 2);
    int decided = 0;
    for (const auto& l : late.late_submissions()) {
      if (decided == 2) break;
      grpc::ClientContext decide_ctx;
      v1::DecideLateSubmissionRequest decide;
      decide.set_name(l.name());
      decide.set_outcome(decided == 0 ? v1::LATE_OUTCOME_REJECTED : v1::LATE_OUTCOME_ACCEPTED);
      decide.set_reason("checked");
      decide.set_request_id(NewId());
      v1::LateSubmission out;
      grpc::Status s = reviewer.review->DecideLateSubmission(&decide_ctx, decide, &out);
      if (s.ok()) ++decided;  // an edit made on a refused base cannot be accepted
    }
    EXPECT_EQ(decided, 2);
  }
  // Marks on some findings of the open visits: the unreviewed count follows,
  // and a service account never sees a mark.
  int marked = 0;
  for (const auto& [id, where] : findings) {
    if (where.first == visits[2] || marked == 3) continue;
    grpc::ClientContext mark_ctx;
    v1::MarkRecordRequest mark;
    mark.set_name("records/" + id);
    mark.set_state(marked % 2 ? v1::REVIEW_MARK_STATE_ACCEPTED : v1::REVIEW_MARK_STATE_QUESTION);
    mark.set_question("why?");
    mark.set_request_id(NewId());
    v1::GetRecordResponse out;
    grpc::Status s = reviewer.review->MarkRecord(&mark_ctx, mark, &out);
    if (s.error_code() == StatusCode::FAILED_PRECONDITION) continue;  // deleted
    ASSERT_TRUE(s.ok()) << s.error_message();
    ++marked;
    grpc::ClientContext get_ctx;
    v1::GetRecordRequest get;
    get.set_name("records/" + id);
    v1::GetRecordResponse seen;
    ASSERT_TRUE(As("service").review->GetRecord(&get_ctx, get, &seen).ok());
    EXPECT_FALSE(seen.record().has_review());
    EXPECT_EQ(seen.record().body().finding().title(), out.record().body().finding().title());
  }
  EXPECT_EQ(marked, 3);
  // A parallel update in each open visit, one of them checked: the
  // unchecked count follows.
  for (int v = 0; v < 2; ++v) {
    const std::string id = NewId();
    v1::RecordBody body;
    body.mutable_finding()->set_title("parallel");
    ASSERT_TRUE(monitor.Push({Create("visits/" + visits[v], body, id)}).ok());
    v1::PushResponse r;
    for (int side = 0; side < 2; ++side) {
      v1::RecordBody edited = body;
      if (side == 0) edited.mutable_finding()->set_severity(v1::SEVERITY_HIGH);
      if (side == 1) edited.mutable_finding()->set_location("yard");
      Mutation m = Create("", edited, id);
      m.set_base_revision(1);
      ASSERT_TRUE((side == 0 ? reviewer : monitor).Push({m}, &r).ok());
    }
    if (v == 1) continue;
    grpc::ClientContext check_ctx;
    v1::CheckParallelUpdateRequest check;
    check.set_name("parallelUpdates/" + r.results(0).mutation_id());
    check.set_request_id(NewId());
    v1::ParallelUpdate out;
    grpc::Status s = reviewer.review->CheckParallelUpdate(&check_ctx, check, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::ClientContext ctx;
  v1::RemoveTeamMemberRequest remove;
  remove.set_visit_id(visits[1]);
  remove.set_user_id("medical");
  v1::RemoveTeamMemberResponse removed;
  ASSERT_TRUE(As("admin").admin->RemoveTeamMember(&ctx, remove, &removed).ok());
  registry.mutable_facility()->set_type(v1::FACILITY_TYPE_PRE_TRIAL_DETENTION);
  Mutation retyped = Create("", registry, facility);
  retyped.set_base_revision(1);
  ASSERT_TRUE(reviewer.Push({retyped}).ok());

  server_->Stop();
  auto dir = datadir::OpenStoppedDataDir(server_->data_dir(), "", "test");
  ASSERT_OK(dir.status());
  auto quiet = [](std::uint64_t) {};
  auto differences = server::CheckVisitIndex(*dir->storage, *dir->keys, quiet);
  ASSERT_OK(differences.status());
  EXPECT_TRUE(differences->empty()) << (*differences)[0];

  // Lose the summary of one visit: the check names it, a rebuild restores it.
  std::string summary_key;
  ASSERT_OK(dir->storage->Scan(
      storage::ColumnFamily::kIndexes, storage::KeyRange{}, nullptr,
      [&](std::string_view key, std::string_view value) {
        if (summary_key.empty() && !value.empty()) summary_key = std::string(key);
        return summary_key.empty();
      }));
  ASSERT_FALSE(summary_key.empty());
  ASSERT_OK(dir->storage
                ->Commit([&](storage::CommitContext& c) {
                  c.Delete(storage::ColumnFamily::kIndexes, summary_key);
                  return absl::OkStatus();
                })
                .status());
  differences = server::CheckVisitIndex(*dir->storage, *dir->keys, quiet);
  ASSERT_OK(differences.status());
  EXPECT_EQ(differences->size(), 1u);
  auto written = server::RebuildVisitIndex(*dir->storage, *dir->keys, quiet);
  ASSERT_OK(written.status());
  EXPECT_GT(*written, 3u);
  differences = server::CheckVisitIndex(*dir->storage, *dir->keys, quiet);
  ASSERT_OK(differences.status());
  EXPECT_TRUE(differences->empty());
}


// Late submissions: who sent what, against the head, per visit and across
// visits, for reviewers only; reading a held interview is audited.
TEST_F(ReviewTest, LateSubmissionsAreListedWithWhatTheyChange) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  const std::string scope = "visits/" + visit;
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string finding = NewId();
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 9 has no light");
  f.mutable_finding()->set_severity(v1::SEVERITY_HIGH);
  ASSERT_TRUE(monitor.Push({Create(scope, f, finding)}).ok());
  for (VisitState step : {v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_IN_REVIEW,
                          v1::VISIT_STATE_APPROVED}) {
    ASSERT_TRUE(reviewer.Move(visit, step).ok());
  }
  const std::string other = NewVisit(v1::VISIT_STATE_APPROVED);

  v1::RecordBody edited = f;
  edited.mutable_finding()->set_title("Cell 9 and 10 have no light");
  Mutation edit = Create("", edited, finding);
  edit.set_base_revision(1);
  v1::PushResponse held;
  ASSERT_TRUE(monitor.Push({edit}, &held).ok());
  ASSERT_TRUE(held.results(0).late_submission());
  v1::RecordBody interview;
  interview.mutable_interview()->set_pseudonym("Detainee 7");
  interview.mutable_interview()->add_interviewer_user_ids("lead");
  interview.mutable_interview()->set_notes("Said the guards came at night");
  const std::string interview_id = NewId();
  ASSERT_TRUE(lead.Push({Create(scope, interview, interview_id)}).ok());
  v1::RecordBody late_finding;
  late_finding.mutable_finding()->set_title("Forgotten before approval");
  ASSERT_TRUE(monitor.Push({Create("visits/" + other, late_finding, NewId())}).ok());

  auto list = [&](User& who, const std::string& parent, std::uint32_t page_size,
                  std::vector<v1::LateSubmission>* out) {
    v1::ListLateSubmissionsRequest request;
    request.set_parent(parent);
    request.set_page_size(page_size);
    for (int pages = 0; pages < 10; ++pages) {
      grpc::ClientContext ctx;
      v1::ListLateSubmissionsResponse response;
      grpc::Status s = who.review->ListLateSubmissions(&ctx, request, &response);
      if (!s.ok()) return s;
      for (const auto& l : response.late_submissions()) out->push_back(l);
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return grpc::Status::OK;
  };
  std::vector<v1::LateSubmission> in_visit;
  ASSERT_TRUE(list(reviewer, scope, 1, &in_visit).ok());
  ASSERT_EQ(in_visit.size(), 2u);
  std::map<std::string, v1::LateSubmission> by_record;
  for (const auto& l : in_visit) by_record[l.mutation().record_id()] = l;
  const v1::LateSubmission& e = by_record.at(finding);
  EXPECT_EQ(e.name(), scope + "/lateSubmissions/" + edit.mutation_id());
  EXPECT_TRUE(e.result().late_submission());
  EXPECT_FALSE(e.result().has_late_decision());
  EXPECT_FALSE(e.etag().empty());
  EXPECT_EQ(e.visit(), scope);
  EXPECT_EQ(e.mutation().author(), "monitor");
  EXPECT_EQ(std::vector<std::string>(e.changed_fields().begin(), e.changed_fields().end()),
            std::vector<std::string>{"title"});
  EXPECT_EQ(e.head().body().finding().title(), "Cell 9 has no light") << "the head, unchanged";
  const v1::LateSubmission& i = by_record.at(interview_id);
  EXPECT_FALSE(i.has_head());
  EXPECT_EQ(i.mutation().body().interview().notes(), "Said the guards came at night");
  EXPECT_EQ((std::set<std::string>(i.changed_fields().begin(), i.changed_fields().end())),
            (std::set<std::string>{"pseudonym", "interviewer_user_ids", "notes"}));
  v1::VisitView view;
  ASSERT_TRUE(reviewer.Get(visit, &view).ok());
  EXPECT_EQ(view.counts().pending_late_submissions(), 2u);

  std::vector<v1::LateSubmission> everywhere;
  ASSERT_TRUE(list(reviewer, "", 50, &everywhere).ok());
  EXPECT_EQ(everywhere.size(), 3u);

  std::vector<v1::LateSubmission> ignored;
  grpc::Status s = list(lead, scope, 50, &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(s), "REVIEWER_ONLY");
  v1::ListLateSubmissionsRequest first;
  first.set_parent(scope);
  first.set_page_size(1);
  grpc::ClientContext ctx;
  v1::ListLateSubmissionsResponse page;
  ASSERT_TRUE(reviewer.review->ListLateSubmissions(&ctx, first, &page).ok());
  v1::ListLateSubmissionsRequest changed;
  changed.set_page_token(page.next_page_token());
  changed.set_page_size(1);
  grpc::ClientContext changed_ctx;
  EXPECT_EQ(Reason(reviewer.review->ListLateSubmissions(&changed_ctx, changed, &page)),
            "PAGE_TOKEN_INVALID");

  grpc::ClientContext audit_ctx;
  v1::ExportAuditLogResponse log;
  ASSERT_TRUE(As("admin").admin->ExportAuditLog(&audit_ctx, v1::ExportAuditLogRequest(), &log).ok());
  int reads = 0;
  for (const std::string& line : log.json_lines()) {
    if (line.find("\"principal\":\"reviewer\"") != std::string::npos &&
        line.find("record.read") != std::string::npos &&
        line.find("records/" + interview_id) != std::string::npos) {
      ++reads;
    }
  }
  EXPECT_GE(reads, 1);
}


}  // namespace
}  // namespace vigil::review_testing
