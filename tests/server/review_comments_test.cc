// Comments on a visit's records: threaded, listed per visit and per record,
// shown to whoever may see what they are about (in ListComments as in a
// pull), and written from the desk with CreateComment.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/server/review_fixture.h"

namespace vigil::review_testing {
namespace {

// Comments are threaded, listed per visit and per record, and shown to
// whoever may see what they are about, in ListComments as in a pull.
TEST_F(ReviewTest, CommentsAreThreadedAndFollowTheirSubjectsVisibility) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  const std::string scope = "visits/" + visit;
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string finding = NewId(), interview = NewId();
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 9 has no light");
  ASSERT_TRUE(monitor.Push({Create(scope, f, finding)}).ok());
  v1::RecordBody i;
  i.mutable_interview()->set_pseudonym("Detainee 3");
  i.mutable_interview()->add_interviewer_user_ids("lead");
  i.mutable_interview()->set_notes("What was said in cell 3");
  ASSERT_TRUE(lead.Push({Create(scope, i, interview)}).ok());
  auto comment = [&](User& who, const std::string& subject, const std::string& field,
                     const std::string& reply_to, const std::string& text) {
    v1::RecordBody body;
    body.mutable_comment()->set_subject_record_id(subject);
    body.mutable_comment()->set_subject_field_path(field);
    body.mutable_comment()->set_reply_to_comment_id(reply_to);
    body.mutable_comment()->set_text(text);
    const std::string id = NewId();
    grpc::Status s = who.Push({Create(scope, body, id)});
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  };
  const std::string c1 = comment(reviewer, finding, "", "", "Which wing?");
  const std::string c2 = comment(monitor, finding, "", c1, "Wing B");
  const std::string c3 = comment(lead, interview, "notes", "", "Ask about the night of the 3rd");
  const std::string c4 = comment(lead, interview, "", "", "Interpreter needed next time");

