#include "server/records/server_written.h"

#include <memory>
#include <vector>

#include "sync/record_merge.h"
#include "vigil/v1/merge.pb.h"

namespace vigil::server {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

void KeepServerWritten(const vigil::v1::RecordBody& made_on, vigil::v1::RecordBody& pushed) {
  const FieldDescriptor* kind = sync::BodyKindField(pushed);
  if (kind == nullptr) return;
  const google::protobuf::Descriptor* type = kind->message_type();
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->options().GetExtension(vigil::v1::server_written)) {
      fields.push_back(type->field(i));
    }
  }
  if (fields.empty()) return;
  Message* ours = pushed.GetReflection()->MutableMessage(&pushed, kind);
  std::unique_ptr<Message> before(ours->New());
  if (sync::BodyKindField(made_on) == kind) {
    before->CopyFrom(made_on.GetReflection()->GetMessage(made_on, kind));
  }
  ours->GetReflection()->SwapFields(ours, before.get(), fields);
}

}  // namespace vigil::server
