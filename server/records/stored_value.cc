#include "server/records/stored_value.h"

#include "base/deterministic_bytes.h"

namespace vigil::server {

std::string EncodeStored(const google::protobuf::Message& message, bool sensitive,
                         std::string_view key, const storage::KeyRing& keys) {
  if (sensitive) return keys.Seal(DeterministicBytes(message), key);
  std::string plain(1, '\0');
  AppendDeterministic(message, &plain);
  return plain;
}

}  // namespace vigil::server
