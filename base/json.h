// Minimal JSON output helpers (log lines, audit export). Output only.
#ifndef VIGIL_BASE_JSON_H_
#define VIGIL_BASE_JSON_H_

#include <string>
#include <string_view>

namespace vigil {

// Appends `s` to `out` as a JSON string literal, quotes included. Bytes are
// passed through as they are (callers hold UTF-8); control characters,
// quotes and backslashes are escaped.
inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace vigil

#endif  // VIGIL_BASE_JSON_H_
