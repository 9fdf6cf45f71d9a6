// End-to-end tests of vigilctl: the README walkthrough run with the real
// vigilctl binary against a real vigild process (TLS with its generated CA),
// asserting on --json output and exit codes; the exit codes of bad usage and
// refused credentials; the operator's commands against a running server.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "client/vigilctl_values.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "vigil/v1/admin.pb.h"
#include "vigil/v1/finding.pb.h"
#include "vigil/v1/visit.pb.h"

extern char** environ;

namespace vigil {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;
using testing::ReadFile;
using testing::TempDir;

constexpr int kOk = 0, kFailure = 1, kUsage = 2, kAttention = 3, kDenied = 4;

// One finished vigilctl run.
struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;

  // Every stdout line as a JSON object (--json prints one per result).
  std::vector<Struct> Json() const {
    std::vector<Struct> objects;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      Struct object;
      if (!google::protobuf::util::JsonStringToMessage(line, &object).ok()) {
        ADD_FAILURE() << "not a JSON object: " << line;
        continue;
      }
      objects.push_back(std::move(object));
    }
    return objects;
  }
};

// The value at a path of keys, or a null Value.
Value At(const Struct& object, std::initializer_list<std::string> path) {
  Value current;
  *current.mutable_struct_value() = object;
  for (const std::string& key : path) {
    if (!current.has_struct_value()) return Value();
    auto it = current.struct_value().fields().find(key);
    if (it == current.struct_value().fields().end()) return Value();
    Value next = it->second;
    current = std::move(next);
  }
  return current;
}

std::string Str(const Struct& object, std::initializer_list<std::string> path) {
  return At(object, path).string_value();
}

double Num(const Struct& object, std::initializer_list<std::string> path) {
  return At(object, path).number_value();
}

