#include "sync/conflict_sides.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "sync/record_merge.h"
#include "sync/reflection_util.h"

namespace vigil::sync {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using vigil::v1::Conflict;
using vigil::v1::FieldValue;
using vigil::v1::RecordBody;

absl::StatusOr<std::vector<PathStep>> ParseFieldPath(std::string_view path) {
  std::vector<PathStep> steps;
  std::size_t i = 0;
  while (i < path.size()) {
    PathStep step;
    while (i < path.size() && path[i] != '.' && path[i] != '[') step.field.push_back(path[i++]);
    if (i < path.size() && path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string_view::npos || path.substr(i, 4) != "[id=") {
        return absl::InvalidArgumentError(absl::StrCat("unreadable field path '", std::string(path), "'"));
      }
      step.element_id = std::string(path.substr(i + 4, close - i - 4));
      i = close + 1;
    }
    if (step.field.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unreadable field path '", std::string(path), "'"));
    }
    steps.push_back(std::move(step));
    if (i < path.size()) {
      if (path[i] != '.') {
        return absl::InvalidArgumentError(absl::StrCat("unreadable field path '", std::string(path), "'"));
      }
      ++i;
    }
  }
  return steps;
}

absl::StatusOr<const FieldDescriptor*> FieldNamed(const Descriptor* type, const std::string& name) {
  const FieldDescriptor* f = type->FindFieldByName(name);
  if (f == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(type->full_name(), " has no field '", name, "'"));
  }
  return f;
}

int ElementIndex(const Message& m, const FieldDescriptor* f, const std::string& id) {
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& element = r->GetRepeatedMessage(m, f, i);
    const FieldDescriptor* id_field = element.GetDescriptor()->FindFieldByName("id");
    if (id_field != nullptr && element.GetReflection()->GetString(element, id_field) == id) {
      return i;
    }
  }
  return -1;
}

void RemoveElement(Message* m, const FieldDescriptor* f, int index) {
  const Reflection* r = m->GetReflection();
  for (int i = index; i + 1 < r->FieldSize(*m, f); ++i) r->SwapElements(m, f, i, i + 1);
  r->RemoveLast(m, f);
}

absl::StatusOr<Message*> PathParent(Message* root, const std::vector<PathStep>& steps) {
  Message* at = root;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    ASSIGN_OR_RETURN(const FieldDescriptor* f, FieldNamed(at->GetDescriptor(), steps[i].field));
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::FailedPreconditionError(absl::StrCat("'", f->name(), "' holds no fields"));
    }
    if (steps[i].element_id.has_value()) {
      const int index = ElementIndex(*at, f, *steps[i].element_id);
      if (index < 0) {
        return absl::FailedPreconditionError(absl::StrCat("the record no longer holds element ",
                                                          *steps[i].element_id, " of ", f->name()));
      }
      at = at->GetReflection()->MutableRepeatedMessage(at, f, index);
    } else {
      at = at->GetReflection()->MutableMessage(at, f);
    }
  }
  return at;
}

std::unique_ptr<Message> NewMessageOf(const std::string& type) {
  const Descriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (d == nullptr) return nullptr;
  const Message* prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(d);
  return prototype == nullptr ? nullptr : std::unique_ptr<Message>(prototype->New());
}

// The parsed carrier of a conflict side, of the type it names.
absl::StatusOr<std::unique_ptr<Message>> CarrierOf(const FieldValue& value) {
  std::unique_ptr<Message> carrier = NewMessageOf(value.carrier_type());
  if (carrier == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("this build does not know the type ", value.carrier_type()));
  }
  if (!carrier->ParseFromString(value.carrier())) {
    return absl::DataLossError(absl::StrCat("a ", value.carrier_type(), " value does not parse"));
  }
  return carrier;
}

absl::StatusOr<RecordBody> TakeSide(const RecordBody& body, const Conflict& conflict, int index,
                                    bool* deletes) {
  *deletes = false;
  if (index < 0 || index > conflict.versions_size()) {
    return absl::InvalidArgumentError(absl::StrCat("--take ", index, " is not a side of conflict ",
                                                   conflict.id(), ": 0 (the base) to ",
                                                   conflict.versions_size()));
  }
  const FieldValue& side = index == 0 ? conflict.base() : conflict.versions(index - 1).value();
  ASSIGN_OR_RETURN(std::vector<PathStep> steps, ParseFieldPath(conflict.field_path()));
  RecordBody out = body;
  const FieldDescriptor* kind = sync::BodyKindField(out);
  if (kind == nullptr) return absl::FailedPreconditionError("the record has no body");
  Message* root = out.GetReflection()->MutableMessage(&out, kind);

  if (steps.empty()) {  // The whole record.
    if (!side.present()) {
      *deletes = true;
      return out;
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Message> carrier, CarrierOf(side));
    if (carrier->GetDescriptor() != root->GetDescriptor()) {
      return absl::FailedPreconditionError("the chosen side is a record of another kind");
    }
    root->CopyFrom(*carrier);
    return out;
  }
  ASSIGN_OR_RETURN(Message * parent, PathParent(root, steps));
  if (conflict.kind() == vigil::v1::CONFLICT_KIND_UNKNOWN_FIELDS) {
    return absl::UnimplementedError(
        "this conflict is about fields this build does not know: resolve it with a newer "
        "client");
  }
  const PathStep& last = steps.back();
  ASSIGN_OR_RETURN(const FieldDescriptor* f, FieldNamed(parent->GetDescriptor(), last.field));
  std::unique_ptr<Message> carrier;
  if (side.present()) {
    ASSIGN_OR_RETURN(carrier, CarrierOf(side));
    if (carrier->GetDescriptor() != parent->GetDescriptor()) {
      return absl::FailedPreconditionError(absl::StrCat("the side holds a ", side.carrier_type(),
                                                        ", the path a ",
                                                        parent->GetDescriptor()->full_name()));
    }
  }
  if (!last.element_id.has_value()) {
    if (carrier == nullptr) {
      parent->GetReflection()->ClearField(parent, f);
    } else {
      sync::CopyField(*carrier, parent, f);
    }
    return out;
  }
  // One element of a keyed list.
  const int at = ElementIndex(*parent, f, *last.element_id);
  if (carrier == nullptr || carrier->GetReflection()->FieldSize(*carrier, f) != 1) {
    if (at >= 0) RemoveElement(parent, f, at);
    return out;
  }
  const Message& element = carrier->GetReflection()->GetRepeatedMessage(*carrier, f, 0);
  Message* target = at >= 0 ? parent->GetReflection()->MutableRepeatedMessage(parent, f, at)
                            : parent->GetReflection()->AddMessage(parent, f);
  target->CopyFrom(element);
  return out;
}

}  // namespace vigil::sync
