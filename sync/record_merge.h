// Applying one pushed mutation to a record: create, edit (fast-forward or
// three-way merge), delete, resolution of conflicts. Pure: the server passes
// the head, the base revision from history and its clock reading.
#ifndef VIGIL_SYNC_RECORD_MERGE_H_
#define VIGIL_SYNC_RECORD_MERGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vigil/v1/record.pb.h"

namespace vigil::sync {

struct ApplyOutcome {
  // The record after the mutation. `seq` is left as in the head (storage
  // assigns it).
  vigil::v1::Record record;
  // False when the mutation changed nothing (deleting a deleted record, an
  // edit that changes nothing of a record deleted meanwhile); the caller
  // then keeps the head and does not write a revision.
  bool changed = true;
  // No conflict was created or extended.
  bool clean = true;
  // Conflicts this mutation created or extended.
  std::vector<std::string> conflict_ids;
};

// Applies `mutation` to `head` (nullptr: no such record yet). The caller
// validates ids and sizes first, and passes the mutation's HLC through its
// HybridClock (sync/hlc.h), replacing it by the accepted (possibly clamped)
// time, so that a device with a wrong clock cannot win every conflict. `base`
// is the record at mutation.base_revision from history; it is required when 0 <
// base_revision < head->revision. It may also be given with base_revision ==
// head->revision, holding the body the client edited when that differs from the
// head's (an offline chain whose earlier mutation the server merged): the
// mutation is then merged against it instead of taken as is. Otherwise it is
// ignored. `now` becomes updated_at.
//
// Rules (DESIGN.md section 3):
//  - no head: a create (base_revision 0) makes revision 1;
//  - base_revision == head revision: the body is taken as is, except that a
//    changed field with an open conflict joins that conflict as one more
//    version (the head shows the conflict's winner, latest HLC; a device
//    that pulled the conflict has received its times, so its HLC is later
//    and its value shows). Only naming the conflict settles it;
//  - base_revision == head revision with a `base` whose body differs from
//    the head's (an offline chain: the device edited the body it pushed
//    before, which the server merged into something else): three-way merge
//    against that body, so the merged-in changes are kept;
//  - older base: three-way merge (sync/merge.h); base_revision 0 against an
//    existing record (create vs create of one id) merges against an empty
//    body;
//  - delete on the head revision (or on an older revision when the body has
//    not changed since) deletes; a delete of a deleted record only moves
//    the tombstone to the later deleter (else changes nothing);
//  - a delete on a stale base whose body changed since, and an edit of a
//    deleted record, keep the record live and open (or join) its one
//    DELETE_EDIT conflict, of the same shape in either arrival order: one
//    version holds the record as the head does, under the latest edit that
//    changed it (the winner), one the delete, under the latest deleter.
//    While it is open, the kept version follows every later edit. An edit
//    that did not see the delete and changes nothing leaves it deleted;
//  - an edit (or delete) is stamped after the latest edit of the revision it
//    was made on, even when the device's clock is behind: its HLC is raised
//    to just after that edit's, so every order of edits respects what each
//    saw;
//  - resolves_conflict_ids: each must be open on the head (else NotFound) and
//    the mutation must be based on the head revision (else
//    FailedPrecondition: the conflict may have changed since); the named
//    conflicts are closed and the body is applied as is.
//
// Errors: InvalidArgument (missing mutation or record id, body without kind,
// kind differing from the record's, ids not matching, missing or mismatched
// `base`, and the errors of ThreeWayMerge), NotFound (edit or delete of an
// unknown record, unknown conflict id), FailedPrecondition (base revision
// newer than the head; resolution on a stale base).
absl::StatusOr<ApplyOutcome> ApplyMutation(const vigil::v1::Record* head,
                                           const vigil::v1::Record* base,
                                           const vigil::v1::Mutation& mutation,
                                           absl::Time now);

// The field of RecordBody's `kind` oneof that `body` holds (its record kind),
// or nullptr when it holds none.
const google::protobuf::FieldDescriptor* BodyKindField(const vigil::v1::RecordBody& body);

// The edit stamp of a mutation.
vigil::v1::EditStamp EditOf(const vigil::v1::Mutation& mutation);

// The `base` ApplyMutation takes for a mutation chained on an earlier one of
// the same device (Mutation.base_mutation_id): `produced`, the revision that
// earlier mutation produced, holding `pushed`, the body the device pushed.
// The device edited that body, not what the server merged it into, and saw
// none of the concurrent edits merged into that revision.
vigil::v1::Record ChainedBase(vigil::v1::Record produced,
                              const vigil::v1::RecordBody& pushed);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_RECORD_MERGE_H_
