#include "server/ops/config.h"

#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/loopback.h"
#include "base/status_macros.h"
#include "toml++/toml.h"

namespace vigil::server {
namespace {

absl::Status TypeError(const std::string& key, const char* type) {
  return absl::InvalidArgumentError(
      absl::StrCat("config key '", key, "' must be a ", type));
}

absl::Status ApplyFile(const std::string& path, ServerConfig& config) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("config file ", path, " does not exist"));
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config file ", path, " line ", e.source().begin.line, ": ", std::string(e.description())));
  }
  for (const auto& [key_node, node] : table) {
    const std::string key(key_node.str());
    auto string_into = [&](std::string& out) -> absl::Status {
      auto v = node.value<std::string>();
      if (!v) return TypeError(key, "string");
      out = *v;
      return absl::OkStatus();
    };
    if (key == "data_dir") {
      RETURN_IF_ERROR(string_into(config.data_dir));
    } else if (key == "listen") {
      RETURN_IF_ERROR(string_into(config.listen));
    } else if (key == "tls_cert") {
      RETURN_IF_ERROR(string_into(config.tls_cert));
    } else if (key == "tls_key") {
      RETURN_IF_ERROR(string_into(config.tls_key));
    } else if (key == "key_file") {
      RETURN_IF_ERROR(string_into(config.key_file));
    } else if (key == "log_level") {
      RETURN_IF_ERROR(string_into(config.log_level));
    } else if (key == "plaintext_loopback") {
      auto v = node.value<bool>();
      if (!v) return TypeError(key, "boolean");
      config.plaintext_loopback = *v;
    } else if (key == "shutdown_grace_seconds") {
      auto v = node.value<std::int64_t>();
      if (!v) return TypeError(key, "integer");
      config.shutdown_grace_seconds = static_cast<int>(*v);
    } else if (key == "max_attachment_bytes") {
      auto v = node.value<std::int64_t>();
      if (!v || *v <= 0) return TypeError(key, "positive integer");
      config.max_attachment_bytes = static_cast<std::uint64_t>(*v);
    } else if (key == "tls_client_ca") {
      RETURN_IF_ERROR(string_into(config.tls_client_ca));
    } else if (key == "auth_failures_per_minute" || key == "device_requests_per_minute") {
      auto v = node.value<std::int64_t>();
      if (!v || *v <= 0 || *v > 1000000) return TypeError(key, "integer within 1..1000000");
      (key == "auth_failures_per_minute" ? config.auth_failures_per_minute
                                         : config.device_requests_per_minute) =
          static_cast<std::uint32_t>(*v);
    } else if (key == "device_bytes_per_minute") {
      auto v = node.value<std::int64_t>();
      if (!v || *v <= 0) return TypeError(key, "positive integer");
      config.device_bytes_per_minute = static_cast<std::uint64_t>(*v);
    } else if (key == "tls_extra_hosts") {
      const toml::array* arr = node.as_array();
      if (arr == nullptr) return TypeError(key, "list of strings");
      config.tls_extra_hosts.clear();
      for (const auto& item : *arr) {
        auto v = item.value<std::string>();
        if (!v) return TypeError(key, "list of strings");
        config.tls_extra_hosts.push_back(*v);
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("config file ", path, ": unknown key '", key, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const ServerConfig& config) {
  if (config.data_dir.empty()) {
    return absl::InvalidArgumentError("data_dir must not be empty");
  }
  ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(config.listen));
  if (config.plaintext_loopback && !IsLoopbackHost(hp.host)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plaintext is only allowed on a loopback address, not '", config.listen,
        "': use TLS (the default) for anything reachable from the network"));
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert and tls_key must be given together (or neither, to use the "
        "generated certificate)");
  }
  if (config.plaintext_loopback && !config.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "tls_client_ca (client certificates) needs TLS; it contradicts plaintext_loopback");
  }
  if (config.plaintext_loopback && !config.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "plaintext_loopback and tls_cert/tls_key contradict each other");
  }
  if (config.shutdown_grace_seconds < 0 || config.shutdown_grace_seconds > 3600) {
    return absl::InvalidArgumentError("shutdown_grace_seconds must be within 0..3600");
  }
  static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (!kLevels.count(config.log_level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_level must be debug, info, warn or error, not '", config.log_level, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(const std::string& address) {
  HostPort out;
  std::string port;
  if (!address.empty() && address[0] == '[') {
    auto close = address.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address '", address, "' is not [host]:port"));
    }
    out.host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listen address '", address, "' is not host:port (IPv6: [addr]:port)"));
    }
    out.host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (out.host.empty() || !absl::SimpleAtoi(port, &out.port) || out.port < 0 ||
      out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "' needs a host and a port 0..65535"));
  }
  return out;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& config_file,
                                              const ConfigOverrides& overrides) {
  ServerConfig config;
  if (!config_file.empty()) RETURN_IF_ERROR(ApplyFile(config_file, config));
  if (overrides.data_dir) config.data_dir = *overrides.data_dir;
  if (overrides.listen) config.listen = *overrides.listen;
  if (overrides.tls_cert) config.tls_cert = *overrides.tls_cert;
  if (overrides.tls_key) config.tls_key = *overrides.tls_key;
  if (overrides.log_level) config.log_level = *overrides.log_level;
  if (overrides.key_file) config.key_file = *overrides.key_file;
  if (overrides.plaintext_loopback) config.plaintext_loopback = *overrides.plaintext_loopback;
  RETURN_IF_ERROR(Validate(config));
  return config;
}

}  // namespace vigil::server
