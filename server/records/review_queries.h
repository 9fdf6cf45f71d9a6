// The review desk's reads (vigil.v1.ReviewService): visits with their
// counts and the moves a caller may make, the review queue, and ListVisits
// over the visit index (visit_index.h). Each answer comes from one
// snapshot; every record in it is redacted by AccessPolicy's Redact, as a
// pull redacts it. Page tokens are bound to the query and the caller.
// Thread-safe.
#ifndef VIGIL_SERVER_RECORDS_REVIEW_QUERIES_H_
#define VIGIL_SERVER_RECORDS_REVIEW_QUERIES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "server/records/cursor.h"
#include "server/records/resource_names.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "vigil/v1/report.pb.h"
#include "vigil/v1/review.pb.h"

namespace vigil::server {

struct ReviewQueryOptions {
  // Default and largest page of a List method. Default: 50 and 200.
  std::uint32_t default_page_size = 50;
  std::uint32_t max_page_size = 200;
  // A page of ListVisits stops after examining this many index entries
  // that the filters then refuse (it may then hold fewer than page_size
  // visits, with a next_page_token): the bound of a filter that no index
  // serves. Default: 2000.
  std::uint32_t max_examined_per_page = 2000;
};

class ReviewQueries {
 public:
  // Loads the page token secret (the pull cursors' own). Everything is
  // borrowed and must outlive the queries.
  static absl::StatusOr<std::unique_ptr<ReviewQueries>> Create(storage::Storage* storage,
                                                               const storage::KeyRing* keys,
                                                               const AccessPolicy* policy,
                                                               ReviewQueryOptions options = {});

  // The visit as the caller may see it: the head, or `revision` of it (the
  // revision a move produced, for its first result). PERMISSION_DENIED
  // (SCOPE_NOT_PERMITTED) when it may not read the visit or there is none
  // (reviewers: NOT_FOUND, RESOURCE_NOT_FOUND).
  absl::StatusOr<vigil::v1::VisitView> GetVisit(const Caller& caller, std::string_view visit_id,
                                                std::optional<std::uint64_t> revision);

  // PERMISSION_DENIED (REVIEWER_ONLY) for anyone but NPM reviewers.
  absl::StatusOr<vigil::v1::ListReviewQueueResponse> ListReviewQueue(
      const Caller& caller, const vigil::v1::ListReviewQueueRequest& request, absl::Time now);

  // The visits the caller may read (field users: the visits whose team they
  // are on), filtered. INVALID_ARGUMENT: PAGE_TOKEN_INVALID, PAGE_SIZE_INVALID,
  // FILTER_INVALID.
  absl::StatusOr<vigil::v1::ListVisitsResponse> ListVisits(
      const Caller& caller, const vigil::v1::ListVisitsRequest& request);

  // A record as the caller may see it, at its head or at `revision` (the
  // one a mark produced, for its first result), with its etag.
  // PERMISSION_DENIED (SCOPE_NOT_PERMITTED) when it may not see it or there
  // is none (reviewers: NOT_FOUND, RESOURCE_NOT_FOUND). Sensitive content
  // shown is audited before `done` runs.
  using GetRecordDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::GetRecordResponse>)>;
  void GetRecord(const Caller& caller, std::string_view record_id,
                 std::optional<std::uint64_t> revision, GetRecordDoneFn done);

