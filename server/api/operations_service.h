// vigil.internal.OperationsService: operator actions on a running server,
// reachable only through the data directory's Unix socket.
#ifndef VIGIL_SERVER_API_OPERATIONS_SERVICE_H_
#define VIGIL_SERVER_API_OPERATIONS_SERVICE_H_

#include <cstdint>
#include <string>

#include "base/background_worker.h"
#include "storage/storage.h"
#include "vigil/internal/operations.grpc.pb.h"

namespace vigil::server {

struct ServerIdentity {
  std::string version;
  std::string listen_address;
  std::int64_t started_at_unix = 0;
  bool tls = true;
};

class OperationsService final
    : public vigil::internal::OperationsService::CallbackService {
 public:
  // `storage` is borrowed and must outlive the service.
  OperationsService(storage::Storage* storage, ServerIdentity identity)
      : storage_(storage), identity_(std::move(identity)) {}

  grpc::ServerUnaryReactor* CreateBackup(
      grpc::CallbackServerContext* context,
      const vigil::internal::CreateBackupRequest* request,
      vigil::internal::CreateBackupResponse* response) override;

  grpc::ServerUnaryReactor* VerifyAuditLog(
      grpc::CallbackServerContext* context,
      const vigil::internal::VerifyAuditLogRequest* request,
      vigil::internal::AuditVerification* response) override;

  grpc::ServerWriteReactor<vigil::internal::AuditEntry>* ExportAuditLog(
      grpc::CallbackServerContext* context,
      const vigil::internal::ExportAuditLogRequest* request) override;

  grpc::ServerUnaryReactor* GetServerStatus(
      grpc::CallbackServerContext* context,
      const vigil::internal::GetServerStatusRequest* request,
      vigil::internal::ServerStatus* response) override;

 private:
  storage::Storage* storage_;
  const ServerIdentity identity_;
  BackgroundWorker worker_;  // backups block for minutes: never in a reactor
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_OPERATIONS_SERVICE_H_
