// Who is making a call, for authorization and the audit log.
#ifndef VIGIL_SERVER_CALLER_H_
#define VIGIL_SERVER_CALLER_H_

#include <string>

#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "storage/audit_log.h"

namespace vigil::server {

struct Caller {
  std::string principal;
  std::string device;
};

// Until accounts and device tokens exist (the security work), every remote
// caller is anonymous and named by its peer address.
inline Caller CallerOf(const grpc::CallbackServerContext& context) {
  return Caller{"anonymous@" + context.peer(), ""};
}

// vigild itself, and the operator on the server's host.
inline Caller SystemCaller() { return Caller{"system", ""}; }
inline Caller OperatorCaller() { return Caller{"operator", ""}; }

inline storage::AuditEvent AuditOf(const Caller& caller, std::string action, std::string target,
                                   std::string result = "ok") {
  return storage::AuditEvent{absl::ToUnixMicros(absl::Now()), caller.principal, caller.device,
                             std::move(action), std::move(target), std::move(result)};
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_CALLER_H_