std::string Describe(const CliRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// Runs the vigilctl binary of this build, stdout and stderr apart.
class Vigilctl {
 public:
  explicit Vigilctl(const TempDir& tmp) : tmp_(tmp) {}

  // `home` empty: no --home.
  CliRun operator()(const std::string& home, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {VIGIL_VIGILCTL};
    if (!home.empty()) {
      argv.push_back("--home");
      argv.push_back(home);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string base = tmp_.Sub("run-" + std::to_string(++runs_));
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, (base + ".out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (base + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    CliRun run;
    if (posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ) == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    posix_spawn_file_actions_destroy(&actions);
    run.out = ReadFile(base + ".out");
    run.err = ReadFile(base + ".err");
    return run;
  }

 private:
  const TempDir& tmp_;
  int runs_ = 0;
};

std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// The README walkthrough: an admin sets up a visit team, two monitors'
// tablets record findings offline and edit the same title differently, the
// team lead resolves the conflict, and both tablets pull the resolution.
TEST(VigilctlTest, WalkthroughTwoTabletsAConflictAndTheLeadsResolution) {
  TempDir tmp;
  const std::string data = tmp.Sub("vigil-data");
  testing::Vigild server(VIGIL_VIGILD, tmp, data);  // TLS, generated CA
  ASSERT_GT(server.port(), 0) << server.process().Output();
  Vigilctl cli(tmp);
  const std::vector<std::string> tls = {"--server", "127.0.0.1:" + std::to_string(server.port()),
                                        "--ca", data + "/tls/ca.crt"};
  const std::string admin = tmp.Sub("admin"), anna = tmp.Sub("anna"), ben = tmp.Sub("ben"),
                    lena = tmp.Sub("lena");

  // The admin connects with the initial token and sets up the team.
  CliRun r =
      cli(admin, Concat({{"connect"}, tls, {"--token-file", data + "/initial-admin-token"}}));
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("as admin (admin)"), std::string::npos) << r.out;
  struct Person {
    std::string user, role, name, team_role;
  };
  const std::vector<Person> people = {{"anna", "monitor", "Anna K.", "monitor"},
                                      {"ben", "monitor", "Ben O.", "monitor"},
                                      {"lena", "lead", "Lena M.", "lead"}};
  for (const Person& p : people) {
    r = cli(admin, {"--json", "user", "create", p.user, "--role", p.role, "--name", p.name});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    ASSERT_EQ(r.Json().size(), 1u) << r.out;
    EXPECT_EQ(Str(r.Json()[0], {"user_id"}), p.user);
    EXPECT_EQ(Str(r.Json()[0], {"role"}), p.role == "lead" ? "team-lead" : "field-monitor");
  }
  r = cli(admin, {"--json", "user", "list"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(r.Json().size(), 4u) << r.out;  // with the admin

  r = cli("", {"new-id", "--json"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string visit = Str(r.Json()[0], {"id"});
  ASSERT_EQ(visit.size(), 36u) << r.out;
  for (const Person& p : people) {
    r = cli(admin, {"team", "add", visit, p.user, "--role", p.team_role});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  }
  r = cli(admin, {"--json", "team", "list", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 3u) << r.out;

  // Each device enrolls with a one-time code and follows the visit.
  for (const auto& [home, user, device] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {anna, "anna", "Tablet A"}, {ben, "ben", "Tablet B"}, {lena, "lena", "Lena's laptop"}}) {
    r = cli(admin, {"--json", "code", "create", user});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    const std::string code = Str(r.Json()[0], {"code"});
    ASSERT_FALSE(code.empty()) << r.out;
    r = cli(home, Concat({{"enroll"}, tls, {"--code", code, "--name", device}}));
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    r = cli(home, {"follow", visit});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  }
  // A code is single use.
  r = cli(admin, {"--json", "code", "create", "anna"});
  const std::string used = Str(r.Json()[0], {"code"});
  ASSERT_EQ(
      cli(tmp.Sub("spare"), Concat({{"enroll"}, tls, {"--code", used, "--name", "x"}})).exit_code,
      kOk);
  r = cli(tmp.Sub("spare2"), Concat({{"enroll"}, tls, {"--code", used, "--name", "y"}}));
  EXPECT_NE(r.exit_code, kOk) << Describe(r);

  // Anna records a finding and syncs; Ben pulls it.
  const std::string original = "Overcrowding in block C";
  const std::string narrative_file = tmp.Sub("narrative.txt");
  WriteFile(narrative_file, "Cells 12 to 18 hold three people each.\nThey were built for one.\n");
  r = cli(anna,
          {"--json", "finding", "create", "--visit", visit, "--title", original, "--narrative-file",
           narrative_file, "--severity", "high", "--category", "material-conditions"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string finding = Str(r.Json()[0], {"id"});
  EXPECT_EQ(Str(r.Json()[0], {"scope"}), "visits/" + visit);
  r = cli(anna, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"pushed"}), 1);
  EXPECT_NE(r.err.find("sync: pushing 1 edit"), std::string::npos) << r.err;  // no TTY: lines
  r = cli(ben, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"pulled"}), 1);

  // Offline: both edit the finding's title, differently; Ben adds a line to
  // the narrative and a finding of his own; Anna attaches a photo.
  const std::string annas_title = "Block C: three detainees in cells built for one";
  const std::string bens_title = "Overcrowding in block C (cells 12 to 18)";
  const std::string bens_line = "No ventilation; the windows do not open.";
  r = cli(anna, {"finding", "edit", finding, "--title", annas_title});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  WriteFile(tmp.Sub("cell-14.jpg"), std::string(70000, 'j'));
  r = cli(anna, {"--json", "attach", tmp.Sub("cell-14.jpg"), "--visit", visit, "--caption",
                 "Cell 14: three mattresses on the floor"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Str(r.Json()[0], {"media_type"}), "image/jpeg");
  r = cli(ben, {"finding", "edit", finding, "--title", bens_title, "--append-line", bens_line});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(ben,
          {"finding", "create", "--visit", visit, "--title", "No outdoor exercise for two weeks",
           "--severity", "urgent", "--category", "regime-and-activities"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(ben, {"--json", "status"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"outbox"}), 2);

  // Back in range: the narrative merges, the titles conflict.
  r = cli(anna, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"pushed"}), 2);
  EXPECT_EQ(Num(r.Json()[0], {"attachments_uploaded"}), 1);
  r = cli(ben, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(At(r.Json()[0], {"new_conflict_ids"}).list_value().values_size(), 1) << r.out;
  EXPECT_EQ(Num(r.Json()[0], {"open_conflicts"}), 1);
  ASSERT_EQ(cli(anna, {"sync"}).exit_code, kOk);

  for (const std::string& home : {anna, ben}) {
    r = cli(home, {"--json", "conflicts", visit});
    EXPECT_EQ(r.exit_code, kAttention) << Describe(r);
    ASSERT_EQ(r.Json().size(), 1u) << r.out;
    const Struct c = r.Json()[0];
    EXPECT_EQ(Str(c, {"record_id"}), finding);
    EXPECT_EQ(Str(c, {"field_path"}), "title");
    EXPECT_EQ(Str(c, {"kind"}), "field");
    EXPECT_EQ(Str(c, {"base", "value"}), original);
    std::set<std::pair<std::string, std::string>> versions;
    const Value listed = At(c, {"versions"});
    for (const Value& v : listed.list_value().values()) {
      versions.insert({Str(v.struct_value(), {"author"}), Str(v.struct_value(), {"value"})});
      EXPECT_FALSE(Str(v.struct_value(), {"device_id"}).empty());
      EXPECT_FALSE(Str(v.struct_value(), {"time"}).empty());
    }
    EXPECT_EQ(versions, (std::set<std::pair<std::string, std::string>>{{"anna", annas_title},
                                                                       {"ben", bens_title}}));
  }
  r = cli(ben, {"conflicts", visit});  // for people: side by side
  EXPECT_EQ(r.exit_code, kAttention);
  EXPECT_NE(r.out.find(annas_title), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bens_title), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vigilctl resolve " + finding), std::string::npos) << r.out;

  // The team lead takes Anna's title.
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(lena, {"--json", "conflicts", visit});
  ASSERT_EQ(r.exit_code, kAttention) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u);
  const std::string conflict = Str(r.Json()[0], {"conflict_id"});
  std::string annas_side;
  const Value versions = At(r.Json()[0], {"versions"});
  for (const Value& v : versions.list_value().values()) {
    if (Str(v.struct_value(), {"author"}) == "anna") {
      annas_side = std::to_string(static_cast<int>(Num(v.struct_value(), {"index"})));
    }
  }
  ASSERT_FALSE(annas_side.empty()) << r.out;
  r = cli(lena, {"--json", "resolve", finding, conflict, "--take", annas_side});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(lena, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"pushed"}), 1);
  EXPECT_EQ(Num(r.Json()[0], {"open_conflicts"}), 0);

  // Both tablets pull the resolution: Anna's title, Ben's line, no conflict.
  for (const std::string& home : {anna, ben}) {
    r = cli(home, {"--json", "sync"});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    r = cli(home, {"--json", "show-record", finding});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    const Struct rec = r.Json()[0];
    EXPECT_EQ(Str(rec, {"body", "finding", "title"}), annas_title);
    EXPECT_EQ(
        Str(rec, {"body", "finding", "narrative"}),
        "Cells 12 to 18 hold three people each.\nThey were built for one.\n" + bens_line + "\n");
    EXPECT_EQ(Num(rec, {"open_conflicts"}), 0);
    EXPECT_FALSE(At(rec, {"pending"}).bool_value());
    r = cli(home, {"--json", "conflicts", visit});
    EXPECT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_TRUE(r.Json().empty()) << r.out;
    r = cli(home, {"--json", "show", visit});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    std::multiset<std::string> kinds;
    for (const Struct& s : r.Json()) kinds.insert(Str(s, {"kind"}));
    EXPECT_EQ(kinds, (std::multiset<std::string>{"attachment", "finding", "finding"}));
    r = cli(home, {"--json", "status"});
    EXPECT_EQ(Num(r.Json()[0], {"outbox"}), 0);
    EXPECT_EQ(At(r.Json()[0], {"parked"}).list_value().values_size(), 0);
  }
}

TEST(VigilctlTest, AHomeSealedByAPassphraseOpensOnlyWithIt) {
  TempDir tmp;
  Vigilctl cli(tmp);
  const std::string home = tmp.Sub("home");
  const std::string pass = tmp.Sub("pass"), other = tmp.Sub("other");
  std::ofstream(pass) << "correct horse battery staple\n";
  std::ofstream(other) << "correct horse battery stable\n";
  CliRun r = cli(home, {"--passphrase-file", pass, "follow", "registry"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_FALSE(std::filesystem::exists(home + "/store.key"));
  r = cli(home, {"--passphrase-file", pass, "--json", "status"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("registry"), std::string::npos) << r.out;
  r = cli(home, {"status"});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("sealed by a passphrase"), std::string::npos) << r.err;
  r = cli(home, {"--passphrase-file", other, "status"});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("wrong passphrase"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(home + "/store.key"));
}

TEST(VigilctlTest, BadUsageExitsTwo) {
  TempDir tmp;
  Vigilctl cli(tmp);
  const std::string home = tmp.Sub("home");
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"user"},
      {"user", "create"},
      {"user", "create", "anna", "--role", "wizard"},
      {"team", "add", "not-a-visit", "anna", "--role", "monitor"},
      {"finding", "create", "--visit", "not-a-visit", "--title", "T"},
      {"finding", "create", "--visit", "0190a000-0000-7000-8000-00000000beef", "--title", "T",
       "--severity", "extreme"},
      {"resolve", "0190a000-0000-7000-8000-00000000beef", "cf-1"},
      {"resolve", "0190a000-0000-7000-8000-00000000beef", "cf-1", "--take", "1", "--value", "x"},
      {"follow", "somewhere"},
      {"sync", "--no-such-flag"},
  };
  for (const auto& args : bad) {
    CliRun r = cli(home, args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, kUsage) << joined << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty()) << joined;
    EXPECT_TRUE(r.out.empty()) << joined << r.out;
  }
  // The accepted words are named.
  CliRun r = cli(home, {"user", "create", "anna", "--role", "wizard"});
  EXPECT_NE(r.err.find("field-monitor"), std::string::npos) << r.err;
  EXPECT_EQ(cli(home, {"--help"}).exit_code, kOk);
}

// Connects `admin_home` with the server's initial admin token, creates the
// field monitor `user` and enrolls `home` as their tablet.
void ConnectAdminAndEnrollMonitor(Vigilctl& cli, const std::vector<std::string>& server_flags,
                                  const std::string& data, const std::string& admin_home,
                                  const std::string& user, const std::string& home) {
  ASSERT_EQ(cli(admin_home,
                Concat({{"connect"}, server_flags, {"--token-file", data + "/initial-admin-token"}}))
                .exit_code,
            kOk);
  ASSERT_EQ(cli(admin_home, {"user", "create", user, "--role", "monitor"}).exit_code, kOk);
  CliRun r = cli(admin_home, {"--json", "code", "create", user});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(home, Concat({{"enroll"},
                        server_flags,
                        {"--code", Str(r.Json()[0], {"code"}), "--name", "Tablet of " + user}}));
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
}

TEST(VigilctlTest, RefusedCredentialsExitFourInPlainWords) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  testing::Vigild server(VIGIL_VIGILD, tmp, data, {"--plaintext-loopback"});
  ASSERT_GT(server.port(), 0) << server.process().Output();
  Vigilctl cli(tmp);
  const std::vector<std::string> plain = {"--server", "127.0.0.1:" + std::to_string(server.port()),
                                          "--plaintext"};

  // A token the server does not know.
  WriteFile(tmp.Sub("bogus"), "not-a-token\n");
  CliRun r = cli(tmp.Sub("x"), Concat({{"connect"}, plain, {"--token-file", tmp.Sub("bogus")}}));
  EXPECT_EQ(r.exit_code, kDenied) << Describe(r);
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did not accept this home's credential"), std::string::npos) << r.err;

  // A home that never connected.
  r = cli(tmp.Sub("empty"), {"sync"});
  EXPECT_EQ(r.exit_code, kDenied) << Describe(r);
  EXPECT_NE(r.err.find("holds no server credential"), std::string::npos) << r.err;

  // A monitor doing admin work; then their revoked tablet.
  const std::string admin = tmp.Sub("admin"), mia = tmp.Sub("mia");
  ConnectAdminAndEnrollMonitor(cli, plain, data, admin, "mia", mia);
  r = cli(mia, {"user", "list"});
  EXPECT_EQ(r.exit_code, kDenied) << Describe(r);
  EXPECT_NE(r.err.find("PERMISSION_DENIED"), std::string::npos) << r.err;

  ASSERT_EQ(cli(mia, {"follow", "0190a000-0000-7000-8000-00000000beef"}).exit_code, kOk);
  r = cli(mia, {"sync"});  // not on that visit's team
  EXPECT_EQ(r.exit_code, kDenied) << Describe(r);
  EXPECT_NE(r.err.find("PERMISSION_DENIED"), std::string::npos) << r.err;

  r = cli(admin, {"--json", "device", "list", "--user", "mia"});
  ASSERT_EQ(r.Json().size(), 1u) << Describe(r);
  ASSERT_EQ(cli(admin, {"device", "revoke", Str(r.Json()[0], {"device_id"})}).exit_code, kOk);
  r = cli(mia, {"sync"});
  EXPECT_EQ(r.exit_code, kDenied) << Describe(r);
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("DEVICE_REVOKED"), std::string::npos) << r.err;

  // Not a credential problem: nothing listens there.
  r = cli(tmp.Sub("y"), {"connect", "--server", "127.0.0.1:1", "--plaintext", "--token-file",
                         data + "/initial-admin-token"});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
}

