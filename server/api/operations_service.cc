#include "server/api/operations_service.h"

#include <deque>
#include <filesystem>

#include "base/error_reason.h"
#include "server/api/audit_verification.h"
#include "server/api/grpc_status.h"
#include "server/auth/caller.h"
#include "server/ops/logging.h"
#include "storage/audit_log.h"

namespace vigil::server {
namespace {

// Streams audit entries in batches read at one snapshot.
class AuditExportReactor final : public grpc::ServerWriteReactor<vigil::internal::AuditEntry> {
 public:
  AuditExportReactor(storage::Storage* storage, std::uint64_t from)
      : storage_(storage), snapshot_(storage->GetSnapshot()), next_(from) {
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled"));
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  static constexpr std::size_t kBatch = 1000;

  void WriteNext() {
    if (batch_.empty() && !exhausted_) {
      absl::Status s = storage::ForEachAuditEntry(
          *storage_, &snapshot_, next_, [&](const vigil::internal::AuditEntry& e) {
            batch_.push_back(e);
            next_ = e.index() + 1;
            return batch_.size() < kBatch;
          });
      if (!s.ok()) {
        Finish(ToGrpcStatus(s));
        return;
      }
      exhausted_ = batch_.size() < kBatch;
    }
    if (batch_.empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    current_ = std::move(batch_.front());
    batch_.pop_front();
    StartWrite(&current_);
  }

  storage::Storage* storage_;
  storage::Snapshot snapshot_;
  std::uint64_t next_;
  bool exhausted_ = false;
  std::deque<vigil::internal::AuditEntry> batch_;
  vigil::internal::AuditEntry current_;
};

}  // namespace

grpc::ServerUnaryReactor* OperationsService::VerifyAuditLog(
    grpc::CallbackServerContext* context, const vigil::internal::VerifyAuditLogRequest*,
    vigil::internal::AuditVerification* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  VerifyAuditLogLater(worker_, *storage_, reactor, response);
  return reactor;
}

grpc::ServerWriteReactor<vigil::internal::AuditEntry>* OperationsService::ExportAuditLog(
    grpc::CallbackServerContext*, const vigil::internal::ExportAuditLogRequest* request) {
  return new AuditExportReactor(storage_, request->from_index());
}

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
    absl::Status audited = storage_->Commit([&](storage::CommitContext& ctx) {
      return storage::AppendAudit(ctx, AuditOf(OperatorCaller(), "backup.created", dir));
    }).status();
    if (!audited.ok()) LogError("audit.append_failed", {{"error", audited}});
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
