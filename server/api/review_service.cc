#include "server/api/review_service.h"

#include <string>

#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/api/reactors.h"
#include "server/api/review_admission.h"
#include "server/records/resource_names.h"
#include "sync/scope.h"

namespace vigil::server {

using review_admission::AdmitFor;
using review_admission::AdmitForConflict;
using review_admission::AdmitForLate;
using review_admission::AdmitForParallel;
using review_admission::AdmitForRecord;
using review_admission::AdmitForVisit;
using review_admission::VisitCall;
using review_admission::VisitIdOfParent;

grpc::ServerUnaryReactor* ReviewService::GetVisit(grpc::CallbackServerContext* context,
                                                  const vigil::v1::GetVisitRequest* request,
                                                  vigil::v1::VisitView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<VisitCall> call = AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  FinishUnary(reactor, queries_->GetVisit(call->caller, call->visit_id, std::nullopt), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::TransitionVisit(
    grpc::CallbackServerContext* context, const vigil::v1::TransitionVisitRequest* request,
    vigil::v1::VisitView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<VisitCall> call = AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  if (request->to() == vigil::v1::VISIT_STATE_UNSPECIFIED ||
      !vigil::v1::VisitState_IsValid(request->to())) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::InvalidArgumentError("to must name a visit state"), "VISIT_STATE_INVALID")));
    return reactor;
  }
  RecordStore::VisitMoveRequest move;
  move.visit_id = call->visit_id;
  move.to = request->to();
  move.intent.set_note(request->note());
  move.intent.set_acknowledge_open_conflicts(request->acknowledge_open_conflicts());
  move.etag = request->etag();
  move.request_id = request->request_id();
  const Caller caller = call->caller;
  records_->MoveVisit(
      caller, std::move(move),
      [this, reactor, response,
       call = *std::move(call)](absl::StatusOr<vigil::v1::MutationResult> result) {
        if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
        // The visit as the move left it (its first result, for a retry).
        FinishUnary(reactor, queries_->GetVisit(call.caller, call.visit_id, result->revision()),
                    response);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListReviewQueue(
    grpc::CallbackServerContext* context, const vigil::v1::ListReviewQueueRequest* request,
    vigil::v1::ListReviewQueueResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  FinishUnary(reactor, queries_->ListReviewQueue(*caller, *request, absl::Now()), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListVisits(grpc::CallbackServerContext* context,
                                                    const vigil::v1::ListVisitsRequest* request,
                                                    vigil::v1::ListVisitsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  FinishUnary(reactor, queries_->ListVisits(*caller, *request), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListComments(
    grpc::CallbackServerContext* context, const vigil::v1::ListCommentsRequest* request,
    vigil::v1::ListCommentsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<VisitCall> call = AdmitForVisit(*auth_, *context, reactor, request->parent());
  if (!call) return reactor;
  FinishUnary(reactor, queries_->ListComments(call->caller, call->visit_id, *request), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListLateSubmissions(
    grpc::CallbackServerContext* context, const vigil::v1::ListLateSubmissionsRequest* request,
    vigil::v1::ListLateSubmissionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // An empty parent: every visit.
  auto call = AdmitFor(*auth_, *context, reactor, request->parent(), VisitIdOfParent);
  if (!call) return reactor;
  queries_->ListLateSubmissions(
      call->first, call->second, *request,
      [reactor, response](absl::StatusOr<vigil::v1::ListLateSubmissionsResponse> page) {
        FinishUnary(reactor, std::move(page), response);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::GetLateSubmission(
    grpc::CallbackServerContext* context, const vigil::v1::GetLateSubmissionRequest* request,
    vigil::v1::LateSubmission* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForLate(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  queries_->GetLateSubmission(call->first, call->second,
                              [reactor, response](absl::StatusOr<vigil::v1::LateSubmission> late) {
                                FinishUnary(reactor, std::move(late), response);
                              });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::DecideLateSubmission(
    grpc::CallbackServerContext* context, const vigil::v1::DecideLateSubmissionRequest* request,
    vigil::v1::LateSubmission* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForLate(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  RecordStore::LateDecisionRequest decision;
  decision.visit_id = std::string(call->second.visit.id());
  decision.mutation_id = call->second.mutation_id;
  decision.outcome = request->outcome();
  decision.reason = request->reason();
  decision.etag = request->etag();
  decision.request_id = request->request_id();
  const Caller caller = call->first;  // `call` moves into the callback
  records_->DecideLate(
      caller, std::move(decision),
      [this, reactor, response,
       call = *std::move(call)](absl::StatusOr<vigil::v1::MutationResult> result) {
        if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
        // The submission as decided, read after the commit.
        queries_->GetLateSubmission(
            call.first, call.second,
            [reactor, response](absl::StatusOr<vigil::v1::LateSubmission> late) {
              FinishUnary(reactor, std::move(late), response);
            });
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::GetRecord(grpc::CallbackServerContext* context,
                                                   const vigil::v1::GetRecordRequest* request,
                                                   vigil::v1::GetRecordResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForRecord(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  queries_->GetRecord(call->first, call->second, std::nullopt,
                      [reactor, response](absl::StatusOr<vigil::v1::GetRecordResponse> record) {
                        FinishUnary(reactor, std::move(record), response);
                      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::MarkRecord(grpc::CallbackServerContext* context,
                                                    const vigil::v1::MarkRecordRequest* request,
                                                    vigil::v1::GetRecordResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForRecord(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  RecordStore::MarkRequest mark;
  mark.record_id = call->second;
  mark.state = request->state();
  mark.question = request->question();
  mark.etag = request->etag();
  mark.request_id = request->request_id();
  const Caller caller = call->first;  // `call` moves into the callback
  records_->MarkRecord(
      caller, std::move(mark),
      [this, reactor, response, call = *std::move(call)](absl::StatusOr<std::uint64_t> revision) {
        if (!revision.ok()) return reactor->Finish(ToGrpcStatus(revision.status()));
        // The record as the mark left it (its first result, for a retry).
        queries_->GetRecord(
            call.first, call.second, *revision,
            [reactor, response](absl::StatusOr<vigil::v1::GetRecordResponse> record) {
              FinishUnary(reactor, std::move(record), response);
            });
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListConflicts(
    grpc::CallbackServerContext* context, const vigil::v1::ListConflictsRequest* request,
    vigil::v1::ListConflictsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // An empty parent: every visit.
  auto call = AdmitFor(*auth_, *context, reactor, request->parent(), VisitIdOfParent);
  if (!call) return reactor;
  queries_->ListConflicts(
      call->first, call->second, *request,
      [reactor, response](absl::StatusOr<vigil::v1::ListConflictsResponse> page) {
        FinishUnary(reactor, std::move(page), response);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::GetConflict(grpc::CallbackServerContext* context,
                                                     const vigil::v1::GetConflictRequest* request,
                                                     vigil::v1::ConflictView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForConflict(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  queries_->GetConflict(call->first, call->second,
                        [reactor, response](absl::StatusOr<vigil::v1::ConflictView> view) {
                          FinishUnary(reactor, std::move(view), response);
                        });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ResolveConflict(
    grpc::CallbackServerContext* context, const vigil::v1::ResolveConflictRequest* request,
    vigil::v1::ResolveConflictResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForConflict(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  RecordStore::ResolveRequest resolve;
  resolve.conflict_id = call->second;
  if (request->has_take()) resolve.take = request->take();
  if (request->has_body()) resolve.body = request->body();
  resolve.reason = request->reason();
  resolve.etag = request->etag();
  resolve.request_id = request->request_id();
  const Caller caller = call->first;  // `call` moves into the callback
  records_->ResolveConflict(
      caller, std::move(resolve),
      [this, reactor, response,
       caller](absl::StatusOr<RecordStore::Resolved> resolved) {
        if (!resolved.ok()) return reactor->Finish(ToGrpcStatus(resolved.status()));
        *response->mutable_result() = resolved->result;
        response->set_comment_id(resolved->comment_id);
        // The record as the caller sees it now.
        queries_->GetRecord(
            caller, resolved->record_id, std::nullopt,
            [reactor, response](absl::StatusOr<vigil::v1::GetRecordResponse> record) {
              if (record.ok()) *response->mutable_record() = std::move(*record->mutable_record());
              reactor->Finish(ToGrpcStatus(record.status()));
            });
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListParallelUpdates(
    grpc::CallbackServerContext* context, const vigil::v1::ListParallelUpdatesRequest* request,
    vigil::v1::ListParallelUpdatesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // An empty parent: every visit.
  auto call = AdmitFor(*auth_, *context, reactor, request->parent(), VisitIdOfParent);
  if (!call) return reactor;
  queries_->ListParallelUpdates(
      call->first, call->second, *request,
      [reactor, response](absl::StatusOr<vigil::v1::ListParallelUpdatesResponse> page) {
        FinishUnary(reactor, std::move(page), response);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::GetParallelUpdate(
    grpc::CallbackServerContext* context, const vigil::v1::GetParallelUpdateRequest* request,
    vigil::v1::ParallelUpdate* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForParallel(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  queries_->GetParallelUpdate(call->first, call->second,
                              [reactor, response](absl::StatusOr<vigil::v1::ParallelUpdate> view) {
                                FinishUnary(reactor, std::move(view), response);
                              });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::CheckParallelUpdate(
    grpc::CallbackServerContext* context, const vigil::v1::CheckParallelUpdateRequest* request,
    vigil::v1::ParallelUpdate* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitForParallel(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  const Caller caller = call->first;  // `call` moves into the callback
  const std::string id = call->second;
  records_->CheckParallelUpdate(
      caller, {id, request->etag(), request->request_id()},
      [this, reactor, response, caller, id](absl::Status checked) {
        if (!checked.ok()) return reactor->Finish(ToGrpcStatus(checked));
        queries_->GetParallelUpdate(
            caller, id, [reactor, response](absl::StatusOr<vigil::v1::ParallelUpdate> view) {
              FinishUnary(reactor, std::move(view), response);
            });
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::CreateComment(
    grpc::CallbackServerContext* context, const vigil::v1::CreateCommentRequest* request,
    vigil::v1::GetRecordResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<VisitCall> call = AdmitForVisit(*auth_, *context, reactor, request->parent());
  if (!call) return reactor;
  const Caller caller = call->caller;
  records_->CreateComment(
      caller,
      {call->visit_id, request->subject_record_id(), request->subject_field_path(),
       request->reply_to_comment_id(), request->text(), request->request_id()},
      [this, reactor, response, caller](absl::StatusOr<std::string> comment_id) {
        if (!comment_id.ok()) return reactor->Finish(ToGrpcStatus(comment_id.status()));
        queries_->GetRecord(caller, *comment_id, std::nullopt,
                            [reactor, response](absl::StatusOr<vigil::v1::GetRecordResponse> r) {
                              FinishUnary(reactor, std::move(r), response);
                            });
      });
  return reactor;
}

}  // namespace vigil::server
