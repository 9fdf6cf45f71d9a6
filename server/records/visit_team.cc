#include "server/records/visit_team.h"

#include <map>
#include <sodium.h>
#include <string>

#include "base/status_macros.h"
#include "server/auth/identity_store.h"
#include "server/records/visit_index.h"
#include "storage/audit_log.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;
using vigil::v1::TeamMember;

absl::StatusOr<std::string> NewId(absl::Time now) {
  sync::UuidRandomBytes random;
  randombytes_buf(random.data(), random.size());
  return sync::NewUuidV7(now, random);
}

}  // namespace

absl::StatusOr<google::protobuf::RepeatedPtrField<TeamMember>> DerivedTeam(
    CommitTables& tables, std::string_view visit_id, const vigil::v1::Visit& current,
    absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<vigil::v1::TeamMembership> members,
                   IdentityStore::TeamIn(tables.context(), visit_id));
  std::map<std::string, std::string> element_ids;
  for (const TeamMember& m : current.team()) element_ids[m.user_id()] = m.id();
  google::protobuf::RepeatedPtrField<TeamMember> team;
  for (const vigil::v1::TeamMembership& membership : members) {  // in user id order
    TeamMember& member = *team.Add();
    auto id = element_ids.find(membership.user_id());
    if (id != element_ids.end()) {
      member.set_id(id->second);
    } else {
      ASSIGN_OR_RETURN(*member.mutable_id(), NewId(now));
    }
    member.set_user_id(membership.user_id());
    member.set_role(membership.team_role());
    *member.mutable_focus_areas() = membership.focus_areas();
    ASSIGN_OR_RETURN(std::optional<vigil::v1::User> user,
                     IdentityStore::UserIn(tables.context(), membership.user_id()));
    if (user.has_value()) member.set_display_name(user->display_name());
  }
  return team;
}

absl::Status TeamTableChanged(CommitTables& tables, sync::HybridClock& clock, const Caller& by,
                              std::string_view visit_id, absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<vigil::v1::TeamMembership> members,
                   IdentityStore::TeamIn(tables.context(), visit_id));
  std::vector<std::string> user_ids;
  std::string lead;
  for (const auto& m : members) {
    user_ids.push_back(m.user_id());
    if (m.team_role() == vigil::v1::TEAM_ROLE_TEAM_LEAD && lead.empty()) lead = m.user_id();
  }
  RETURN_IF_ERROR(VisitIndexWriter(tables.context()).TeamChanged(visit_id, user_ids, lead));
  ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.HeadInScope(visit_id, scope.str()));
  if (!head.has_value() || !head->body().has_visit()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto team, DerivedTeam(tables, visit_id, head->body().visit(), now));
  vigil::v1::Visit derived = head->body().visit();
  *derived.mutable_team() = team;
  if (sync::SerializeDeterministic(derived) ==
      sync::SerializeDeterministic(head->body().visit())) {
    return absl::OkStatus();
  }
  // The next revision, taken as is (made on the head), by whoever changed
  // the team.
  vigil::v1::Mutation m;
  ASSIGN_OR_RETURN(*m.mutable_mutation_id(), NewId(now));
  m.set_record_id(head->id());
  m.set_base_revision(head->revision());
  *m.mutable_body()->mutable_visit() = std::move(derived);
  m.set_author(by.principal);
  m.set_device_id(by.device);
  *m.mutable_hlc() = clock.Now(now);
  ASSIGN_OR_RETURN(sync::ApplyOutcome outcome, sync::ApplyMutation(&*head, nullptr, m, now));
  if (!outcome.changed) return absl::OkStatus();
  outcome.record.set_seq(tables.context().NextSeq());
  RETURN_IF_ERROR(tables.WriteHead(head, outcome.record));
  return storage::AppendAudit(tables.context(),
                              AuditOf(by, "visit.team_derived", "records/" + head->id()));
}

}  // namespace vigil::server
