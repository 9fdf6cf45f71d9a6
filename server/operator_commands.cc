#include "server/backup_command.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "server/data_dir.h"
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

// The backup through a running server, or nullopt when none answers.
std::optional<absl::StatusOr<storage::BackupInfo>> BackupThroughServer(
    const DataDirLayout& layout, const std::string& backup_dir) {
  std::error_code ec;
  if (!fs::exists(layout.ops_socket(), ec)) return std::nullopt;
  auto channel = grpc::CreateChannel("unix:" + layout.ops_socket(),
                                     grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(2))) {
    return std::nullopt;  // a stale socket left by a crashed server
  }
  auto stub = vigil::internal::OperationsService::NewStub(channel);
  grpc::ClientContext context;
  vigil::internal::CreateBackupRequest request;
  request.set_backup_dir(backup_dir);
  vigil::internal::CreateBackupResponse response;
  grpc::Status s = stub->CreateBackup(&context, request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("online backup by the running server failed: ",
                                     s.error_message()));
  }
  const auto& b = response.backup();
  return storage::BackupInfo{b.id(), b.timestamp_unix(), b.size_bytes(), b.file_count()};
}

}  // namespace

absl::StatusOr<storage::BackupInfo> RunBackup(const std::string& data_dir,
                                              const std::string& backup_dir) {
  DataDirLayout layout = LayoutOf(data_dir);
  const std::string target = LayoutOf(backup_dir).root;
  std::error_code ec;
  if (!fs::is_directory(layout.db(), ec)) {
    return absl::NotFoundError(
        absl::StrCat(layout.root, " holds no Vigil database (no db/ directory)"));
  }
  std::optional<absl::StatusOr<storage::BackupInfo>> online =
      BackupThroughServer(layout, target);
  absl::StatusOr<storage::BackupInfo> info;
  if (online.has_value()) {
    info = std::move(*online);
  } else {
    storage::StorageOptions options;
    options.create_if_missing = false;
    ASSIGN_OR_RETURN(auto storage, storage::Storage::Open(layout.db(), options));
    info = storage->CreateBackup(target);
  }
  if (!info.ok()) return info.status();
  RETURN_IF_ERROR(CopyTls(layout.tls(), target + "/tls"));
  return info;
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
