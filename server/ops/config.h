// vigild's configuration: defaults, then a TOML file, then command-line flags.
// deploy/vigil.toml documents every key with its default.
#ifndef VIGIL_SERVER_OPS_CONFIG_H_
#define VIGIL_SERVER_OPS_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::server {

struct ServerConfig {
  // Where the database, generated TLS material and the initial admin
  // credential live.
  // Default: "vigil-data" under the working directory.
  std::string data_dir = "vigil-data";

  // host:port to serve gRPC on ("[::1]:7443" for IPv6). Port 0 picks a free
  // port, which is logged. Tablets need a reachable address such as
  // "0.0.0.0:7443".
  // Default: "127.0.0.1:7443".
  std::string listen = "127.0.0.1:7443";

  // PEM certificate chain and private key. When both are empty vigild uses
  // (generating on first start) a private CA and server certificate in
  // DATA_DIR/tls/. Give both or neither.
  // Default: "" (generated).
  std::string tls_cert;
  std::string tls_key;

  // Extra host names or IP addresses the generated server certificate is
  // valid for, besides localhost, 127.0.0.1 and ::1. Used only when the
  // certificate is first generated.
  // Default: empty.
  std::vector<std::string> tls_extra_hosts;

  // Serve without TLS. Development only: refused unless `listen` is a
  // loopback address.
  // Default: false.
  bool plaintext_loopback = false;

  // debug, info, warn or error.
  // Default: "info".
  std::string log_level = "info";

  // The data key file: keys that encrypt sensitive record bodies and all
  // attachment bytes at rest. When empty, DATA_DIR/keys/data.key, generated
  // on the first start of an empty database. Keep a copy apart from the
  // backups: they do not contain it, and data cannot be read without it.
  // Default: "" (DATA_DIR/keys/data.key).
  std::string key_file;

  // Largest attachment (photo, audio, document) accepted, in bytes.
  // Default: 2 GiB.
  std::uint64_t max_attachment_bytes = 2ull << 30;

  // Failed authentications per source address per minute; past it the
  // address is refused for a while.
  // Default: 20.
  std::uint32_t auth_failures_per_minute = 20;
  // Calls per device per minute.
  // Default: 1200.
  std::uint32_t device_requests_per_minute = 1200;
  // Bytes sent per device per minute (pushes and attachment uploads).
  // Default: 1 GiB.
  std::uint64_t device_bytes_per_minute = 1ull << 30;

  // PEM file of the CA that signs device client certificates. When set,
  // TLS clients must present a certificate it signed (mutual TLS), on top
  // of their bearer token. Needs TLS.
  // Default: "" (no client certificates).
  std::string tls_client_ca;

  // On SIGTERM/SIGINT, how long in-flight calls may take to finish before
  // they are cancelled. Commits already submitted always complete.
  // Default: 10.
  int shutdown_grace_seconds = 10;
};

// Values given on the command line; each set one overrides the file.
struct ConfigOverrides {
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> log_level;
  std::optional<std::string> key_file;
  std::optional<bool> plaintext_loopback;
};

// Builds the configuration from defaults, `config_file` (skipped when empty)
// and `overrides`, and validates it. Errors: NotFound (no such file),
// InvalidArgument (syntax error, unknown key, wrong type, bad value; the
// message names the key), FailedPrecondition (plaintext on a non-loopback
// address).
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& config_file,
                                              const ConfigOverrides& overrides);

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

// Parses "host:port" or "[v6]:port". InvalidArgument when malformed.
absl::StatusOr<HostPort> ParseHostPort(const std::string& address);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_OPS_CONFIG_H_
