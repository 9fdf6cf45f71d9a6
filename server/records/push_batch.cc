#include "server/records/push_batch.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/mutation_error.h"
#include "server/records/parallel_updates.h"
#include "server/records/server_written.h"
#include "server/records/visit_index.h"
#include "server/records/visit_team.h"
#include "sync/merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using google::protobuf::util::TimeUtil;
using vigil::internal::StoredMutation;
using vigil::v1::Mutation;
using vigil::v1::Record;

// What identifies one edit of a device (see StoredMutation.fingerprint).
std::string Fingerprint(const Mutation& m) {
  std::string key;
  auto add = [&key](std::string_view part) {
    AppendBigEndian64(key, part.size());
    key.append(part);
  };
  add(m.record_id());
  add(m.scope());
  add(m.base_mutation_id());
  AppendBigEndian64(key, m.base_revision());
  AppendBigEndian64(key, m.delete_() ? 1 : 0);
  AppendBigEndian64(key, static_cast<std::uint64_t>(m.hlc().wall_time_micros()));
  AppendBigEndian64(key, m.hlc().logical());
  AppendBigEndian64(key, static_cast<std::uint64_t>(m.resolves_conflict_ids_size()));
  for (const std::string& id : m.resolves_conflict_ids()) add(id);
  AppendBigEndian64(key, static_cast<std::uint64_t>(m.body().kind_case()));
  AppendBigEndian64(key, m.body().ByteSizeLong());
  return Sha256::Of(key).substr(0, 16);
}

absl::string_view ReasonFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return "MUTATION_TARGET_NOT_FOUND";
    case absl::StatusCode::kFailedPrecondition:
      return "MUTATION_PRECONDITION_FAILED";
    default:
      return "MUTATION_INVALID";
  }
}

}  // namespace

absl::Status PushBatch::Apply(vigil::v1::PushRequest& request,
                              vigil::v1::PushResponse& response) {
  for (int i = 0; i < request.mutations_size(); ++i) {
    Pending p;
    p.index = i;
    p.m = request.mutable_mutations(i);
    p.result = response.add_results();
    p.fingerprint = Fingerprint(*p.m);
    RETURN_IF_ERROR(Run(p));
  }
  return absl::OkStatus();
}

absl::Status PushBatch::ApplyAccepted(Mutation held, const vigil::v1::LateDecision& decision,
                                      vigil::v1::MutationResult& result) {
  Pending p;
  p.m = &held;
  p.result = &result;
  p.fingerprint = Fingerprint(held);
  p.accepted = &decision;
  result.set_late_submission(true);
  *result.mutable_late_decision() = decision;
  return Run(p);
}

absl::Status PushBatch::Run(Pending& p) {
  if (p.accepted == nullptr) {
    ASSIGN_OR_RETURN(const bool answered, AnswerResend(p));
    if (answered) return absl::OkStatus();
  }
  RETURN_IF_ERROR(Authorize(p));
  RETURN_IF_ERROR(CheckShape(p));
  RETURN_IF_ERROR(CheckLock(p));
  RETURN_IF_ERROR(ResolveBase(p));
  RETURN_IF_ERROR(KeepServerFields(p));
  RETURN_IF_ERROR(RequestVisitMove(p));
  RETURN_IF_ERROR(Merge(p));
  RETURN_IF_ERROR(AuthorizeOutcome(p));
  ASSIGN_OR_RETURN(const bool held, HoldIfLocked(p));
  if (held) return absl::OkStatus();
  RETURN_IF_ERROR(RecordVisitMove(p));
  RETURN_IF_ERROR(RecordStatusChange(p));
  RETURN_IF_ERROR(AnswerMark(p));
  RETURN_IF_ERROR(Persist(p));
  RETURN_IF_ERROR(MirrorFollowUp(p));
  RETURN_IF_ERROR(NoteParallelUpdate(p));
  return AnswerByReply(p);
}

absl::Status PushBatch::Denied(const Pending& p) const {
  return AtMutation(AccessPolicy::Denied(), p.index, *p.m, "SCOPE_NOT_PERMITTED");
}

