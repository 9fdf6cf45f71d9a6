#include "storage/key_codec.h"

#include <utility>

namespace vigil::storage {

KeyBuilder::KeyBuilder() { key_.push_back(static_cast<char>(kKeyFormatVersion)); }

KeyBuilder& KeyBuilder::AddUint64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    key_.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
  return *this;
}

KeyBuilder& KeyBuilder::AddString(std::string_view s) {
  for (char c : s) {
    key_.push_back(c);
    if (c == '\0') key_.push_back('\xFF');
  }
  key_.push_back('\0');
  key_.push_back('\x01');
  return *this;
}

absl::StatusOr<KeyReader> KeyReader::Create(std::string_view key) {
  if (key.empty()) return absl::DataLossError("empty storage key");
  if (static_cast<std::uint8_t>(key[0]) != kKeyFormatVersion) {
    return absl::FailedPreconditionError(
        "storage key has format version " +
        std::to_string(static_cast<std::uint8_t>(key[0])) + ", expected " +
        std::to_string(kKeyFormatVersion));
  }
  return KeyReader(key.substr(1));
}

absl::StatusOr<std::uint64_t> KeyReader::ReadUint64() {
  if (rest_.size() < 8) return absl::DataLossError("truncated uint64 in key");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<std::uint8_t>(rest_[i]);
  }
  rest_.remove_prefix(8);
  return v;
}

absl::StatusOr<std::string> KeyReader::ReadString() {
  std::string out;
  for (std::size_t i = 0; i < rest_.size(); ++i) {
    if (rest_[i] != '\0') {
      out.push_back(rest_[i]);
      continue;
    }
    if (i + 1 >= rest_.size()) break;
    if (rest_[i + 1] == '\x01') {
      rest_.remove_prefix(i + 2);
      return out;
    }
    if (rest_[i + 1] != '\xFF') {
      return absl::DataLossError("bad escape in string component of key");
    }
    out.push_back('\0');
    ++i;
  }
  return absl::DataLossError("unterminated string component in key");
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<std::uint8_t>(end.back());
    if (last != 0xFF) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace vigil::storage
