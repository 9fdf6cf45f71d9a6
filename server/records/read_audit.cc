#include "server/records/read_audit.h"

#include "base/status_macros.h"
#include "storage/audit_log.h"

namespace vigil::server {

void AuditReads(storage::Storage& storage, const Caller& caller,
                std::vector<std::string> record_ids,
                absl::AnyInvocable<void(absl::Status)> done) {
  if (record_ids.empty()) return done(absl::OkStatus());
  storage.Submit(
      [caller, ids = std::move(record_ids)](storage::CommitContext& ctx) -> absl::Status {
        storage::AuditAppender audit(ctx);
        for (const std::string& id : ids) {
          RETURN_IF_ERROR(audit.Append(AuditOf(caller, "record.read", "records/" + id)));
        }
        return absl::OkStatus();
      },
      [done = std::move(done)](absl::StatusOr<storage::CommitResult> committed) mutable {
        done(committed.status());
      });
}

}  // namespace vigil::server