// Edits the server refused wait as parked: status names them; once the
// user is put on the team, one is requeued and arrives, the other dropped.
TEST(VigilctlTest, RefusedEditsAreRequeuedOrDropped) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  testing::Vigild server(VIGIL_VIGILD, tmp, data, {"--plaintext-loopback"});
  ASSERT_GT(server.port(), 0) << server.process().Output();
  Vigilctl cli(tmp);
  const std::vector<std::string> plain = {"--server", "127.0.0.1:" + std::to_string(server.port()),
                                          "--plaintext"};
  const std::string admin = tmp.Sub("admin"), mia = tmp.Sub("mia");
  ConnectAdminAndEnrollMonitor(cli, plain, data, admin, "mia", mia);
  CliRun r = cli("", {"new-id", "--json"});
  const std::string visit = Str(r.Json()[0], {"id"});

  // Not on the visit's team yet: both findings are refused and parked.
  for (const char* title : {"Kept", "Dropped"}) {
    r = cli(mia, {"--json", "finding", "create", "--visit", visit, "--title", title});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  }
  r = cli(mia, {"sync"});
  EXPECT_NE(r.exit_code, kOk) << Describe(r);
  r = cli(mia, {"--json", "status"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const Value parked = At(r.Json()[0], {"parked"});
  ASSERT_EQ(parked.list_value().values_size(), 2) << r.out;
  std::vector<std::string> ids;
  for (const Value& p : parked.list_value().values()) {
    EXPECT_EQ(Str(p.struct_value(), {"kind"}), "refused") << r.out;
    EXPECT_EQ(Str(p.struct_value(), {"reason"}), "SCOPE_NOT_PERMITTED") << r.out;
    ids.push_back(Str(p.struct_value(), {"mutation_id"}));
  }
  EXPECT_EQ(Num(r.Json()[0], {"outbox"}), 0);
  r = cli(mia, {"status"});
  EXPECT_NE(r.out.find(ids[0]), std::string::npos) << r.out;

  // Unknown ids are refused and change nothing.
  r = cli(mia, {"parked", "drop", "0190a000-0000-7000-8000-00000000dead"});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;

  ASSERT_EQ(cli(admin, {"team", "add", visit, "mia", "--role", "monitor"}).exit_code, kOk);
  r = cli(mia, {"parked", "requeue", ids[0]});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(mia, {"--json", "parked", "drop", ids[1]});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_TRUE(At(r.Json()[0], {"dropped"}).bool_value()) << r.out;
  r = cli(mia, {"--json", "status"});
  EXPECT_EQ(Num(r.Json()[0], {"outbox"}), 1);
  EXPECT_EQ(At(r.Json()[0], {"parked"}).list_value().values_size(), 0);
  r = cli(mia, {"--json", "sync"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"pushed"}), 1);

  // The visit holds the requeued finding, as the server accepted it, and
  // not the dropped one.
  r = cli(mia, {"--json", "show", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  EXPECT_EQ(Str(r.Json()[0], {"body", "finding", "title"}), "Kept") << r.out;
  EXPECT_EQ(Num(r.Json()[0], {"revision"}), 1) << r.out;
  EXPECT_FALSE(At(r.Json()[0], {"pending"}).bool_value()) << r.out;

  // The visit is over: the device's copy is removed once the server's
  // signed receipt covers everything on it, and not before.
  r = cli(mia, {"finding", "create", "--visit", visit, "--title", "Late"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(mia, {"forget", visit});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("sync first"), std::string::npos) << r.err;
  ASSERT_EQ(cli(mia, {"sync"}).exit_code, kOk);
  r = cli(mia, {"--json", "forget", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Num(r.Json()[0], {"records_removed"}), 2) << r.out;
  r = cli(mia, {"--json", "show", visit});
  EXPECT_TRUE(r.Json().empty()) << r.out;
}

TEST(VigilctlTest, OperatorCommandsOnARunningServer) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Vigilctl cli(tmp);
  const std::string admin = tmp.Sub("admin");
  {
    testing::Vigild server(VIGIL_VIGILD, tmp, data, {"--plaintext-loopback"});
    ASSERT_GT(server.port(), 0) << server.process().Output();
    ASSERT_EQ(cli(admin, {"connect", "--server", "127.0.0.1:" + std::to_string(server.port()),
                          "--plaintext", "--token-file", data + "/initial-admin-token"})
                  .exit_code,
              kOk);

    CliRun r = cli(admin, {"--json", "health"});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_EQ(Str(r.Json()[0], {"health"}), "SERVING");
    EXPECT_EQ(Str(r.Json()[0], {"whoami", "role"}), "admin");

    ASSERT_EQ(cli(admin, {"user", "create", "svc.stats", "--role", "service"}).exit_code, kOk);
    r = cli(admin, {"--json", "user", "disable", "svc.stats"});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_TRUE(At(r.Json()[0], {"disabled"}).bool_value());

    r = cli(admin, {"--json", "key", "rotate"});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_EQ(Num(r.Json()[0], {"key_id"}), 2);

    r = cli(admin, {"--json", "audit", "verify"});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_TRUE(At(r.Json()[0], {"intact"}).bool_value());
    const double entries = Num(r.Json()[0], {"entries"});
    EXPECT_GE(entries, 3);
    r = cli(admin, {"audit", "export", "--out", tmp.Sub("audit.jsonl")});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    CliRun exported{kOk, ReadFile(tmp.Sub("audit.jsonl")), ""};
    EXPECT_GE(static_cast<double>(exported.Json().size()), entries);
    EXPECT_NE(exported.out.find("user.disabled"), std::string::npos) << exported.out;

    r = cli("", {"--json", "backup", "--data-dir", data, "--to", tmp.Sub("backups")});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    EXPECT_EQ(Num(r.Json()[0], {"backup_id"}), 1);
    EXPECT_EQ(server.Stop(), 0);
  }
  // Online only: with the server stopped vigilctl says to use vigild.
  CliRun r = cli("", {"backup", "--data-dir", data, "--to", tmp.Sub("backups")});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("vigild backup"), std::string::npos) << r.err;

  const std::string restored = tmp.Sub("restored");
  r = cli("", {"restore", "--from", tmp.Sub("backups"), "--data-dir", restored, "--key-file",
               data + "/keys/data.key"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli("", {"restore", "--from", tmp.Sub("backups"), "--data-dir", restored});
  EXPECT_EQ(r.exit_code, kFailure) << Describe(r);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;

  // The restored directory serves the same accounts.
  testing::Vigild again(VIGIL_VIGILD, tmp, restored, {"--plaintext-loopback"});
  ASSERT_GT(again.port(), 0) << again.process().Output();
  const std::string other = tmp.Sub("admin2");
  ASSERT_EQ(cli(other, {"connect", "--server", "127.0.0.1:" + std::to_string(again.port()),
                        "--plaintext", "--token-file", data + "/initial-admin-token"})
                .exit_code,
            kOk);
  r = cli(other, {"--json", "user", "list"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  std::set<std::string> users;
  for (const Struct& u : r.Json()) users.insert(Str(u, {"user_id"}));
  EXPECT_EQ(users, (std::set<std::string>{"admin", "svc.stats"}));
}

}  // namespace

// The NPM unit's desk from the command line: the reviewer registers the
// facility and plans the visit (each in its scope), the lead starts and
// submits it from the field, the reviewer takes it from the queue and sends
// it back with questions, which the lead's device shows after its sync.
TEST(VigilctlTest, ReviewWalkthroughSendBackReachesTheTeam) {
  TempDir tmp;
  const std::string data = tmp.Sub("vigil-data");
  testing::Vigild server(VIGIL_VIGILD, tmp, data);
  ASSERT_GT(server.port(), 0) << server.process().Output();
  Vigilctl cli(tmp);
  const std::vector<std::string> tls = {"--server", "127.0.0.1:" + std::to_string(server.port()),
                                        "--ca", data + "/tls/ca.crt"};
  const std::string admin = tmp.Sub("admin"), rita = tmp.Sub("rita"), lena = tmp.Sub("lena");
  CliRun r =
      cli(admin, Concat({{"connect"}, tls, {"--token-file", data + "/initial-admin-token"}}));
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(cli(admin, {"user", "create", "rita", "--role", "reviewer"}).exit_code, kOk);
  ASSERT_EQ(cli(admin, {"user", "create", "lena", "--role", "lead"}).exit_code, kOk);
  const std::string visit = Str(cli("", {"new-id", "--json"}).Json()[0], {"id"});
  ASSERT_EQ(cli(admin, {"team", "add", visit, "lena", "--role", "lead"}).exit_code, kOk);
  for (const auto& [home, user] :
       std::vector<std::pair<std::string, std::string>>{{rita, "rita"}, {lena, "lena"}}) {
    r = cli(admin, {"--json", "code", "create", user});
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
    r = cli(home, Concat({{"enroll"}, tls, {"--code", Str(r.Json()[0], {"code"}), "--name", user}}));
    ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  }
  r = cli(rita, {"--json", "facility", "create", "--name", "Central Prison", "--type", "prison",
                 "--capacity", "400"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string facility = Str(r.Json()[0], {"id"});
  EXPECT_EQ(Str(r.Json()[0], {"scope"}), "registry");
  r = cli(rita, {"--json", "visit", "create", visit, "--facility", facility});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Str(r.Json()[0], {"scope"}), "visits/" + visit);
  ASSERT_EQ(cli(rita, {"sync"}).exit_code, kOk);

  // The lead starts and submits the visit; a reviewer's move is not hers.
  ASSERT_EQ(cli(lena, {"follow", visit}).exit_code, kOk);
  ASSERT_EQ(cli(lena, {"review", "move", visit, "in-progress"}).exit_code, kOk);
  r = cli(lena, {"review", "move", visit, "approved"});
  EXPECT_NE(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.err.find("VISIT_TRANSITION_NOT_ALLOWED"), std::string::npos) << r.err;
  ASSERT_EQ(cli(lena, {"review", "move", visit, "submitted"}).exit_code, kOk);

  r = cli(rita, {"--json", "review", "queue"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  EXPECT_EQ(Str(r.Json()[0], {"entry", "name"}), "visits/" + visit);
  EXPECT_EQ(Str(r.Json()[0], {"entry", "facility_name"}), "Central Prison");
  EXPECT_EQ(Str(r.Json()[0], {"entry", "team_lead_user_id"}), "lena");
  ASSERT_EQ(cli(rita, {"review", "move", visit, "in-review"}).exit_code, kOk);
  r = cli(rita, {"review", "move", visit, "changes-requested"});
  EXPECT_NE(r.err.find("NOTE_REQUIRED"), std::string::npos) << Describe(r);
  r = cli(rita, {"review", "move", visit, "changes-requested", "--note",
                 "Which cells of block C did you see?"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);

  // The lead's device learns it at its next sync.
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(lena, {"--json", "show-record", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("Which cells of block C did you see?"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CHANGES_REQUESTED"), std::string::npos) << r.out;
  r = cli(lena, {"review", "visit", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("you may move it to: submitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team: lena"), std::string::npos) << r.out;

  // A question on a finding reaches the lead's tablet; her comment answers it.
  r = cli(lena, {"--json", "finding", "create", "--visit", visit, "--title", "Block C cells"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string finding = Str(r.Json()[0], {"id"});
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(rita, {"review", "mark", finding, "question"});
  EXPECT_NE(r.err.find("QUESTION_REQUIRED"), std::string::npos) << Describe(r);
  r = cli(rita, {"review", "mark", finding, "question", "--question", "How many cells?"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("question by rita"), std::string::npos) << r.out;
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(lena, {"show-record", finding});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("question from rita: How many cells?"), std::string::npos) << r.out;

  // The reviewer and the lead change the finding at once, in different
  // fields: sync merges them, and the reviewer checks the merge.
  ASSERT_EQ(cli(rita, {"follow", visit}).exit_code, kOk);
  ASSERT_EQ(cli(rita, {"sync"}).exit_code, kOk);
  ASSERT_EQ(cli(rita, {"finding", "edit", finding, "--location", "Block C"}).exit_code, kOk);
  ASSERT_EQ(cli(lena, {"finding", "edit", finding, "--severity", "high"}).exit_code, kOk);
  ASSERT_EQ(cli(rita, {"sync"}).exit_code, kOk);
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(rita, {"--json", "review", "parallel", "--visit", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  const std::string parallel = Str(r.Json()[0], {"parallel_update", "name"});
  r = cli(rita, {"review", "parallel-update", parallel});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("as it stood (rita@"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the edit (lena@"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("merged: \"Block C\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not checked"), std::string::npos) << r.out;
  r = cli(lena, {"review", "check", parallel});
  EXPECT_NE(r.err.find("REVIEWER_ONLY"), std::string::npos) << Describe(r);
  r = cli(rita, {"review", "check", parallel});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"--json", "review", "parallel", "--visit", visit});
  EXPECT_TRUE(r.Json().empty()) << r.out;
  r = cli(rita, {"review", "parallel", "--checked"});
  EXPECT_NE(r.out.find("checked by rita"), std::string::npos) << r.out;

  // The desk's queries.
  r = cli(rita, {"--json", "review", "findings", "--facility", facility});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  EXPECT_EQ(Str(r.Json()[0], {"finding", "id"}), finding);
  r = cli(rita, {"review", "findings", "--severity", "high", "--from", "2020-01-01"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_TRUE(r.out.empty()) << "the visit has no dates yet: " << r.out;
  r = cli(rita, {"review", "findings", "--good-practice", "maybe"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  r = cli(rita, {"review", "interviews", "--visit", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"review", "facility", facility});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("Central Prison"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("visits/" + visit), std::string::npos) << r.out;

  // A comment from the desk.
  r = cli(rita, {"--json", "review", "comment", visit, "--record", finding, "--text",
                 "Were the cells counted?"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"review", "comment", visit, "--text", "nothing"});
  EXPECT_NE(r.err.find("SUBJECT_REQUIRED"), std::string::npos) << Describe(r);

  // Approved, the visit holds what the lead sends later, for the office.
  ASSERT_EQ(cli(lena, {"review", "move", visit, "submitted"}).exit_code, kOk);
  ASSERT_EQ(cli(rita, {"review", "move", visit, "in-review"}).exit_code, kOk);
  ASSERT_EQ(cli(rita, {"review", "move", visit, "approved"}).exit_code, kOk);
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  ASSERT_EQ(cli(lena, {"finding", "create", "--visit", visit, "--title", "Cell 9: no light"})
                .exit_code,
            kOk);
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(rita, {"--json", "review", "late", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  EXPECT_EQ(Str(r.Json()[0], {"late_submission", "mutation", "author"}), "lena") << r.out;
  const std::string late = Str(r.Json()[0], {"late_submission", "name"});
  r = cli(rita, {"review", "decide", late, "reject"});
  EXPECT_NE(r.err.find("REASON_REQUIRED"), std::string::npos) << Describe(r);
  r = cli(rita, {"review", "decide", late, "reject", "--reason", "seen after approval"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("rejected by rita: seen after approval"), std::string::npos) << r.out;
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  r = cli(lena, {"--json", "status"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("late_rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seen after approval"), std::string::npos) << r.out;
  r = cli(rita, {"review", "comments", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("rita on " + finding + ": Were the cells counted?"), std::string::npos)
      << r.out;
  r = cli(rita, {"--json", "review", "conflicts", "--visit", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_TRUE(r.Json().empty()) << r.out;
  r = cli(rita, {"review", "conflicts", "--kind", "gossip"});
  EXPECT_NE(r.err.find("FILTER_INVALID"), std::string::npos) << Describe(r);
  r = cli(rita, {"review", "resolve", "conflicts/cf-00000000000000000000000000000000", "--take",
                 "1", "--reason", "x"});
  EXPECT_NE(r.err.find("RESOURCE_NOT_FOUND"), std::string::npos) << Describe(r);

  // A recommendation from the finding, answered, checked and followed.
  r = cli(rita, {"--json", "authority", "create", "--name", "Prison Service"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string authority = Str(r.Json()[0], {"id"});
  ASSERT_EQ(cli(rita, {"sync"}).exit_code, kOk);
  r = cli(rita, {"--json", "recommendations", "issue", "--addressee", authority, "--text",
                 "Light every cell", "--finding", finding, "--deadline", "2021-01-31",
                 "--priority", "high"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::string rec = Str(r.Json()[0], {"recommendation", "record", "id"});
  r = cli(rita, {"recommendations", "list", "--overdue", "yes"});
  EXPECT_NE(r.out.find(rec), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("OVERDUE"), std::string::npos) << r.out;
  r = cli(rita, {"recommendations", "respond", rec, "--received", "2021-02-01", "--text",
                 "Lamps ordered", "--claims", "accepted"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"recommendations", "status", rec, "implemented", "--note", "seen"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"recommendations", "show", rec});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("open -> implemented"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Lamps ordered"), std::string::npos) << r.out;
  r = cli(rita, {"--json", "recommendations", "authorities"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Str(r.Json()[0], {"authority", "authority_name"}), "Prison Service") << r.out;
  r = cli(lena, {"recommendations", "issue", "--addressee", authority, "--text", "x"});
  EXPECT_NE(r.err.find("REVIEWER_ONLY"), std::string::npos) << Describe(r);
  r = cli(rita, {"recommendations", "list", "--overdue", "maybe"});
  EXPECT_EQ(r.exit_code, kUsage) << Describe(r);

  // A check made on the lead's tablet reaches the recommendation.
  r = cli(lena, {"recommendations", "check", rec, "--visit", visit, "--observed", "implemented",
                 "--note", "lamps in every cell"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(cli(lena, {"sync"}).exit_code, kOk);
  // The visit is approved: the check waits in the late queue until the
  // office accepts it.
  r = cli(rita, {"--json", "review", "late", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  ASSERT_EQ(r.Json().size(), 1u) << r.out;
  r = cli(rita, {"review", "decide", Str(r.Json()[0], {"late_submission", "name"}), "accept"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  r = cli(rita, {"recommendations", "show", rec});
  EXPECT_NE(r.out.find("lamps in every cell"), std::string::npos) << Describe(r);

  // The briefing, kept on the lead's device; the report, published and
  // verified; the year's figures.
  r = cli(lena, {"briefing", visit});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("Central Prison"), std::string::npos) << r.out;
  r = cli(lena, {"--json", "briefing", visit, "--offline"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(Str(r.Json()[0], {"briefing", "visit"}), "visits/" + visit) << r.out;
  const std::string md = tmp.Sub("report.md"), signed_dir = tmp.Sub("published");
  r = cli(rita, {"report", "export", visit, "--format", "markdown", "--out", md});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(ReadFile(md).rfind("# Visit report: Central Prison", 0), 0u) << ReadFile(md);
  r = cli(rita, {"report", "export", visit, "--format", "pdf"});
  EXPECT_EQ(r.exit_code, kUsage) << Describe(r);
  r = cli(lena, {"report", "publish", visit});
  EXPECT_NE(r.err.find("VISIT_TRANSITION_NOT_PERMITTED"), std::string::npos) << Describe(r);
  r = cli(rita, {"report", "publish", visit, "--out", signed_dir});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  const std::vector<std::string> key = {"--public-key", signed_dir + "/public_key.bin"};
  r = cli("", Concat({{"report", "verify", signed_dir + "/report.html"}, key}));
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("signature verified"), std::string::npos) << r.out;
  std::string html = ReadFile(signed_dir + "/report.html");
  html[html.size() / 2] ^= 0x01;
  WriteFile(signed_dir + "/report.html", html);
  r = cli("", Concat({{"report", "verify", signed_dir + "/report.html"}, key}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.out.find("does NOT verify"), std::string::npos) << r.out;
  r = cli(lena, {"report", "published", visit, "--out", tmp.Sub("lena-copy")});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_EQ(ReadFile(tmp.Sub("lena-copy") + "/report.json"), ReadFile(signed_dir + "/report.json"));
  r = cli(rita, {"statistics", "--from", "2020-01-01", "--to", "2029-12-31", "--format", "csv"});
  ASSERT_EQ(r.exit_code, kOk) << Describe(r);
  EXPECT_NE(r.out.find("implementation,issued,,,1"), std::string::npos) << r.out;
}

}  // namespace vigil
