#include "datadir/running_server.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace vigil::datadir {

std::unique_ptr<vigil::internal::OperationsService::Stub> ConnectToRunningServer(
    const DataDirLayout& layout) {
  std::error_code ec;
  if (!std::filesystem::exists(layout.ops_socket(), ec)) return nullptr;
  auto channel = grpc::CreateChannel("unix:" + layout.ops_socket(),
                                     grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    return nullptr;
  }
  return vigil::internal::OperationsService::NewStub(channel);
}

absl::Status FromRunningServer(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(std::string(what), " by the running server failed: ",
                                   status.error_message()));
}

absl::StatusOr<storage::BackupInfo> BackupThroughRunningServer(
    vigil::internal::OperationsService::Stub& server, const std::string& backup_dir) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(6));
  vigil::internal::CreateBackupRequest request;
  request.set_backup_dir(backup_dir);
  vigil::internal::CreateBackupResponse response;
  if (absl::Status s = FromRunningServer(server.CreateBackup(&context, request, &response),
                                         "online backup");
      !s.ok()) {
    return s;
  }
  const auto& b = response.backup();
  return storage::BackupInfo{b.id(), b.timestamp_unix(), b.size_bytes(), b.file_count()};
}

}  // namespace vigil::datadir
