// Order-preserving key encoding. Every key starts with kKeyFormatVersion so a
// future layout can coexist with (and be told apart from) this one.
//
// Components:
//   Uint64  8 bytes big-endian: numeric order == byte order.
//   String  bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01:
//           byte order of encodings == byte order of the strings, and no
//           encoded string is a prefix of another, so composite keys sort by
//           their first component, then the next.
// A key built from the leading components of a longer key is a byte prefix
// of it, which is what prefix scans use.
#ifndef VIGIL_STORAGE_KEY_CODEC_H_
#define VIGIL_STORAGE_KEY_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vigil::storage {

inline constexpr std::uint8_t kKeyFormatVersion = 1;

class KeyBuilder {
 public:
  KeyBuilder();  // starts with the format version byte

  KeyBuilder& AddUint64(std::uint64_t v);
  KeyBuilder& AddString(std::string_view s);

  const std::string& key() const& { return key_; }
  std::string key() && { return std::move(key_); }

 private:
  std::string key_;
};

// Reads the components of a key in the order they were added. Each Read*
// fails with DataLoss on a truncated or malformed key.
class KeyReader {
 public:
  // Fails with FailedPrecondition when the key is of another format version.
  static absl::StatusOr<KeyReader> Create(std::string_view key);

  absl::StatusOr<std::uint64_t> ReadUint64();
  absl::StatusOr<std::string> ReadString();
  bool done() const { return rest_.empty(); }

 private:
  explicit KeyReader(std::string_view rest) : rest_(rest) {}
  std::string_view rest_;
};

// The smallest key greater than every key that starts with `prefix`, or ""
// when there is none (prefix all 0xFF): the exclusive end of a prefix scan.
std::string PrefixSuccessor(std::string_view prefix);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_KEY_CODEC_H_