absl::StatusOr<const ScopeGrant*> PushBatch::Writable(const std::string& scope) {
  auto it = grants_.find(scope);
  if (it == grants_.end()) {
    // Read through this commit: a change of rights earlier in the same write
    // group (a removal from the team) applies.
    ASSIGN_OR_RETURN(ScopeGrant grant, policy_.Grant(caller_, scope, tables_.context()));
    it = grants_.emplace(scope, std::move(grant)).first;
  }
  if (!it->second.write) return AccessPolicy::Denied();
  return &it->second;
}

absl::StatusOr<bool> PushBatch::AnswerResend(Pending& p) {
  ASSIGN_OR_RETURN(std::optional<StoredMutation> stored, tables_.Mutation(p.m->mutation_id()));
  if (!stored.has_value()) return false;
  // The first result is only for the device that pushed it.
  if (stored->device_id() != caller_.device) return Denied(p);
  // A resend gets it; the same id on another edit is a device's bug that
  // would silently lose that edit.
  if (!stored->fingerprint().empty() && stored->fingerprint() != p.fingerprint) {
    return AtMutation(absl::AlreadyExistsError(
                          "this mutation id was already used for another edit; give every "
                          "edit its own id"),
                      p.index, *p.m, "MUTATION_ID_REUSED");
  }
  *p.result = stored->result();
  p.result->set_duplicate(true);
  return true;
}

absl::Status PushBatch::Authorize(Pending& p) {
  const Mutation& m = *p.m;
  ASSIGN_OR_RETURN(p.head, tables_.Head(m.record_id()));
  // Rights first, so that a caller without them learns nothing about the
  // record (not even whether it exists).
  p.scope = p.head.has_value() ? p.head->scope() : m.scope();
  absl::StatusOr<const ScopeGrant*> grant = Writable(p.scope);
  if (!grant.ok()) {
    if (grant.status().code() != absl::StatusCode::kPermissionDenied) return grant.status();
    return Denied(p);
  }
  p.grant = *grant;
  // A create naming another scope than the record's (its id is taken
  // elsewhere) is refused like any denial: ids are not squatted across
  // scopes.
  if (p.head.has_value() && m.base_revision() == 0 && !m.scope().empty() &&
      m.scope() != p.head->scope()) {
    return Denied(p);
  }
  if (p.head.has_value()) {
    auto same_scope = [&](std::string_view id) { return tables_.HeadInScope(id, p.scope); };
    ASSIGN_OR_RETURN(Visibility seen_as, VisibilityOf(*p.grant, *p.head, same_scope));
    if (seen_as != Visibility::kFull) return Denied(p);
  }
  return absl::OkStatus();
}

absl::Status PushBatch::CheckShape(Pending& p) {
  const Mutation& m = *p.m;
  // A visit's own record lives in its scope and nowhere else: it is what
  // locks the scope.
  if (!p.head.has_value() && m.body().has_visit() && sync::VisitIdOf(p.scope) != m.record_id()) {
    return AtMutation(
        absl::InvalidArgumentError("a Visit record lives in the scope visits/{its id}"), p.index,
        m, "SCOPE_INVALID");
  }
  if (p.head.has_value()) {
    if (m.base_revision() > p.head->revision()) {
      return AtMutation(absl::InvalidArgumentError(absl::StrCat(
                            "base revision ", m.base_revision(),
                            " is newer than the record's revision ", p.head->revision())),
                        p.index, m, "BASE_REVISION_IN_FUTURE");
    }
    if (!m.delete_() && m.body().kind_case() != p.head->body().kind_case()) {
      return AtMutation(absl::InvalidArgumentError("body is of another kind than the record"),
                        p.index, m, "BODY_WRONG_KIND");
    }
  }
  if (!p.head.has_value() && (m.base_revision() != 0 || m.delete_())) {
    return AtMutation(absl::NotFoundError(absl::StrCat("record ", m.record_id(),
                                                       " does not exist")),
                      p.index, m, "MUTATION_TARGET_NOT_FOUND");
  }
  // An edit chained on one held as a late submission (same record, same
  // device) is held with it: its base was never applied.
  if (!m.base_mutation_id().empty()) {
    ASSIGN_OR_RETURN(p.chained_on, tables_.Mutation(m.base_mutation_id()));
  }
  p.chained_on_late = p.chained_on.has_value() && p.chained_on->result().late_submission() &&
                      p.chained_on->result().late_decision().outcome() !=
                          vigil::v1::LATE_OUTCOME_ACCEPTED &&
                      p.chained_on->result().record_id() == m.record_id() &&
                      p.chained_on->device_id() == m.device_id();
  if (!p.head.has_value() && !m.base_mutation_id().empty()) {
    // A chain on a create that is not applied: legitimate only when that
    // create was held as a late submission (same scope).
    if (!p.chained_on_late) {
      return AtMutation(absl::NotFoundError(absl::StrCat("record ", m.record_id(),
                                                         " does not exist")),
                        p.index, m, "MUTATION_TARGET_NOT_FOUND");
    }
    // The device names the scope of the record it created.
    if (absl::Status s = sync::Scope::Parse(m.scope()).status(); !s.ok()) {
      return AtMutation(s, p.index, m, "SCOPE_INVALID");
    }
  }
  p.result->set_mutation_id(m.mutation_id());
  p.result->set_record_id(m.record_id());
  return absl::OkStatus();
}

