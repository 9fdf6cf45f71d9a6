// How the record engine stores a message: a 0x00 byte and the message's
// deterministic serialization, or, for sensitive content, the serialization
// sealed with the data key and the stored key as associated data
// (storage/value_cipher.h), which starts with the cipher's format byte.
#ifndef VIGIL_SERVER_RECORDS_STORED_VALUE_H_
#define VIGIL_SERVER_RECORDS_STORED_VALUE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/message.h"
#include "storage/value_cipher.h"

namespace vigil::server {

std::string EncodeStored(const google::protobuf::Message& message, bool sensitive,
                         std::string_view key, const storage::KeyRing& keys);

// Whether a stored value is sealed.
inline bool IsSealed(std::string_view value) { return !value.empty() && value[0] != '\0'; }

// The message bytes of a value that is not sealed.
inline std::string_view PlainBytes(std::string_view value) { return value.substr(1); }

// The field number of the RecordBody kind (RecordBody::kFindingFieldNumber
// ...) of a Record's serialization, read without parsing it; 0 when it has
// no body or does not parse.
int RecordBodyKindOf(std::string_view record_bytes);

// DataLoss when the value is empty, does not open under `key`, or does not
// parse as a T.
template <typename T>
absl::StatusOr<T> DecodeStored(std::string_view value, std::string_view key,
                               const storage::KeyRing& keys) {
  if (value.empty()) return absl::DataLossError("empty stored value");
  std::string opened;
  std::string_view bytes = PlainBytes(value);
  if (IsSealed(value)) {
    ASSIGN_OR_RETURN(opened, keys.Open(value, key));
    bytes = opened;
  }
  T message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored ", T::descriptor()->name(), " cannot be parsed"));
  }
  return message;
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_STORED_VALUE_H_
