// A stable 128-bit hash for deterministic ids (conflict ids). Not
// cryptographic; identical on every platform and in every process, unlike
// absl::Hash.
#ifndef VIGIL_SYNC_STABLE_HASH_H_
#define VIGIL_SYNC_STABLE_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::sync {

class StableHasher {
 public:
  // Adds `part`, length-prefixed so that ("ab","c") and ("a","bc") differ.
  void Add(std::string_view part);
  // 32 lowercase hex digits.
  std::string HexDigest() const;

 private:
  void AddByte(uint8_t byte);
  uint64_t h1_ = 0xcbf29ce484222325ULL;
  uint64_t h2_ = 0x84222325cbf29ce4ULL;
};

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_STABLE_HASH_H_
