#include "server/auth/access_policy.h"

#include <algorithm>

#include "base/error_reason.h"
#include "base/status_macros.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;
using vigil::v1::RecordBody;

constexpr std::string_view kVisitPrefix = "visits/";

// Top-level body fields that only some callers see, per kind.
bool HiddenField(RecordBody::KindCase kind, std::string_view field) {
  if (kind == RecordBody::kInterview) return field == "notes";
  if (kind == RecordBody::kMedicalFinding) {
    return field == "injuries_observed" || field == "history" ||
           field == "consistency_with_allegation" || field == "body_chart_attachment_ids" ||
           field == "conclusions";
  }
  return false;
}

std::string_view TopField(std::string_view path) {
  return path.substr(0, std::min(path.find('.'), path.find('[')));
}

bool IsInterviewer(const vigil::v1::Interview& interview, std::string_view user_id) {
  return std::find(interview.interviewer_user_ids().begin(),
                   interview.interviewer_user_ids().end(), user_id) !=
         interview.interviewer_user_ids().end();
}

// A visit that has not started, and was not announced, is a plan that must
// not leave the NPM.
bool UnannouncedPlan(const vigil::v1::Visit& visit) {
  return !visit.announced() && (visit.state() == vigil::v1::VISIT_STATE_UNSPECIFIED ||
                                visit.state() == vigil::v1::VISIT_STATE_PLANNED);
}

// Which fields of kind `kind` the grant hides (none: Visibility::kFull).
absl::StatusOr<Visibility> Decide(const ScopeGrant& grant, const Record& record,
                                  RecordLookup lookup) {
  if (grant.full_view) return Visibility::kFull;
  const RecordBody& body = record.body();
  switch (body.kind_case()) {
    case RecordBody::kVisit:
      return grant.service && UnannouncedPlan(body.visit()) ? Visibility::kWithheld
                                                            : Visibility::kFull;
    case RecordBody::kInterview:
      return !grant.service && IsInterviewer(body.interview(), grant.user_id)
                 ? Visibility::kFull
                 : Visibility::kRedacted;
    case RecordBody::kIdentity: {
      if (grant.service) return Visibility::kWithheld;
      ASSIGN_OR_RETURN(std::optional<Record> interview, lookup(body.identity().interview_id()));
      const bool interviewer = interview.has_value() && interview->body().has_interview() &&
                               IsInterviewer(interview->body().interview(), grant.user_id);
      return interviewer ? Visibility::kFull : Visibility::kWithheld;
    }
    case RecordBody::kMedicalFinding:
      return grant.medical ? Visibility::kFull : Visibility::kRedacted;
    // What was alleged against whom, and whether the person allowed it to be
    // passed on, is not for other services; nor are photos that show people.
    case RecordBody::kAllegation:
      return grant.service ? Visibility::kWithheld : Visibility::kFull;
    case RecordBody::kAttachment:
      return grant.service && body.attachment().identifiable() ? Visibility::kWithheld
                                                               : Visibility::kFull;
    default:
      return Visibility::kFull;
  }
}

}  // namespace

bool IsSensitive(const RecordBody& body) {
  switch (body.kind_case()) {
    case RecordBody::kInterview:
    case RecordBody::kIdentity:
    case RecordBody::kAllegation:
    case RecordBody::kMedicalFinding:
      return true;
    default:
      return false;
  }
}

bool MayMoveVisit(const ScopeGrant& grant, vigil::v1::VisitState from, vigil::v1::VisitState to) {
  using vigil::v1::VisitState;
  if (from == to || grant.reviewer) return true;
  auto field = [](VisitState s) {
    return s == VisitState::VISIT_STATE_UNSPECIFIED || s == VisitState::VISIT_STATE_PLANNED ||
           s == VisitState::VISIT_STATE_IN_PROGRESS;
  };
  if (grant.full_view) {  // the visit's team lead
    auto lead_from = [&](VisitState s) {
      return field(s) || s == VisitState::VISIT_STATE_SUBMITTED ||
             s == VisitState::VISIT_STATE_CHANGES_REQUESTED;
    };
    return lead_from(from) && (field(to) || to == VisitState::VISIT_STATE_SUBMITTED);
  }
  return field(from) && field(to);
}

absl::Status AccessPolicy::Denied() {
  return WithReason(
      absl::PermissionDeniedError("you may not do this in this scope, or there is no such thing"),
      "SCOPE_NOT_PERMITTED");
}

absl::StatusOr<ScopeGrant> AccessPolicy::Grant(const Caller& caller,
                                               std::string_view scope) const {
  storage::StorageView latest(identities_->storage());
  return Grant(caller, scope, latest);
}

