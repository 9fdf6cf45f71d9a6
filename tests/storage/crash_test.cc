// A child process commits and is killed with SIGKILL at a random moment;
// every request it saw completed must be present after reopen, and the
// sequence numbers stored must still be exactly 1..last. Three crashes in a
// row on the same database.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/key_codec.h"
#include "storage/storage.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::TempDir;

struct Completed {
  std::uint64_t first_seq;
  std::uint64_t last_seq;
};

// Runs the child until `run_for` after its first completed commit, kills it,
// and returns what it reported done.
std::map<std::string, Completed> RunAndKill(const std::string& db,
                                            const std::string& tag,
                                            std::chrono::milliseconds run_for) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(VIGIL_CRASH_CHILD, VIGIL_CRASH_CHILD, db.c_str(), tag.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  // The clock starts at the child's first completed commit, so that a slow
  // open (a loaded machine, a longer log to replay) never leaves a round
  // with nothing to check.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  bool killed = false;
  while (true) {
    if (!killed && deadline.has_value() && std::chrono::steady_clock::now() >= *deadline) {
      kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 10) > 0) {
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;  // EOF: the child is gone
      out.append(buf, static_cast<std::size_t>(n));
      if (!deadline.has_value() && out.find('\n') != std::string::npos) {
        deadline = std::chrono::steady_clock::now() + run_for;
      }
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited early with status " << status;

  std::map<std::string, Completed> done;
  std::istringstream lines(out);
  std::string key;
  Completed c{};
  while (lines >> key >> c.first_seq >> c.last_seq) done[key] = c;
  return done;
}

TEST(CrashTest, EveryCompletedCommitSurvivesSigkill) {
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::map<std::string, Completed> all_done;
  for (int round = 0; round < 3; ++round) {
    auto run_for = std::chrono::milliseconds(150 + rng() % 600);
    auto done = RunAndKill(dir.path(), "r" + std::to_string(round), run_for);
    EXPECT_FALSE(done.empty()) << "child completed nothing in round " << round;
    all_done.insert(done.begin(), done.end());

    auto storage = Storage::Open(dir.path(), StorageOptions());
    ASSERT_OK(storage);
    for (const auto& [key, c] : all_done) {
      auto record = (*storage)->Get(ColumnFamily::kRecords, key);
      ASSERT_OK(record);
      ASSERT_TRUE(record->has_value()) << "lost completed commit " << key;
      for (auto seq = c.first_seq; seq <= c.last_seq; ++seq) {
        auto change = (*storage)->Get(ColumnFamily::kChanges,
                                      KeyBuilder().AddUint64(seq).key());
        ASSERT_OK(change);
        ASSERT_EQ(change->value_or(""), key) << "seq " << seq;
      }
    }
    std::uint64_t expected = 1;
    ASSERT_OK((*storage)->Scan(ColumnFamily::kChanges, KeyRange{}, nullptr,
                               [&](std::string_view key, std::string_view) {
                                 EXPECT_EQ(*KeyReader::Create(key)->ReadUint64(),
                                           expected);
                                 ++expected;
                                 return true;
                               }));
    EXPECT_EQ((*storage)->LastCommittedSeq(), expected - 1);
  }
}

}  // namespace
}  // namespace vigil::storage
