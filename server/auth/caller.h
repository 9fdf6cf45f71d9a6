// Who is making a call, for authorization and the audit log.
#ifndef VIGIL_SERVER_AUTH_CALLER_H_
#define VIGIL_SERVER_AUTH_CALLER_H_

#include <string>

#include "absl/time/clock.h"
#include "storage/audit_log.h"
#include "vigil/v1/admin.pb.h"

namespace vigil::server {

// An authenticated caller (server/auth.h), or vigild itself.
struct Caller {
  // User id ("system" and "operator" for vigild and its host's operator).
  std::string principal;
  std::string device;
  vigil::v1::Role role = vigil::v1::ROLE_UNSPECIFIED;
};

// vigild itself, and the operator on the server's host.
inline Caller SystemCaller() { return Caller{"system", ""}; }
inline Caller OperatorCaller() { return Caller{"operator", ""}; }

inline storage::AuditEvent AuditOf(const Caller& caller, std::string action, std::string target,
                                   std::string result = "ok") {
  return storage::AuditEvent{absl::ToUnixMicros(absl::Now()), caller.principal, caller.device,
                             std::move(action), std::move(target), std::move(result)};
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_AUTH_CALLER_H_
