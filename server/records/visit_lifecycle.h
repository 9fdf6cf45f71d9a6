// The visit lifecycle: which moves between states exist, who may make each,
// and what each needs. The one place these rules live: a push of a Visit
// record (PushBatch) and ReviewService.TransitionVisit both ask here.
//
//   from               to                 who          needs
//   planned            in progress        team
//   in progress        planned            team
//   in progress        submitted          lead         acknowledge_open_conflicts
//                                                      when conflicts are open
//   changes requested  submitted          lead         (the same)
//   submitted          in review          reviewer     (takes it: the reviewer)
//   in review          submitted          reviewer     (gives it back to the queue)
//   submitted          changes requested  reviewer     a note (the questions)
//   in review          changes requested  reviewer     a note (the questions)
//   in review          approved           reviewer     (locks the visit)
//   approved           published          reviewer
//   approved           in review          reviewer     a note (the reason)
//
// "team" is any team member who may write the visit (not observers), the
// team lead and the NPM unit; "lead" the visit's team lead and the NPM unit
// (which may act for a team lead who cannot); "reviewer" the NPM unit's
// reviewers only. A Visit record is created
// planned or in progress (VISIT_STATE_UNSPECIFIED counts as planned).
#ifndef VIGIL_SERVER_RECORDS_VISIT_LIFECYCLE_H_
#define VIGIL_SERVER_RECORDS_VISIT_LIFECYCLE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/auth/access_policy.h"
#include "vigil/v1/visit.pb.h"

namespace vigil::server {

struct VisitMove {
  vigil::v1::VisitState from = vigil::v1::VISIT_STATE_UNSPECIFIED;
  vigil::v1::VisitState to = vigil::v1::VISIT_STATE_UNSPECIFIED;
};

// Whether `move` changes the state (unspecified and planned are one state).
bool IsMove(VisitMove move);

// Whether `grant` may make `move` with `intent` while the visit's records
// hold `open_conflicts` open conflicts. OK for a move to the same state.
// Errors, in this order: FAILED_PRECONDITION, VISIT_TRANSITION_NOT_ALLOWED
// (metadata "from", "to": the machine has no such move); PERMISSION_DENIED,
// VISIT_TRANSITION_NOT_PERMITTED (the move exists, not for this role);
// INVALID_ARGUMENT, NOTE_REQUIRED; FAILED_PRECONDITION,
// OPEN_CONFLICTS_NOT_ACKNOWLEDGED (metadata "open_conflicts").
absl::Status CheckVisitMove(const ScopeGrant& grant, VisitMove move,
                            const vigil::v1::VisitTransitionIntent& intent,
                            std::uint32_t open_conflicts);

// The states `grant` may move a visit in state `from` to, in the order of
// the table above (needs not checked).
std::vector<vigil::v1::VisitState> AllowedVisitMoves(const ScopeGrant& grant,
                                                     vigil::v1::VisitState from);

// Whether a visit in `state` is locked: its records' pushes are held as late
// submissions.
bool VisitLocked(vigil::v1::VisitState state);

class CommitTables;
// OK unless `scope` is a visit's whose Visit record is locked: then
// FAILED_PRECONDITION (VISIT_LOCKED), saying that the visit must be reopened
// to `act` (e.g. "mark its records"). The review desk's own writes, which
// would otherwise be held as late submissions, are refused this way.
absl::Status RequireUnlocked(CommitTables& tables, std::string_view scope, std::string_view act);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_VISIT_LIFECYCLE_H_