absl::StatusOr<ScopeGrant> AccessPolicy::Grant(const Caller& caller, std::string_view scope,
                                               storage::ReadView& view) const {
  using vigil::v1::Role;
  ScopeGrant grant;
  grant.user_id = caller.principal;
  const bool visit = scope.substr(0, kVisitPrefix.size()) == kVisitPrefix;
  switch (caller.role) {
    case Role::ROLE_NPM_REVIEWER:
      grant.read = grant.write = grant.full_view = grant.medical = grant.reviewer = true;
      return grant;
    case Role::ROLE_SERVICE_ACCOUNT:
      grant.read = grant.service = true;
      return grant;
    case Role::ROLE_FIELD_MONITOR:
    case Role::ROLE_TEAM_LEAD:
    case Role::ROLE_MEDICAL_EXPERT:
      break;
    default:  // admin: accounts, not content
      return grant;
  }
  if (!visit) {
    grant.read = true;
    return grant;
  }
  ASSIGN_OR_RETURN(vigil::v1::TeamRole team_role,
                   IdentityStore::TeamRoleOf(view, caller.principal,
                                             scope.substr(kVisitPrefix.size())));
  if (team_role == vigil::v1::TEAM_ROLE_UNSPECIFIED) {
    ASSIGN_OR_RETURN(grant.purge, IdentityStore::IsPurged(view, caller.principal, scope));
    return grant;
  }
  grant.read = true;
  grant.write = team_role != vigil::v1::TEAM_ROLE_OBSERVER;
  grant.full_view = team_role == vigil::v1::TEAM_ROLE_TEAM_LEAD;
  grant.medical = grant.full_view || team_role == vigil::v1::TEAM_ROLE_MEDICAL_EXPERT;
  return grant;
}

absl::StatusOr<ScopeGrant> AccessPolicy::RequireRead(const Caller& caller,
                                                     std::string_view scope,
                                                     storage::ReadView& view) const {
  ASSIGN_OR_RETURN(ScopeGrant grant, Grant(caller, scope, view));
  if (!grant.read) return Denied();
  return grant;
}

absl::StatusOr<ScopeGrant> AccessPolicy::RequireRead(const Caller& caller,
                                                     std::string_view scope) const {
  storage::StorageView latest(identities_->storage());
  return RequireRead(caller, scope, latest);
}

absl::StatusOr<ScopeGrant> AccessPolicy::RequireWrite(const Caller& caller,
                                                      std::string_view scope) const {
  ASSIGN_OR_RETURN(ScopeGrant grant, Grant(caller, scope));
  if (!grant.write) return Denied();
  return grant;
}

absl::StatusOr<Visibility> VisibilityOf(const ScopeGrant& grant, const Record& record,
                                        RecordLookup lookup) {
  return Decide(grant, record, lookup);
}

absl::StatusOr<Visibility> Redact(const ScopeGrant& grant, Record& record, RecordLookup lookup) {
  ASSIGN_OR_RETURN(Visibility visibility, Decide(grant, record, lookup));
  if (visibility != Visibility::kRedacted) return visibility;
  RecordBody& body = *record.mutable_body();
  const RecordBody::KindCase kind = body.kind_case();
  if (kind == RecordBody::kInterview) {
    body.mutable_interview()->clear_notes();
  } else if (kind == RecordBody::kMedicalFinding) {
    vigil::v1::MedicalFinding& medical = *body.mutable_medical_finding();
    medical.clear_injuries_observed();
    medical.clear_history();
    medical.clear_consistency_with_allegation();
    medical.clear_body_chart_attachment_ids();
    medical.clear_conclusions();
  }
  // A conflict over a hidden field, or over the whole body, would show the
  // hidden values: it stays listed (so the caller knows it is there), with
  // its values removed.
  for (vigil::v1::Conflict& conflict : *record.mutable_open_conflicts()) {
    const std::string_view field = TopField(conflict.field_path());
    if (field.empty() || HiddenField(kind, field) ||
        conflict.kind() == vigil::v1::CONFLICT_KIND_UNKNOWN_FIELDS) {
      conflict.clear_base();
      conflict.clear_hunks();
      for (auto& version : *conflict.mutable_versions()) version.clear_value();
    }
  }
  // Clean merges of concurrent narrative edits hold each edit's own text,
  // hidden fields' included; they are the server's, for later merges.
  record.clear_text_merges();
  // Unknown fields could be hidden fields of a newer schema.
  body.DiscardUnknownFields();
  return visibility;
}

}  // namespace vigil::server
