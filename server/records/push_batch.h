// One push batch, applied inside its commit on the writer thread, mutation
// by mutation, as named steps:
//
//   AnswerResend      a mutation id seen before gets its first result again
//                     (only its own device; another edit under the same id
//                     is refused, MUTATION_ID_REUSED)
//   Authorize         the caller's rights in the record's scope, read through
//                     this commit; a record it does not see in full, or a
//                     create squatting another scope's id, is refused
//   CheckShape        base revision, kind, target, the offline chain's base
//                     mutation, the visit record's own scope
//   CheckLock         whether the visit is approved or published (then the
//                     mutation is held, not applied; not for one the NPM
//                     unit accepts, ApplyAccepted)
//   ResolveBase       the accepted HLC time; the body to merge against (the
//                     chained mutation's pushed body, or a revision from
//                     history); an edit made on a revision the server no
//                     longer has is refused (BASE_REVISION_UNKNOWN)
//   KeepServerFields  server-written fields (server_written.h) as the edit's
//                     base has them: not the device's to write
//   RequestVisitMove  a change of a Visit's state asks for a lifecycle move
//                     from the head's state (visit_lifecycle.h); the state
//                     is never merged
//   Merge             sync::ApplyMutation
//   AuthorizeOutcome  the writer sees the result in full
//   HoldIfLocked      a locked visit's mutation goes to the late queue
//   RecordVisitMove   the move's VisitTransition, its reviewer, its audit
//                     entry; a new Visit record's team from the team table
//   RecordStatusChange  a Recommendation whose status changes gets the
//                     change in its status_history (by whom, when, with its
//                     status_note) and status_changed_at
//   AnswerMark        a team member's change of a record under a review
//                     mark (Record.review) answers the mark
//   Persist           head, history, change feed, view epochs, audit, the
//                     stored result (with the pushed body when it was merged)
//   MirrorFollowUp    a FollowUpCheck record of a visit (a tablet's check)
//                     is kept in the recommendation it names, by a server
//                     revision of that recommendation (follow_up_mirror.cc)
//   NoteParallelUpdate  a clean merge with edits the device had not seen
//                     (the record's content changed since the edit's base)
//                     is kept for a reviewer to check (parallel_updates.h)
//   AnswerByReply     a team member's new Comment on a record with a
//                     question answers the question (a revision of that
//                     record)
//
// Any step's error fails the whole batch: the commit writes nothing.
#ifndef VIGIL_SERVER_RECORDS_PUSH_BATCH_H_
#define VIGIL_SERVER_RECORDS_PUSH_BATCH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "server/records/tables.h"
#include "server/records/visit_lifecycle.h"
#include "storage/audit_log.h"
#include "sync/hlc.h"
#include "sync/record_merge.h"
#include "vigil/v1/sync.pb.h"

namespace vigil::server {

class PushBatch {
 public:
  // Everything is borrowed for the duration of one commit.
  PushBatch(const Caller& caller, const AccessPolicy& policy, CommitTables& tables,
            sync::HybridClock& clock, absl::Time now)
      : caller_(caller),
        policy_(policy),
        tables_(tables),
        audit_(tables.context()),
        clock_(clock),
        now_(now) {}

  // Applies the mutations of `request` in order (their author and device
  // already the caller's), adding one result per mutation to `response`.
  absl::Status Apply(vigil::v1::PushRequest& request, vigil::v1::PushResponse& response);

  // Applies `held`, a late submission the caller (an NPM reviewer) accepts,
  // as the edit of the device that pushed it (author and device as held):
  // the steps from Authorize on, with the visit's lock set aside. Its stored
  // result becomes that of applying it, with `decision`; `result` gets it.
  // FAILED_PRECONDITION (LATE_BASE_NOT_ACCEPTED) when it was made on an
  // earlier late submission of its device that is not accepted.
  absl::Status ApplyAccepted(vigil::v1::Mutation held, const vigil::v1::LateDecision& decision,
                             vigil::v1::MutationResult& result);

  // Writes `next` as the revision after `head` that the server makes
  // itself (a review mark, a mark answered by a reply): the body and its
  // edit stamps as they were, into the head, history, change feed and
  // indexes like any revision, audited as `action`. `next.revision()` is
  // set here.
  absl::Status WriteServerRevision(const vigil::v1::Record& head, vigil::v1::Record& next,
                                   std::string action);

  // Lets this batch move a visit to PUBLISHED: the publication path
  // (RecordStore::MoveVisit with a report) sets it; every other push is
  // refused such a move with FAILED_PRECONDITION (REPORT_REQUIRED).
  void AllowPublication() { publishing_ = true; }

  // The newest seq of each scope the batch changed.
  const std::map<std::string, std::uint64_t>& touched() const { return touched_; }

 private:
  // One mutation on its way through the steps.
  struct Pending {
    int index = 0;
    vigil::v1::Mutation* m = nullptr;  // edited in place: accepted HLC, chained base
    vigil::v1::MutationResult* result = nullptr;
    std::string fingerprint;
    std::optional<vigil::v1::Record> head;
    std::string scope;  // the record's scope: its head's, or the create's
    const ScopeGrant* grant = nullptr;
    std::optional<vigil::internal::StoredMutation> chained_on;
    bool chained_on_late = false;
    // Set when applying a late submission the NPM unit accepted.
    const vigil::v1::LateDecision* accepted = nullptr;
    bool locked = false;
    std::optional<vigil::v1::Record> base;
    std::optional<VisitMove> move;
    std::uint32_t open_conflicts = 0;  // of the visit, when it moves
    std::optional<sync::ApplyOutcome> outcome;
  };

  // Every step, in order, for one mutation.
  absl::Status Run(Pending& p);
  absl::StatusOr<bool> AnswerResend(Pending& p);
  absl::Status Authorize(Pending& p);
  absl::Status CheckShape(Pending& p);
  absl::Status CheckLock(Pending& p);
  absl::Status ResolveBase(Pending& p);
  absl::Status KeepServerFields(Pending& p);
  absl::Status RequestVisitMove(Pending& p);
  absl::Status Merge(Pending& p);
  absl::Status AuthorizeOutcome(Pending& p);
  absl::StatusOr<bool> HoldIfLocked(Pending& p);
  absl::Status RecordVisitMove(Pending& p);
  absl::Status RecordStatusChange(Pending& p);
  absl::Status AnswerMark(Pending& p);
  absl::Status Persist(Pending& p);
  absl::Status MirrorFollowUp(Pending& p);  // follow_up_mirror.cc
  absl::Status NoteParallelUpdate(Pending& p);
  absl::Status AnswerByReply(Pending& p);

  // The caller's rights in `scope`, read once per batch through the commit.
  absl::StatusOr<const ScopeGrant*> Writable(const std::string& scope);
  // Moves the view epochs of the callers whose view of the scope changes
  // beyond the record itself (see push_batch.cc).
  absl::Status MoveViewEpochs(const std::optional<vigil::v1::Record>& head,
                              const vigil::v1::Record& after);
  absl::Status Denied(const Pending& p) const;
  void StoreResult(const Pending& p, bool keep_pushed_body);

  const Caller& caller_;
  const AccessPolicy& policy_;
  CommitTables& tables_;
  storage::AuditAppender audit_;
  bool publishing_ = false;
  sync::HybridClock& clock_;
  const absl::Time now_;
  std::map<std::string, ScopeGrant> grants_;  // scope -> the caller's rights
  std::map<std::string, bool> locks_;         // scope -> locked, within this batch
  std::map<std::string, std::uint64_t> touched_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_PUSH_BATCH_H_
