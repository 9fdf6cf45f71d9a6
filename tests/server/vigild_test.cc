// End-to-end tests of the vigild binary: first start, TLS, health and
// reflection, plaintext rules, refused data directories, graceful stop, and
// online backup / restore.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/grpc_probe.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using ::vigil::testing::CommandResult;
using ::vigil::testing::DirectoryContents;
using ::vigil::testing::ReadFile;
using ::vigil::testing::RunCommand;
using ::vigil::testing::Subprocess;
using ::vigil::testing::TempDir;

constexpr int kServing = 1;

int FileMode(const std::string& path) {
  struct stat st{};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

// vigild started by path from this build.
class Vigild : public testing::Vigild {
 public:
  Vigild(const TempDir& tmp, const std::string& data_dir, std::vector<std::string> extra = {})
      : testing::Vigild(VIGIL_VIGILD, tmp, data_dir, std::move(extra)) {}
};

std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target, const std::string& ca) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(ca);
  return grpc::CreateChannel(target, grpc::SslCredentials(options));
}

TEST(VigildTest, FirstStartCreatesTlsAndAdminCredentialAndServesOverTls) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  std::string ca_before;
  {
    Vigild server(tmp, data);
    ASSERT_GT(server.port(), 0) << server.process().Output();

    // Generated material and the credential, with owner-only permissions.
    EXPECT_EQ(FileMode(data), 0700);
    EXPECT_EQ(FileMode(data + "/tls/server.key"), 0600);
    EXPECT_TRUE(fs::exists(data + "/tls/ca.crt"));
    EXPECT_TRUE(fs::exists(data + "/tls/server.crt"));
    const std::string token_file = data + "/initial-admin-token";
    EXPECT_EQ(FileMode(token_file), 0600);
    std::string token = ReadFile(token_file);
    ASSERT_GT(token.size(), 40u);
    token.pop_back();  // newline
    const std::string log = server.process().Output();
    EXPECT_NE(log.find(token_file), std::string::npos) << "path is logged";
    EXPECT_EQ(log.find(token), std::string::npos) << "secret must never be logged";
    EXPECT_NE(log.find("\"ca_cert\":\"" + data + "/tls/ca.crt\""), std::string::npos);

    // Health and reflection over TLS, trusting the generated CA, by name
    // and by IP.
    auto channel = TlsChannel(server.target(), data + "/tls/ca.crt");
    EXPECT_EQ(testing::HealthCheck(channel).value_or(-1), kServing);
    auto by_ip = TlsChannel("127.0.0.1:" + std::to_string(server.port()), data + "/tls/ca.crt");
    EXPECT_EQ(testing::HealthCheck(by_ip).value_or(-1), kServing);
    auto services = testing::ReflectionListServices(channel);
    ASSERT_OK(services);
    EXPECT_NE(services->find("grpc.health.v1.Health"), std::string::npos);

    // Plaintext is not served when TLS is on.
    auto plain = grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials());
    EXPECT_FALSE(testing::HealthCheck(plain).ok());

    ca_before = ReadFile(data + "/tls/ca.crt");
    EXPECT_EQ(server.Stop(), 0);
    const std::string final_log = server.process().Output();
    EXPECT_NE(final_log.find("\"event\":\"server.stopped\""), std::string::npos);
    EXPECT_FALSE(fs::exists(data + "/vigild.sock"));
  }
  // A restart reuses the identity and creates no second credential.
  const std::string token_before = ReadFile(data + "/initial-admin-token");
  Vigild again(tmp, data);
  ASSERT_GT(again.port(), 0) << again.process().Output();
  EXPECT_EQ(ReadFile(data + "/tls/ca.crt"), ca_before);
  EXPECT_EQ(ReadFile(data + "/initial-admin-token"), token_before);
  EXPECT_EQ(again.process().Output().find("initial_credential_created"), std::string::npos);
  EXPECT_EQ(testing::HealthCheck(TlsChannel(again.target(), data + "/tls/ca.crt")).value_or(-1),
            kServing);
  EXPECT_EQ(again.Stop(SIGINT), 0);
}

TEST(VigildTest, PlaintextOnlyOnLoopback) {
  TempDir tmp;
  Vigild server(tmp, tmp.Sub("data"), {"--plaintext-loopback"});
  ASSERT_GT(server.port(), 0) << server.process().Output();
  auto plain = grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(testing::HealthCheck(plain).value_or(-1), kServing);
  EXPECT_FALSE(fs::exists(tmp.Sub("data") + "/tls"));
  plain.reset();
  EXPECT_EQ(server.Stop(), 0);

  CommandResult refused = RunCommand({VIGIL_VIGILD, "--data-dir", tmp.Sub("data2"), "--listen",
                                      "0.0.0.0:0", "--plaintext-loopback"},
                                     tmp.Sub("refused.log"));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("loopback"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(tmp.Sub("data2")));
}