absl::Status PushBatch::CheckLock(Pending& p) {
  // A change of the visit record itself may lock or unlock its scope, so it
  // is never answered from (and clears) the batch's cache.
  const std::string_view visit_id = sync::VisitIdOf(p.scope);
  const bool is_visit_record = !visit_id.empty() && visit_id == p.m->record_id();
  auto cached = locks_.find(p.scope);
  bool locked = false;
  if (cached != locks_.end() && !is_visit_record) {
    locked = cached->second;
  } else {
    // A visit's records, the visit record itself included, are locked once
    // the visit is approved or published; deleting the visit record does
    // not unlock them (a tombstone keeps its body).
    if (!visit_id.empty()) {
      ASSIGN_OR_RETURN(std::optional<Record> visit, tables_.Head(visit_id));
      if (visit.has_value() && visit->body().has_visit() && visit->scope() == p.scope) {
        locked = VisitLocked(visit->body().visit().state());
      }
    }
    if (is_visit_record) {
      locks_.erase(p.scope);
    } else {
      locks_[p.scope] = locked;
    }
  }
  // Only the NPM unit still changes the visit record of a locked visit:
  // that is how review moves it on.
  if (is_visit_record && p.grant->reviewer) locked = false;
  p.locked = locked || p.chained_on_late;
  if (p.accepted != nullptr) {
    // Accepting it sets the lock aside, but not the order the device made
    // its edits in.
    if (p.chained_on_late) {
      return WithReason(absl::FailedPreconditionError(absl::StrCat(
                            "this edit was made on late submission ", p.m->base_mutation_id(),
                            " of the same device, which is not accepted: accept that first")),
                        "LATE_BASE_NOT_ACCEPTED", {{"base_mutation_id", p.m->base_mutation_id()}});
    }
    p.locked = false;
  }
  return absl::OkStatus();
}

absl::Status PushBatch::ResolveBase(Pending& p) {
  Mutation& m = *p.m;
  // A device clock far ahead is clamped, so one wrong tablet cannot win
  // every later conflict; the accepted time is what is stored.
  absl::StatusOr<sync::HlcReceipt> received = clock_.Receive(m.hlc(), now_);
  if (!received.ok()) return AtMutation(received.status(), p.index, m, "HLC_INVALID");
  *m.mutable_hlc() = received->accepted_remote;
  // One chained on a held edit has no applied base to check against.
  if (p.chained_on_late) return absl::OkStatus();
  if (!m.base_mutation_id().empty()) {
    if (!p.chained_on.has_value()) {
      return AtMutation(
          absl::FailedPreconditionError(absl::StrCat(
              "base mutation ", m.base_mutation_id(),
              " has not been applied: push it first (or earlier in this batch)")),
          p.index, m, "BASE_MUTATION_UNKNOWN");
    }
    const StoredMutation& stored = *p.chained_on;
    const vigil::v1::MutationResult& prior = stored.result();
    if (prior.record_id() != m.record_id() || prior.revision() == 0 || !p.head.has_value() ||
        stored.device_id() != m.device_id()) {
      return AtMutation(absl::InvalidArgumentError(absl::StrCat(
                            "base mutation ", m.base_mutation_id(),
                            " did not produce a revision of record ", m.record_id())),
                        p.index, m, "BASE_MUTATION_INVALID");
    }
    m.set_base_revision(prior.revision());
    ASSIGN_OR_RETURN(Record produced, tables_.Revision(*p.head, prior.revision()));
    // The device edited what it pushed, not what the server made of it.
    p.base = stored.has_pushed_body() ? sync::ChainedBase(std::move(produced),
                                                          stored.pushed_body())
                                      : std::move(produced);
    return absl::OkStatus();
  }
  if (p.head.has_value() && m.base_revision() > 0 && m.base_revision() < p.head->revision()) {
    ASSIGN_OR_RETURN(p.base, tables_.Revision(*p.head, m.base_revision()));
  }
  if (!m.base_edit_id().empty() && p.head.has_value() && m.base_revision() > 0) {
    const Record* made_on =
        m.base_revision() == p.head->revision() ? &*p.head : (p.base ? &*p.base : nullptr);
    if (made_on == nullptr || made_on->updated().mutation_id() != m.base_edit_id()) {
      return AtMutation(absl::FailedPreconditionError(absl::StrCat(
                            "revision ", m.base_revision(), " of record ", m.record_id(),
                            " is not the one this edit was made on (was the server restored "
                            "from an older backup?): pull, then edit again")),
                        p.index, m, "BASE_REVISION_UNKNOWN");
    }
  }
  return absl::OkStatus();
}

