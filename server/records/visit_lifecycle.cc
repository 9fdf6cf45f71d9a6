#include "server/records/visit_lifecycle.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/tables.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::VisitState;

enum Movers : unsigned { kTeam = 1, kLead = 2, kReviewer = 4 };
enum class Needs { kNothing, kNote, kAcknowledgedConflicts };

struct Rule {
  VisitState from;
  VisitState to;
  unsigned movers;
  Needs needs;
};

constexpr Rule kRules[] = {
    {vigil::v1::VISIT_STATE_PLANNED, vigil::v1::VISIT_STATE_IN_PROGRESS, kTeam | kLead | kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_IN_PROGRESS, vigil::v1::VISIT_STATE_PLANNED, kTeam | kLead | kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_IN_PROGRESS, vigil::v1::VISIT_STATE_SUBMITTED, kLead | kReviewer,
     Needs::kAcknowledgedConflicts},
    {vigil::v1::VISIT_STATE_CHANGES_REQUESTED, vigil::v1::VISIT_STATE_SUBMITTED, kLead | kReviewer,
     Needs::kAcknowledgedConflicts},
    {vigil::v1::VISIT_STATE_SUBMITTED, vigil::v1::VISIT_STATE_IN_REVIEW, kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_IN_REVIEW, vigil::v1::VISIT_STATE_SUBMITTED, kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_SUBMITTED, vigil::v1::VISIT_STATE_CHANGES_REQUESTED, kReviewer,
     Needs::kNote},
    {vigil::v1::VISIT_STATE_IN_REVIEW, vigil::v1::VISIT_STATE_CHANGES_REQUESTED, kReviewer,
     Needs::kNote},
    {vigil::v1::VISIT_STATE_IN_REVIEW, vigil::v1::VISIT_STATE_APPROVED, kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_APPROVED, vigil::v1::VISIT_STATE_PUBLISHED, kReviewer,
     Needs::kNothing},
    {vigil::v1::VISIT_STATE_APPROVED, vigil::v1::VISIT_STATE_IN_REVIEW, kReviewer, Needs::kNote},
};

VisitState Normal(VisitState state) {
  return state == vigil::v1::VISIT_STATE_UNSPECIFIED ? vigil::v1::VISIT_STATE_PLANNED : state;
}

unsigned MoverOf(const ScopeGrant& grant) {
  if (grant.reviewer) return kReviewer;
  if (!grant.write) return 0;
  // The visit's team lead is the team member who sees it in full.
  return grant.full_view ? kLead : kTeam;
}

const Rule* Find(VisitMove move) {
  for (const Rule& rule : kRules) {
    if (rule.from == Normal(move.from) && rule.to == Normal(move.to)) return &rule;
  }
  return nullptr;
}

}  // namespace

bool IsMove(VisitMove move) { return Normal(move.from) != Normal(move.to); }

absl::Status CheckVisitMove(const ScopeGrant& grant, VisitMove move,
                            const vigil::v1::VisitTransitionIntent& intent,
                            std::uint32_t open_conflicts) {
  if (!IsMove(move)) return absl::OkStatus();
  const std::string from = vigil::v1::VisitState_Name(move.from);
  const std::string to = vigil::v1::VisitState_Name(move.to);
  const Rule* rule = Find(move);
  if (rule == nullptr) {
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          "a visit does not move from ", from, " to ", to)),
                      "VISIT_TRANSITION_NOT_ALLOWED", {{"from", from}, {"to", to}});
  }
  if ((rule->movers & MoverOf(grant)) == 0) {
    return WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "moving a visit from ", from, " to ", to, " is for ",
            (rule->movers & kTeam)   ? "the visit's team"
            : (rule->movers & kLead) ? "the visit's team lead"
                                     : "the NPM unit's reviewers")),
        "VISIT_TRANSITION_NOT_PERMITTED", {{"from", from}, {"to", to}});
  }
  if (rule->needs == Needs::kNote && intent.note().empty()) {
    return WithReason(
        absl::InvalidArgumentError(absl::StrCat(
            "moving a visit from ", from, " to ", to,
            " needs a note: the questions for the team, or the reason for reopening")),
        "NOTE_REQUIRED", {{"from", from}, {"to", to}});
  }
  if (rule->needs == Needs::kAcknowledgedConflicts && open_conflicts > 0 &&
      !intent.acknowledge_open_conflicts()) {
    const std::string count = std::to_string(open_conflicts);
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          "the visit's records have ", count,
                          " open conflicts: resolve them, or submit with "
                          "acknowledge_open_conflicts")),
                      "OPEN_CONFLICTS_NOT_ACKNOWLEDGED", {{"open_conflicts", count}});
  }
  return absl::OkStatus();
}

std::vector<VisitState> AllowedVisitMoves(const ScopeGrant& grant, VisitState from) {
  std::vector<VisitState> out;
  for (const Rule& rule : kRules) {
    if (rule.from == Normal(from) && (rule.movers & MoverOf(grant)) != 0) out.push_back(rule.to);
  }
  return out;
}

bool VisitLocked(VisitState state) {
  return state == vigil::v1::VISIT_STATE_APPROVED || state == vigil::v1::VISIT_STATE_PUBLISHED;
}

absl::Status RequireUnlocked(CommitTables& tables, std::string_view scope, std::string_view act) {
  const std::string_view visit_id = sync::VisitIdOf(scope);
  if (visit_id.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<vigil::v1::Record> visit, tables.HeadInScope(visit_id, scope));
  if (!visit.has_value() || !visit->body().has_visit() ||
      !VisitLocked(visit->body().visit().state())) {
    return absl::OkStatus();
  }
  return WithReason(absl::FailedPreconditionError(absl::StrCat(
                        "the visit is approved: reopen it (to in review) to ", std::string(act))),
                    "VISIT_LOCKED");
}

}  // namespace vigil::server
