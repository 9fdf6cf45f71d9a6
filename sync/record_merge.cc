#include "sync/record_merge.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "sync/hlc.h"
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

const Message& KindMessage(const RecordBody& body, const FieldDescriptor* f) {
  return body.GetReflection()->GetMessage(body, f);
}

FieldValue BodyValue(const RecordBody& body, bool present) {
  FieldValue v;
  v.set_present(present);
  const FieldDescriptor* f = BodyKindField(body);
  if (f != nullptr) {
    v.set_carrier_type(f->message_type()->full_name());
    if (present) v.set_carrier(SerializeDeterministic(KindMessage(body, f)));
  }
  return v;
}

// The whole-record conflict (path "") of `kind`, opened with `base` if it is
// not open yet.
Conflict* RecordConflict(Record* record, ConflictKind kind, FieldValue base) {
  for (Conflict& open : *record->mutable_open_conflicts()) {
    if (open.field_path().empty() && open.kind() == kind) return &open;
  }
  Conflict* c = record->add_open_conflicts();
  c->set_record_id(record->id());
  c->set_kind(kind);
  *c->mutable_base() = std::move(base);
  return c;
}

// Names `c` by its versions and keeps the record's conflicts in order.
std::string Seal(Record* record, Conflict* c, const std::string& winner) {
  c->set_winner_mutation_id(winner);
  c->set_id(ConflictId(*c));
  const std::string id = c->id();
  std::sort(record->mutable_open_conflicts()->begin(),
            record->mutable_open_conflicts()->end(),
            [](const Conflict& x, const Conflict& y) {
              return std::tie(x.field_path(), x.id()) <
                     std::tie(y.field_path(), y.id());
            });
  return id;
}

// Field stamps hold, under the empty path, the latest (by edit order) of
// every edit that changed something from the body it was made on: unlike a
// field's stamp, which names its last writer by arrival, it is the same
// whatever order the edits arrived in.
void NoteEdit(Record* record, const EditStamp& edit) {
  for (auto& stamp : *record->mutable_field_stamps()) {
    if (!stamp.field_path().empty()) continue;
    if (EditBefore(stamp.edit(), edit)) *stamp.mutable_edit() = edit;
    return;
  }
  auto* stamp = record->add_field_stamps();
  *stamp->mutable_edit() = edit;
  std::sort(record->mutable_field_stamps()->begin(),
            record->mutable_field_stamps()->end(),
            [](const vigil::v1::FieldStamp& a, const vigil::v1::FieldStamp& b) {
              return a.field_path() < b.field_path();
            });
}

// The edit NoteEdit holds, or null.
const EditStamp* NotedEdit(const Record& record) {
  for (const auto& stamp : record.field_stamps()) {
    if (stamp.field_path().empty()) return &stamp.edit();
  }
  return nullptr;
}

// A record whose noted edit moved was edited since, even if nothing else
// shows it (an edit can change nothing that another edit had not already
// changed).
bool SameNotedEdit(const Record& a, const Record& b) {
  const EditStamp* x = NotedEdit(a);
  const EditStamp* y = NotedEdit(b);
  if (x == nullptr || y == nullptr) return x == y;
  return SerializeDeterministic(*x) == SerializeDeterministic(*y);
}

// The latest edit that changed the record: its creation, the edits noted
// by NoteEdit, and (for records stored before it) its fields' last writers.
EditStamp LatestChange(const Record& record) {
  EditStamp latest = record.created();
  for (const auto& stamp : record.field_stamps()) {
    if (EditBefore(latest, stamp.edit())) latest = stamp.edit();
  }
  return latest;
}

// A delete and edits that did not see each other, in one shape whatever
// order they arrived in: the record is kept (and live); one version holds
// it as the head does, under the latest edit that changed it (the winner),
// and one holds the delete, under the latest deleter. `deleter` (if any)
// joins the deleters; the kept version follows the head's body.
std::string DeleteEditConflict(Record* record, const RecordBody* base_body,
                               const EditStamp* deleter) {
  Conflict* c = RecordConflict(
      record, vigil::v1::CONFLICT_KIND_DELETE_EDIT,
      base_body != nullptr ? BodyValue(*base_body, true)
                           : BodyValue(record->body(), false));
  // The kept version's edit only moves later: it is the latest of every
  // state the record showed while the conflict was open, which does not
  // depend on the order the edits arrived in (the latest state alone can:
  // a field's stamp names its last writer by arrival).
  EditStamp kept = LatestChange(*record);
  auto* versions = c->mutable_versions();
  for (const auto& v : *versions) {
    if (v.value().present() && EditBefore(kept, v.edit())) kept = v.edit();
  }
  versions->erase(std::remove_if(versions->begin(), versions->end(),
                                 [](const vigil::v1::ConflictVersion& v) {
                                   return v.value().present();
                                 }),
                  versions->end());
  AddConflictVersion(c, BodyValue(record->body(), true), kept);
  if (deleter != nullptr) {
    AddConflictVersion(c, BodyValue(record->body(), false), *deleter);
  }
  return Seal(record, c, kept.mutation_id());
}

