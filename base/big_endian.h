// Fixed 8-byte big-endian integers inside stored values and tokens (view
// epochs, cursors, fingerprints, salt files), where byte order is part of a
// format.
#ifndef VIGIL_BASE_BIG_ENDIAN_H_
#define VIGIL_BASE_BIG_ENDIAN_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

inline void AppendBigEndian64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// The integer in the first 8 bytes of `in` (fewer bytes read as given).
inline std::uint64_t ReadBigEndian64(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in.substr(0, 8)) v = (v << 8) | c;
  return v;
}

}  // namespace vigil

#endif  // VIGIL_BASE_BIG_ENDIAN_H_
