// Every ReviewService read, for every kind of caller, shows no more than a
// pull shows that caller: interview notes (interviewers), identities
// (interviewers), medical observations (medical staff) appear in a query's
// answer only if they appear in the caller's own pull of the visit.
#include <string>
#include <vector>

#include "tests/server/review_fixture.h"

namespace vigil::review_testing {
namespace {

// Every value of a guarded field carries one of these, in every version.
const std::vector<std::string>& Secrets() {
  static const auto* secrets =
      new std::vector<std::string>{"NOTES-SECRET", "IDENTITY-SECRET", "MEDICAL-SECRET"};
  return *secrets;
}

TEST_F(ReviewTest, EveryQueryShowsEachCallerNoMoreThanItsPull) {
  User reviewer = As("reviewer"), lead = As("lead");
  const std::string facility = NewId();
  {
    v1::RecordBody body;
    body.mutable_facility()->set_name("Central Prison");
    ASSERT_TRUE(reviewer.Push({Create("registry", body, facility)}).ok());
  }
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS, facility);
  const std::string scope = "visits/" + visit;
  auto outsider = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(outsider);
  tokens_["outsider"] = *outsider;

  // An interview by the lead, its identity, a medical finding, a finding.
  const std::string interview = NewId(), identity = NewId(), medical = NewId(),
                    finding = NewId();
  v1::RecordBody i;
  i.mutable_interview()->set_pseudonym("Detainee 7");
  i.mutable_interview()->add_interviewer_user_ids("lead");
  i.mutable_interview()->set_notes("NOTES-SECRET first\n");
  v1::RecordBody id;
  id.mutable_identity()->set_interview_id(interview);
  id.mutable_identity()->set_full_name("IDENTITY-SECRET name");
  v1::RecordBody m;
  m.mutable_medical_finding()->set_visit_id(visit);
  m.mutable_medical_finding()->set_injuries_observed("MEDICAL-SECRET bruises\n");
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 2");
  f.mutable_finding()->set_category(v1::FINDING_CATEGORY_TREATMENT);
  grpc::Status s = lead.Push({Create(scope, i, interview), Create(scope, id, identity),
                              Create(scope, f, finding)});
  ASSERT_TRUE(s.ok()) << s.error_message();
  User medic = As("medical");
  s = medic.Push({Create(scope, m, medical)});
  ASSERT_TRUE(s.ok()) << s.error_message();
  // A parallel update of the interview (pseudonym, notes) and a conflict on
  // its notes; a comment on the notes.
  auto edit = [&](const v1::RecordBody& body, const std::string& rid, std::uint64_t base) {
    Mutation e = Create("", body, rid);
    e.set_base_revision(base);
    return e;
  };
  v1::RecordBody renamed = i;
  renamed.mutable_interview()->set_pseudonym("Detainee 8");
  ASSERT_TRUE(lead.Push({edit(renamed, interview, 1)}).ok());
  v1::RecordBody noted = i;
  noted.mutable_interview()->set_notes("NOTES-SECRET second\n");
  ASSERT_TRUE(reviewer.Push({edit(noted, interview, 1)}).ok());
  v1::RecordBody again = i;
  again.mutable_interview()->set_notes("NOTES-SECRET third\n");
  ASSERT_TRUE(lead.Push({edit(again, interview, 1)}).ok());
  {
    grpc::ClientContext ctx;
    v1::CreateCommentRequest comment;
    comment.set_parent(scope);
    comment.set_subject_record_id(interview);
    comment.set_subject_field_path("notes");
    comment.set_text("NOTES-SECRET: ask about the 3rd");
    comment.set_request_id(NewId());
    v1::GetRecordResponse out;
    ASSERT_TRUE(lead.review->CreateComment(&ctx, comment, &out).ok());
  }
  v1::ListParallelUpdatesResponse parallel;
  v1::ListConflictsResponse conflicts;
  {
    grpc::ClientContext a, b;
    ASSERT_TRUE(reviewer.review->ListParallelUpdates(&a, {}, &parallel).ok());
    ASSERT_TRUE(reviewer.review->ListConflicts(&b, {}, &conflicts).ok());
  }
  ASSERT_GE(parallel.parallel_updates_size(), 1);
  ASSERT_GE(conflicts.conflicts_size(), 1);

