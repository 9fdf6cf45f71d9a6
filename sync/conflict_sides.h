// Sides of a conflict, by field path: reading the carrier of a side's value
// and putting a side back into a record body (a resolution that takes it).
// Field paths are Conflict.field_path's: "title", "sources[id=0190...].note",
// "" for the whole body. Pure functions over the generated messages.
#ifndef VIGIL_SYNC_CONFLICT_SIDES_H_
#define VIGIL_SYNC_CONFLICT_SIDES_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "vigil/v1/conflict.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil::sync {

// One step of a field path: a field, and for a keyed list the element id.
struct PathStep {
  std::string field;
  std::optional<std::string> element_id;
};

// InvalidArgument for a path that does not read.
absl::StatusOr<std::vector<PathStep>> ParseFieldPath(std::string_view path);
// FailedPrecondition when `type` has no field `name`.
absl::StatusOr<const google::protobuf::FieldDescriptor*> FieldNamed(
    const google::protobuf::Descriptor* type, const std::string& name);
// Index of the element of keyed list `f` whose "id" is `id`, or -1.
int ElementIndex(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f,
                 const std::string& id);
void RemoveElement(google::protobuf::Message* m, const google::protobuf::FieldDescriptor* f,
                   int index);
// The message that holds the last step of `steps`, inside `root`;
// FailedPrecondition when the path no longer exists there.
absl::StatusOr<google::protobuf::Message*> PathParent(google::protobuf::Message* root,
                                                      const std::vector<PathStep>& steps);
// A new message of the generated type named `type`, or nullptr.
std::unique_ptr<google::protobuf::Message> NewMessageOf(const std::string& type);
// The parsed carrier of a side's value; FailedPrecondition for a type this
// build does not know, DataLoss when it does not parse.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> CarrierOf(
    const vigil::v1::FieldValue& value);

// The body a resolution sends when it takes side `index` of `conflict`
// (0: the base, 1..n: Conflict.versions in order): `body` with the value at
// the conflict's field path replaced by that side's. When the side is a
// deletion of the whole record, `body` comes back unchanged and `*deletes`
// is set. InvalidArgument for an index out of range; FailedPrecondition when
// the path no longer exists in `body`; Unimplemented for a conflict over
// unknown fields.
absl::StatusOr<vigil::v1::RecordBody> TakeSide(const vigil::v1::RecordBody& body,
                                               const vigil::v1::Conflict& conflict, int index,
                                               bool* deletes);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_CONFLICT_SIDES_H_
