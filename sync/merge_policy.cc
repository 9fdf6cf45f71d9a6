#include "sync/merge_policy.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "vigil/v1/merge.pb.h"

namespace vigil::sync {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

namespace {

bool IsAtomicType(const Descriptor* type) {
  return type->options().GetExtension(vigil::v1::atomic) ||
         absl::StartsWith(type->full_name(), "google.protobuf.");
}

absl::Status Validate(const Descriptor* message,
                      std::vector<const Descriptor*>* stack) {
  for (const Descriptor* open : *stack) {
    if (open == message) {
      return absl::InvalidArgumentError(absl::StrCat("recursive message type ",
                                                     message->full_name(),
                                                     " cannot be merged"));
    }
  }
  stack->push_back(message);
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    const auto declared = f->options().GetExtension(vigil::v1::merge);
    const bool is_message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", f->full_name(), ": ", why));
    };
    switch (declared) {
      case vigil::v1::MERGE_POLICY_TEXT:
        if (f->is_repeated() || f->type() != FieldDescriptor::TYPE_STRING) {
          return bad("text policy needs a singular string");
        }
        break;
      case vigil::v1::MERGE_POLICY_SET:
        if (!f->is_repeated() || is_message ||
            f->type() == FieldDescriptor::TYPE_BYTES ||
            f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE ||
            f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          return bad("set policy needs a repeated integer, enum or string");
        }
        break;
      case vigil::v1::MERGE_POLICY_KEYED_LIST:
        if (!f->is_repeated() || !is_message || f->is_map() ||
            KeyFieldOf(f) == nullptr) {
          return bad(
              "keyed list policy needs a repeated message with a string `id`");
        }
        break;
      case vigil::v1::MERGE_POLICY_REGISTER:
        break;
      case vigil::v1::MERGE_POLICY_UNSPECIFIED:
        if (f->is_repeated()) {
          return bad("repeated fields must declare a merge policy");
        }
        break;
      default:
        return bad("unknown merge policy");
    }
    if (is_message && !f->is_map() && !IsAtomicType(f->message_type()) &&
        (PolicyOf(f) == FieldPolicy::kRecurse ||
         PolicyOf(f) == FieldPolicy::kKeyedList)) {
      if (absl::Status s = Validate(f->message_type(), stack); !s.ok()) {
        return s;
      }
    }
  }
  stack->pop_back();
  return absl::OkStatus();
}

}  // namespace

FieldPolicy PolicyOf(const FieldDescriptor* field) {
  switch (field->options().GetExtension(vigil::v1::merge)) {
    case vigil::v1::MERGE_POLICY_TEXT:
      return FieldPolicy::kText;
    case vigil::v1::MERGE_POLICY_SET:
      return FieldPolicy::kSet;
    case vigil::v1::MERGE_POLICY_KEYED_LIST:
      return FieldPolicy::kKeyedList;
    case vigil::v1::MERGE_POLICY_REGISTER:
      return FieldPolicy::kRegister;
    default:
      break;
  }
  if (!field->is_repeated() &&
      field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
      !IsAtomicType(field->message_type())) {
    return FieldPolicy::kRecurse;
  }
  return FieldPolicy::kRegister;
}

const FieldDescriptor* KeyFieldOf(const FieldDescriptor* field) {
  if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return nullptr;
  const FieldDescriptor* id = field->message_type()->FindFieldByName("id");
  if (id == nullptr || id->is_repeated() ||
      id->type() != FieldDescriptor::TYPE_STRING) {
    return nullptr;
  }
  return id;
}

absl::Status ValidateMergeSchema(const Descriptor* message) {
  std::vector<const Descriptor*> stack;
  return Validate(message, &stack);
}

}  // namespace vigil::sync
