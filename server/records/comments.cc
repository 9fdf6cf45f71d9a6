// Comments written from the review desk (ReviewService.CreateComment): a
// Comment record created through the push's own steps, as a tablet would.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "server/records/resource_names.h"
#include "server/records/visit_lifecycle.h"
#include "sync/conflict_sides.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;

absl::Status CheckComment(const RecordStore::CommentRequest& request) {
  RETURN_IF_ERROR(CheckRequestId(request.request_id));
  if (request.text.empty()) {
    return WithReason(absl::InvalidArgumentError("a comment needs its text"), "TEXT_REQUIRED");
  }
  if (request.subject_record_id.empty() && request.reply_to_comment_id.empty()) {
    return WithReason(absl::InvalidArgumentError(
                          "name the record commented on (subject_record_id), or the comment "
                          "replied to"),
                      "SUBJECT_REQUIRED");
  }
  if (!request.subject_field_path.empty() &&
      !sync::ParseFieldPath(request.subject_field_path).ok()) {
    return WithReason(absl::InvalidArgumentError("subject_field_path is not a field path"),
                      "FIELD_PATH_INVALID");
  }
  return absl::OkStatus();
}

absl::Status ReplyToInvalid(std::string_view why) {
  return WithReason(
      absl::InvalidArgumentError(absl::StrCat("reply_to_comment_id: ", std::string(why))),
      "REPLY_TO_INVALID");
}

}  // namespace

void RecordStore::CreateComment(const Caller& caller, CommentRequest request, CommentDoneFn done) {
  if (absl::Status s = CheckComment(request); !s.ok()) return done(s);
  absl::StatusOr<sync::Scope> scope = sync::Scope::Visit(request.visit_id);
  if (!scope.ok()) return done(scope.status());
  absl::StatusOr<std::string> comment_id = sync::DerivedId(request.request_id, "comment");
  if (!comment_id.ok()) return done(comment_id.status());
  auto written = std::make_shared<std::string>(*comment_id);
  CommitPush(
      caller,
      [this, caller, request = std::move(request), scope = scope->str(), written](
          CommitTables& tables, PushBatch& batch) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.request_id));
        if (stored.has_value()) {
          if (stored->device_id() != caller.device) return RequestIdReused(request.request_id);
          *written = stored->result().record_id();
          return absl::OkStatus();  // a retry: the comment its first attempt wrote
        }
        RETURN_IF_ERROR(RequireUnlocked(tables, scope, "comment on its records"));
        std::string subject = request.subject_record_id;
        if (!request.reply_to_comment_id.empty()) {
          ASSIGN_OR_RETURN(std::optional<Record> reply_to,
                           tables.HeadInScope(request.reply_to_comment_id, scope));
          if (!reply_to.has_value() || !reply_to->body().has_comment() || reply_to->deleted()) {
            return ReplyToInvalid("not a comment of this visit");
          }
          const std::string& about = reply_to->body().comment().subject_record_id();
          if (subject.empty()) subject = about;
          if (subject != about) return ReplyToInvalid("that comment is about another record");
        }
        ASSIGN_OR_RETURN(std::optional<Record> subject_head, tables.HeadInScope(subject, scope));
        if (!subject_head.has_value()) {
          return Absent(caller, "record in this visit", absl::StrCat("records/", subject));
        }
        vigil::v1::PushRequest push;
        vigil::v1::Mutation& m = *push.add_mutations();
        m.set_mutation_id(request.request_id);
        m.set_record_id(*written);
        m.set_scope(scope);
        vigil::v1::Comment& comment = *m.mutable_body()->mutable_comment();
        comment.set_subject_record_id(subject);
        comment.set_subject_field_path(request.subject_field_path);
        comment.set_reply_to_comment_id(request.reply_to_comment_id);
        comment.set_text(request.text);
        m.set_author(caller.principal);
        m.set_device_id(caller.device);
        *m.mutable_hlc() = clock_.Now(absl::Now());
        vigil::v1::PushResponse response;
        return batch.Apply(push, response);
      },
      [written, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*written);
      });
}

}  // namespace vigil::server
