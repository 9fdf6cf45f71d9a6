#include "server/operations_service.h"

#include <filesystem>

#include "base/error_reason.h"
#include "server/grpc_status.h"
#include "server/logging.h"

namespace vigil::server {

grpc::ServerUnaryReactor* OperationsService::CreateBackup(
    grpc::CallbackServerContext* context,
    const vigil::internal::CreateBackupRequest* request,
    vigil::internal::CreateBackupResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string dir = request->backup_dir();
  if (dir.empty() || !std::filesystem::path(dir).is_absolute()) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::InvalidArgumentError("backup_dir must be an absolute path on the server's host"),
        "BACKUP_DIR_INVALID", {{"field", "backup_dir"}})));
    return reactor;
  }
  worker_.Post([this, reactor, response, dir] {
    LogInfo("backup.started", {{"backup_dir", dir}});
    absl::StatusOr<storage::BackupInfo> info = storage_->CreateBackup(dir);
    if (!info.ok()) {
      LogError("backup.failed", {{"backup_dir", dir}, {"error", info.status()}});
      reactor->Finish(ToGrpcStatus(WithReason(info.status(), "BACKUP_FAILED")));
      return;
    }
    LogInfo("backup.done", {{"backup_dir", dir},
                            {"backup_id", static_cast<std::uint64_t>(info->id)},
                            {"size_bytes", info->size_bytes}});
    auto* b = response->mutable_backup();
    b->set_id(info->id);
    b->set_timestamp_unix(info->timestamp);
    b->set_size_bytes(info->size_bytes);
    b->set_file_count(info->file_count);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* OperationsService::GetServerStatus(
    grpc::CallbackServerContext* context,
    const vigil::internal::GetServerStatusRequest* /*request*/,
    vigil::internal::ServerStatus* response) {
  response->set_version(identity_.version);
  response->set_storage_format_version(storage::kStorageFormatVersion);
  response->set_last_committed_seq(storage_->LastCommittedSeq());
  response->set_listen_address(identity_.listen_address);
  response->set_started_at_unix(identity_.started_at_unix);
  response->set_tls(identity_.tls);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace vigil::server
