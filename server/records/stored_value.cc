#include "server/records/stored_value.h"

#include "base/deterministic_bytes.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

std::string EncodeStored(const google::protobuf::Message& message, bool sensitive,
                         std::string_view key, const storage::KeyRing& keys) {
  if (sensitive) return keys.Seal(DeterministicBytes(message), key);
  std::string plain(1, '\0');
  AppendDeterministic(message, &plain);
  return plain;
}

int RecordBodyKindOf(std::string_view record_bytes) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const std::uint8_t*>(record_bytes.data()),
      static_cast<int>(record_bytes.size()));
  for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != vigil::v1::Record::kBodyFieldNumber ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return 0;
      continue;
    }
    std::uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length == 0) return 0;
    // The body's one field is its kind.
    return static_cast<int>(WireFormatLite::GetTagFieldNumber(in.ReadTag()));
  }
  return 0;
}

}  // namespace vigil::server