absl::Status PushBatch::KeepServerFields(Pending& p) {
  // One chained on a held edit is settled when the NPM unit decides on it.
  if (p.m->delete_() || p.chained_on_late) return absl::OkStatus();
  const vigil::v1::RecordBody* made_on =
      p.base ? &p.base->body() : (p.head ? &p.head->body() : nullptr);
  KeepServerWritten(made_on ? *made_on : vigil::v1::RecordBody(), *p.m->mutable_body());
  return absl::OkStatus();
}

absl::Status PushBatch::RequestVisitMove(Pending& p) {
  Mutation& m = *p.m;
  // A held mutation is not applied, so it moves nothing (yet).
  if (m.delete_() || p.locked || !m.body().has_visit() ||
      m.record_id() != sync::VisitIdOf(p.scope)) {
    return absl::OkStatus();
  }
  using vigil::v1::VisitState;
  const VisitState head_state = p.head.has_value() && p.head->body().has_visit()
                                    ? p.head->body().visit().state()
                                    : vigil::v1::VISIT_STATE_UNSPECIFIED;
  const vigil::v1::Record* made_on = p.base ? &*p.base : (p.head ? &*p.head : nullptr);
  const VisitState made_on_state = made_on != nullptr && made_on->body().has_visit()
                                       ? made_on->body().visit().state()
                                       : vigil::v1::VISIT_STATE_UNSPECIFIED;
  const VisitState requested = m.body().visit().state();
  // The state is never merged: an edit that left it alone keeps the head's,
  // one that changed it asks to move from the head's state.
  if (requested == made_on_state) {
    m.mutable_body()->mutable_visit()->set_state(head_state);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const vigil::internal::VisitSummary summary,
                   VisitIndexWriter(tables_.context()).Summary(m.record_id()));
  const VisitMove move{head_state, requested};
  absl::Status allowed =
      CheckVisitMove(*p.grant, move, m.visit_transition(), summary.open_conflicts());
  if (!allowed.ok()) return AtMutation(allowed, p.index, m);
  if (IsMove(move) && move.to == vigil::v1::VISIT_STATE_PUBLISHED && !publishing_) {
    return AtMutation(WithReason(absl::FailedPreconditionError(
                                     "a visit is published with its signed report: "
                                     "ReportService.PublishVisitReport"),
                                 "REPORT_REQUIRED"),
                      p.index, m);
  }
  if (p.base.has_value()) p.base->mutable_body()->mutable_visit()->set_state(head_state);
  if (IsMove(move)) {
    p.move = move;
    p.open_conflicts = summary.open_conflicts();
  }
  return absl::OkStatus();
}

