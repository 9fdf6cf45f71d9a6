#include "server/api/report_service.h"

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "server/api/reactors.h"
#include "server/api/review_admission.h"
#include "server/records/report_render.h"

namespace vigil::server {

using review_admission::AdmitFor;
using Write = RecordStore::RecommendationWrite;

void ReportService::Write(grpc::ServerUnaryReactor* reactor, const Caller& caller,
                          RecordStore::RecommendationWrite write,
                          vigil::v1::RecommendationView* response) {
  records_->WriteRecommendation(
      caller, std::move(write),
      [this, reactor, response,
       caller](absl::StatusOr<RecordStore::RecommendationWritten> written) {
        if (!written.ok()) return reactor->Finish(ToGrpcStatus(written.status()));
        // As the write left it (its first result, for a retry).
        FinishUnary(
            reactor,
            queries_->GetRecommendation(caller, written->record_id, written->revision, absl::Now()),
            response);
      });
}

grpc::ServerUnaryReactor* ReportService::CreateRecommendation(
    grpc::CallbackServerContext* context, const vigil::v1::CreateRecommendationRequest* request,
    vigil::v1::RecommendationView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  RecordStore::RecommendationWrite write;
  write.kind = Write::Kind::kCreate;
  write.request_id = request->request_id();
  write.recommendation = request->recommendation();
  Write(reactor, *caller, std::move(write), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::UpdateRecommendation(
    grpc::CallbackServerContext* context, const vigil::v1::UpdateRecommendationRequest* request,
    vigil::v1::RecommendationView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->name(), ParseRecommendationName);
  if (!call) return reactor;
  RecordStore::RecommendationWrite write;
  write.kind = Write::Kind::kUpdate;
  write.record_id = call->second;
  write.etag = request->etag();
  write.request_id = request->request_id();
  write.recommendation = request->recommendation();
  write.update_paths.assign(request->update_mask().paths().begin(),
                            request->update_mask().paths().end());
  Write(reactor, call->first, std::move(write), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::AddAuthorityResponse(
    grpc::CallbackServerContext* context, const vigil::v1::AddAuthorityResponseRequest* request,
    vigil::v1::RecommendationView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->name(), ParseRecommendationName);
  if (!call) return reactor;
  RecordStore::RecommendationWrite write;
  write.kind = Write::Kind::kResponse;
  write.record_id = call->second;
  write.etag = request->etag();
  write.request_id = request->request_id();
  write.response = request->response();
  Write(reactor, call->first, std::move(write), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::AddFollowUpCheck(
    grpc::CallbackServerContext* context, const vigil::v1::AddFollowUpCheckRequest* request,
    vigil::v1::RecommendationView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->name(), ParseRecommendationName);
  if (!call) return reactor;
  RecordStore::RecommendationWrite write;
  write.kind = Write::Kind::kFollowUp;
  write.record_id = call->second;
  write.etag = request->etag();
  write.request_id = request->request_id();
  write.check = request->check();
  Write(reactor, call->first, std::move(write), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::GetRecommendation(
    grpc::CallbackServerContext* context, const vigil::v1::GetRecommendationRequest* request,
    vigil::v1::RecommendationView* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->name(), ParseRecommendationName);
  if (!call) return reactor;
  FinishUnary(reactor,
              queries_->GetRecommendation(call->first, call->second, std::nullopt, absl::Now()),
              response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::GetRecommendationLineage(
    grpc::CallbackServerContext* context, const vigil::v1::GetRecommendationLineageRequest* request,
    vigil::v1::RecommendationLineage* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = AdmitFor(*auth_, *context, reactor, request->name(), ParseRecommendationName);
  if (!call) return reactor;
  FinishUnary(reactor, queries_->GetRecommendationLineage(call->first, call->second, absl::Now()),
              response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::ListRecommendations(
    grpc::CallbackServerContext* context, const vigil::v1::ListRecommendationsRequest* request,
    vigil::v1::ListRecommendationsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  FinishUnary(reactor, queries_->ListRecommendations(*caller, *request, absl::Now()), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::ListAuthorityRecords(
    grpc::CallbackServerContext* context, const vigil::v1::ListAuthorityRecordsRequest* request,
    vigil::v1::ListAuthorityRecordsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  FinishUnary(reactor, queries_->ListAuthorityRecords(*caller, *request, absl::Now()), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::ExportVisitReport(
    grpc::CallbackServerContext* context, const vigil::v1::ExportVisitReportRequest* request,
    vigil::v1::ExportVisitReportResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<review_admission::VisitCall> call =
      review_admission::AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  const vigil::v1::ReportFormat format = request->format();
  // A format of no visit report is refused before anything is read.
  if (absl::Status s = RenderReport(vigil::v1::VisitReport(), format).status(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  queries_->ReadVisitReport(
      call->caller, call->visit_id, absl::Now(),
      [reactor, response, format](absl::StatusOr<ReviewQueries::ReportRead> read) {
        if (!read.ok()) return reactor->Finish(ToGrpcStatus(read.status()));
        absl::StatusOr<vigil::v1::ReportDocument> doc = RenderReport(read->report, format);
        if (!doc.ok()) return reactor->Finish(ToGrpcStatus(doc.status()));
        *response->mutable_report() = std::move(read->report);
        *response->mutable_document() = *std::move(doc);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::PublishVisitReport(
    grpc::CallbackServerContext* context, const vigil::v1::PublishVisitReportRequest* request,
    vigil::v1::PublishedReport* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<review_admission::VisitCall> call =
      review_admission::AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  const Caller caller = call->caller;
  publisher_->Publish(caller,
                      {.visit_id = call->visit_id,
                       .etag = request->etag(),
                       .request_id = request->request_id(),
                       .note = request->note()},
                      [reactor, response](absl::StatusOr<vigil::v1::PublishedReport> published) {
                        FinishUnary(reactor, std::move(published), response);
                      });
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::GetPublishedReport(
    grpc::CallbackServerContext* context, const vigil::v1::GetPublishedReportRequest* request,
    vigil::v1::PublishedReport* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<review_admission::VisitCall> call =
      review_admission::AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  FinishUnary(reactor, publisher_->Get(call->caller, call->visit_id), response);
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::GetBriefing(grpc::CallbackServerContext* context,
                                                     const vigil::v1::GetBriefingRequest* request,
                                                     vigil::v1::Briefing* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<review_admission::VisitCall> call =
      review_admission::AdmitForVisit(*auth_, *context, reactor, request->name());
  if (!call) return reactor;
  queries_->GetBriefing(call->caller, call->visit_id, absl::Now(),
                        [reactor, response](absl::StatusOr<vigil::v1::Briefing> briefing) {
                          FinishUnary(reactor, std::move(briefing), response);
                        });
  return reactor;
}

grpc::ServerUnaryReactor* ReportService::GetStatistics(
    grpc::CallbackServerContext* context, const vigil::v1::GetStatisticsRequest* request,
    vigil::v1::GetStatisticsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  absl::StatusOr<vigil::v1::GetStatisticsResponse> answer =
      [&]() -> absl::StatusOr<vigil::v1::GetStatisticsResponse> {
    RETURN_IF_ERROR(RenderStatistics(vigil::v1::Statistics(), request->format()).status());
    vigil::v1::GetStatisticsResponse r;
    ASSIGN_OR_RETURN(*r.mutable_statistics(),
                     queries_->GetStatistics(*caller, request->period(), absl::Now()));
    ASSIGN_OR_RETURN(*r.mutable_document(), RenderStatistics(r.statistics(), request->format()));
    return r;
  }();
  FinishUnary(reactor, std::move(answer), response);
  return reactor;
}

}  // namespace vigil::server
