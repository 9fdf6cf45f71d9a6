// vigil.v1.ReportService on the gRPC callback API: recommendations and
// their follow-up, visit reports (export, publication) and briefings. Handlers authenticate, parse resource names, and call
// the record engine (RecordStore::WriteRecommendation for writes,
// ReviewQueries for reads, recommendation_queries.cc), which holds every
// rule.
#ifndef VIGIL_SERVER_API_REPORT_SERVICE_H_
#define VIGIL_SERVER_API_REPORT_SERVICE_H_

#include "server/auth/authenticator.h"
#include "server/records/publication.h"
#include "server/records/record_store.h"
#include "server/records/review_queries.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil::server {

class ReportService final : public vigil::v1::ReportService::CallbackService {
 public:
  // Everything is borrowed and must outlive the service.
  ReportService(Authenticator* auth, RecordStore* records, ReviewQueries* queries,
                Publisher* publisher)
      : auth_(auth), records_(records), queries_(queries), publisher_(publisher) {}

  grpc::ServerUnaryReactor* CreateRecommendation(
      grpc::CallbackServerContext* context, const vigil::v1::CreateRecommendationRequest* request,
      vigil::v1::RecommendationView* response) override;
  grpc::ServerUnaryReactor* UpdateRecommendation(
      grpc::CallbackServerContext* context, const vigil::v1::UpdateRecommendationRequest* request,
      vigil::v1::RecommendationView* response) override;
  grpc::ServerUnaryReactor* AddAuthorityResponse(
      grpc::CallbackServerContext* context, const vigil::v1::AddAuthorityResponseRequest* request,
      vigil::v1::RecommendationView* response) override;
  grpc::ServerUnaryReactor* AddFollowUpCheck(grpc::CallbackServerContext* context,
                                             const vigil::v1::AddFollowUpCheckRequest* request,
                                             vigil::v1::RecommendationView* response) override;
  grpc::ServerUnaryReactor* GetRecommendation(grpc::CallbackServerContext* context,
                                              const vigil::v1::GetRecommendationRequest* request,
                                              vigil::v1::RecommendationView* response) override;
  grpc::ServerUnaryReactor* GetRecommendationLineage(
      grpc::CallbackServerContext* context,
      const vigil::v1::GetRecommendationLineageRequest* request,
      vigil::v1::RecommendationLineage* response) override;
  grpc::ServerUnaryReactor* ListRecommendations(
      grpc::CallbackServerContext* context, const vigil::v1::ListRecommendationsRequest* request,
      vigil::v1::ListRecommendationsResponse* response) override;
  grpc::ServerUnaryReactor* ListAuthorityRecords(
      grpc::CallbackServerContext* context, const vigil::v1::ListAuthorityRecordsRequest* request,
      vigil::v1::ListAuthorityRecordsResponse* response) override;

  grpc::ServerUnaryReactor* ExportVisitReport(grpc::CallbackServerContext* context,
                                              const vigil::v1::ExportVisitReportRequest* request,
                                              vigil::v1::ExportVisitReportResponse* response) override;
  grpc::ServerUnaryReactor* PublishVisitReport(grpc::CallbackServerContext* context,
                                               const vigil::v1::PublishVisitReportRequest* request,
                                               vigil::v1::PublishedReport* response) override;
  grpc::ServerUnaryReactor* GetPublishedReport(grpc::CallbackServerContext* context,
                                               const vigil::v1::GetPublishedReportRequest* request,
                                               vigil::v1::PublishedReport* response) override;
  grpc::ServerUnaryReactor* GetBriefing(grpc::CallbackServerContext* context,
                                        const vigil::v1::GetBriefingRequest* request,
                                        vigil::v1::Briefing* response) override;
  grpc::ServerUnaryReactor* GetStatistics(grpc::CallbackServerContext* context,
                                          const vigil::v1::GetStatisticsRequest* request,
                                          vigil::v1::GetStatisticsResponse* response) override;

 private:
  // Writes `write` for the caller, then answers with the recommendation as
  // the write left it.
  void Write(grpc::ServerUnaryReactor* reactor, const Caller& caller,
             RecordStore::RecommendationWrite write, vigil::v1::RecommendationView* response);

  Authenticator* auth_;
  RecordStore* records_;
  ReviewQueries* queries_;
  Publisher* publisher_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_REPORT_SERVICE_H_