absl::Status PushBatch::Merge(Pending& p) {
  // A mutation held for a locked visit is checked as if it were applied now
  // (its base, the conflicts it resolves, its body), so that nonsense is
  // refused rather than queued; one chained on a held edit cannot be.
  if (p.chained_on_late) return absl::OkStatus();
  absl::StatusOr<sync::ApplyOutcome> applied = sync::ApplyMutation(
      p.head ? &*p.head : nullptr, p.base ? &*p.base : nullptr, *p.m, now_);
  if (!applied.ok()) {
    return AtMutation(applied.status(), p.index, *p.m, ReasonFor(applied.status().code()));
  }
  p.outcome = std::move(*applied);
  return absl::OkStatus();
}

absl::Status PushBatch::AuthorizeOutcome(Pending& p) {
  if (!p.outcome.has_value()) return absl::OkStatus();
  // Nobody writes what they could not read back in full (an interview
  // without themselves as interviewer, an identity of someone else's
  // interview).
  auto same_scope = [&](std::string_view id) { return tables_.HeadInScope(id, p.scope); };
  ASSIGN_OR_RETURN(Visibility after, VisibilityOf(*p.grant, p.outcome->record, same_scope));
  if (after != Visibility::kFull) return Denied(p);
  return absl::OkStatus();
}

absl::StatusOr<bool> PushBatch::HoldIfLocked(Pending& p) {
  if (!p.locked) return false;
  RETURN_IF_ERROR(tables_.HoldLate(p.scope, *p.m));
  p.result->set_late_submission(true);
  StoredMutation stored;
  *stored.mutable_result() = *p.result;
  stored.set_device_id(p.m->device_id());
  stored.set_fingerprint(p.fingerprint);
  tables_.PutMutation(p.m->mutation_id(), stored, /*sensitive=*/false);
  RETURN_IF_ERROR(
      audit_.Append(AuditOf(caller_, "record.late_submission", "records/" + p.m->record_id())));
  return true;
}

absl::Status PushBatch::RecordVisitMove(Pending& p) {
  Record& after = p.outcome->record;
  if (!after.body().has_visit() || after.id() != sync::VisitIdOf(after.scope())) {
    return absl::OkStatus();
  }
  vigil::v1::Visit& visit = *after.mutable_body()->mutable_visit();
  if (!p.head.has_value()) {
    // The team is the team table's (visit_team.h), from the first revision.
    ASSIGN_OR_RETURN(*visit.mutable_team(), DerivedTeam(tables_, after.id(), visit, now_));
  }
  if (!p.move.has_value()) return absl::OkStatus();
  const Mutation& m = *p.m;
  vigil::v1::VisitTransition& t = *visit.add_transitions();
  t.set_id(m.mutation_id());
  t.set_from(p.move->from);
  t.set_to(p.move->to);
  t.set_user_id(caller_.principal);
  t.set_device_id(caller_.device);
  *t.mutable_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now_));
  t.set_note(m.visit_transition().note());
  t.set_open_conflicts(p.open_conflicts);
  t.set_acknowledged_open_conflicts(p.open_conflicts > 0 &&
                                    m.visit_transition().acknowledge_open_conflicts());
  if (p.move->to == vigil::v1::VISIT_STATE_IN_REVIEW) visit.set_reviewer_user_id(caller_.principal);
  p.outcome->changed = true;
  return audit_.Append(AuditOf(caller_,
                               absl::StrCat("visit.transition from=",
                                            vigil::v1::VisitState_Name(p.move->from),
                                            " to=", vigil::v1::VisitState_Name(p.move->to),
                                            t.acknowledged_open_conflicts()
                                                ? " acknowledged_open_conflicts=" +
                                                      std::to_string(p.open_conflicts)
                                                : std::string()),
                               "records/" + after.id()));
}

absl::Status PushBatch::RecordStatusChange(Pending& p) {
  Record& after = p.outcome->record;
  if (!p.outcome->changed || after.deleted() || !after.body().has_recommendation()) {
    return absl::OkStatus();
  }
  const bool existed = p.head.has_value() && !p.head->deleted() &&
                       p.head->body().has_recommendation();
  const vigil::v1::RecommendationStatus before =
      existed ? p.head->body().recommendation().status()
              : vigil::v1::RECOMMENDATION_STATUS_UNSPECIFIED;
  vigil::v1::Recommendation& r = *after.mutable_body()->mutable_recommendation();
  if (existed && r.status() == before) return absl::OkStatus();
  vigil::v1::RecommendationStatusChange& change = *r.add_status_history();
  change.set_id(p.m->mutation_id());
  change.set_from(before);
  change.set_to(r.status());
  change.set_user_id(caller_.principal);
  *change.mutable_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now_));
  change.set_note(r.status_note());
  *r.mutable_status_changed_at() = change.at();
  return absl::OkStatus();
}

