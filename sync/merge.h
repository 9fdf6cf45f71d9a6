// Three-way, field-by-field merge of record bodies through protobuf
// reflection. Pure and deterministic: the result depends only on the inputs.
#ifndef VIGIL_SYNC_MERGE_H_
#define VIGIL_SYNC_MERGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "vigil/v1/clock.pb.h"
#include "vigil/v1/conflict.pb.h"

namespace vigil::sync {

// The inputs of one merge. Pointers are borrowed for the duration of the call.
struct MergeInput {
  // Id of the record, for conflict ids.
  std::string record_id;
  // The common ancestor. nullptr: the two sides were created independently
  // (create vs create of the same id), merged against an empty body.
  const google::protobuf::Message* base = nullptr;
  // The server head.
  const google::protobuf::Message* theirs = nullptr;
  // The incoming edit.
  const google::protobuf::Message* ours = nullptr;
  // The incoming edit's author, device, HLC and mutation id.
  vigil::v1::EditStamp ours_edit;
  // Writer of every path of `theirs` that has no field stamp (the record's
  // creating edit).
  vigil::v1::EditStamp theirs_default_edit;
  // Last writer per field path of `theirs` (may be nullptr: none).
  const google::protobuf::RepeatedPtrField<vigil::v1::FieldStamp>*
      theirs_stamps = nullptr;
  // Conflicts open on the head (may be nullptr: none). A new competing value
  // for a path that already has an open conflict joins that conflict.
  const google::protobuf::RepeatedPtrField<vigil::v1::Conflict>*
      open_conflicts = nullptr;
  // Clean merges of concurrent narrative edits kept on the head
  // (Record.text_merges; may be nullptr: none).
  const google::protobuf::RepeatedPtrField<vigil::v1::Conflict>*
      text_merges = nullptr;
};

struct MergeResult {
  // Same type as the inputs. Where a conflict remains, holds its winner.
  std::unique_ptr<google::protobuf::Message> merged;
  // Every conflict open after the merge (those of the input that this merge
  // did not touch, plus new and extended ones), sorted by (field_path, id).
  std::vector<vigil::v1::Conflict> open_conflicts;
  // Ids of the conflicts this merge created or extended (subset of the above).
  std::vector<std::string> touched_conflict_ids;
  // Last writer per field path after the merge, sorted by path.
  std::vector<vigil::v1::FieldStamp> stamps;
  // Clean merges of concurrent narrative edits after the merge, sorted by
  // path (Record.text_merges).
  std::vector<vigil::v1::Conflict> text_merges;
  bool clean() const { return touched_conflict_ids.empty(); }
};

// Merges `ours` into `theirs` against `base`, field by field, recursing into
// sub-messages, following each field's merge policy (sync/merge_policy.h):
//  - a field changed on one side only takes that side; changed to the same
//    value on both takes it;
//  - changed differently on both: register -> Conflict, head = winner (later
//    HLC, then device id, then mutation id); text -> diff3, only overlapping
//    hunks conflict; while a text conflict is open, every edit of the field
//    joins it with its own text, and the head's text and the conflict's
//    hunks are the n-way merge of its versions (MergeTexts), so they do not
//    depend on the order in which the versions arrived. Concurrent edits of
//    a narrative made on one text that merge cleanly are kept as a text
//    merge (each edit's own text against that text); every later edit of
//    the narrative made on that same text joins them and the head's text is
//    their n-way merge, and if they overlap they become a text conflict of
//    those versions, the one that arriving in any other order opens. An
//    edit made on any other text (one that saw some of them, an offline
//    chain on one of them, one from before them) ends the text merge and is
//    merged three-way against the text it saw, so that edits of different
//    lines merge cleanly whatever each saw; set -> set merge;
//    keyed list -> element by element (an element removed on one side and
//    edited on the other, or removed while a conflict is open inside it, is
//    kept, with a Conflict that holds the element as the head does, under
//    the latest edit that changed it); sub-message -> recurse; oneof whose
//    case differs -> Conflict on the oneof;
//  - unknown fields are kept: if both sides changed them, the head holds the
//    union and a Conflict records both sets.
// Keyed lists and sets changed on both sides come out in canonical order (by
// id, by value); a side's order is kept when only that side changed.
//
// Errors: InvalidArgument if the three messages are not of one type, the type
// fails ValidateMergeSchema, a keyed list has an element without id or two
// with the same id, or a message is nested deeper than 64 levels.
absl::StatusOr<MergeResult> ThreeWayMerge(const MergeInput& input);

// Deterministic conflict id: "cf-" + 32 hex digits of a stable hash of the
// record id, field path, kind and sorted version mutation ids.
std::string ConflictId(const vigil::v1::Conflict& conflict);

// Adds a competing value to `conflict`, keeping versions ordered by
// EditBefore; an edit already present is not added again (nor is another
// version moved under it); a value already present stays once, under the
// later edit. Does not update id or winner.
void AddConflictVersion(vigil::v1::Conflict* conflict,
                        vigil::v1::FieldValue value,
                        const vigil::v1::EditStamp& edit);

// Orders edits: later HLC wins, then larger device id, then larger mutation id.
bool EditBefore(const vigil::v1::EditStamp& a, const vigil::v1::EditStamp& b);

// Deterministic serialization (map order fixed, unknown fields kept).
std::string SerializeDeterministic(const google::protobuf::Message& message);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_MERGE_H_
