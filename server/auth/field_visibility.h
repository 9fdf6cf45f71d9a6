// The visibility annotations of the record schema (vigil/v1/visibility.proto)
// read in one place: which record kinds are sensitive, and who may see each
// field. AccessPolicy's redaction, the write rule and exports go through this.
#ifndef VIGIL_SERVER_AUTH_FIELD_VISIBILITY_H_
#define VIGIL_SERVER_AUTH_FIELD_VISIBILITY_H_

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "vigil/v1/record.pb.h"
#include "vigil/v1/visibility.pb.h"

namespace vigil::server {

// Whether records of kind `kind` (a message of the RecordBody oneof) are
// sealed at rest and their reads audited: its `sensitive` option.
bool IsSensitiveKind(const google::protobuf::Descriptor* kind);

// The same for the kind of `body` (false when it has none).
bool IsSensitive(const vigil::v1::RecordBody& body);

// Who may see `field`, a field of a record kind: its `visible_to`
// annotation; without one, AUDIENCE_FULL_VIEW on a sensitive kind (deny by
// default) and AUDIENCE_READERS elsewhere.
vigil::v1::Audience AudienceOf(const google::protobuf::FieldDescriptor* field);

// The schema's visibility rules for kind `kind`: every field of a sensitive
// kind declares `visible_to`; a kind that is not sensitive (stored in the
// clear, read without audit) uses no audience narrower than AUDIENCE_NPM.
// InvalidArgument naming the first field that breaks one.
absl::Status ValidateVisibilitySchema(const google::protobuf::Descriptor* kind);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_AUTH_FIELD_VISIBILITY_H_
