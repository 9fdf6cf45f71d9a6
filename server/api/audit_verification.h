// The audit chain's verification, as AdminService and the operations socket
// both answer it: the check on a worker, its result in the response, a
// broken chain logged as an error.
#ifndef VIGIL_SERVER_API_AUDIT_VERIFICATION_H_
#define VIGIL_SERVER_API_AUDIT_VERIFICATION_H_

#include "base/background_worker.h"
#include "grpcpp/support/server_callback.h"
#include "server/api/grpc_status.h"
#include "server/ops/logging.h"
#include "storage/audit_log.h"

namespace vigil::server {

// Verifies the chain on `worker` (it reads every entry) and finishes
// `reactor` with the result in `response` (vigil.v1.VerifyAuditLogResponse
// or vigil.internal.AuditVerification: the same fields).
template <typename Response>
void VerifyAuditLogLater(BackgroundWorker& worker, storage::Storage& storage,
                         grpc::ServerUnaryReactor* reactor, Response* response) {
  worker.Post([&storage, reactor, response] {
    absl::StatusOr<storage::AuditVerification> v = storage::VerifyAuditLog(storage);
    if (v.ok()) {
      response->set_entries(v->entries);
      response->set_head_hash_hex(v->head_hash_hex);
      response->set_first_broken(v->first_broken);
      response->set_problem(v->problem);
      if (!v->intact()) {
        LogError("audit.chain_broken", {{"first_broken", v->first_broken}, {"problem", v->problem}});
      }
    }
    reactor->Finish(ToGrpcStatus(v.status()));
  });
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_AUDIT_VERIFICATION_H_