TEST(VigildTest, ConfigFileWithFlagOverride) {
  TempDir tmp;
  std::ofstream(tmp.Sub("vigil.toml")) << "data_dir = \"" << tmp.Sub("from-file")
                                       << "\"\nlisten = \"127.0.0.1:1\"\n"
                                       << "plaintext_loopback = true\n";
  // --listen overrides the file's port; data_dir and plaintext come from it.
  Subprocess p({VIGIL_VIGILD, "--config", tmp.Sub("vigil.toml"), "--listen", "127.0.0.1:0"},
               tmp.Sub("cfg.log"));
  ASSERT_TRUE(p.WaitForOutput("server.listening")) << p.Output();
  EXPECT_TRUE(fs::exists(tmp.Sub("from-file") + "/db"));
  EXPECT_NE(p.Output().find("\"tls\":false"), std::string::npos);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);

  std::ofstream(tmp.Sub("bad.toml")) << "listne = \"127.0.0.1:0\"\n";
  CommandResult bad = RunCommand({VIGIL_VIGILD, "--config", tmp.Sub("bad.toml")},
                                 tmp.Sub("bad.log"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("unknown key 'listne'"), std::string::npos) << bad.output;
}

TEST(VigildTest, DataDirectoryLockedByAnotherVigildIsRefused) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Vigild first(tmp, data);
  ASSERT_GT(first.port(), 0) << first.process().Output();
  const std::string token = ReadFile(data + "/initial-admin-token");
  const std::string cert = ReadFile(data + "/tls/server.crt");

  CommandResult second =
      RunCommand({VIGIL_VIGILD, "--data-dir", data, "--listen", "127.0.0.1:0"},
                 tmp.Sub("second.log"));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("in use by another process"), std::string::npos)
      << second.output;
  EXPECT_EQ(ReadFile(data + "/initial-admin-token"), token);
  EXPECT_EQ(ReadFile(data + "/tls/server.crt"), cert);
  // The first server is unaffected.
  EXPECT_EQ(testing::HealthCheck(TlsChannel(first.target(), data + "/tls/ca.crt")).value_or(-1),
            kServing);
  EXPECT_EQ(first.Stop(), 0);
}

TEST(VigildTest, UnusableDataDirectoriesAreRefusedUntouched) {
  TempDir tmp;
  // A file where the directory should be.
  std::ofstream(tmp.Sub("file")) << "x";
  // A non-empty directory that is not a Vigil data directory.
  fs::create_directories(tmp.Sub("other"));
  std::ofstream(tmp.Sub("other/notes.txt")) << "someone's files";
  // A Vigil data directory whose database is corrupt.
  {
    Vigild s(tmp, tmp.Sub("corrupt"), {"--plaintext-loopback"});
    ASSERT_GT(s.port(), 0);
    ASSERT_EQ(s.Stop(), 0);
    std::ofstream(tmp.Sub("corrupt/db/CURRENT"), std::ios::trunc) << "garbage";
  }
  for (const std::string& dir : std::vector<std::string>{tmp.Sub("file"), tmp.Sub("other"), tmp.Sub("corrupt")}) {
    auto before = DirectoryContents(dir);
    CommandResult r = RunCommand({VIGIL_VIGILD, "--data-dir", dir, "--listen", "127.0.0.1:0"},
                                 tmp.Sub("refused.log"));
    EXPECT_EQ(r.exit_code, 1) << dir << ": " << r.output;
    EXPECT_NE(r.output.find("server.start_failed"), std::string::npos) << r.output;
    auto after = DirectoryContents(dir);
    EXPECT_EQ(after, before) << dir << " was modified";
  }
}

