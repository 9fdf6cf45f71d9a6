// A visit's team has one source of truth: the team table that
// AdminService.SetTeamMember / RemoveTeamMember keep (server/auth/
// identity_store.h), which decides every access. The Visit record's `team`
// and the visit index are derived from it, in the same commit as every
// change of the table and on the Visit record's creation, so what a reviewer
// or a tablet sees on the visit is what the server enforces.
#ifndef VIGIL_SERVER_RECORDS_VISIT_TEAM_H_
#define VIGIL_SERVER_RECORDS_VISIT_TEAM_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/caller.h"
#include "server/records/tables.h"
#include "sync/hlc.h"
#include "vigil/v1/visit.pb.h"

namespace vigil::server {

// The team list the Visit record must hold as `tables`' commit has the team
// table: one element per member, in user id order, keeping the element id of
// `current`'s element for the same user (else a new UUIDv7), with the
// member's role, focus areas and display name.
absl::StatusOr<google::protobuf::RepeatedPtrField<vigil::v1::TeamMember>> DerivedTeam(
    CommitTables& tables, std::string_view visit_id, const vigil::v1::Visit& current,
    absl::Time now);

// After a change of the team table of `visit_id` inside `tables`' commit:
// updates the visit index's team, and, when the Visit record exists and
// its team differs, writes its next revision (by `by`) with the derived
// team, audited as "visit.team_derived".
absl::Status TeamTableChanged(CommitTables& tables, sync::HybridClock& clock, const Caller& by,
                              std::string_view visit_id, absl::Time now);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_VISIT_TEAM_H_
