// Runs a program as a child process for end-to-end tests: start, signal,
// wait, and read what it wrote (stdout and stderr go to one file).
#ifndef VIGIL_TESTS_TESTING_SUBPROCESS_H_
#define VIGIL_TESTS_TESTING_SUBPROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vigil::testing {

class Subprocess {
 public:
  // Starts `argv` with its output appended to `output_file`.
  Subprocess(const std::vector<std::string>& argv, std::string output_file)
      : output_file_(std::move(output_file)) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Subprocess() {
    if (pid_ > 0 && !exit_status_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Signal(int sig) { kill(pid_, sig); }

  // Waits for exit; returns the exit code, or 128+signal when killed.
  int Wait() {
    if (exit_status_) return *exit_status_;
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return *exit_status_;
  }

  // True once the process has exited (without blocking).
  bool Exited() {
    if (exit_status_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return true;
    }
    return false;
  }

  std::string Output() const {
    std::ifstream in(output_file_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Waits until the output contains `needle` (true) or the process exits or
  // `timeout` passes (false).
  bool WaitForOutput(const std::string& needle,
                     std::chrono::seconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Output().find(needle) != std::string::npos) return true;
      if (Exited()) return Output().find(needle) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::string output_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

struct CommandResult {
  int exit_code;
  std::string output;
};

// Runs `argv` to completion.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const std::string& output_file) {
  Subprocess p(argv, output_file);
  if (!p.started()) return {127, "spawn failed"};
  int code = p.Wait();
  return {code, p.Output()};
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_SUBPROCESS_H_
