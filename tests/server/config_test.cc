#include "server/ops/config.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::server {
namespace {

using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

std::string WriteConfig(const TempDir& dir, const std::string& text) {
  std::string path = dir.Sub("vigil.toml");
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsAreSecure) {
  auto config = LoadServerConfig("", ConfigOverrides{});
  ASSERT_OK(config);
  EXPECT_EQ(config->data_dir, "vigil-data");
  EXPECT_EQ(config->listen, "127.0.0.1:7443");
  EXPECT_FALSE(config->plaintext_loopback);
  EXPECT_TRUE(config->tls_cert.empty());
}

TEST(ConfigTest, FileThenFlags) {
  TempDir dir;
  std::string path = WriteConfig(dir, R"(
data_dir = "/srv/vigil"
listen = "0.0.0.0:8443"
tls_extra_hosts = ["vigil.npm.example", "10.0.0.5"]
log_level = "warn"
shutdown_grace_seconds = 30
)");
  ConfigOverrides flags;
  flags.listen = "127.0.0.1:9000";
  auto config = LoadServerConfig(path, flags);
  ASSERT_OK(config);
  EXPECT_EQ(config->data_dir, "/srv/vigil");
  EXPECT_EQ(config->listen, "127.0.0.1:9000");
  EXPECT_EQ(config->tls_extra_hosts,
            (std::vector<std::string>{"vigil.npm.example", "10.0.0.5"}));
  EXPECT_EQ(config->log_level, "warn");
  EXPECT_EQ(config->shutdown_grace_seconds, 30);
}

TEST(ConfigTest, BadFilesNameTheProblem) {
  TempDir dir;
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"listen = 7443\n", "'listen' must be a string"},
           {"lisen = \"x\"\n", "unknown key 'lisen'"},
           {"listen = \"nohost\"\n", "not host:port"},
           {"listen = \"127.0.0.1:70000\"\n", "port 0..65535"},
           {"log_level = \"loud\"\n", "log_level"},
           {"tls_cert = \"/a.pem\"\n", "together"},
           {"data_dir = [\n", "line"},
       }) {
    auto config = LoadServerConfig(WriteConfig(dir, c.text), ConfigOverrides{});
    EXPECT_THAT(config, StatusIs(absl::StatusCode::kInvalidArgument)) << c.text;
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status() << " for " << c.text;
  }
  EXPECT_THAT(LoadServerConfig(dir.Sub("missing.toml"), ConfigOverrides{}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ConfigTest, PlaintextOnlyOnLoopback) {
  for (const char* ok : {"127.0.0.1:0", "127.1.2.3:80", "localhost:1", "[::1]:7443"}) {
    ConfigOverrides flags;
    flags.listen = ok;
    flags.plaintext_loopback = true;
    EXPECT_OK(LoadServerConfig("", flags)) << ok;
  }
  for (const char* bad : {"0.0.0.0:7443", "10.0.0.5:7443", "[::]:7443", "example.org:1"}) {
    ConfigOverrides flags;
    flags.listen = bad;
    flags.plaintext_loopback = true;
    EXPECT_THAT(LoadServerConfig("", flags), StatusIs(absl::StatusCode::kFailedPrecondition))
        << bad;
  }
}

TEST(ConfigTest, ParseHostPort) {
  auto v6 = ParseHostPort("[::1]:7443");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7443);
  EXPECT_THAT(ParseHostPort("::1:7443"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort(":7443"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort("host:port"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vigil::server

namespace vigil::server {
namespace {

// The reference configuration in deploy/ stays loadable and says the defaults.
TEST(ConfigTest, ReferenceFileLoadsWithTheDefaults) {
  auto config = LoadServerConfig(VIGIL_SOURCE_DIR "/deploy/vigil.toml", ConfigOverrides());
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerConfig defaults;
  EXPECT_EQ(config->auth_failures_per_minute, defaults.auth_failures_per_minute);
  EXPECT_EQ(config->device_requests_per_minute, defaults.device_requests_per_minute);
  EXPECT_EQ(config->device_bytes_per_minute, defaults.device_bytes_per_minute);
  EXPECT_EQ(config->tls_client_ca, defaults.tls_client_ca);
  EXPECT_EQ(config->max_attachment_bytes, defaults.max_attachment_bytes);
}

TEST(ConfigTest, ClientCertificatesNeedTls) {
  ConfigOverrides overrides;
  overrides.plaintext_loopback = true;
  ::vigil::testing::TempDir dir;
  std::ofstream(dir.Sub("c.toml")) << "tls_client_ca = \"/etc/vigil/devices.crt\"\n";
  auto config = LoadServerConfig(dir.Sub("c.toml"), overrides);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::server
