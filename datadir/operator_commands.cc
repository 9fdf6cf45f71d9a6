#include "datadir/operator_commands.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "absl/time/clock.h"
#include "datadir/data_dir.h"
#include "datadir/running_server.h"
#include "datadir/restore.h"
#include "storage/value_cipher.h"
#include "storage/audit_log.h"
#include "vigil/internal/operations.pb.h"

namespace vigil::datadir {
namespace fs = std::filesystem;
namespace {

// What the operator on the server's host does, in the audit log.
storage::AuditEvent OperatorEvent(std::string action, std::string target) {
  return storage::AuditEvent{absl::ToUnixMicros(absl::Now()), "operator", "", std::move(action),
                             std::move(target), "ok"};
}

absl::StatusOr<std::unique_ptr<storage::Storage>> OpenOffline(const DataDirLayout& layout) {
  std::error_code ec;
  if (!fs::is_directory(layout.db(), ec)) {
    return absl::NotFoundError(
        absl::StrCat(layout.root, " holds no Vigil database (no db/ directory)"));
  }
  storage::StorageOptions options;
  options.create_if_missing = false;
  return storage::Storage::Open(layout.db(), options);
}

}  // namespace

absl::StatusOr<storage::BackupInfo> RunBackup(const std::string& data_dir,
                                              const std::string& backup_dir) {
  DataDirLayout layout = LayoutOf(data_dir);
  const std::string target = LayoutOf(backup_dir).root;
  storage::BackupInfo info;
  if (auto server = ConnectToRunningServer(layout)) {
    ASSIGN_OR_RETURN(info, BackupThroughRunningServer(*server, target));
  } else {
    ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
    ASSIGN_OR_RETURN(info, storage->CreateBackup(target));
    RETURN_IF_ERROR(storage
                        ->Commit([&](storage::CommitContext& ctx) {
                          return storage::AppendAudit(
                              ctx, OperatorEvent("backup.created", target));
                        })
                        .status());
  }
  RETURN_IF_ERROR(CopyTlsMaterial(layout.tls(), target + "/tls"));
  return info;
}

absl::StatusOr<storage::AuditVerification> RunAuditVerify(const std::string& data_dir) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (auto stub = ConnectToRunningServer(layout)) {
    grpc::ClientContext context;
    vigil::internal::AuditVerification response;
    RETURN_IF_ERROR(FromRunningServer(
        stub->VerifyAuditLog(&context, vigil::internal::VerifyAuditLogRequest(), &response),
        "audit verification"));
    return storage::AuditVerification{response.entries(), response.head_hash_hex(),
                                      response.first_broken(), response.problem()};
  }
  ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
  return storage::VerifyAuditLog(*storage);
}

absl::StatusOr<StoppedDataDir> OpenStoppedDataDir(const std::string& data_dir,
                                                  const std::string& key_file,
                                                  const std::string& what) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (ConnectToRunningServer(layout)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "vigild is running on this data directory: stop it first (", what, ")"));
  }
  StoppedDataDir dir;
  ASSIGN_OR_RETURN(dir.storage, OpenOffline(layout));
  ASSIGN_OR_RETURN(dir.keys,
                   storage::KeyRing::Load(key_file.empty() ? layout.default_key_file() : key_file));
  RETURN_IF_ERROR(storage::VerifyAndRecordKeyChecks(*dir.storage, *dir.keys));
  return dir;
}

absl::StatusOr<std::pair<std::uint32_t, storage::ReencryptStats>> RunRotateKey(
    const std::string& data_dir, const std::string& key_file) {
  ASSIGN_OR_RETURN(StoppedDataDir dir,
                   OpenStoppedDataDir(data_dir, key_file,
                                      "or rotate through it: vigilctl admin rotate-key"));
  ASSIGN_OR_RETURN(std::uint32_t id,
                   storage::RotateDataKey(*dir.storage, *dir.keys,
                                          OperatorEvent("keys.rotated", "")));
  ASSIGN_OR_RETURN(storage::ReencryptStats stats,
                   storage::ReencryptOldValues(*dir.storage, *dir.keys));
  return std::make_pair(id, stats);
}

absl::Status RunAuditExport(const std::string& data_dir, std::ostream& out) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (auto stub = ConnectToRunningServer(layout)) {
    grpc::ClientContext context;
    auto reader = stub->ExportAuditLog(&context, vigil::internal::ExportAuditLogRequest());
    vigil::internal::AuditEntry entry;
    while (reader->Read(&entry)) out << storage::AuditEntryToJson(entry) << "\n";
    return FromRunningServer(reader->Finish(), "audit export");
  }
  ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
  return storage::ForEachAuditEntry(*storage, nullptr, 0,
                                    [&](const vigil::internal::AuditEntry& entry) {
                                      out << storage::AuditEntryToJson(entry) << "\n";
                                      return true;
                                    });
}


}  // namespace vigil::datadir
