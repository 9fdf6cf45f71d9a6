// Reviewers' marks on records: accepted, or a question for the team, as a
// revision of the record that the team's tablets pull.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/etag.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "server/records/visit_lifecycle.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;

absl::Status CheckMark(const RecordStore::MarkRequest& request) {
  RETURN_IF_ERROR(CheckRequestId(request.request_id));
  if (request.state != vigil::v1::REVIEW_MARK_STATE_ACCEPTED &&
      request.state != vigil::v1::REVIEW_MARK_STATE_QUESTION) {
    return WithReason(absl::InvalidArgumentError("state must be ACCEPTED or QUESTION"),
                      "REVIEW_MARK_INVALID");
  }
  if (request.state == vigil::v1::REVIEW_MARK_STATE_QUESTION && request.question.empty()) {
    return WithReason(absl::InvalidArgumentError("a question needs its text"),
                      "QUESTION_REQUIRED");
  }
  return absl::OkStatus();
}

// What identifies one mark request, for telling a retry from a reuse of its
// request id.
std::string MarkFingerprint(const RecordStore::MarkRequest& request) {
  return Sha256::Of(absl::StrCat(request.record_id, "\n", static_cast<int>(request.state), "\n",
                                 request.question))
      .substr(0, 16);
}

// The record to mark, refused when it cannot be: none (NOT_FOUND), not of
// a visit, deleted, of a locked visit.
absl::StatusOr<Record> Markable(CommitTables& tables, std::string_view record_id,
                                std::string_view etag) {
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(record_id));
  if (!head.has_value()) {
    return WithReason(absl::NotFoundError("there is no such record"), "RESOURCE_NOT_FOUND",
                      {{"name", absl::StrCat("records/", std::string(record_id))}});
  }
  const std::string_view visit_id = sync::VisitIdOf(head->scope());
  if (visit_id.empty()) {
    return WithReason(absl::InvalidArgumentError("only a visit's records are reviewed"),
                      "NOT_A_VISIT_RECORD");
  }
  if (head->deleted()) {
    return WithReason(absl::FailedPreconditionError("the record is deleted"), "RECORD_DELETED");
  }
  if (!etag.empty() && etag != RecordEtag(*head)) {
    return WithReason(absl::AbortedError("the record changed since you read it: read it again, "
                                         "then mark it"),
                      "ETAG_MISMATCH", {{"etag", RecordEtag(*head)}});
  }
  RETURN_IF_ERROR(RequireUnlocked(tables, head->scope(), "mark its records"));
  return *std::move(head);
}

}  // namespace

void RecordStore::MarkRecord(const Caller& caller, MarkRequest request, MarkDoneFn done) {
  if (absl::Status s = AccessPolicy::RequireReviewer(caller); !s.ok()) return done(s);
  if (absl::Status s = CheckMark(request); !s.ok()) return done(s);
  auto revision = std::make_shared<std::uint64_t>(0);
  CommitPush(
      caller,
      [caller, request = std::move(request), revision](CommitTables& tables,
                                                        PushBatch& batch) -> absl::Status {
        const std::string fingerprint = MarkFingerprint(request);
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.request_id));
        if (stored.has_value()) {
          if (stored->device_id() != caller.device || stored->fingerprint() != fingerprint) {
            return RequestIdReused(request.request_id);
          }
          *revision = stored->result().revision();
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(const Record head, Markable(tables, request.record_id, request.etag));
        Record next = head;
        vigil::v1::ReviewMark& mark = *next.mutable_review();
        mark.Clear();
        mark.set_state(request.state);
        mark.set_question(request.question);
        mark.set_reviewer_user_id(caller.principal);
        *mark.mutable_marked_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(absl::Now()));
        mark.set_marked_revision(head.revision());
        RETURN_IF_ERROR(batch.WriteServerRevision(
            head, next,
            absl::StrCat("review.mark state=", vigil::v1::ReviewMarkState_Name(request.state))));
        vigil::internal::StoredMutation result;
        result.mutable_result()->set_mutation_id(request.request_id);
        result.mutable_result()->set_record_id(head.id());
        result.mutable_result()->set_revision(next.revision());
        result.set_device_id(caller.device);
        result.set_fingerprint(fingerprint);
        // The question is the NPM unit's words: sealed like content.
        tables.PutMutation(request.request_id, result, /*sensitive=*/true);
        *revision = next.revision();
        return absl::OkStatus();
      },
      [revision, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*revision);
      });
}

}  // namespace vigil::server
