// Deterministic protobuf serialization (map entries in key order, unknown
// fields kept) into one exactly sized buffer: the message's size is computed
// once and the bytes are written in place, with no growing string.
#ifndef VIGIL_BASE_DETERMINISTIC_BYTES_H_
#define VIGIL_BASE_DETERMINISTIC_BYTES_H_

#include <cstdint>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message_lite.h"

namespace vigil {

// Appends `message`'s deterministic serialization to `out`.
inline void AppendDeterministic(const google::protobuf::MessageLite& message, std::string* out) {
  const std::size_t size = message.ByteSizeLong();
  const std::size_t start = out->size();
  out->resize(start + size);
  google::protobuf::io::ArrayOutputStream array(out->data() + start, static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
}

inline std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string out;
  AppendDeterministic(message, &out);
  return out;
}

}  // namespace vigil

#endif  // VIGIL_BASE_DETERMINISTIC_BYTES_H_
