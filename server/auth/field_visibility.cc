#include "server/auth/field_visibility.h"

#include "absl/strings/str_cat.h"
#include "sync/record_merge.h"

namespace vigil::server {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using vigil::v1::Audience;

bool IsSensitiveKind(const Descriptor* kind) {
  return kind != nullptr && kind->options().GetExtension(vigil::v1::sensitive);
}

bool IsSensitive(const vigil::v1::RecordBody& body) {
  const FieldDescriptor* kind = sync::BodyKindField(body);
  return kind != nullptr && IsSensitiveKind(kind->message_type());
}

Audience AudienceOf(const FieldDescriptor* field) {
  const Audience declared = field->options().GetExtension(vigil::v1::visible_to);
  if (declared != vigil::v1::AUDIENCE_UNSPECIFIED) return declared;
  return IsSensitiveKind(field->containing_type()) ? vigil::v1::AUDIENCE_FULL_VIEW
                                                   : vigil::v1::AUDIENCE_READERS;
}

absl::Status ValidateVisibilitySchema(const Descriptor* kind) {
  const bool sensitive = IsSensitiveKind(kind);
  for (int i = 0; i < kind->field_count(); ++i) {
    const FieldDescriptor* f = kind->field(i);
    const Audience declared = f->options().GetExtension(vigil::v1::visible_to);
    if (sensitive && declared == vigil::v1::AUDIENCE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat(f->full_name(), " is a field of a sensitive kind and declares no "
                                       "(vigil.v1.visible_to)"));
    }
    if (!sensitive && declared != vigil::v1::AUDIENCE_UNSPECIFIED &&
        declared != vigil::v1::AUDIENCE_READERS && declared != vigil::v1::AUDIENCE_NPM) {
      return absl::InvalidArgumentError(
          absl::StrCat(f->full_name(), " is narrower than the NPM (",
                       vigil::v1::Audience_Name(declared), ") but ", kind->full_name(),
                       " is not marked (vigil.v1.sensitive): it would be stored in the clear"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::server
