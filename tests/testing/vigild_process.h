// A real vigild process for end-to-end tests: started on a data directory,
// listening where asked (127.0.0.1:0 by default: the port is read from its
// log), stopped with a signal.
#ifndef VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_
#define VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_

#include <signal.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace vigil::testing {

class Vigild {
 public:
  Vigild(const std::string& binary, const TempDir& tmp, const std::string& data_dir,
         std::vector<std::string> extra = {}, const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> argv = {binary, "--data-dir", data_dir, "--listen", listen};
    argv.insert(argv.end(), extra.begin(), extra.end());
    log_ = tmp.Sub("vigild-" + std::to_string(counter_++) + ".log");
    process_ = std::make_unique<Subprocess>(argv, log_);
    if (process_->WaitForOutput("\"event\":\"server.listening\"")) {
      std::smatch m;
      std::string out = process_->Output();
      std::regex re("\"address\":\"127\\.0\\.0\\.1:([0-9]+)\"");
      if (std::regex_search(out, m, re)) port_ = std::stoi(m[1]);
    }
  }

  int port() const { return port_; }
  Subprocess& process() { return *process_; }
  std::string target() const { return "localhost:" + std::to_string(port_); }

  // Signals and waits: the exit code.
  int Stop(int sig = SIGTERM) {
    process_->Signal(sig);
    return process_->Wait();
  }

 private:
  static inline int counter_ = 0;
  std::string log_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_
