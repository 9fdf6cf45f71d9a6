// vigild: the Vigil server. A thin main over vigil_server.
//
//   vigild [--config FILE] [--data-dir DIR] [--listen HOST:PORT]
//          [--tls-cert FILE --tls-key FILE] [--plaintext-loopback] [--key-file F]
//   vigild backup --data-dir DIR --to BACKUP_DIR
//   vigild restore --from BACKUP_DIR --data-dir DIR [--backup-id N] [--key-file F]
//   vigild list-backups --from BACKUP_DIR
//   vigild audit-verify --data-dir DIR     (exit 3 when the chain is broken)
//   vigild rotate-key --data-dir DIR [--key-file F]   (server stopped)
//   vigild audit-export --data-dir DIR     (JSON lines on stdout)
//
// Exit codes: 0 success (including a graceful stop on SIGTERM/SIGINT),
// 1 runtime failure (data directory refused, I/O, backup failed),
// 2 bad command line or configuration.
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "datadir/operator_commands.h"
#include "server/records/index_rebuild.h"
#include "server/ops/config.h"
#include "datadir/data_dir.h"
#include "server/ops/tls_bootstrap.h"
#include "server/ops/logging.h"
#include "server/api/vigil_server.h"

namespace {

using namespace vigil::server;
namespace datadir = vigil::datadir;

int Serve(const std::string& config_file, const ConfigOverrides& overrides) {
  absl::StatusOr<ServerConfig> config = LoadServerConfig(config_file, overrides);
  if (!config.ok()) {
    LogError("config.invalid", {{"error", config.status()}});
    return 2;
  }
  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<VigilServer>> server = VigilServer::Start(*config);
  if (!server.ok()) {
    LogError("server.start_failed", {{"error", server.status()}});
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("server.signal", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigild: the Vigil server for National Preventive Mechanisms"};
  app.require_subcommand(0, 1);

  std::string config_file;
  ConfigOverrides overrides;
  std::string data_dir, listen, tls_cert, tls_key, log_level, key_file;
  bool plaintext = false;
  app.add_option("--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  auto* o_data = app.add_option("--data-dir", data_dir, "data directory (default ./vigil-data)");
  auto* o_listen = app.add_option("--listen", listen, "HOST:PORT (default 127.0.0.1:7443)");
  auto* o_cert = app.add_option("--tls-cert", tls_cert, "PEM certificate chain");
  auto* o_key = app.add_option("--tls-key", tls_key, "PEM private key");
  auto* o_level = app.add_option("--log-level", log_level, "debug, info, warn or error");
  auto* o_keys = app.add_option("--key-file", key_file,
                                "data key file (default DATA_DIR/keys/data.key)");
  auto* o_plain = app.add_flag("--plaintext-loopback", plaintext,
                               "serve without TLS (development; loopback only)");

  std::string backup_data_dir, backup_to;
  auto* backup = app.add_subcommand("backup", "online backup of a data directory");
  backup->add_option("--data-dir", backup_data_dir, "data directory")->required();
  backup->add_option("--to", backup_to, "backup directory")->required();

  std::string restore_from, restore_data_dir, restore_key_file;
  std::uint32_t restore_id = 0;
  auto* restore = app.add_subcommand("restore", "restore a backup into a new data directory");
  restore->add_option("--from", restore_from, "backup directory")->required();
  restore->add_option("--data-dir", restore_data_dir, "new data directory")->required();
  auto* o_id = restore->add_option("--backup-id", restore_id, "backup id (default: newest)");
  restore->add_option("--key-file", restore_key_file,
                      "copy this data key file into NEW_DIR/keys/data.key");

  std::string audit_data_dir;
  auto* audit_verify = app.add_subcommand("audit-verify", "verify the audit log's hash chain");
  audit_verify->add_option("--data-dir", audit_data_dir, "data directory")->required();
  auto* audit_export = app.add_subcommand("audit-export", "print the audit log as JSON lines");
  audit_export->add_option("--data-dir", audit_data_dir, "data directory")->required();

  std::string rotate_data_dir, rotate_key_file;
  auto* rotate = app.add_subcommand(
      "rotate-key", "add a new data key and re-encrypt everything sealed with older ones "
                    "(server stopped)");
  rotate->add_option("--data-dir", rotate_data_dir, "data directory")->required();
  rotate->add_option("--key-file", rotate_key_file, "data key file (default DIR/keys/data.key)");

  std::string cert_data_dir, cert_name, cert_out;
  auto* issue_cert = app.add_subcommand(
      "issue-device-cert",
      "issue a TLS client certificate for a device from the server's generated CA "
      "(for tls_client_ca = DIR/tls/ca.crt)");
  issue_cert->add_option("--data-dir", cert_data_dir, "data directory")->required();
  issue_cert->add_option("--name", cert_name, "device name")->required();
  issue_cert->add_option("--out", cert_out, "writes OUT.crt and OUT.key (mode 0600)")
      ->required();

  std::string reindex_data_dir, reindex_key_file;
  bool reindex_check = false;
  auto* reindex = app.add_subcommand(
      "reindex", "rebuild the review indexes from the records (server stopped)");
  reindex->add_option("--data-dir", reindex_data_dir, "data directory")->required();
  reindex->add_option("--key-file", reindex_key_file, "data key file (default DIR/keys/data.key)");
  reindex->add_flag("--check", reindex_check,
                    "only compare the indexes with a full scan; exit 3 if they differ");

  std::string list_from;
  auto* list = app.add_subcommand("list-backups", "list the backups in a backup directory");
  list->add_option("--from", list_from, "backup directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*backup) {
    auto info = datadir::RunBackup(backup_data_dir, backup_to);
    if (!info.ok()) {
      std::cerr << "backup failed: " << info.status().message() << "\n";
      return 1;
    }
    std::cout << "backup " << info->id << " written to " << backup_to << " ("
              << info->size_bytes << " bytes, " << info->file_count << " files, verified)\n"
              << "the data key file is not part of the backup: keep a copy of it apart\n";
    return 0;
  }
  if (*restore) {
    std::optional<std::uint32_t> id;
    if (o_id->count() > 0) id = restore_id;
    absl::Status s = datadir::RunRestore(restore_from, restore_data_dir, id, restore_key_file);
    if (!s.ok()) {
      std::cerr << "restore failed: " << s.message() << "\n";
      return 1;
    }
    std::cout << "restored into " << restore_data_dir << "; start vigild with --data-dir "
              << restore_data_dir << "\n";
    return 0;
  }
  if (*audit_verify) {
    auto v = datadir::RunAuditVerify(audit_data_dir);
    if (!v.ok()) {
      std::cerr << "audit-verify failed: " << v.status().message() << "\n";
      return 1;
    }
    if (!v->intact()) {
      std::cout << "audit log BROKEN at entry " << v->first_broken << ": " << v->problem
                << "\n(" << v->entries << " entries before it verified)\n";
      return 3;
    }
    std::cout << "audit log intact: " << v->entries << " entries, head " << v->head_hash_hex
              << "\n";
    return 0;
  }
  if (*audit_export) {
    absl::Status s = datadir::RunAuditExport(audit_data_dir, std::cout);
    if (!s.ok()) {
      std::cerr << "audit-export failed: " << s.message() << "\n";
      return 1;
    }
    return 0;
  }
  if (*rotate) {
    auto rotated = datadir::RunRotateKey(rotate_data_dir, rotate_key_file);
    if (!rotated.ok()) {
      std::cerr << "rotate-key failed: " << rotated.status().message() << "\n";
      return 1;
    }
    std::cout << "data key " << rotated->first << " is now current; " << rotated->second.resealed
              << " values re-encrypted\n"
              << "keep the older keys in the key file: backups taken before need them\n";
    return 0;
  }
  if (*issue_cert) {
    auto issued = IssueClientCertificate(datadir::LayoutOf(cert_data_dir).tls(), cert_name);
    absl::Status written = issued.status();
    if (written.ok()) written = datadir::WritePrivateFile(cert_out + ".key", issued->key_pem);
    if (written.ok()) written = datadir::WritePrivateFile(cert_out + ".crt", issued->cert_pem);
    if (!written.ok()) {
      std::cerr << "issue-device-cert failed: " << written.message() << "\n";
      return 1;
    }
    std::cout << "wrote " << cert_out << ".crt and " << cert_out
              << ".key; install both on the device, and set tls_client_ca to "
              << datadir::LayoutOf(cert_data_dir).tls() << "/ca.crt\n";
    return 0;
  }
  if (*reindex) {
    auto dir = datadir::OpenStoppedDataDir(reindex_data_dir, reindex_key_file, "reindex");
    if (!dir.ok()) {
      std::cerr << "reindex failed: " << dir.status().message() << "\n";
      return 1;
    }
    auto progress = [](std::uint64_t records) {
      std::cerr << "reindex: " << records << " records read\n";
    };
    if (reindex_check) {
      auto differences = vigil::server::CheckVisitIndex(*dir->storage, *dir->keys, progress);
      if (!differences.ok()) {
        std::cerr << "reindex --check failed: " << differences.status().message() << "\n";
        return 1;
      }
      for (const std::string& d : *differences) std::cout << d << "\n";
      if (!differences->empty()) {
        std::cout << differences->size()
                  << " index entries differ from the records: run vigild reindex\n";
        return 3;
      }
      std::cout << "the review indexes agree with the records\n";
      return 0;
    }
    auto written = vigil::server::RebuildVisitIndex(*dir->storage, *dir->keys, progress);
    if (!written.ok()) {
      std::cerr << "reindex failed: " << written.status().message() << "\n";
      return 1;
    }
    std::cout << "review indexes rebuilt: " << *written << " entries\n";
    return 0;
  }
  if (*list) {
    auto backups = vigil::storage::Storage::ListBackups(list_from);
    if (!backups.ok()) {
      std::cerr << "list-backups failed: " << backups.status().message() << "\n";
      return 1;
    }
    for (const auto& b : *backups) {
      std::cout << b.id << "\t" << b.timestamp << "\t" << b.size_bytes << " bytes\t"
                << b.file_count << " files\n";
    }
    return 0;
  }

  if (o_data->count()) overrides.data_dir = data_dir;
  if (o_listen->count()) overrides.listen = listen;
  if (o_cert->count()) overrides.tls_cert = tls_cert;
  if (o_key->count()) overrides.tls_key = tls_key;
  if (o_level->count()) overrides.log_level = log_level;
  if (o_keys->count()) overrides.key_file = key_file;
  if (o_plain->count()) overrides.plaintext_loopback = plaintext;
  return Serve(config_file, overrides);
}