namespace {

// Whether `mark` waits on the team: accepted, or with a question.
bool MarkStands(const vigil::v1::ReviewMark& mark) {
  return mark.state() == vigil::v1::REVIEW_MARK_STATE_ACCEPTED ||
         mark.state() == vigil::v1::REVIEW_MARK_STATE_QUESTION;
}

void Answer(vigil::v1::ReviewMark& mark, const Caller& by, absl::Time now) {
  mark.set_state(vigil::v1::REVIEW_MARK_STATE_ANSWERED);
  mark.set_answered_by_user_id(by.principal);
  *mark.mutable_answered_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
}

}  // namespace

absl::Status PushBatch::AnswerMark(Pending& p) {
  // The NPM unit's own edits (a resolution, a move) leave its marks alone.
  if (p.grant->reviewer || !p.outcome->changed || !p.head.has_value() ||
      !MarkStands(p.head->review())) {
    return absl::OkStatus();
  }
  vigil::v1::ReviewMark& mark = *p.outcome->record.mutable_review();
  Answer(mark, caller_, now_);
  mark.set_answer_mutation_id(p.m->mutation_id());
  return absl::OkStatus();
}

absl::Status PushBatch::AnswerByReply(Pending& p) {
  const Record& written = p.outcome->record;
  if (p.grant->reviewer || p.head.has_value() || !written.body().has_comment() ||
      written.deleted()) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<Record> subject,
                   tables_.HeadInScope(written.body().comment().subject_record_id(), p.scope));
  if (!subject.has_value() || subject->review().state() != vigil::v1::REVIEW_MARK_STATE_QUESTION) {
    return absl::OkStatus();
  }
  Record next = *subject;
  Answer(*next.mutable_review(), caller_, now_);
  next.mutable_review()->set_answer_comment_id(written.id());
  return WriteServerRevision(*subject, next, "review.answered");
}

absl::Status PushBatch::WriteServerRevision(const Record& head, Record& next, std::string action) {
  next.set_revision(head.revision() + 1);
  next.set_seq(tables_.context().NextSeq());
  RETURN_IF_ERROR(tables_.WriteHead(head, next));
  touched_[next.scope()] = next.seq();
  return audit_.Append(AuditOf(caller_, std::move(action), "records/" + next.id()));
}

absl::Status PushBatch::Persist(Pending& p) {
  sync::ApplyOutcome& outcome = *p.outcome;
  p.result->set_clean(outcome.clean);
  for (const auto& id : outcome.conflict_ids) p.result->add_conflict_ids(id);
  if (!outcome.changed) {
    p.result->set_revision(p.head ? p.head->revision() : 0);
  } else {
    Record& record = outcome.record;
    RETURN_IF_ERROR(MoveViewEpochs(p.head, record));
    record.set_seq(tables_.context().NextSeq());
    RETURN_IF_ERROR(tables_.WriteHead(p.head, record));
    p.result->set_revision(record.revision());
    touched_[record.scope()] = record.seq();
    RETURN_IF_ERROR(audit_.Append(AuditOf(
        caller_, record.deleted() ? "record.delete" : "record.write", "records/" + record.id())));
  }
  // Keep what was pushed when the revision differs from it (merged): a later
  // mutation chained on this one is merged against it.
  const Mutation& m = *p.m;
  const bool taken_as_is =
      !p.head.has_value() || (m.base_revision() == p.head->revision() && !p.base);
  StoreResult(p, !m.delete_() && outcome.changed && !taken_as_is &&
                     sync::SerializeDeterministic(outcome.record.body()) !=
                         sync::SerializeDeterministic(m.body()));
  return absl::OkStatus();
}

