#include "server/auth/access_policy.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/auth/field_visibility.h"
#include "sync/record_merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using vigil::v1::Audience;
using vigil::v1::Record;
using vigil::v1::RecordBody;

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

// Whether the caller is among the interviewers of the record's interview (an
// Interview itself, or the one an IdentityRecord belongs to).
absl::StatusOr<bool> InterviewerOf(const ScopeGrant& grant, const Record& record,
                                   RecordLookup lookup) {
  const RecordBody& body = record.body();
  if (body.has_interview()) return IsInterviewer(body.interview(), grant.user_id);
  if (!body.has_identity()) return false;
  ASSIGN_OR_RETURN(std::optional<Record> interview, lookup(body.identity().interview_id()));
  return interview.has_value() && interview->body().has_interview() &&
         IsInterviewer(interview->body().interview(), grant.user_id);
}

// Whether `grant` is in `audience` (vigil/v1/visibility.proto), for a record
// whose interviewers include the caller when `interviewer`.
bool InAudience(const ScopeGrant& grant, Audience audience, bool interviewer) {
  if (grant.full_view) return true;
  switch (audience) {
    case vigil::v1::AUDIENCE_READERS:
      return true;
    case vigil::v1::AUDIENCE_NPM:
      return !grant.service;
    case vigil::v1::AUDIENCE_INTERVIEWERS:
      return !grant.service && interviewer;
    case vigil::v1::AUDIENCE_MEDICAL:
      return !grant.service && grant.medical;
    default:  // AUDIENCE_FULL_VIEW, and anything newer: deny
      return false;
  }
}

// How `grant` sees `record`, and the fields of its kind it may not see.
struct Shown {
  Visibility visibility = Visibility::kFull;
  std::vector<const FieldDescriptor*> hidden;
};

// How deep a comment's subject is followed (a comment on a comment on ...).
constexpr int kMaxSubjectDepth = 4;

absl::StatusOr<Shown> Decide(const ScopeGrant& grant, const Record& record,
                             RecordLookup lookup, int depth = 0) {
  Shown shown;
  if (grant.full_view) return shown;
  const RecordBody& body = record.body();
  // Rules on a record's state rather than on its fields: services never see
  // an unannounced visit's plan, nor photos that show people.
  if (grant.service && ((body.has_visit() && UnannouncedPlan(body.visit())) ||
                        (body.has_attachment() && body.attachment().identifiable()))) {
    shown.visibility = Visibility::kWithheld;
    return shown;
  }
  // A comment speaks of its subject: whoever may not see the subject, or the
  // field it is about, does not see the comment either.
  if (body.has_comment() && !body.comment().subject_record_id().empty()) {
    if (depth >= kMaxSubjectDepth) {
      shown.visibility = Visibility::kWithheld;
      return shown;
    }
    ASSIGN_OR_RETURN(std::optional<Record> subject, lookup(body.comment().subject_record_id()));
    if (subject.has_value()) {
      ASSIGN_OR_RETURN(Shown of_subject, Decide(grant, *subject, lookup, depth + 1));
      const std::string_view about = TopField(body.comment().subject_field_path());
      bool about_hidden = false;
      for (const FieldDescriptor* f : of_subject.hidden) about_hidden |= f->name() == about;
      if (of_subject.visibility == Visibility::kWithheld || about_hidden) {
        shown.visibility = Visibility::kWithheld;
        return shown;
      }
    }
  }
  const FieldDescriptor* kind = sync::BodyKindField(body);
  if (kind == nullptr) return shown;
  const Descriptor* type = kind->message_type();
  std::optional<bool> interviewer;  // looked up only if a field needs it
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const Audience audience = AudienceOf(f);
    if (audience == vigil::v1::AUDIENCE_INTERVIEWERS && !interviewer.has_value()) {
      ASSIGN_OR_RETURN(interviewer, InterviewerOf(grant, record, lookup));
    }
    if (!InAudience(grant, audience, interviewer.value_or(false))) shown.hidden.push_back(f);
  }
  if (shown.hidden.empty()) return shown;
  // A record the caller may see nothing of is not shown at all.
  shown.visibility = static_cast<int>(shown.hidden.size()) == type->field_count()
                         ? Visibility::kWithheld
                         : Visibility::kRedacted;
  return shown;
}

}  // namespace

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
  // The visit whose team decides (for a visit's scope).
  const std::string_view visit_id = sync::VisitIdOf(scope);
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
  if (visit_id.empty()) {
    grant.read = true;
    return grant;
  }
  ASSIGN_OR_RETURN(vigil::v1::TeamRole team_role,
                   IdentityStore::TeamRoleOf(view, caller.principal, visit_id));
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
                                                      std::string_view scope,
                                                      storage::ReadView& view) const {
  ASSIGN_OR_RETURN(ScopeGrant grant, Grant(caller, scope, view));
  if (!grant.write) return Denied();
  return grant;
}

