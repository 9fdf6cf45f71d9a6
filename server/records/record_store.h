// The record engine's entry points: push (idempotent, ordered, merged
// through sync::ApplyMutation, durable before the reply; push_batch.h), pull
// (per scope, from one snapshot, in commit order, with authenticated
// resumable cursors; cursor.h), history, and walks of a scope for receipts.
// Every read is redacted by AccessPolicy for its caller and audited when it
// shows sensitive content. The tables it stands on are in tables.h.
// Files: record_store.cc (push), pull.cc, history.cc, visit_moves.cc,
// late_decisions.cc, review_marks.cc, conflict_resolution.cc.
#ifndef VIGIL_SERVER_RECORDS_RECORD_STORE_H_
#define VIGIL_SERVER_RECORDS_RECORD_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "server/records/cursor.h"
#include "server/records/push_batch.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "sync/hlc.h"
#include "sync/scope.h"
#include "vigil/v1/sync.pb.h"

namespace vigil::server {

struct RecordStoreOptions {
  // Default: 500 mutations and 16 MiB per push, 1 MiB per body.
  std::size_t max_batch_mutations = 500;
  std::size_t max_batch_bytes = 16 << 20;
  std::size_t max_body_bytes = 1 << 20;
  // Default page of a pull, and the most a client may ask for.
  std::uint32_t default_pull_limit = 500;
  std::uint32_t max_pull_limit = 1000;
  // A page stops once it holds this many bytes (at least one record), so it
  // fits a client's default 4 MiB receive limit.
  std::size_t max_pull_bytes = 2 << 20;
};

// (scope, newest seq) pairs touched by one committed push.
using ChangeListener =
    absl::AnyInvocable<void(const std::vector<std::pair<std::string, std::uint64_t>>&)>;

class RecordStore {
 public:
  // Loads (creating on first use) the cursor authentication key. `storage`,
  // `keys` and `policy` are borrowed and must outlive the store; `policy`
  // decides what each caller may read and write. Thread-safe.
  static absl::StatusOr<std::unique_ptr<RecordStore>> Create(storage::Storage* storage,
                                                             const storage::KeyRing* keys,
                                                             const AccessPolicy* policy,
                                                             RecordStoreOptions options);

  // The last durable commit sequence number (where a subscription starts).
  std::uint64_t LastCommittedSeq() const { return storage_->LastCommittedSeq(); }

  // Called on the commit thread after every push that changed something;
  // must be quick. Set before serving.
  void SetChangeListener(ChangeListener listener) { listener_ = std::move(listener); }

  // Parses a push request from its wire bytes. Beyond what the generated
  // parser does, a failure names the first mutation that does not parse
  // (e.g. invalid UTF-8 in a text field): InvalidArgument, reason
  // MUTATION_MALFORMED with metadata "index", or REQUEST_MALFORMED /
  // BATCH_TOO_LARGE.
  absl::StatusOr<vigil::v1::PushRequest> ParsePush(std::string_view wire) const;

  using PushDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::PushResponse>)>;
  // Applies the batch in one atomic commit (PushBatch); `done` runs once it
  // is durable. Each mutation's author and device are set to the caller's.
  // A mutation into a scope the caller may not write, or of a record it does
  // not see in full, fails the batch with PERMISSION_DENIED
  // (SCOPE_NOT_PERMITTED).
  void Push(const Caller& caller, vigil::v1::PushRequest request, PushDoneFn done);

  // A serialized vigil.v1.PullResponse holding what the caller may see
  // (access_policy.h), or only `purge` for a scope it was taken off.
  // Sensitive records are audited as read before `done` runs.
  using PullDoneFn = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;
  void Pull(const Caller& caller, const vigil::v1::PullRequest& request, PullDoneFn done);
  using HistoryDoneFn =
      absl::AnyInvocable<void(absl::StatusOr<vigil::v1::GetHistoryResponse>)>;
  void History(const Caller& caller, const vigil::v1::GetHistoryRequest& request,
               HistoryDoneFn done);

