// File helpers for tests that check what was (or was not) written.
#ifndef VIGIL_TESTS_TESTING_FILES_H_
#define VIGIL_TESTS_TESTING_FILES_H_

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace vigil::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Every regular file's bytes by path relative to `dir` (a plain file maps to
// one entry with an empty name): what "not modified" is checked on.
inline std::map<std::string, std::string> DirectoryContents(const std::string& dir) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  if (!fs::is_directory(dir)) {
    out[""] = ReadFile(dir);
    return out;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out[fs::relative(entry.path(), dir).string()] = ReadFile(entry.path());
    }
  }
  return out;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_FILES_H_
