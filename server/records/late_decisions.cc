// The NPM unit's decisions on late submissions: accept (apply the held
// mutation now, as an ordinary merge) or reject (keep it, never applied).
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/etag.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::LateOutcome;

absl::Status CheckRequest(const RecordStore::LateDecisionRequest& request) {
  RETURN_IF_ERROR(CheckRequestId(request.request_id));
  if (request.outcome != vigil::v1::LATE_OUTCOME_ACCEPTED &&
      request.outcome != vigil::v1::LATE_OUTCOME_REJECTED) {
    return WithReason(absl::InvalidArgumentError("outcome must be ACCEPTED or REJECTED"),
                      "LATE_OUTCOME_INVALID");
  }
  if (request.outcome == vigil::v1::LATE_OUTCOME_REJECTED && request.reason.empty()) {
    return WithReason(
        absl::InvalidArgumentError("a rejection needs a reason: the team will read it"),
        "REASON_REQUIRED");
  }
  return absl::OkStatus();
}

}  // namespace

void RecordStore::DecideLate(const Caller& caller, LateDecisionRequest request,
                             MoveDoneFn done) {
  if (absl::Status s = AccessPolicy::RequireReviewer(caller); !s.ok()) return done(s);
  if (absl::Status s = CheckRequest(request); !s.ok()) return done(s);
  absl::StatusOr<sync::Scope> scope = sync::Scope::Visit(request.visit_id);
  if (!scope.ok()) return done(scope.status());
  auto result = std::make_shared<vigil::v1::MutationResult>();
  CommitPush(
      caller,
      [caller, request = std::move(request), scope = scope->str(), result](
          CommitTables& tables, PushBatch& batch) -> absl::Status {
        const std::string name =
            absl::StrCat(scope, "/lateSubmissions/", request.mutation_id);
        ASSIGN_OR_RETURN(std::optional<HeldLate> late, tables.Late(scope, request.mutation_id));
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.mutation_id));
        if (!late.has_value() || !stored.has_value()) {
          return WithReason(absl::NotFoundError("there is no such late submission"),
                            "RESOURCE_NOT_FOUND", {{"name", name}});
        }
        if (late->decided) {
          const vigil::v1::LateDecision& first = stored->result().late_decision();
          if (first.request_id() == request.request_id) {
            *result = stored->result();
            result->set_duplicate(true);
            return absl::OkStatus();
          }
          return WithReason(absl::FailedPreconditionError(absl::StrCat(
                                "this late submission was decided already (",
                                vigil::v1::LateOutcome_Name(first.outcome()), " by ",
                                first.user_id(), ")")),
                            "LATE_SUBMISSION_DECIDED",
                            {{"outcome", vigil::v1::LateOutcome_Name(first.outcome())}});
        }
        ASSIGN_OR_RETURN(std::optional<vigil::v1::Record> head,
                         tables.Head(late->mutation.record_id()));
        const std::string etag =
            LateSubmissionEtag(head.has_value() ? &*head : nullptr, stored->result());
        if (!request.etag.empty() && request.etag != etag) {
          return WithReason(absl::AbortedError("the record or the submission changed since you "
                                               "read it: read it again, then decide"),
                            "ETAG_MISMATCH", {{"etag", etag}});
        }
        vigil::v1::LateDecision decision;
        decision.set_outcome(request.outcome);
        decision.set_user_id(caller.principal);
        *decision.mutable_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(absl::Now()));
        decision.set_reason(request.reason);
        decision.set_request_id(request.request_id);
        RETURN_IF_ERROR(tables.SettleLate(scope, late->mutation));
        if (request.outcome == vigil::v1::LATE_OUTCOME_ACCEPTED) {
          RETURN_IF_ERROR(batch.ApplyAccepted(late->mutation, decision, *result));
        } else {
          vigil::internal::StoredMutation rejected = *std::move(stored);
          *rejected.mutable_result()->mutable_late_decision() = decision;
          tables.PutMutation(request.mutation_id, rejected, /*sensitive=*/true);
          *result = rejected.result();
        }
        const bool accepted = request.outcome == vigil::v1::LATE_OUTCOME_ACCEPTED;
        return storage::AuditAppender(tables.context())
            .Append(AuditOf(caller, accepted ? "late.accept" : "late.reject", name));
      },
      [result, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*result);
      });
}

}  // namespace vigil::server
