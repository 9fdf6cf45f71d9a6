// Helpers every vigilctl command shares: the home's store and credential,
// stubs, arguments.
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/vigilctl_commands.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::vigilctl {

namespace fs = std::filesystem;

std::unique_ptr<client::Replica> OpenHome(const Globals& g, int* exit_code) {
  std::error_code ec;
  const fs::path parent = fs::path(g.home).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  std::string key;
  if (!g.passphrase_file.empty()) {
    std::ifstream in(g.passphrase_file);
    std::string passphrase;
    if (!in || !std::getline(in, passphrase)) {
      *exit_code = Fail(absl::StrCat("reading the passphrase from ", g.passphrase_file),
                        absl::NotFoundError("cannot read the file's first line"));
      return nullptr;
    }
    if (!passphrase.empty() && passphrase.back() == '\r') passphrase.pop_back();
    absl::StatusOr<std::string> derived = client::StoreKeyFromPassphrase(g.home, passphrase);
    sodium_memzero(passphrase.data(), passphrase.size());
    if (!derived.ok()) {
      *exit_code = Fail(absl::StrCat("unsealing the home ", g.home), derived.status());
      return nullptr;
    }
    key = std::move(*derived);
  } else if (client::SealedByPassphrase(g.home)) {
    *exit_code = Fail(absl::StrCat("opening the home ", g.home),
                      absl::FailedPreconditionError(
                          "it is sealed by a passphrase: give --passphrase-file FILE (or set "
                          "VIGILCTL_PASSPHRASE_FILE)"));
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<client::Replica>> replica = client::Replica::Open(g.home, key);
  sodium_memzero(key.data(), key.size());
  if (!replica.ok()) {
    std::string what = absl::StrCat("opening the home ", g.home);
    if (absl::StrContains(replica.status().message(), "lock")) {
      absl::StrAppend(&what, " (another vigilctl, or a tablet app, is using it: wait for it)");
    } else if (!g.passphrase_file.empty() &&
               replica.status().code() == absl::StatusCode::kFailedPrecondition) {
      absl::StrAppend(&what, " (wrong passphrase?)");
    }
    *exit_code = Fail(what, replica.status());
    return nullptr;
  }
  return std::move(*replica);
}

std::optional<vigil::internal::ClientProfile> RequireProfile(const Globals& g,
                                                             const client::Replica& replica,
                                                             int* exit_code) {
  absl::StatusOr<vigil::internal::ClientProfile> profile = replica.Profile();
  if (!profile.ok()) {
    std::cerr << "vigilctl: the home " << g.home
              << " holds no server credential yet: run `vigilctl connect` (admins, reviewers) "
                 "or `vigilctl enroll` (tablets) first, or give --home\n";
    *exit_code = kExitDenied;
    return std::nullopt;
  }
  return *profile;
}

std::unique_ptr<vigil::v1::AdminService::Stub> AdminStub(const Globals& g,
                                                         const client::Replica& replica,
                                                         int* exit_code) {
  if (!RequireProfile(g, replica, exit_code)) return nullptr;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = replica.Channel();
  if (!channel.ok()) {
    *exit_code = Fail("connecting to the server", channel.status());
    return nullptr;
  }
  return vigil::v1::AdminService::NewStub(*channel);
}

std::unique_ptr<grpc::ClientContext> CallContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return context;
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

absl::StatusOr<client::ServerAddress> AddressFrom(const ServerFlags& flags) {
  client::ServerAddress address;
  address.target = flags.server;
  address.plaintext = flags.plaintext;
  if (!flags.plaintext) {
    absl::StatusOr<std::string> ca = ReadTextFile(flags.ca);
    if (!ca.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot read the CA certificate ", flags.ca,
          ": give --ca (vigild's DATA_DIR/tls/ca.crt), or --plaintext for a development server "
          "on this machine"));
    }
    address.ca_pem = *ca;
  }
  if (!flags.client_cert.empty() || !flags.client_key.empty()) {
    absl::StatusOr<std::string> cert = ReadTextFile(flags.client_cert);
    absl::StatusOr<std::string> key = ReadTextFile(flags.client_key);
    if (!cert.ok() || !key.ok()) {
      return absl::InvalidArgumentError("give both --client-cert and --client-key, readable");
    }
    address.client_cert_pem = *cert;
    address.client_key_pem = *key;
  }
  if (absl::Status valid = client::ValidateAddress(address); !valid.ok()) return valid;
  return address;
}

absl::StatusOr<std::string> ScopeArg(const std::string& arg) {
  if (absl::StatusOr<sync::Scope> scope = sync::Scope::Parse(arg); scope.ok()) return scope->str();
  if (absl::StatusOr<sync::Scope> visit = sync::Scope::Visit(arg); visit.ok()) return visit->str();
  return absl::InvalidArgumentError(
      absl::StrCat("'", arg,
                   "' is not a scope: give a visit id, \"visits/ID\", \"facilities/ID\" or "
                   "\"registry\""));
}

absl::StatusOr<std::string> VisitArg(const std::string& arg) {
  const std::string_view visit_id = sync::VisitIdOf(arg);
  const std::string id(visit_id.empty() ? std::string_view(arg) : visit_id);
  if (!sync::ValidateRecordId(id).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", arg, "' is not a visit id (a UUIDv7 or ULID; `vigilctl new-id` makes one)"));
  }
  return id;
}

std::string NewId() {
  sync::UuidRandomBytes random;
  randombytes_buf(random.data(), random.size());
  absl::StatusOr<std::string> id = sync::NewUuidV7(absl::Now(), random);
  return id.ok() ? *id : "";
}

}  // namespace vigil::vigilctl
