// A fresh temporary directory per test, removed with everything in it
// (kept when VIGIL_KEEP_TEMP is set, to inspect what a failing test wrote).
#ifndef VIGIL_TESTS_TESTING_TEMP_DIR_H_
#define VIGIL_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace vigil::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vigil-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (getenv("VIGIL_KEEP_TEMP") == nullptr) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TEMP_DIR_H_
