#include "sync/record_merge.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "sync/merge.h"
#include "sync/reflection_util.h"

namespace vigil::sync {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using vigil::v1::Conflict;
using vigil::v1::ConflictKind;
using vigil::v1::EditStamp;
using vigil::v1::FieldValue;
using vigil::v1::Mutation;
using vigil::v1::Record;
using vigil::v1::RecordBody;

namespace {

const FieldDescriptor* KindField(const RecordBody& body) {
  static const auto* oneof = RecordBody::descriptor()->FindOneofByName("kind");
  return body.GetReflection()->GetOneofFieldDescriptor(body, oneof);
}

const Message& KindMessage(const RecordBody& body, const FieldDescriptor* f) {
  return body.GetReflection()->GetMessage(body, f);
}

FieldValue BodyValue(const RecordBody& body, bool present) {
  FieldValue v;
  v.set_present(present);
  const FieldDescriptor* f = KindField(body);
  if (f != nullptr) {
    v.set_carrier_type(f->message_type()->full_name());
    if (present) v.set_carrier(SerializeDeterministic(KindMessage(body, f)));
  }
  return v;
}

// Adds the two versions of a whole-record conflict (path "") of `kind`,
// opening it if needed; `winner` is the mutation id the head follows.
std::string AddRecordConflict(Record* record, ConflictKind kind,
                              FieldValue base, FieldValue a,
                              const EditStamp& a_edit, FieldValue b,
                              const EditStamp& b_edit,
                              const std::string& winner) {
  Conflict* c = nullptr;
  for (Conflict& open : *record->mutable_open_conflicts()) {
    if (open.field_path().empty() && open.kind() == kind) c = &open;
  }
  if (c == nullptr) {
    c = record->add_open_conflicts();
    c->set_record_id(record->id());
    c->set_kind(kind);
    *c->mutable_base() = std::move(base);
  }
  AddConflictVersion(c, std::move(a), a_edit);
  AddConflictVersion(c, std::move(b), b_edit);
  c->set_winner_mutation_id(winner);
  c->set_id(ConflictId(*c));
  std::sort(record->mutable_open_conflicts()->begin(),
            record->mutable_open_conflicts()->end(),
            [](const Conflict& x, const Conflict& y) {
              return std::tie(x.field_path(), x.id()) <
                     std::tie(y.field_path(), y.id());
            });
  return c->id();
}

void SetUpdated(Record* record, const EditStamp& edit, absl::Time now) {
  record->set_revision(record->revision() + 1);
  *record->mutable_updated() = edit;
  const int64_t micros = absl::ToUnixMicros(now);
  record->mutable_updated_at()->set_seconds(
      micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000);
  record->mutable_updated_at()->set_nanos(static_cast<int32_t>(
      (micros - record->updated_at().seconds() * 1000000) * 1000));
}

}  // namespace

EditStamp EditOf(const Mutation& mutation) {
  EditStamp edit;
  edit.set_mutation_id(mutation.mutation_id());
  edit.set_author(mutation.author());
  edit.set_device_id(mutation.device_id());
  *edit.mutable_hlc() = mutation.hlc();
  return edit;
}

absl::StatusOr<ApplyOutcome> ApplyMutation(const Record* head,
                                           const Record* base,
                                           const Mutation& mutation,
                                           absl::Time now) {
  if (mutation.mutation_id().empty() || mutation.record_id().empty()) {
    return absl::InvalidArgumentError(
        "mutation needs mutation_id and record_id");
  }
  const FieldDescriptor* kind = KindField(mutation.body());
  if (!mutation.delete_() && kind == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("mutation ", mutation.mutation_id(), " has no body kind"));
  }
  const EditStamp edit = EditOf(mutation);
  ApplyOutcome outcome;

  if (head == nullptr) {
    if (mutation.delete_() || mutation.base_revision() != 0) {
      return absl::NotFoundError(
          absl::StrCat("record ", mutation.record_id(), " does not exist"));
    }
    if (!mutation.resolves_conflict_ids().empty()) {
      return absl::NotFoundError(absl::StrCat(
          "conflict ", mutation.resolves_conflict_ids(0), " is not open"));
    }
    Record& r = outcome.record;
    r.set_id(mutation.record_id());
    r.set_scope(mutation.scope());
    *r.mutable_body() = mutation.body();
    *r.mutable_created() = edit;
    SetUpdated(&r, edit, now);
    return outcome;
  }

