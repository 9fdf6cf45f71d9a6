#include "server/operator_commands.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "server/caller.h"
#include "server/data_dir.h"
#include "server/record_store.h"
#include "storage/value_cipher.h"
#include "storage/audit_log.h"
#include "vigil/internal/operations.grpc.pb.h"

namespace vigil::server {
namespace fs = std::filesystem;
namespace {

// Copies the files of `from` into `to` (created 0700), keeping permissions.
absl::Status CopyTls(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return absl::OkStatus();
  fs::create_directories(to, ec);
  ::chmod(to.c_str(), 0700);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("copy ", from, " to ", to, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status CopyKeyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) {
    return absl::NotFoundError(absl::StrCat("key file ", from, " does not exist"));
  }
  fs::create_directories(fs::path(to).parent_path(), ec);
  ::chmod(fs::path(to).parent_path().c_str(), 0700);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("copy ", from, ": ", ec.message()));
  ::chmod(to.c_str(), 0600);
  return absl::OkStatus();
}

// A stub for the vigild serving this data directory, or nullptr when none
// answers (not running, or a stale socket left by a crash).
std::unique_ptr<vigil::internal::OperationsService::Stub> ConnectToRunningServer(
    const DataDirLayout& layout) {
  std::error_code ec;
  if (!fs::exists(layout.ops_socket(), ec)) return nullptr;
  auto channel = grpc::CreateChannel("unix:" + layout.ops_socket(),
                                     grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    return nullptr;
  }
  return vigil::internal::OperationsService::NewStub(channel);
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

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, " by the running server failed: ", s.error_message()));
}

}  // namespace

absl::StatusOr<storage::BackupInfo> RunBackup(const std::string& data_dir,
                                              const std::string& backup_dir) {
  DataDirLayout layout = LayoutOf(data_dir);
  const std::string target = LayoutOf(backup_dir).root;
  storage::BackupInfo info;
  if (auto stub = ConnectToRunningServer(layout)) {
    grpc::ClientContext context;
    vigil::internal::CreateBackupRequest request;
    request.set_backup_dir(target);
    vigil::internal::CreateBackupResponse response;
    RETURN_IF_ERROR(FromGrpc(stub->CreateBackup(&context, request, &response), "online backup"));
    const auto& b = response.backup();
    info = storage::BackupInfo{b.id(), b.timestamp_unix(), b.size_bytes(), b.file_count()};
  } else {
    ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
    ASSIGN_OR_RETURN(info, storage->CreateBackup(target));
    RETURN_IF_ERROR(storage
                        ->Commit([&](storage::CommitContext& ctx) {
                          return storage::AppendAudit(
                              ctx, AuditOf(OperatorCaller(), "backup.created", target));
                        })
                        .status());
  }
  RETURN_IF_ERROR(CopyTls(layout.tls(), target + "/tls"));
  return info;
}

absl::StatusOr<storage::AuditVerification> RunAuditVerify(const std::string& data_dir) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (auto stub = ConnectToRunningServer(layout)) {
    grpc::ClientContext context;
    vigil::internal::AuditVerification response;
    RETURN_IF_ERROR(FromGrpc(
        stub->VerifyAuditLog(&context, vigil::internal::VerifyAuditLogRequest(), &response),
        "audit verification"));
    return storage::AuditVerification{response.entries(), response.head_hash_hex(),
                                      response.first_broken(), response.problem()};
  }
  ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
  return storage::VerifyAuditLog(*storage);
}

absl::StatusOr<std::pair<std::uint32_t, storage::ReencryptStats>> RunRotateKey(
    const std::string& data_dir, const std::string& key_file) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (ConnectToRunningServer(layout)) {
    return absl::FailedPreconditionError(
        "vigild is running on this data directory: rotate through it (vigilctl admin "
        "rotate-key), or stop it first");
  }
  ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
  ASSIGN_OR_RETURN(auto keys,
                   storage::KeyRing::Load(key_file.empty() ? layout.default_key_file() : key_file));
  RETURN_IF_ERROR(storage::VerifyAndRecordKeyChecks(*storage, *keys));
  ASSIGN_OR_RETURN(std::uint32_t id,
                   storage::RotateDataKey(*storage, *keys,
                                          AuditOf(OperatorCaller(), "keys.rotated", "")));
  ASSIGN_OR_RETURN(storage::ReencryptStats stats, storage::ReencryptOldValues(*storage, *keys));
  return std::make_pair(id, stats);
}

absl::Status RunAuditExport(const std::string& data_dir, std::ostream& out) {
  DataDirLayout layout = LayoutOf(data_dir);
  if (auto stub = ConnectToRunningServer(layout)) {
    grpc::ClientContext context;
    auto reader = stub->ExportAuditLog(&context, vigil::internal::ExportAuditLogRequest());
    vigil::internal::AuditEntry entry;
    while (reader->Read(&entry)) out << storage::AuditEntryToJson(entry) << "\n";
    return FromGrpc(reader->Finish(), "audit export");
  }
  ASSIGN_OR_RETURN(auto storage, OpenOffline(layout));
  return storage::ForEachAuditEntry(*storage, nullptr, 0,
                                    [&](const vigil::internal::AuditEntry& entry) {
                                      out << storage::AuditEntryToJson(entry) << "\n";
                                      return true;
                                    });
}

absl::Status RunRestore(const std::string& backup_dir, const std::string& data_dir,
                        std::optional<std::uint32_t> backup_id, const std::string& key_file) {
  DataDirLayout layout = LayoutOf(data_dir);
  std::error_code ec;
  if (fs::exists(layout.root, ec) && !fs::is_empty(layout.root, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore target ", layout.root, " is not empty; restore into a new directory"));
  }
  const bool existed = fs::exists(layout.root, ec);
  ASSIGN_OR_RETURN(layout, PrepareDataDir(data_dir));
  absl::Status restored = storage::Storage::RestoreBackup(backup_dir, layout.db(), backup_id);
  if (restored.ok()) {
    // Sequence numbers after the backup point will be handed out again:
    // invalidate every cursor issued before, so no device skips a change.
    storage::StorageOptions options;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<storage::Storage>> db =
        storage::Storage::Open(layout.db(), options);
    restored = db.ok() ? storage::ForgetSecret(**db, RecordStore::kCursorSecret) : db.status();
  }
  if (restored.ok()) restored = CopyTls(LayoutOf(backup_dir).root + "/tls", layout.tls());
  if (restored.ok() && !key_file.empty()) restored = CopyKeyFile(key_file, layout.default_key_file());
  if (!restored.ok()) {
    // Leave no half-restored directory that a server could start on.
    if (existed) {
      for (const auto& entry : fs::directory_iterator(layout.root, ec)) {
        fs::remove_all(entry.path(), ec);
      }
    } else {
      fs::remove_all(layout.root, ec);
    }
  }
  return restored;
}

}  // namespace vigil::server
