#include "sync/stable_hash.h"

#include "absl/strings/str_format.h"

namespace vigil::sync {
namespace {

uint64_t Mix(uint64_t z) {  // splitmix64 finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void StableHasher::AddByte(uint8_t byte) {
  h1_ = (h1_ ^ byte) * 0x100000001b3ULL;
  h2_ = (h2_ ^ byte) * 0x00000100000001b3ULL + 0x9e3779b97f4a7c15ULL;
}

void StableHasher::Add(std::string_view part) {
  uint64_t size = part.size();
  for (int i = 0; i < 8; ++i) AddByte(static_cast<uint8_t>(size >> (8 * i)));
  for (char c : part) AddByte(static_cast<uint8_t>(c));
}

std::string StableHasher::HexDigest() const {
  return absl::StrFormat("%016x%016x", Mix(h1_ ^ Mix(h2_)), Mix(h2_ + h1_));
}

}  // namespace vigil::sync
