// The merge policy of a field, as declared by the (vigil.v1.merge) option.
#ifndef VIGIL_SYNC_MERGE_POLICY_H_
#define VIGIL_SYNC_MERGE_POLICY_H_

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"

namespace vigil::sync {

// What the merge does with a field, after defaults are applied.
enum class FieldPolicy {
  kRegister,   // one value; conflicts when both sides change it differently
  kText,       // line-based diff3
  kSet,        // repeated scalar as a set
  kKeyedList,  // repeated message matched by its string `id` field
  kRecurse,    // singular message merged field by field
};

// The effective policy: the annotation if present, else register, except a
// singular message field whose type is neither atomic nor a
// google.protobuf.* type, which recurses. Assumes a valid schema (below).
FieldPolicy PolicyOf(const google::protobuf::FieldDescriptor* field);

// For a keyed-list field, the `id` field of its element type.
const google::protobuf::FieldDescriptor* KeyFieldOf(
    const google::protobuf::FieldDescriptor* field);

// Checks every annotation of `message` and of the message types it reaches:
// text only on singular strings, set only on repeated scalars (not bytes or
// floating point), keyed list only on repeated messages with a singular
// string field `id`; no unannotated repeated field (so each one's behaviour
// is a deliberate choice); no recursive message types. InvalidArgument,
// naming the field, otherwise.
absl::Status ValidateMergeSchema(const google::protobuf::Descriptor* message);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_MERGE_POLICY_H_