  // A lifecycle move of a visit (ReviewService.TransitionVisit). In one
  // commit: when `etag` is set and is not the Visit record's (RecordEtag),
  // ABORTED, reason ETAG_MISMATCH; else the move is an edit of the Visit
  // record made on its head, with `request_id` as its mutation id, through
  // the push's steps (PushBatch): the same rules, and a retry gets the
  // first result. `done` gets that result. INVALID_ARGUMENT
  // (REQUEST_ID_INVALID) for a request id that is no UUIDv7 or ULID;
  // PERMISSION_DENIED / NOT_FOUND as for a read of the visit.
  struct VisitMoveRequest {
    std::string visit_id;
    vigil::v1::VisitState to = vigil::v1::VISIT_STATE_UNSPECIFIED;
    vigil::v1::VisitTransitionIntent intent;
    std::string etag;
    std::string request_id;
    // Required for a move to PUBLISHED (else FAILED_PRECONDITION,
    // REPORT_REQUIRED), and stored in the same commit (publication.h):
    // ABORTED (ETAG_MISMATCH) when a record of the visit changed after the
    // snapshot it was rendered from (its seq).
    std::optional<vigil::v1::PublishedReport> publication;
  };
  using MoveDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::MutationResult>)>;
  void MoveVisit(const Caller& caller, VisitMoveRequest request, MoveDoneFn done);

  // The NPM unit's decision on a late submission (ReviewService.
  // DecideLateSubmission; late_decisions.cc), in one commit: PERMISSION_
  // DENIED (REVIEWER_ONLY) unless the caller is a reviewer; NOT_FOUND
  // (RESOURCE_NOT_FOUND) when `visit_id` holds no late submission
  // `mutation_id`; ABORTED (ETAG_MISMATCH) for a stale `etag`
  // (LateSubmissionEtag); FAILED_PRECONDITION (LATE_SUBMISSION_DECIDED)
  // when it was decided by another request. Accepted, the held mutation
  // goes through PushBatch::ApplyAccepted; rejected, it stays held. `done`
  // gets the mutation's result with the decision (the first one, for a
  // retry with the same request id).
  struct LateDecisionRequest {
    std::string visit_id;
    std::string mutation_id;
    vigil::v1::LateOutcome outcome = vigil::v1::LATE_OUTCOME_UNSPECIFIED;
    std::string reason;
    std::string etag;
    std::string request_id;
  };
  void DecideLate(const Caller& caller, LateDecisionRequest request, MoveDoneFn done);

  // A reviewer's mark on a record of a visit (ReviewService.MarkRecord;
  // review_marks.cc), in one commit: the next revision of the record with
  // `state` and `question` in Record.review, its body unchanged, under
  // `request_id` (a retry gets the first result's revision, the same id
  // for another request is ALREADY_EXISTS, MUTATION_ID_REUSED).
  // PERMISSION_DENIED (REVIEWER_ONLY); INVALID_ARGUMENT
  // (REVIEW_MARK_INVALID, QUESTION_REQUIRED, REQUEST_ID_INVALID,
  // NOT_A_VISIT_RECORD); NOT_FOUND (RESOURCE_NOT_FOUND); ABORTED
  // (ETAG_MISMATCH); FAILED_PRECONDITION (VISIT_LOCKED, RECORD_DELETED).
  // `done` gets the marked revision.
  struct MarkRequest {
    std::string record_id;
    vigil::v1::ReviewMarkState state = vigil::v1::REVIEW_MARK_STATE_UNSPECIFIED;
    std::string question;
    std::string etag;
    std::string request_id;
  };
  using MarkDoneFn = absl::AnyInvocable<void(absl::StatusOr<std::uint64_t>)>;
  void MarkRecord(const Caller& caller, MarkRequest request, MarkDoneFn done);

  // Resolves an open conflict (ReviewService.ResolveConflict;
  // conflict_resolution.cc) in one commit: an edit of its record by the
  // caller made on the head, through the push's steps (PushBatch), that
  // takes side `take` of the conflict (sync::TakeSide) or writes `body`,
  // naming the conflict it resolves, under `request_id`; and a Comment on
  // the record (about the conflict's field) holding `reason`, whose ids
  // derive from the request id (sync::DerivedId). A retry gets the first
  // result. INVALID_ARGUMENT (REASON_REQUIRED, RESOLUTION_INVALID,
  // REQUEST_ID_INVALID); NOT_FOUND (RESOURCE_NOT_FOUND) when the conflict
  // is not open (PERMISSION_DENIED for a caller who may not read its
  // visit, unless a reviewer); ABORTED (ETAG_MISMATCH); anything the push
  // refuses.
  struct ResolveRequest {
    std::string conflict_id;
    std::optional<std::uint32_t> take;
    std::optional<vigil::v1::RecordBody> body;
    std::string reason;
    std::string etag;
    std::string request_id;
  };
  struct Resolved {
    vigil::v1::MutationResult result;
    std::string record_id;
    std::string comment_id;
  };
  using ResolveDoneFn = absl::AnyInvocable<void(absl::StatusOr<Resolved>)>;
  void ResolveConflict(const Caller& caller, ResolveRequest request, ResolveDoneFn done);

  // A comment (ReviewService.CreateComment; comments.cc) on record
  // `subject_record_id` of visit `visit_id`, or a reply to comment
  // `reply_to_comment_id`, by the caller, in one commit: a Comment record
  // created through the push's steps, its record id derived from
  // `request_id` (sync::DerivedId), the request id its mutation id (a retry
  // gets the first result). INVALID_ARGUMENT (TEXT_REQUIRED,
  // SUBJECT_REQUIRED, FIELD_PATH_INVALID, REPLY_TO_INVALID,
  // REQUEST_ID_INVALID); NOT_FOUND (RESOURCE_NOT_FOUND) for a subject not in
  // the visit (PERMISSION_DENIED unless a reviewer); FAILED_PRECONDITION
  // (VISIT_LOCKED); anything the push refuses. `done` gets the comment's
  // record id.
  struct CommentRequest {
    std::string visit_id;
    std::string subject_record_id;
    std::string subject_field_path;
    std::string reply_to_comment_id;
    std::string text;
    std::string request_id;
  };
  using CommentDoneFn = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;
  void CreateComment(const Caller& caller, CommentRequest request, CommentDoneFn done);

  // A reviewer writes a recommendation (ReportService; recommendations.cc):
  // creates one, changes the fields `update_paths` names, or adds an
  // authority's response or a follow-up check. Each is a revision of the
  // Recommendation record (registry scope) through the push's own steps,
  // with `request_id` as its mutation id: a retry from the same device gets
  // the first result. PERMISSION_DENIED (REVIEWER_ONLY); INVALID_ARGUMENT
  // (REQUEST_ID_INVALID, TEXT_REQUIRED, ADDRESSEE_REQUIRED,
  // RECOMMENDATION_INVALID with the field, DATE_INVALID, FIELD_MASK_INVALID,
  // RESPONSE_INVALID, FOLLOW_UP_INVALID); NOT_FOUND (RESOURCE_NOT_FOUND);
  // ABORTED (ETAG_MISMATCH). `done` gets the record id and the revision
  // written.
  struct RecommendationWrite {
    enum class Kind { kCreate, kUpdate, kResponse, kFollowUp };
    Kind kind = Kind::kCreate;
    std::string record_id;  // all but kCreate
    std::string etag;       // optional
    std::string request_id;
    vigil::v1::Recommendation recommendation;  // kCreate, kUpdate
    std::vector<std::string> update_paths;     // kUpdate
    vigil::v1::AuthorityResponse response;     // kResponse
    vigil::v1::FollowUpCheck check;            // kFollowUp
  };
  struct RecommendationWritten {
    std::string record_id;
    std::uint64_t revision = 0;
  };
  using RecommendationDoneFn = absl::AnyInvocable<void(absl::StatusOr<RecommendationWritten>)>;
  void WriteRecommendation(const Caller& caller, RecommendationWrite write,
                           RecommendationDoneFn done);

  // A reviewer marks parallel update `id` checked (ReviewService.
  // CheckParallelUpdate; parallel_checks.cc), in one commit with its audit
  // entry, under `request_id` (a retry succeeds again; the id reused for
  // another request is ALREADY_EXISTS, MUTATION_ID_REUSED).
  // PERMISSION_DENIED (REVIEWER_ONLY); INVALID_ARGUMENT
  // (REQUEST_ID_INVALID); NOT_FOUND (RESOURCE_NOT_FOUND); ABORTED
  // (ETAG_MISMATCH, ParallelUpdateEtag); FAILED_PRECONDITION
  // (PARALLEL_UPDATE_CHECKED, metadata "checked_by").
  struct ParallelCheckRequest {
    std::string id;
    std::string etag;
    std::string request_id;
  };
  using CheckDoneFn = absl::AnyInvocable<void(absl::Status)>;
  void CheckParallelUpdate(const Caller& caller, ParallelCheckRequest request, CheckDoneFn done);

  // The record engine's side of a change of a visit's team, inside that
  // commit (IdentityStore::SetTeamChangedHook; visit_team.h).
  absl::Status OnTeamChanged(storage::CommitContext& ctx, const Caller& by,
                             std::string_view visit_id);

  // Visits every record of `scope` the caller may see (redacted as for a
  // pull) at one snapshot, in commit order, and returns that snapshot's
  // commit sequence number. PERMISSION_DENIED when it may not read it.
  absl::StatusOr<std::uint64_t> ForEachInScope(
      const Caller& caller, const sync::Scope& scope,
      absl::FunctionRef<void(const vigil::v1::Record&)> visit);

 private:
  RecordStore(storage::Storage* storage, const storage::KeyRing* keys,
              const AccessPolicy* policy, RecordStoreOptions options, CursorCodec cursors,
              std::optional<std::uint64_t> restored_at)
      : storage_(storage),
        keys_(keys),
        policy_(policy),
        options_(options),
        cursors_(std::move(cursors)),
        restored_at_(restored_at) {}

  absl::Status ValidateBatch(const vigil::v1::PushRequest& request) const;
  // Runs `apply` on the writer thread as one push commit, then tells the
  // change listener what it touched.
  using ApplyFn = absl::AnyInvocable<absl::Status(CommitTables&, PushBatch&)>;
  void CommitPush(const Caller& caller, ApplyFn apply,
                  absl::AnyInvocable<void(absl::Status)> done);

  // pull.cc
  // INVALID_ARGUMENT, CURSOR_INVALID: the device pulls `scope` from the
  // beginning. Names the restore point when the database was restored.
  absl::Status CursorInvalid(std::string_view scope, std::string_view message) const;
  absl::StatusOr<std::string> ReadPage(const Caller& caller, const sync::Scope& scope,
                                       const vigil::v1::PullRequest& request,
                                       std::vector<std::string>& sensitive_ids);

  // history.cc
  absl::StatusOr<vigil::v1::GetHistoryResponse> ReadHistory(
      const Caller& caller, const vigil::v1::GetHistoryRequest& request,
      std::vector<std::string>& sensitive_ids);

  storage::Storage* storage_;
  const storage::KeyRing* keys_;
  const AccessPolicy* policy_;
  const RecordStoreOptions options_;
  const CursorCodec cursors_;
  // The last commit of the backup this database was restored from, if it was.
  const std::optional<std::uint64_t> restored_at_;
  ChangeListener listener_;
  // Used only inside push PrepareFns, which the commit pipeline runs one at
  // a time on its writer thread.
  sync::HybridClock clock_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_RECORD_STORE_H_