absl::Status PushBatch::NoteParallelUpdate(Pending& p) {
  const Mutation& m = *p.m;
  const sync::ApplyOutcome& outcome = *p.outcome;
  // Concurrent: the record changed since the revision the edit was made on.
  if (m.delete_() || !outcome.changed || !outcome.clean || !p.head.has_value() ||
      m.base_revision() >= p.head->revision() || sync::VisitIdOf(p.scope).empty()) {
    return absl::OkStatus();
  }
  // Both sides changed the body's content; a review mark or a lifecycle
  // move in between (server-written) is not an edit to check.
  const vigil::v1::RecordBody base_body = p.base ? p.base->body() : vigil::v1::RecordBody();
  auto content_of = [&base_body](vigil::v1::RecordBody body) {
    KeepServerWritten(base_body, body);
    return sync::SerializeDeterministic(body);
  };
  const std::string base_content = content_of(base_body);
  if (content_of(p.head->body()) == base_content || content_of(m.body()) == base_content) {
    return absl::OkStatus();
  }
  vigil::internal::ParallelUpdateEntry entry;
  entry.set_id(m.mutation_id());
  entry.set_record_id(m.record_id());
  entry.set_scope(p.scope);
  const google::protobuf::FieldDescriptor* kind = sync::BodyKindField(outcome.record.body());
  entry.set_record_kind(kind == nullptr ? 0 : kind->number());
  entry.set_base_revision(m.base_revision());
  entry.set_theirs_revision(p.head->revision());
  entry.set_merged_revision(outcome.record.revision());
  entry.set_merged_unix_micros(absl::ToUnixMicros(now_));
  return PutParallelUpdate(tables_.context(), std::nullopt, entry);
}

void PushBatch::StoreResult(const Pending& p, bool keep_pushed_body) {
  StoredMutation stored;
  *stored.mutable_result() = *p.result;
  // The device that pushed it (a late submission the NPM unit accepts is
  // still its device's edit).
  stored.set_device_id(p.m->device_id());
  stored.set_fingerprint(p.fingerprint);
  if (keep_pushed_body) *stored.mutable_pushed_body() = p.m->body();
  // A decision's reason is the NPM unit's words: sealed like content.
  tables_.PutMutation(p.m->mutation_id(), stored,
                      IsSensitive(p.m->body()) || p.accepted != nullptr);
}

// Moves the view epoch of every caller whose view of the scope changes with
// `after` (the new state of `head`) beyond the record itself: the
// interviewers an interview gains or loses (its identity records appear or
// go), an identity record's interviewers when it moves to another interview,
// and service accounts when a record they could see is withheld from now on.
absl::Status PushBatch::MoveViewEpochs(const std::optional<Record>& head, const Record& after) {
  std::set<std::string> moved;
  auto interviewers = [](const Record* r) {
    std::set<std::string> ids;
    if (r != nullptr && r->body().has_interview()) {
      ids.insert(r->body().interview().interviewer_user_ids().begin(),
                 r->body().interview().interviewer_user_ids().end());
    }
    return ids;
  };
  const Record* before = head.has_value() ? &*head : nullptr;
  if (after.body().has_interview() || (before != nullptr && before->body().has_interview())) {
    const std::set<std::string> was = interviewers(before), is = interviewers(&after);
    std::set_symmetric_difference(was.begin(), was.end(), is.begin(), is.end(),
                                  std::inserter(moved, moved.end()));
  }
  const std::string scope = after.scope();
  auto lookup = [&](std::string_view id) { return tables_.HeadInScope(id, scope); };
  if (before != nullptr && before->body().has_identity() &&
      before->body().identity().interview_id() != after.body().identity().interview_id()) {
    ASSIGN_OR_RETURN(std::optional<Record> old_interview,
                     lookup(before->body().identity().interview_id()));
    for (const std::string& id : interviewers(old_interview ? &*old_interview : nullptr)) {
      moved.insert(id);
    }
  }
  if (before != nullptr) {
    ScopeGrant service;
    service.read = true;
    service.service = true;
    ASSIGN_OR_RETURN(Visibility was, VisibilityOf(service, *before, lookup));
    ASSIGN_OR_RETURN(Visibility is, VisibilityOf(service, after, lookup));
    if (was != Visibility::kWithheld && is == Visibility::kWithheld) {
      moved.insert(std::string(kServicesPrincipal));
    }
  }
  for (const std::string& principal : moved) {
    RETURN_IF_ERROR(tables_.MoveViewEpoch(scope, principal));
  }
  return absl::OkStatus();
}

}  // namespace vigil::server
