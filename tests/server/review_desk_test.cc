// vigil.v1.ReviewService's desk for what sync merged: conflicts across
// visits (listed, shown side by side, resolved) and parallel updates
// (clean merges of concurrent edits, shown with the versions they combined,
// checked by a reviewer), each as every caller may see them.
#include <string>
#include <vector>

#include "datadir/operator_commands.h"
#include "server/records/index_rebuild.h"
#include "tests/server/review_fixture.h"

namespace vigil::review_testing {
namespace {

// Conflicts across visits: listed oldest first with every filter and page
// tokens, shown side by side as each caller may see them, and resolved from
// the desk as an ordinary edit with the reason kept as a comment.
TEST_F(ReviewTest, ConflictsAreListedShownAndResolvedAcrossVisits) {
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string facility = NewId();
  v1::RecordBody registry;
  registry.mutable_facility()->set_name("Police station 7");
  ASSERT_TRUE(reviewer.Push({Create("registry", registry, facility)}).ok());
  const std::string a = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  const std::string b = NewVisit(v1::VISIT_STATE_IN_PROGRESS);

  // In visit a, two edits of a finding's severity made on revision 1.
  const std::string finding = NewId();
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 2");
  f.mutable_finding()->set_severity(v1::SEVERITY_LOW);
  ASSERT_TRUE(monitor.Push({Create("visits/" + a, f, finding)}).ok());
  for (auto [who, severity] : std::vector<std::pair<User*, v1::Severity>>{
           {&monitor, v1::SEVERITY_HIGH}, {&lead, v1::SEVERITY_URGENT}}) {
    v1::RecordBody edited = f;
    edited.mutable_finding()->set_severity(severity);
    Mutation m = Create("", edited, finding);
    m.set_base_revision(1);
    ASSERT_TRUE(who->Push({m}).ok());
  }
  // In visit b, two edits of an interview's notes (hidden from the monitor).
  const std::string interview = NewId();
  v1::RecordBody i;
  i.mutable_interview()->set_pseudonym("Detainee 4");
  i.mutable_interview()->add_interviewer_user_ids("lead");
  i.mutable_interview()->set_notes("First account\n");
  ASSERT_TRUE(lead.Push({Create("visits/" + b, i, interview)}).ok());
  for (const char* notes : {"Second account\n", "Third account\n"}) {
    v1::RecordBody edited = i;
    edited.mutable_interview()->set_notes(notes);
    Mutation m = Create("", edited, interview);
    m.set_base_revision(1);
    ASSERT_TRUE((std::string(notes)[0] == 'S' ? lead : reviewer).Push({m}).ok());
  }

  auto list = [](User& who, v1::ListConflictsRequest request, v1::ListConflictsResponse* out) {
    grpc::ClientContext ctx;
    return who.review->ListConflicts(&ctx, request, out);
  };
  v1::ListConflictsResponse all;
  ASSERT_TRUE(list(reviewer, {}, &all).ok());
  ASSERT_EQ(all.conflicts_size(), 2);
  EXPECT_EQ(all.conflicts(0).record_kind(), "finding") << "oldest first";
  EXPECT_EQ(all.conflicts(1).record_kind(), "interview");
  EXPECT_FALSE(all.conflicts(0).has_record()) << "lists carry the conflict, not the record";
  auto count = [&](v1::ListConflictsRequest request) {
    v1::ListConflictsResponse out;
    grpc::Status s = list(reviewer, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.conflicts_size();
  };
  v1::ListConflictsRequest by_visit;
  by_visit.set_parent("visits/" + a);
  EXPECT_EQ(count(by_visit), 1);
  v1::ListConflictsRequest by_facility;
  by_facility.set_facility_id(facility);
  EXPECT_EQ(count(by_facility), 1);
  v1::ListConflictsRequest by_kind;
  by_kind.set_record_kind("interview");
  EXPECT_EQ(count(by_kind), 1);
  v1::ListConflictsRequest by_path;
  by_path.set_field_path("severity");
  EXPECT_EQ(count(by_path), 1);
  v1::ListConflictsRequest old;
  old.mutable_opened_before()->set_seconds(1'000'000);
  EXPECT_EQ(count(old), 0);
  v1::ListConflictsRequest bad_kind;
  bad_kind.set_record_kind("gossip");
  v1::ListConflictsResponse ignored;
  EXPECT_EQ(Reason(list(reviewer, bad_kind, &ignored)), "FILTER_INVALID");
  v1::ListConflictsRequest paged;
  paged.set_page_size(1);
  v1::ListConflictsResponse first;
  ASSERT_TRUE(list(reviewer, paged, &first).ok());
  ASSERT_EQ(first.conflicts_size(), 1);
  ASSERT_FALSE(first.next_page_token().empty());
  paged.set_page_token(first.next_page_token());
  v1::ListConflictsResponse second;
  ASSERT_TRUE(list(reviewer, paged, &second).ok());
  ASSERT_EQ(second.conflicts_size(), 1);
  EXPECT_EQ(second.conflicts(0).name(), all.conflicts(1).name());
  by_kind.set_page_token(first.next_page_token());
  EXPECT_EQ(Reason(list(reviewer, by_kind, &ignored)), "PAGE_TOKEN_INVALID");

  // Side by side; the monitor sees the notes conflict without its values.
  auto get = [](User& who, const std::string& name, v1::ConflictView* out) {
    grpc::ClientContext ctx;
    v1::GetConflictRequest request;
    request.set_name(name);
    return who.review->GetConflict(&ctx, request, out);
  };
  v1::ConflictView severity;
  ASSERT_TRUE(get(reviewer, all.conflicts(0).name(), &severity).ok());
  ASSERT_EQ(severity.conflict().versions_size(), 2);
  for (const auto& v : severity.conflict().versions()) {
    EXPECT_FALSE(v.edit().author().empty());
    EXPECT_FALSE(v.edit().device_id().empty());
    EXPECT_FALSE(v.edit().mutation_id().empty());
    EXPECT_GT(v.edit().hlc().wall_time_micros(), 0);
    EXPECT_TRUE(v.value().present());
  }
  EXPECT_TRUE(severity.conflict().base().present());
  EXPECT_EQ(severity.record().id(), finding);
  v1::ConflictView notes;
  ASSERT_TRUE(get(monitor, all.conflicts(1).name(), &notes).ok());
  for (const auto& v : notes.conflict().versions()) EXPECT_FALSE(v.value().present());
  ASSERT_TRUE(get(reviewer, all.conflicts(1).name(), &notes).ok());
  for (const auto& v : notes.conflict().versions()) EXPECT_TRUE(v.value().present());
  grpc::Status s = get(reviewer, "conflicts/nonsense", &notes);
  EXPECT_EQ(Reason(s), "NAME_INVALID");

  // Resolved by taking the second version.
  auto resolve = [&](User& who, v1::ResolveConflictRequest request,
                     v1::ResolveConflictResponse* out) {
    grpc::ClientContext ctx;
    request.set_name(severity.name());
    if (request.request_id().empty()) request.set_request_id(NewId());
    return who.review->ResolveConflict(&ctx, request, out);
  };
  v1::ResolveConflictResponse resolved, again;
  v1::ResolveConflictRequest request;
  request.set_take(2);
  EXPECT_EQ(Reason(resolve(reviewer, request, &resolved)), "REASON_REQUIRED");
  request.set_reason("the lead saw cell 2 herself");
  request.set_take(3);
  EXPECT_EQ(Reason(resolve(reviewer, request, &resolved)), "RESOLUTION_INVALID");
  request.set_take(2);
  request.set_etag("\"stale\"");
  s = resolve(reviewer, request, &resolved);
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_EQ(Reason(s), "ETAG_MISMATCH");
  request.set_etag(severity.etag());
  request.set_request_id(NewId());
  s = resolve(reviewer, request, &resolved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resolved.record().open_conflicts_size(), 0);
  const v1::Severity taken = resolved.record().body().finding().severity();
  EXPECT_TRUE(taken == v1::SEVERITY_HIGH || taken == v1::SEVERITY_URGENT);
  ASSERT_TRUE(resolve(reviewer, request, &again).ok());
  EXPECT_TRUE(again.result().duplicate()) << "a retry gets the first result";
  EXPECT_EQ(again.comment_id(), resolved.comment_id());
  EXPECT_EQ(Reason(get(reviewer, severity.name(), &notes)), "RESOURCE_NOT_FOUND");
  EXPECT_EQ(count({}), 1);

  // The reason is a comment on the finding, which the team pulls.
  grpc::ClientContext comments_ctx;
  v1::ListCommentsRequest comments;
  comments.set_parent("visits/" + a);
  comments.set_record_id(finding);
  v1::ListCommentsResponse thread;
  ASSERT_TRUE(monitor.review->ListComments(&comments_ctx, comments, &thread).ok());
  ASSERT_EQ(thread.comments_size(), 1);
  EXPECT_EQ(thread.comments(0).comment().id(), resolved.comment_id());
  EXPECT_NE(thread.comments(0).comment().body().comment().text().find("the lead saw cell 2"),
            std::string::npos);
}


grpc::Status ListParallel(User& who, v1::ListParallelUpdatesRequest request,
                          v1::ListParallelUpdatesResponse* out) {
  grpc::ClientContext ctx;
  return who.review->ListParallelUpdates(&ctx, request, out);
}

grpc::Status GetParallel(User& who, const std::string& name, v1::ParallelUpdate* out) {
  grpc::ClientContext ctx;
  v1::GetParallelUpdateRequest request;
  request.set_name(name);
  return who.review->GetParallelUpdate(&ctx, request, out);
}

grpc::Status CheckParallel(User& who, const std::string& name, const std::string& etag,
                           const std::string& request_id, v1::ParallelUpdate* out) {
  grpc::ClientContext ctx;
  v1::CheckParallelUpdateRequest request;
  request.set_name(name);
  request.set_etag(etag);
  request.set_request_id(request_id);
  return who.review->CheckParallelUpdate(&ctx, request, out);
}

std::vector<std::string> Fields(const v1::ParallelVersion& v) {
  return {v.changed_fields().begin(), v.changed_fields().end()};
}

// Concurrent edits that merged cleanly (disjoint fields, disjoint lines)
// are listed with the versions they combined, shown as each caller may see
// them, counted on their visit until a reviewer checks them; a revision the
// server wrote in between (a review mark) is not an edit to check.
TEST_F(ReviewTest, ParallelUpdatesAreListedWithTheirVersionsAndChecked) {
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string a = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  const std::string b = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  auto edit = [](const std::string& id, const v1::RecordBody& body, std::uint64_t base) {
    Mutation m = Create("", body, id);
    m.set_base_revision(base);
    return m;
  };

  // Visit a: the lead raises a finding's severity; the monitor, who had not
  // seen that, rewrites the last line of its narrative.
  const std::string finding = NewId();
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 2");
  f.mutable_finding()->set_severity(v1::SEVERITY_LOW);
  f.mutable_finding()->set_narrative("No window.\nNo mattress.\nLight on all night.\n");
  ASSERT_TRUE(monitor.Push({Create("visits/" + a, f, finding)}).ok());
  v1::RecordBody raised = f;
  raised.mutable_finding()->set_severity(v1::SEVERITY_HIGH);
  ASSERT_TRUE(lead.Push({edit(finding, raised, 1)}).ok());
  v1::RecordBody rewritten = f;
  rewritten.mutable_finding()->set_narrative("No window.\nNo mattress.\nLight on day and night.\n");
  const Mutation monitors = edit(finding, rewritten, 1);
  v1::PushResponse merged;
  ASSERT_TRUE(monitor.Push({monitors}, &merged).ok());
  ASSERT_TRUE(merged.results(0).clean());

  // Visit b: an interview's pseudonym (the lead) and notes (the reviewer).
  const std::string interview = NewId();
  v1::RecordBody i;
  i.mutable_interview()->set_pseudonym("Detainee 4");
  i.mutable_interview()->add_interviewer_user_ids("lead");
  i.mutable_interview()->set_notes("First account\n");
  ASSERT_TRUE(lead.Push({Create("visits/" + b, i, interview)}).ok());
  v1::RecordBody renamed = i;
  renamed.mutable_interview()->set_pseudonym("Detainee 5");
  ASSERT_TRUE(lead.Push({edit(interview, renamed, 1)}).ok());
  v1::RecordBody noted = i;
  noted.mutable_interview()->set_notes("First account, corrected\n");
  ASSERT_TRUE(reviewer.Push({edit(interview, noted, 1)}).ok());

  // A review mark between two revisions is the server's: no parallel update.
  {
    grpc::ClientContext ctx;
    v1::MarkRecordRequest mark;
    mark.set_name("records/" + finding);
    mark.set_state(v1::REVIEW_MARK_STATE_ACCEPTED);
    mark.set_request_id(NewId());
    v1::GetRecordResponse out;
    ASSERT_TRUE(reviewer.review->MarkRecord(&ctx, mark, &out).ok());
    v1::RecordBody retitled = out.record().body();
    retitled.mutable_finding()->set_title("Cell 2, block C");
    ASSERT_TRUE(lead.Push({edit(finding, retitled, out.record().revision() - 1)}).ok());
  }

  v1::ListParallelUpdatesResponse all;
  ASSERT_TRUE(ListParallel(reviewer, {}, &all).ok());
  ASSERT_EQ(all.parallel_updates_size(), 2);
  const v1::ParallelUpdate& listed = all.parallel_updates(0);
  EXPECT_EQ(listed.name(), "parallelUpdates/" + monitors.mutation_id()) << "oldest first";
  EXPECT_EQ(listed.visit(), "visits/" + a);
  EXPECT_EQ(listed.record(), "records/" + finding);
  EXPECT_EQ(listed.record_kind(), "finding");
  EXPECT_FALSE(listed.checked());
  ASSERT_EQ(listed.versions_size(), 2);
  EXPECT_EQ(Fields(listed.versions(0)), std::vector<std::string>{"severity"});
  EXPECT_EQ(Fields(listed.versions(1)), std::vector<std::string>{"narrative"});
  EXPECT_FALSE(listed.has_merged()) << "lists carry no records";
  EXPECT_EQ(all.parallel_updates(1).record_kind(), "interview");

  auto count = [&](v1::ListParallelUpdatesRequest request) {
    v1::ListParallelUpdatesResponse out;
    grpc::Status s = ListParallel(reviewer, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.parallel_updates_size();
  };
  v1::ListParallelUpdatesRequest in_a;
  in_a.set_parent("visits/" + a);
  EXPECT_EQ(count(in_a), 1);
  v1::ListParallelUpdatesRequest interviews;
  interviews.set_record_kind("interview");
  EXPECT_EQ(count(interviews), 1);
  v1::ListParallelUpdatesRequest bad;
  bad.set_record_kind("gossip");
  v1::ListParallelUpdatesResponse ignored;
  EXPECT_EQ(Reason(ListParallel(reviewer, bad, &ignored)), "FILTER_INVALID");
  bad.Clear();
  bad.set_parent("visits/" + a + "/x");
  EXPECT_EQ(Reason(ListParallel(reviewer, bad, &ignored)), "NAME_INVALID");
  v1::ListParallelUpdatesRequest paged;
  paged.set_page_size(1);
  v1::ListParallelUpdatesResponse first, second;
  ASSERT_TRUE(ListParallel(reviewer, paged, &first).ok());
  ASSERT_EQ(first.parallel_updates_size(), 1);
  ASSERT_FALSE(first.next_page_token().empty());
  paged.set_page_token(first.next_page_token());
  ASSERT_TRUE(ListParallel(reviewer, paged, &second).ok());
  ASSERT_EQ(second.parallel_updates_size(), 1);
  EXPECT_EQ(second.parallel_updates(0).name(), all.parallel_updates(1).name());
  EXPECT_TRUE(second.next_page_token().empty());
  interviews.set_page_token(first.next_page_token());
  EXPECT_EQ(Reason(ListParallel(reviewer, interviews, &ignored)), "PAGE_TOKEN_INVALID");
  EXPECT_EQ(Reason(ListParallel(lead, paged, &ignored)), "PAGE_TOKEN_INVALID")
      << "another caller's token";

  // Side by side: the base, the record as it stood, the edit as pushed, the
  // merge.
  v1::ParallelUpdate shown;
  ASSERT_TRUE(GetParallel(reviewer, listed.name(), &shown).ok());
  EXPECT_EQ(shown.base().revision(), 1u);
  EXPECT_EQ(shown.base().body().finding().severity(), v1::SEVERITY_LOW);
  ASSERT_EQ(shown.versions(0).edits_size(), 1);
  EXPECT_EQ(shown.versions(0).edits(0).author(), "lead");
  EXPECT_EQ(shown.versions(0).record().body().finding().severity(), v1::SEVERITY_HIGH);
  ASSERT_EQ(shown.versions(1).edits_size(), 1);
  EXPECT_EQ(shown.versions(1).edits(0).mutation_id(), monitors.mutation_id());
  EXPECT_EQ(shown.versions(1).record().body().finding().severity(), v1::SEVERITY_LOW)
      << "the edit as its device pushed it";
  EXPECT_EQ(shown.merged().revision(), 3u);
  EXPECT_EQ(shown.merged().body().finding().severity(), v1::SEVERITY_HIGH);
  EXPECT_EQ(shown.merged().body().finding().narrative(), rewritten.finding().narrative());

  // The monitor may not read the interview's notes: neither their values
  // nor that they changed.
  const std::string notes_update = all.parallel_updates(1).name();
  v1::ParallelUpdate by_reviewer, by_monitor;
  ASSERT_TRUE(GetParallel(reviewer, notes_update, &by_reviewer).ok());
  EXPECT_EQ(Fields(by_reviewer.versions(1)), std::vector<std::string>{"notes"});
  EXPECT_EQ(by_reviewer.merged().body().interview().notes(), "First account, corrected\n");
  ASSERT_TRUE(GetParallel(monitor, notes_update, &by_monitor).ok());
  EXPECT_EQ(Fields(by_monitor.versions(0)), std::vector<std::string>{"pseudonym"});
  EXPECT_TRUE(by_monitor.versions(1).changed_fields().empty());
  EXPECT_TRUE(by_monitor.merged().body().interview().notes().empty());
  EXPECT_TRUE(by_monitor.versions(1).record().body().interview().notes().empty());
  EXPECT_FALSE(by_monitor.merged().withheld_fields().empty());

  EXPECT_EQ(Reason(GetParallel(reviewer, "parallelUpdates/nonsense", &shown)), "NAME_INVALID");
  EXPECT_EQ(Reason(GetParallel(reviewer, "parallelUpdates/" + NewId(), &shown)),
            "RESOURCE_NOT_FOUND");

  // The visit counts it until a reviewer checks it.
  v1::VisitView visit;
  ASSERT_TRUE(reviewer.Get(a, &visit).ok());
  EXPECT_EQ(visit.counts().unchecked_parallel_updates(), 1u);
  v1::ParallelUpdate checked, again;
  grpc::Status s = CheckParallel(monitor, listed.name(), "", NewId(), &checked);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(s), "REVIEWER_ONLY");
  EXPECT_EQ(Reason(CheckParallel(reviewer, listed.name(), "", "not-an-id", &checked)),
            "REQUEST_ID_INVALID");
  s = CheckParallel(reviewer, listed.name(), "\"stale\"", NewId(), &checked);
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_EQ(Reason(s), "ETAG_MISMATCH");
  const std::string request_id = NewId();
  s = CheckParallel(reviewer, listed.name(), shown.etag(), request_id, &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(checked.checked());
  EXPECT_EQ(checked.checked_by_user_id(), "reviewer");
  EXPECT_TRUE(checked.has_checked_at());
  EXPECT_NE(checked.etag(), shown.etag());
  ASSERT_TRUE(CheckParallel(reviewer, listed.name(), shown.etag(), request_id, &again).ok())
      << "a retry gets the first result";
  EXPECT_EQ(again.checked_by_user_id(), "reviewer");
  s = CheckParallel(reviewer, listed.name(), "", NewId(), &again);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "PARALLEL_UPDATE_CHECKED");
  EXPECT_EQ(Metadata(s, "checked_by"), "reviewer");
  EXPECT_EQ(Reason(CheckParallel(reviewer, notes_update, "", request_id, &again)),
            "MUTATION_ID_REUSED");
  ASSERT_TRUE(reviewer.Get(a, &visit).ok());
  EXPECT_EQ(visit.counts().unchecked_parallel_updates(), 0u);
  EXPECT_EQ(count({}), 1);
  v1::ListParallelUpdatesRequest done;
  done.set_checked(true);
  EXPECT_EQ(count(done), 1);

  // What the commits wrote is what a full scan says.
  server_->Stop();
  auto dir = datadir::OpenStoppedDataDir(server_->data_dir(), "", "test");
  ASSERT_OK(dir.status());
  auto differences = server::CheckVisitIndex(*dir->storage, *dir->keys, [](std::uint64_t) {});
  ASSERT_OK(differences.status());
  EXPECT_TRUE(differences->empty()) << (*differences)[0];
}

}  // namespace
}  // namespace vigil::review_testing