  // The open conflicts of `visit_id` (every visit when empty) the caller
  // may read, filtered (conflict_queries.cc). INVALID_ARGUMENT:
  // FILTER_INVALID, PAGE_TOKEN_INVALID, PAGE_SIZE_INVALID.
  using ConflictsDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ListConflictsResponse>)>;
  void ListConflicts(const Caller& caller, std::string_view visit_id,
                     const vigil::v1::ListConflictsRequest& request, ConflictsDoneFn done);
  // One open conflict with its record, as the caller may see them.
  using ConflictDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ConflictView>)>;
  void GetConflict(const Caller& caller, std::string_view conflict_id, ConflictDoneFn done);

  // The parallel updates of `visit_id` (every visit when empty) the caller
  // may see, filtered (parallel_queries.cc): INVALID_ARGUMENT
  // (FILTER_INVALID, PAGE_TOKEN_INVALID, PAGE_SIZE_INVALID); and one of
  // them with the records it combined, as the caller may see them
  // (NOT_FOUND, RESOURCE_NOT_FOUND, for reviewers; PERMISSION_DENIED for
  // others when there is none or they may not see it). Sensitive content
  // shown is audited before `done` runs.
  using ParallelUpdatesDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ListParallelUpdatesResponse>)>;
  void ListParallelUpdates(const Caller& caller, std::string_view visit_id,
                           const vigil::v1::ListParallelUpdatesRequest& request,
                           ParallelUpdatesDoneFn done);
  using ParallelUpdateDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ParallelUpdate>)>;
  void GetParallelUpdate(const Caller& caller, std::string_view id, ParallelUpdateDoneFn done);

  // The findings and interviews of `visit_id` (every visit the caller may
  // read when empty), filtered, from the records index (record_queries.cc):
  // INVALID_ARGUMENT (FILTER_INVALID, PAGE_TOKEN_INVALID, PAGE_SIZE_INVALID).
  // Interviews shown are audited before `done` runs.
  absl::StatusOr<vigil::v1::ListFindingsResponse> ListFindings(
      const Caller& caller, std::string_view visit_id,
      const vigil::v1::ListFindingsRequest& request);
  using InterviewsDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ListInterviewsResponse>)>;
  void ListInterviews(const Caller& caller, std::string_view visit_id,
                      const vigil::v1::ListInterviewsRequest& request, InterviewsDoneFn done);
  // The history of facility `facility_id` from the visit index: NOT_FOUND
  // (RESOURCE_NOT_FOUND) when there is no such facility (PERMISSION_DENIED
  // for callers who may not learn of absence).
  absl::StatusOr<vigil::v1::FacilityHistory> GetFacilityHistory(const Caller& caller,
                                                                std::string_view facility_id);

  // The late submissions of the visit (`visit_id`; every visit when
  // empty); `done` runs once the reads of sensitive ones are audited.
  using LateDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::ListLateSubmissionsResponse>)>;
  void ListLateSubmissions(const Caller& caller, std::string_view visit_id,
                           const vigil::v1::ListLateSubmissionsRequest& request,
                           LateDoneFn done);

  // One late submission, pending or decided (reviewers only); NOT_FOUND
  // (RESOURCE_NOT_FOUND) when there is none. Audited like the list.
  using GetLateDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::LateSubmission>)>;
  void GetLateSubmission(const Caller& caller, const LateSubmissionName& name,
                         GetLateDoneFn done);

  // The visit's comments (or one record's), threaded, as the caller may see
  // them; `visit_id` already parsed from the request's parent.
  absl::StatusOr<vigil::v1::ListCommentsResponse> ListComments(
      const Caller& caller, std::string_view visit_id,
      const vigil::v1::ListCommentsRequest& request);

  // Recommendations (ReportService; recommendation_queries.cc), from the
  // records index, as the caller may see them, overdue as of `now`:
  // one (at its head, or at `revision`, a write's first result), with the
  // ids of those that repeat it; its lineage; a filtered page
  // (INVALID_ARGUMENT: FILTER_INVALID, PAGE_TOKEN_INVALID,
  // PAGE_SIZE_INVALID); and the record of each addressed authority.
  // NOT_FOUND (RESOURCE_NOT_FOUND) when there is no such recommendation;
  // PERMISSION_DENIED (SCOPE_NOT_PERMITTED) for a caller who may not read
  // the registry.
  absl::StatusOr<vigil::v1::RecommendationView> GetRecommendation(
      const Caller& caller, std::string_view id, std::optional<std::uint64_t> revision,
      absl::Time now);
  absl::StatusOr<vigil::v1::RecommendationLineage> GetRecommendationLineage(
      const Caller& caller, std::string_view id, absl::Time now);
  absl::StatusOr<vigil::v1::ListRecommendationsResponse> ListRecommendations(
      const Caller& caller, const vigil::v1::ListRecommendationsRequest& request, absl::Time now);
  absl::StatusOr<vigil::v1::ListAuthorityRecordsResponse> ListAuthorityRecords(
      const Caller& caller, const vigil::v1::ListAuthorityRecordsRequest& request,
      absl::Time now);

  // A visit's report (visit_report.cc) as the caller may see it, with the
  // protection rules of visit_report.proto applied, from one snapshot: its
  // commit sequence number and the Visit record's etag come with it. The
  // interviews whose pseudonyms it quotes are audited as read before `done`
  // runs. PERMISSION_DENIED (SCOPE_NOT_PERMITTED) for a caller who may not
  // read the visit; NOT_FOUND (RESOURCE_NOT_FOUND, reviewers) when there
  // is none.
  struct ReportRead {
    vigil::v1::VisitReport report;
    std::uint64_t seq = 0;
    std::string visit_etag;
  };
  using ReportDoneFn = absl::AnyInvocable<void(absl::StatusOr<ReportRead>)>;
  void ReadVisitReport(const Caller& caller, std::string_view visit_id, absl::Time now,
                       ReportDoneFn done);

  // The briefing pack of a visit (visit_report.cc) for a caller who may read
  // it (not services: PERMISSION_DENIED, SCOPE_NOT_PERMITTED). The
  // reprisal-watch interviews it names are audited as read.
  using BriefingDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::Briefing>)>;
  void GetBriefing(const Caller& caller, std::string_view visit_id, absl::Time now,
                   BriefingDoneFn done);

  // The annual statistics for `period` (statistics.cc): over the visits the
  // caller may read whose period overlaps it, and the recommendations
  // issued in it, overdue as of `now`. INVALID_ARGUMENT (FILTER_INVALID,
  // field "period"); PERMISSION_DENIED (SCOPE_NOT_PERMITTED) for a caller
  // who may not read the registry.
  absl::StatusOr<vigil::v1::Statistics> GetStatistics(const Caller& caller,
                                                      const vigil::v1::DateRange& period,
                                                      absl::Time now);

 private:
  ReviewQueries(storage::Storage* storage, const storage::KeyRing* keys,
                const AccessPolicy* policy, ReviewQueryOptions options, CursorCodec tokens)
      : storage_(storage),
        keys_(keys),
        policy_(policy),
        options_(options),
        tokens_(std::move(tokens)) {}

  absl::StatusOr<std::uint32_t> PageSize(std::uint32_t asked) const;
  // Where a List call resumes: "" without a token, the sealed position
  // with one; PAGE_TOKEN_INVALID for a token of another query, caller or
  // server, or altered.
  absl::StatusOr<std::string> ResumeAt(std::string_view binding, std::string_view token) const;
  absl::StatusOr<vigil::v1::ListLateSubmissionsResponse> ReadLate(
      const Caller& caller, std::string_view visit_id,
      const vigil::v1::ListLateSubmissionsRequest& request,
      std::vector<std::string>& sensitive_ids);

  storage::Storage* storage_;
  const storage::KeyRing* keys_;
  const AccessPolicy* policy_;
  const ReviewQueryOptions options_;
  const CursorCodec tokens_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_REVIEW_QUERIES_H_
