// Sensitive content leaves the server only once its read is in the audit
// log: one "record.read" entry per record id, committed before `done` runs.
// Shared by pulls, history and the review queries.
#ifndef VIGIL_SERVER_RECORDS_READ_AUDIT_H_
#define VIGIL_SERVER_RECORDS_READ_AUDIT_H_

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "server/auth/caller.h"
#include "storage/storage.h"

namespace vigil::server {

// `done` runs at once when `record_ids` is empty, else on the commit thread.
void AuditReads(storage::Storage& storage, const Caller& caller,
                std::vector<std::string> record_ids,
                absl::AnyInvocable<void(absl::Status)> done);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_READ_AUDIT_H_