  for (const std::string name :
       {"reviewer", "lead", "monitor", "medical", "observer", "service", "outsider"}) {
    SCOPED_TRACE(name);
    User who = As(name);
    std::string pulled;
    {
      grpc::ClientContext ctx;
      v1::PullRequest pull;
      pull.set_scope(scope);
      v1::PullResponse page;
      if (who.sync->Pull(&ctx, pull, &page).ok()) pulled = page.SerializeAsString();
    }
    // Each read's answer, when it is answered.
    std::vector<std::pair<std::string, std::string>> answers;
    auto keep = [&](const std::string& what, const grpc::Status& st,
                    const google::protobuf::Message& out) {
      if (st.ok()) answers.emplace_back(what, out.SerializeAsString());
    };
    {
      grpc::ClientContext ctx;
      v1::ListFindingsRequest q;
      v1::ListFindingsResponse out;
      keep("ListFindings", who.review->ListFindings(&ctx, q, &out), out);
    }
    for (bool with_notes : {false, true}) {
      grpc::ClientContext ctx;
      v1::ListInterviewsRequest q;
      q.set_with_notes(with_notes);
      v1::ListInterviewsResponse out;
      keep("ListInterviews", who.review->ListInterviews(&ctx, q, &out), out);
      if (!with_notes) {
        EXPECT_EQ(out.SerializeAsString().find("NOTES-SECRET"), std::string::npos)
            << "metadata only, conflicts over the notes included";
      }
    }
    {
      grpc::ClientContext ctx;
      v1::GetFacilityHistoryRequest q;
      q.set_facility_id(facility);
      v1::FacilityHistory out;
      keep("GetFacilityHistory", who.review->GetFacilityHistory(&ctx, q, &out), out);
    }
    for (const std::string& rid : {interview, identity, medical, finding}) {
      grpc::ClientContext ctx;
      v1::GetRecordRequest q;
      q.set_name("records/" + rid);
      v1::GetRecordResponse out;
      keep("GetRecord", who.review->GetRecord(&ctx, q, &out), out);
    }
    {
      grpc::ClientContext ctx;
      v1::ListParallelUpdatesResponse out;
      keep("ListParallelUpdates", who.review->ListParallelUpdates(&ctx, {}, &out), out);
    }
    for (const auto& p : parallel.parallel_updates()) {
      grpc::ClientContext ctx;
      v1::GetParallelUpdateRequest q;
      q.set_name(p.name());
      v1::ParallelUpdate out;
      keep("GetParallelUpdate", who.review->GetParallelUpdate(&ctx, q, &out), out);
    }
    {
      grpc::ClientContext ctx;
      v1::ListConflictsResponse out;
      keep("ListConflicts", who.review->ListConflicts(&ctx, {}, &out), out);
    }
    for (const auto& c : conflicts.conflicts()) {
      grpc::ClientContext ctx;
      v1::GetConflictRequest q;
      q.set_name(c.name());
      v1::ConflictView out;
      keep("GetConflict", who.review->GetConflict(&ctx, q, &out), out);
    }
    {
      grpc::ClientContext ctx;
      v1::ListCommentsRequest q;
      q.set_parent(scope);
      v1::ListCommentsResponse out;
      keep("ListComments", who.review->ListComments(&ctx, q, &out), out);
    }
    {
      grpc::ClientContext ctx;
      v1::GetVisitRequest q;
      q.set_name(scope);
      v1::VisitView out;
      keep("GetVisit", who.review->GetVisit(&ctx, q, &out), out);
    }
    for (const auto& [what, bytes] : answers) {
      for (const std::string& secret : Secrets()) {
        if (bytes.find(secret) != std::string::npos) {
          EXPECT_NE(pulled.find(secret), std::string::npos)
              << what << " shows " << secret << ", which " << name << "'s pull does not";
        }
      }
    }
    // The oracle is not empty: whoever may read the notes sees them.
    if (name == "lead") {
      EXPECT_NE(pulled.find("NOTES-SECRET"), std::string::npos);
      EXPECT_NE(pulled.find("IDENTITY-SECRET"), std::string::npos);
    }
    if (name == "medical") {
      EXPECT_NE(pulled.find("MEDICAL-SECRET"), std::string::npos);
    }
    if (name == "monitor") {
      EXPECT_EQ(pulled.find("NOTES-SECRET"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace vigil::review_testing