  if (head->id() != mutation.record_id()) {
    return absl::InvalidArgumentError(absl::StrCat("mutation for record ",
                                                   mutation.record_id(),
                                                   " applied to ", head->id()));
  }
  if (mutation.base_revision() > head->revision()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "base revision ", mutation.base_revision(), " of record ", head->id(),
        " is newer than its head revision ", head->revision()));
  }
  const FieldDescriptor* head_kind = KindField(head->body());
  if (!mutation.delete_() && head_kind != nullptr && kind != head_kind) {
    return absl::InvalidArgumentError(absl::StrCat("record ", head->id(),
                                                   " is a ", head_kind->name(),
                                                   ", not a ", kind->name()));
  }
  // A base on the head revision whose body differs from the head's is the
  // body the client actually edited (its own earlier mutation, which the
  // server merged with other changes): merge against it, never take as is.
  const bool fast_forward =
      mutation.base_revision() == head->revision() &&
      (base == nullptr || MessagesEqual(base->body(), head->body()));
  absl::flat_hash_set<std::string> resolved;
  for (const std::string& id : mutation.resolves_conflict_ids()) {
    const bool open = std::any_of(
        head->open_conflicts().begin(), head->open_conflicts().end(),
        [&id](const Conflict& c) { return c.id() == id; });
    if (!open) {
      return absl::NotFoundError(
          absl::StrCat("conflict ", id, " is not open on record ", head->id()));
    }
    resolved.insert(id);
  }
  if (!resolved.empty() && !fast_forward) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a resolution must be made on the head revision ", head->revision(),
        " of record ", head->id(), ", not on ", mutation.base_revision()));
  }
  const RecordBody* base_body = nullptr;  // nullptr: empty (create vs create)
  if (fast_forward) {
    base_body = &head->body();
  } else if (mutation.base_revision() != 0) {
    if (base == nullptr || base->id() != head->id() ||
        base->revision() != mutation.base_revision()) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge of record ", head->id(), " needs its revision ",
                       mutation.base_revision()));
    }
    base_body = &base->body();
  }

  Record& out = outcome.record;
  out = *head;
  if (!resolved.empty()) {
    auto* open = out.mutable_open_conflicts();
    open->erase(std::remove_if(open->begin(), open->end(),
                               [&resolved](const Conflict& c) {
                                 return resolved.contains(c.id());
                               }),
                open->end());
  }

  if (mutation.delete_()) {
    if (head->deleted()) {
      outcome.changed = false;
      return outcome;
    }
    SetUpdated(&out, edit, now);
    const bool unchanged_since_base =
        fast_forward ||
        (base_body != nullptr && MessagesEqual(*base_body, head->body()));
    if (unchanged_since_base) {
      out.set_deleted(true);
      return outcome;
    }
    // The delete did not see the head's changes: keep them.
    outcome.clean = false;
    outcome.conflict_ids.push_back(AddRecordConflict(
        &out, vigil::v1::CONFLICT_KIND_DELETE_EDIT,
        base_body != nullptr ? BodyValue(*base_body, true)
                             : BodyValue(head->body(), false),
        BodyValue(head->body(), true), head->updated(),
        BodyValue(head->body(), false), edit, head->updated().mutation_id()));
    return outcome;
  }

  const Message& theirs = KindMessage(head->body(), kind);
  const Message& ours = KindMessage(mutation.body(), kind);
  MergeInput in;
  in.record_id = head->id();
  in.base = base_body != nullptr ? &KindMessage(*base_body, kind) : nullptr;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = edit;
  in.theirs_default_edit = head->created();
  in.theirs_stamps = &head->field_stamps();
  in.open_conflicts = &out.open_conflicts();
  ASSIGN_OR_RETURN(MergeResult merged, ThreeWayMerge(in));

  SetUpdated(&out, edit, now);
  out.mutable_body()
      ->GetReflection()
      ->MutableMessage(out.mutable_body(), kind)
      ->CopyFrom(*merged.merged);
  out.clear_open_conflicts();
  for (Conflict& c : merged.open_conflicts) {
    *out.add_open_conflicts() = std::move(c);
  }
  out.clear_field_stamps();
  for (auto& s : merged.stamps) *out.add_field_stamps() = std::move(s);
  outcome.conflict_ids = std::move(merged.touched_conflict_ids);
  outcome.clean = outcome.conflict_ids.empty();
  if (head->deleted()) {
    out.set_deleted(false);
    outcome.clean = false;
    outcome.conflict_ids.push_back(AddRecordConflict(
        &out, vigil::v1::CONFLICT_KIND_EDIT_AFTER_DELETE,
        base_body != nullptr ? BodyValue(*base_body, true)
                             : BodyValue(head->body(), false),
        BodyValue(head->body(), false), head->updated(),
        BodyValue(mutation.body(), true), edit, edit.mutation_id()));
  }
  return outcome;
}

}  // namespace vigil::sync
