// ReviewService's queries over findings, interviews and a facility's
// history: parse, call ReviewQueries, finish.
#include "server/api/reactors.h"
#include "server/api/review_admission.h"
#include "server/api/review_service.h"

namespace vigil::server {

using review_admission::AdmitFor;
using review_admission::VisitIdOfParent;

grpc::ServerUnaryReactor* ReviewService::ListFindings(grpc::CallbackServerContext* context,
                                                      const vigil::v1::ListFindingsRequest* request,
                                                      vigil::v1::ListFindingsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->parent(), VisitIdOfParent);
  if (!call) return reactor;
  FinishUnary(reactor, queries_->ListFindings(call->first, call->second, *request), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::ListInterviews(
    grpc::CallbackServerContext* context, const vigil::v1::ListInterviewsRequest* request,
    vigil::v1::ListInterviewsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->parent(), VisitIdOfParent);
  if (!call) return reactor;
  queries_->ListInterviews(
      call->first, call->second, *request,
      [reactor, response](absl::StatusOr<vigil::v1::ListInterviewsResponse> page) {
        FinishUnary(reactor, std::move(page), response);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReviewService::GetFacilityHistory(
    grpc::CallbackServerContext* context, const vigil::v1::GetFacilityHistoryRequest* request,
    vigil::v1::FacilityHistory* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  FinishUnary(reactor, queries_->GetFacilityHistory(*caller, request->facility_id()), response);
  return reactor;
}

}  // namespace vigil::server
