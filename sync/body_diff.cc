#include "sync/body_diff.h"

#include <memory>

#include "sync/merge.h"
#include "sync/record_merge.h"

namespace vigil::sync {

std::vector<std::string> ChangedFields(const vigil::v1::RecordBody& from,
                                       const vigil::v1::RecordBody& to) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::Message;
  const FieldDescriptor* kind = BodyKindField(to);
  if (kind == nullptr) return {};
  const Message& after = to.GetReflection()->GetMessage(to, kind);
  std::unique_ptr<Message> nothing(after.New());
  const Message& before =
      BodyKindField(from) == kind ? from.GetReflection()->GetMessage(from, kind) : *nothing;
  // `message` with only `f` kept.
  auto only = [](const Message& message, const FieldDescriptor* f) {
    std::unique_ptr<Message> copy(message.New());
    copy->CopyFrom(message);
    std::unique_ptr<Message> kept(message.New());
    message.GetReflection()->SwapFields(copy.get(), kept.get(), {f});
    return SerializeDeterministic(*kept);
  };
  std::vector<std::string> changed;
  const google::protobuf::Descriptor* type = kind->message_type();
  for (int i = 0; i < type->field_count(); ++i) {
    if (only(after, type->field(i)) != only(before, type->field(i))) {
      changed.push_back(type->field(i)->name());
    }
  }
  return changed;
}

}  // namespace vigil::sync
