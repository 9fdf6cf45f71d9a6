// vigil.v1.ReviewService on the gRPC callback API: the NPM unit's desk.
// Handlers authenticate, parse resource names, and call the record engine
// (server/records: review_queries.h for reads, RecordStore::MoveVisit for
// lifecycle moves, RecordStore::DecideLate for late submissions), which
// holds every rule.
#ifndef VIGIL_SERVER_API_REVIEW_SERVICE_H_
#define VIGIL_SERVER_API_REVIEW_SERVICE_H_

#include "server/auth/authenticator.h"
#include "server/records/record_store.h"
#include "server/records/review_queries.h"
#include "vigil/v1/review.grpc.pb.h"

namespace vigil::server {

class ReviewService final : public vigil::v1::ReviewService::CallbackService {
 public:
  // Everything is borrowed and must outlive the service.
  ReviewService(Authenticator* auth, RecordStore* records, ReviewQueries* queries)
      : auth_(auth), records_(records), queries_(queries) {}

  grpc::ServerUnaryReactor* GetVisit(grpc::CallbackServerContext* context,
                                     const vigil::v1::GetVisitRequest* request,
                                     vigil::v1::VisitView* response) override;
  grpc::ServerUnaryReactor* TransitionVisit(grpc::CallbackServerContext* context,
                                            const vigil::v1::TransitionVisitRequest* request,
                                            vigil::v1::VisitView* response) override;
  grpc::ServerUnaryReactor* ListReviewQueue(grpc::CallbackServerContext* context,
                                            const vigil::v1::ListReviewQueueRequest* request,
                                            vigil::v1::ListReviewQueueResponse* response) override;
  grpc::ServerUnaryReactor* ListVisits(grpc::CallbackServerContext* context,
                                       const vigil::v1::ListVisitsRequest* request,
                                       vigil::v1::ListVisitsResponse* response) override;
  grpc::ServerUnaryReactor* ListLateSubmissions(
      grpc::CallbackServerContext* context, const vigil::v1::ListLateSubmissionsRequest* request,
      vigil::v1::ListLateSubmissionsResponse* response) override;
  grpc::ServerUnaryReactor* GetRecord(grpc::CallbackServerContext* context,
                                      const vigil::v1::GetRecordRequest* request,
                                      vigil::v1::GetRecordResponse* response) override;
  grpc::ServerUnaryReactor* MarkRecord(grpc::CallbackServerContext* context,
                                       const vigil::v1::MarkRecordRequest* request,
                                       vigil::v1::GetRecordResponse* response) override;
  grpc::ServerUnaryReactor* ListConflicts(grpc::CallbackServerContext* context,
                                          const vigil::v1::ListConflictsRequest* request,
                                          vigil::v1::ListConflictsResponse* response) override;
  grpc::ServerUnaryReactor* GetConflict(grpc::CallbackServerContext* context,
                                        const vigil::v1::GetConflictRequest* request,
                                        vigil::v1::ConflictView* response) override;
  grpc::ServerUnaryReactor* ResolveConflict(grpc::CallbackServerContext* context,
                                            const vigil::v1::ResolveConflictRequest* request,
                                            vigil::v1::ResolveConflictResponse* response) override;
  grpc::ServerUnaryReactor* GetLateSubmission(grpc::CallbackServerContext* context,
                                              const vigil::v1::GetLateSubmissionRequest* request,
                                              vigil::v1::LateSubmission* response) override;
  grpc::ServerUnaryReactor* DecideLateSubmission(
      grpc::CallbackServerContext* context, const vigil::v1::DecideLateSubmissionRequest* request,
      vigil::v1::LateSubmission* response) override;
  grpc::ServerUnaryReactor* ListParallelUpdates(
      grpc::CallbackServerContext* context, const vigil::v1::ListParallelUpdatesRequest* request,
      vigil::v1::ListParallelUpdatesResponse* response) override;
  grpc::ServerUnaryReactor* GetParallelUpdate(grpc::CallbackServerContext* context,
                                              const vigil::v1::GetParallelUpdateRequest* request,
                                              vigil::v1::ParallelUpdate* response) override;
  grpc::ServerUnaryReactor* CheckParallelUpdate(
      grpc::CallbackServerContext* context, const vigil::v1::CheckParallelUpdateRequest* request,
      vigil::v1::ParallelUpdate* response) override;
  grpc::ServerUnaryReactor* CreateComment(grpc::CallbackServerContext* context,
                                          const vigil::v1::CreateCommentRequest* request,
                                          vigil::v1::GetRecordResponse* response) override;
  // Queries over findings, interviews and a facility's history
  // (review_query_service.cc).
  grpc::ServerUnaryReactor* ListFindings(grpc::CallbackServerContext* context,
                                         const vigil::v1::ListFindingsRequest* request,
                                         vigil::v1::ListFindingsResponse* response) override;
  grpc::ServerUnaryReactor* ListInterviews(grpc::CallbackServerContext* context,
                                           const vigil::v1::ListInterviewsRequest* request,
                                           vigil::v1::ListInterviewsResponse* response) override;
  grpc::ServerUnaryReactor* GetFacilityHistory(grpc::CallbackServerContext* context,
                                               const vigil::v1::GetFacilityHistoryRequest* request,
                                               vigil::v1::FacilityHistory* response) override;
  grpc::ServerUnaryReactor* ListComments(grpc::CallbackServerContext* context,
                                         const vigil::v1::ListCommentsRequest* request,
                                         vigil::v1::ListCommentsResponse* response) override;

 private:
  Authenticator* auth_;
  RecordStore* records_;
  ReviewQueries* queries_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_REVIEW_SERVICE_H_