  auto list = [&](User& who, const std::string& record_id, std::uint32_t page_size) {
    std::vector<std::pair<std::string, std::uint32_t>> out;
    v1::ListCommentsRequest request;
    request.set_parent(scope);
    request.set_record_id(record_id);
    request.set_page_size(page_size);
    for (int pages = 0; pages < 10; ++pages) {
      grpc::ClientContext ctx;
      v1::ListCommentsResponse response;
      grpc::Status s = who.review->ListComments(&ctx, request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const auto& c : response.comments()) out.emplace_back(c.comment().id(), c.depth());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return out;
  };
  using Thread = std::vector<std::pair<std::string, std::uint32_t>>;
  EXPECT_EQ(list(reviewer, "", 50), (Thread{{c1, 0}, {c2, 1}, {c3, 0}, {c4, 0}}));
  EXPECT_EQ(list(reviewer, "", 1), (Thread{{c1, 0}, {c2, 1}, {c3, 0}, {c4, 0}}));
  EXPECT_EQ(list(reviewer, finding, 50), (Thread{{c1, 0}, {c2, 1}}));
  // The monitor may not read the interview's notes: nor the comment on them.
  EXPECT_EQ(list(monitor, "", 50), (Thread{{c1, 0}, {c2, 1}, {c4, 0}}));
  grpc::ClientContext ctx;
  v1::PullRequest pull;
  pull.set_scope(scope);
  v1::PullResponse page;
  ASSERT_TRUE(monitor.sync->Pull(&ctx, pull, &page).ok());
  std::set<std::string> pulled;
  for (const auto& r : page.records()) pulled.insert(r.id());
  EXPECT_TRUE(pulled.contains(c4));
  EXPECT_FALSE(pulled.contains(c3));
  EXPECT_EQ(page.SerializeAsString().find("night of the 3rd"), std::string::npos);

  v1::ListCommentsRequest bad;
  bad.set_parent("registry");
  v1::ListCommentsResponse response;
  grpc::ClientContext bad_ctx;
  EXPECT_EQ(Reason(reviewer.review->ListComments(&bad_ctx, bad, &response)), "NAME_INVALID");
  auto outsider = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(outsider);
  tokens_["outsider"] = *outsider;
  bad.set_parent(scope);
  grpc::ClientContext out_ctx;
  EXPECT_EQ(Reason(As("outsider").review->ListComments(&out_ctx, bad, &response)),
            "SCOPE_NOT_PERMITTED");
}

grpc::Status Comment(User& who, const std::string& visit, const std::string& subject,
                     const std::string& text, v1::GetRecordResponse* out,
                     std::string request_id = "", const std::string& reply_to = "",
                     const std::string& field = "") {
  grpc::ClientContext ctx;
  v1::CreateCommentRequest request;
  request.set_parent("visits/" + visit);
  request.set_subject_record_id(subject);
  request.set_subject_field_path(field);
  request.set_reply_to_comment_id(reply_to);
  request.set_text(text);
  request.set_request_id(request_id.empty() ? NewId() : request_id);
  return who.review->CreateComment(&ctx, request, out);
}

// CreateComment writes a Comment record through the push's steps: the team
// pulls it, a team member's comment answers a question, a retry gets the
// first comment, and every refusal changes nothing.
TEST_F(ReviewTest, CommentsAreWrittenFromTheDesk) {
  const std::string visit = NewVisit(v1::VISIT_STATE_IN_PROGRESS);
  const std::string scope = "visits/" + visit;
  User reviewer = As("reviewer"), lead = As("lead"), monitor = As("monitor");
  const std::string finding = NewId(), interview = NewId();
  v1::RecordBody f;
  f.mutable_finding()->set_title("Cell 9 has no light");
  ASSERT_TRUE(monitor.Push({Create(scope, f, finding)}).ok());
  v1::RecordBody i;
  i.mutable_interview()->set_pseudonym("Detainee 3");
  i.mutable_interview()->add_interviewer_user_ids("lead");
  i.mutable_interview()->set_notes("What was said in cell 3");
  ASSERT_TRUE(lead.Push({Create(scope, i, interview)}).ok());
  {
    grpc::ClientContext ctx;
    v1::MarkRecordRequest mark;
    mark.set_name("records/" + finding);
    mark.set_state(v1::REVIEW_MARK_STATE_QUESTION);
    mark.set_question("Which wing?");
    mark.set_request_id(NewId());
    v1::GetRecordResponse out;
    ASSERT_TRUE(reviewer.review->MarkRecord(&ctx, mark, &out).ok());
  }

  // The lead answers from the desk; the reviewer's reply joins the thread.
  v1::GetRecordResponse first, again, reply;
  const std::string request_id = NewId();
  grpc::Status s = Comment(lead, visit, finding, "Wing B", &first, request_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(first.record().scope(), scope);
  EXPECT_EQ(first.record().body().comment().subject_record_id(), finding);
  EXPECT_EQ(first.record().created().author(), "lead");
  EXPECT_FALSE(first.etag().empty());
  ASSERT_TRUE(Comment(lead, visit, finding, "Wing B", &again, request_id).ok());
  EXPECT_EQ(again.record().id(), first.record().id()) << "a retry gets the first comment";
  EXPECT_EQ(again.record().revision(), 1u);
  s = Comment(reviewer, visit, "", "Thank you", &reply, "", first.record().id());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.record().body().comment().subject_record_id(), finding)
      << "a reply is about what it replies to";
  grpc::ClientContext get_ctx;
  v1::GetRecordRequest get;
  get.set_name("records/" + finding);
  v1::GetRecordResponse marked;
  ASSERT_TRUE(reviewer.review->GetRecord(&get_ctx, get, &marked).ok());
  EXPECT_EQ(marked.record().review().state(), v1::REVIEW_MARK_STATE_ANSWERED);
  EXPECT_EQ(marked.record().review().answer_comment_id(), first.record().id());

  // The team pulls both.
  grpc::ClientContext pull_ctx;
  v1::PullRequest pull;
  pull.set_scope(scope);
  v1::PullResponse page;
  ASSERT_TRUE(monitor.sync->Pull(&pull_ctx, pull, &page).ok());
  std::set<std::string> pulled;
  for (const auto& r : page.records()) pulled.insert(r.id());
  EXPECT_TRUE(pulled.contains(first.record().id()));
  EXPECT_TRUE(pulled.contains(reply.record().id()));

  // Refusals.
  v1::GetRecordResponse ignored;
  EXPECT_EQ(Reason(Comment(lead, visit, finding, "", &ignored)), "TEXT_REQUIRED");
  EXPECT_EQ(Reason(Comment(lead, visit, "", "x", &ignored)), "SUBJECT_REQUIRED");
  EXPECT_EQ(Reason(Comment(lead, visit, finding, "x", &ignored, "", "", "title[[")),
            "FIELD_PATH_INVALID");
  EXPECT_EQ(Reason(Comment(lead, visit, finding, "x", &ignored, "not-an-id")),
            "REQUEST_ID_INVALID");
  EXPECT_EQ(Reason(Comment(lead, visit, "", "x", &ignored, "", finding)), "REPLY_TO_INVALID");
  EXPECT_EQ(Reason(Comment(lead, visit, interview, "x", &ignored, "", first.record().id())),
            "REPLY_TO_INVALID");
  EXPECT_EQ(Reason(Comment(lead, "not a visit", finding, "x", &ignored)), "NAME_INVALID");
  const std::string elsewhere = NewId();
  s = Comment(reviewer, visit, elsewhere, "x", &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(s), "RESOURCE_NOT_FOUND");
  s = Comment(monitor, visit, elsewhere, "x", &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << "nothing learnt of what exists";
  s = Comment(monitor, visit, interview, "x", &ignored, "", "", "notes");
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << "notes the monitor may not read";
  User service = As("service");
  s = Comment(service, visit, finding, "x", &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  s = Comment(lead, visit, finding, "x", &ignored, request_id);
  EXPECT_TRUE(s.ok()) << "the same request id is the first request's, whatever it says";
  EXPECT_EQ(ignored.record().id(), first.record().id());
  s = Comment(monitor, visit, finding, "x", &ignored, request_id);
  EXPECT_EQ(Reason(s), "MUTATION_ID_REUSED") << "another device's request id";

  // An approved visit takes no more comments from the desk.
  const std::string approved = NewVisit(v1::VISIT_STATE_APPROVED);
  s = Comment(reviewer, approved, approved, "x", &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "VISIT_LOCKED");

  grpc::ClientContext list_ctx;
  v1::ListCommentsRequest list;
  list.set_parent(scope);
  v1::ListCommentsResponse thread;
  ASSERT_TRUE(reviewer.review->ListComments(&list_ctx, list, &thread).ok());
  ASSERT_EQ(thread.comments_size(), 2) << "refusals wrote nothing";
  EXPECT_EQ(thread.comments(1).depth(), 1u);
}

}  // namespace
}  // namespace vigil::review_testing
