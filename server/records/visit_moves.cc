// Review's writes of the Visit record: lifecycle moves, and the team
// derived from the team table.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/etag.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "server/records/visit_index.h"
#include "server/records/visit_lifecycle.h"
#include "server/records/visit_team.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;

// A retry of a move answered with its first result: the same device, and
// the move it made (its transition carries the request id).
absl::StatusOr<vigil::v1::MutationResult> FirstResult(
    const Caller& caller, const RecordStore::VisitMoveRequest& request,
    const vigil::internal::StoredMutation& stored, const std::optional<Record>& head) {
  if (stored.device_id() != caller.device) return AccessPolicy::Denied();
  bool same = false;
  if (head.has_value() && head->body().has_visit() &&
      stored.result().record_id() == request.visit_id) {
    for (const vigil::v1::VisitTransition& t : head->body().visit().transitions()) {
      same = same || (t.id() == request.request_id && t.to() == request.to);
    }
  }
  if (!same) {
    return RequestIdReused(request.request_id);
  }
  vigil::v1::MutationResult result = stored.result();
  result.set_duplicate(true);
  return result;
}

}  // namespace

void RecordStore::MoveVisit(const Caller& caller, VisitMoveRequest request, MoveDoneFn done) {
  if (absl::Status s = CheckRequestId(request.request_id); !s.ok()) return done(s);
  absl::StatusOr<sync::Scope> scope = sync::Scope::Visit(request.visit_id);
  if (!scope.ok()) return done(scope.status());
  auto result = std::make_shared<vigil::v1::MutationResult>();
  CommitPush(
      caller,
      [this, caller, request = std::move(request), scope = *std::move(scope), result](
          CommitTables& tables, PushBatch& batch) -> absl::Status {
        ASSIGN_OR_RETURN(ScopeGrant grant,
                         policy_->RequireRead(caller, scope.str(), tables.context()));
        ASSIGN_OR_RETURN(std::optional<Record> head,
                         tables.HeadInScope(request.visit_id, scope.str()));
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.request_id));
        if (stored.has_value()) {
          ASSIGN_OR_RETURN(*result, FirstResult(caller, request, *stored, head));
          return absl::OkStatus();
        }
        if (!head.has_value() || !head->body().has_visit() || head->deleted()) {
          if (!grant.reviewer) return AccessPolicy::Denied();
          return WithReason(absl::NotFoundError("there is no such visit"), "RESOURCE_NOT_FOUND",
                            {{"name", scope.str()}});
        }
        if (!request.etag.empty() && request.etag != RecordEtag(*head)) {
          return WithReason(absl::AbortedError(
                                "the visit changed since you read it: read it again, then "
                                "decide"),
                            "ETAG_MISMATCH", {{"etag", RecordEtag(*head)}});
        }
        const VisitMove move{head->body().visit().state(), request.to};
        if (!IsMove(move)) {
          const std::string state = vigil::v1::VisitState_Name(move.from);
          return WithReason(absl::FailedPreconditionError("the visit is in that state already"),
                            "VISIT_TRANSITION_NOT_ALLOWED", {{"from", state}, {"to", state}});
        }
        // The lifecycle's answer first, so that a role that may not make the
        // move hears so (rather than that it may not write), and a move of
        // a locked visit is refused rather than held. The push's steps
        // below ask the same rules again.
        ASSIGN_OR_RETURN(const vigil::internal::VisitSummary summary,
                         VisitIndexWriter(tables.context()).Summary(request.visit_id));
        RETURN_IF_ERROR(CheckVisitMove(grant, move, request.intent, summary.open_conflicts()));
        if (move.to == vigil::v1::VISIT_STATE_PUBLISHED && request.publication.has_value()) {
          ASSIGN_OR_RETURN(bool changed,
                           tables.ScopeChangedAfter(scope.str(), request.publication->seq()));
          if (changed) {
            return WithReason(absl::AbortedError("the visit's records changed while its report "
                                                 "was rendered: publish again"),
                              "ETAG_MISMATCH", {{"etag", RecordEtag(*head)}});
          }
          tables.PutPublication(request.visit_id, *request.publication);
          batch.AllowPublication();
        }
        // The edit a tablet would push: the head with the new state, made
        // on the head, under the request id.
        vigil::v1::PushRequest push;
        vigil::v1::Mutation& m = *push.add_mutations();
        m.set_mutation_id(request.request_id);
        m.set_record_id(head->id());
        m.set_base_revision(head->revision());
        m.set_base_edit_id(head->updated().mutation_id());
        *m.mutable_body() = head->body();
        m.mutable_body()->mutable_visit()->set_state(request.to);
        *m.mutable_visit_transition() = request.intent;
        m.set_author(caller.principal);
        m.set_device_id(caller.device);
        *m.mutable_hlc() = clock_.Now(absl::Now());
        vigil::v1::PushResponse response;
        RETURN_IF_ERROR(batch.Apply(push, response));
        *result = response.results(0);
        if (result->late_submission()) {
          // Not for a review call: a move of a locked visit is the NPM
          // unit's, and a held one would wait for a decision nobody asked.
          return WithReason(absl::FailedPreconditionError("the visit is locked (approved)"),
                            "VISIT_TRANSITION_NOT_ALLOWED",
                            {{"from", vigil::v1::VisitState_Name(move.from)},
                             {"to", vigil::v1::VisitState_Name(move.to)}});
        }
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*result);
      });
}

absl::Status RecordStore::OnTeamChanged(storage::CommitContext& ctx, const Caller& by,
                                        std::string_view visit_id) {
  CommitTables tables(ctx, *keys_);
  return TeamTableChanged(tables, clock_, by, visit_id, absl::Now());
}

}  // namespace vigil::server