absl::StatusOr<ScopeGrant> AccessPolicy::RequireWrite(const Caller& caller,
                                                      std::string_view scope) const {
  storage::StorageView latest(identities_->storage());
  return RequireWrite(caller, scope, latest);
}

absl::StatusOr<ScopeGrant> AccessPolicy::RequireAttachmentBytes(const Caller& caller,
                                                                std::string_view scope) const {
  ASSIGN_OR_RETURN(ScopeGrant grant, RequireRead(caller, scope));
  if (grant.service) return Denied();
  return grant;
}

absl::Status AccessPolicy::RequireReviewer(const Caller& caller) {
  if (caller.role == vigil::v1::ROLE_NPM_REVIEWER) return absl::OkStatus();
  return WithReason(absl::PermissionDeniedError("this is for the NPM unit's reviewers"),
                    "REVIEWER_ONLY");
}

bool AccessPolicy::MayLearnOfAbsence(const Caller& caller) {
  return caller.role == vigil::v1::ROLE_NPM_REVIEWER;
}

bool MayRedact(const ScopeGrant& grant, int kind) {
  if (grant.full_view) return false;
  if (grant.service || kind == RecordBody::kCommentFieldNumber) return true;
  const FieldDescriptor* field = RecordBody::descriptor()->FindFieldByNumber(kind);
  return field == nullptr || field->message_type() == nullptr ||
         IsSensitiveKind(field->message_type());
}

absl::StatusOr<Visibility> VisibilityOf(const ScopeGrant& grant, const Record& record,
                                        RecordLookup lookup) {
  ASSIGN_OR_RETURN(Shown shown, Decide(grant, record, lookup));
  return shown.visibility;
}

absl::StatusOr<Visibility> Redact(const ScopeGrant& grant, Record& record, RecordLookup lookup) {
  // The NPM unit's review marks are its working notes, not data for other
  // services.
  if (grant.service) record.clear_review();
  ASSIGN_OR_RETURN(Shown shown, Decide(grant, record, lookup));
  if (shown.visibility != Visibility::kRedacted) return shown.visibility;
  google::protobuf::Message* kind = record.mutable_body()->GetReflection()->MutableMessage(
      record.mutable_body(), sync::BodyKindField(record.body()));
  std::set<std::string_view> hidden;
  for (const FieldDescriptor* f : shown.hidden) {
    kind->GetReflection()->ClearField(kind, f);
    hidden.insert(f->name());
    record.add_withheld_fields(f->name());
  }
  // A conflict over a hidden field, or over the whole body, would show the
  // hidden values: it stays listed (so the caller knows it is there), with
  // its values removed.
  for (vigil::v1::Conflict& conflict : *record.mutable_open_conflicts()) {
    const std::string_view field = TopField(conflict.field_path());
    if (field.empty() || hidden.contains(field) ||
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
  if (!kind->GetReflection()->GetUnknownFields(*kind).empty()) {
    record.add_withheld_fields("(unknown)");
  }
  record.mutable_body()->DiscardUnknownFields();
  return shown.visibility;
}

}  // namespace vigil::server