TEST(VigildTest, OnlineBackupThenRestoreKeepsIdentity) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  const std::string backups = tmp.Sub("backups");
  Vigild server(tmp, data);
  ASSERT_GT(server.port(), 0) << server.process().Output();

  CommandResult backup = RunCommand({VIGIL_VIGILD, "backup", "--data-dir", data, "--to", backups},
                                    tmp.Sub("backup.log"));
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  EXPECT_NE(backup.output.find("backup 1 written"), std::string::npos) << backup.output;
  // Taken by the running server, not by opening its locked database.
  EXPECT_NE(server.process().Output().find("\"event\":\"backup.done\""), std::string::npos);

  // The audit log, online through the running server.
  CommandResult verify = RunCommand({VIGIL_VIGILD, "audit-verify", "--data-dir", data},
                                    tmp.Sub("verify.log"));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find("audit log intact: 2 entries"), std::string::npos)
      << verify.output;
  CommandResult exported = RunCommand({VIGIL_VIGILD, "audit-export", "--data-dir", data},
                                      tmp.Sub("export.log"));
  EXPECT_EQ(exported.exit_code, 0);
  EXPECT_NE(exported.output.find("\"action\":\"admin.initial_credential_created\""),
            std::string::npos)
      << exported.output;
  EXPECT_NE(exported.output.find("\"principal\":\"operator\",\"device\":\"\",\"action\":"
                                 "\"backup.created\""),
            std::string::npos)
      << exported.output;
  EXPECT_EQ(server.Stop(), 0);
  // And offline.
  verify = RunCommand({VIGIL_VIGILD, "audit-verify", "--data-dir", data}, tmp.Sub("verify2.log"));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  CommandResult list = RunCommand({VIGIL_VIGILD, "list-backups", "--from", backups},
                                  tmp.Sub("list.log"));
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.output.rfind("1\t", 0), 0u) << list.output;

  // Offline backup works too (no server running): backup 2.
  CommandResult offline = RunCommand(
      {VIGIL_VIGILD, "backup", "--data-dir", data, "--to", backups}, tmp.Sub("offline.log"));
  ASSERT_EQ(offline.exit_code, 0) << offline.output;
  EXPECT_NE(offline.output.find("backup 2 written"), std::string::npos);

  // Backups never hold the data keys: a restore without them cannot serve.
  const std::string keyless = tmp.Sub("keyless");
  ASSERT_EQ(RunCommand({VIGIL_VIGILD, "restore", "--from", backups, "--data-dir", keyless},
                       tmp.Sub("keyless.log"))
                .exit_code,
            0);
  CommandResult no_key = RunCommand(
      {VIGIL_VIGILD, "--data-dir", keyless, "--listen", "127.0.0.1:0"}, tmp.Sub("nokey.log"));
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.output.find("data key file"), std::string::npos) << no_key.output;
  EXPECT_FALSE(fs::exists(keyless + "/keys/data.key")) << "must not generate a new key";

  // Nor can it with another database's keys.
  const std::string other = tmp.Sub("other");
  {
    Vigild s(tmp, other, {"--plaintext-loopback"});
    ASSERT_GT(s.port(), 0);
    ASSERT_EQ(s.Stop(), 0);
  }
  CommandResult wrong_key = RunCommand({VIGIL_VIGILD, "--data-dir", keyless, "--listen",
                                        "127.0.0.1:0", "--key-file", other + "/keys/data.key"},
                                       tmp.Sub("wrongkey.log"));
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_NE(wrong_key.output.find("does not match this database"), std::string::npos)
      << wrong_key.output;

  const std::string restored = tmp.Sub("restored");
  CommandResult restore = RunCommand(
      {VIGIL_VIGILD, "restore", "--from", backups, "--data-dir", restored, "--backup-id", "1",
       "--key-file", data + "/keys/data.key"},
      tmp.Sub("restore.log"));
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  CommandResult again = RunCommand(
      {VIGIL_VIGILD, "restore", "--from", backups, "--data-dir", restored, "--key-file",
       data + "/keys/data.key"},
      tmp.Sub("again.log"));
  EXPECT_EQ(again.exit_code, 1) << "restore into a non-empty directory must be refused";

  Vigild from_backup(tmp, restored);
  ASSERT_GT(from_backup.port(), 0) << from_backup.process().Output();
  EXPECT_EQ(from_backup.process().Output().find("initial_credential_created"),
            std::string::npos)
      << "the restored database already has its admin credential";
  EXPECT_EQ(ReadFile(restored + "/tls/ca.crt"), ReadFile(data + "/tls/ca.crt"));
  EXPECT_EQ(testing::HealthCheck(TlsChannel(from_backup.target(), data + "/tls/ca.crt"))
                .value_or(-1),
            kServing);
  EXPECT_EQ(from_backup.Stop(), 0);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST(VigildTest, RotateKeyOfflineOnlyAndServerStartsWithTheNewKey) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  {
    Vigild server(tmp, data);
    ASSERT_GT(server.port(), 0) << server.process().Output();
    CommandResult refused = RunCommand({VIGIL_VIGILD, "rotate-key", "--data-dir", data},
                                       tmp.Sub("rotate-online.log"));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.output.find("vigild is running"), std::string::npos) << refused.output;
    EXPECT_EQ(server.Stop(), 0);
  }
  CommandResult rotated =
      RunCommand({VIGIL_VIGILD, "rotate-key", "--data-dir", data}, tmp.Sub("rotate.log"));
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  EXPECT_NE(rotated.output.find("data key 2 is now current"), std::string::npos)
      << rotated.output;
  Vigild again(tmp, data);
  EXPECT_GT(again.port(), 0) << again.process().Output();
  EXPECT_EQ(again.Stop(), 0);
}

}  // namespace
}  // namespace vigil