bool SameConflicts(const Record& a, const Record& b) {
  if (a.open_conflicts_size() != b.open_conflicts_size()) return false;
  for (int i = 0; i < a.open_conflicts_size(); ++i) {
    if (SerializeDeterministic(a.open_conflicts(i)) !=
        SerializeDeterministic(b.open_conflicts(i))) {
      return false;
    }
  }
  return true;
}

bool HasDeleteEditConflict(const Record& record) {
  return std::any_of(record.open_conflicts().begin(),
                     record.open_conflicts().end(), [](const Conflict& c) {
                       return c.field_path().empty() &&
                              c.kind() == vigil::v1::CONFLICT_KIND_DELETE_EDIT;
                     });
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

const FieldDescriptor* BodyKindField(const RecordBody& body) {
  static const auto* oneof = RecordBody::descriptor()->FindOneofByName("kind");
  return body.GetReflection()->GetOneofFieldDescriptor(body, oneof);
}

EditStamp EditOf(const Mutation& mutation) {
  EditStamp edit;
  edit.set_mutation_id(mutation.mutation_id());
  edit.set_author(mutation.author());
  edit.set_device_id(mutation.device_id());
  *edit.mutable_hlc() = mutation.hlc();
  return edit;
}

Record ChainedBase(Record produced, const RecordBody& pushed) {
  *produced.mutable_body() = pushed;
  return produced;
}

absl::StatusOr<ApplyOutcome> ApplyMutation(const Record* head,
                                           const Record* base,
                                           const Mutation& mutation,
                                           absl::Time now) {
  if (mutation.mutation_id().empty() || mutation.record_id().empty()) {
    return absl::InvalidArgumentError(
        "mutation needs mutation_id and record_id");
  }
  const FieldDescriptor* kind = BodyKindField(mutation.body());
  if (!mutation.delete_() && kind == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("mutation ", mutation.mutation_id(), " has no body kind"));
  }
  EditStamp edit = EditOf(mutation);
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
  const FieldDescriptor* head_kind = BodyKindField(head->body());
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
  // An edit comes after everything in the revision it was made on, whatever
  // the device's clock says (an honest device's HLC already does): so the
  // order of edits, and every winner it picks, respects what each saw.
  if (const Record* seen = fast_forward ? head : (base_body != nullptr ? base : nullptr)) {
    // Only what does not depend on arrival order: the creation and the
    // noted latest edit (a field's stamp names its last writer by arrival).
    EditStamp latest = seen->created();
    if (const EditStamp* noted = NotedEdit(*seen); noted && EditBefore(latest, *noted)) {
      latest = *noted;
    }
    const auto& at = edit.hlc();
    const auto& floor = latest.hlc();
    if (std::make_pair(at.wall_time_micros(), at.logical()) <=
        std::make_pair(floor.wall_time_micros(), floor.logical())) {
      *edit.mutable_hlc() = NextHlc(floor);
    }
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
      // Deleted already. The tombstone names the latest deleter (by edit
      // order, not arrival), which a later undelete records as the delete.
      if (!EditBefore(head->updated(), edit)) {
        outcome.changed = false;
        return outcome;
      }
      SetUpdated(&out, edit, now);
      return outcome;
    }
    SetUpdated(&out, edit, now);
    // Unchanged: neither the body nor its open conflicts (an edit that only
    // joined a conflict changed the record too).
    const bool unchanged_since_base =
        fast_forward ||
        (base_body != nullptr && MessagesEqual(*base_body, head->body()) &&
         (base == nullptr || (SameConflicts(*base, *head) &&
                              SameNotedEdit(*base, *head))));
    if (unchanged_since_base) {
      out.set_deleted(true);
      return outcome;
    }
    // The delete did not see the head's changes: keep them.
    outcome.clean = false;
    outcome.conflict_ids.push_back(DeleteEditConflict(&out, base_body, &edit));
    return outcome;
  }

  // Whether the edit changed anything of the body it was made on.
  const RecordBody* edited_from = fast_forward ? &head->body() : base_body;
  const bool edit_changed_something =
      edited_from == nullptr || !MessagesEqual(*edited_from, mutation.body());
  if (head->deleted() && !edit_changed_something) {
    // It brings nothing back: the record stays deleted, as when the delete
    // arrives after it (and finds nothing changed since its base).
    outcome.changed = false;
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
  in.text_merges = &head->text_merges();
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
  out.clear_text_merges();
  for (Conflict& m : merged.text_merges) *out.add_text_merges() = std::move(m);
  if (edit_changed_something) NoteEdit(&out, edit);
  outcome.conflict_ids = std::move(merged.touched_conflict_ids);
  outcome.clean = outcome.conflict_ids.empty();
  if (head->deleted()) {
    // The edit brings the record back, whether it saw the delete (it was
    // made on the deleted revision) or not: the same conflict as when the
    // delete arrives second, naming the delete for review.
    out.set_deleted(false);
    outcome.clean = false;
    outcome.conflict_ids.push_back(
        DeleteEditConflict(&out, base_body, &head->updated()));
  } else if (HasDeleteEditConflict(out)) {
    // While a delete-vs-edit conflict is open, its kept version follows the
    // record.
    DeleteEditConflict(&out, nullptr, nullptr);
  }
  return outcome;
}

}  // namespace vigil::sync
