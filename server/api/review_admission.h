// How a ReviewService call is admitted (review_service.cc and its
// siblings): the caller authenticated, the resource name in the request
// parsed, or the call finished with the error. Internal to server/api.
#ifndef VIGIL_SERVER_API_REVIEW_ADMISSION_H_
#define VIGIL_SERVER_API_REVIEW_ADMISSION_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status_macros.h"
#include "server/api/reactors.h"
#include "server/records/resource_names.h"
#include "sync/scope.h"

namespace vigil::server::review_admission {

// The visit id of a "visits/{id}" resource name.
inline absl::StatusOr<std::string> VisitIdOfName(std::string_view name) {
  ASSIGN_OR_RETURN(const sync::Scope scope, ParseVisitName(name));
  return std::string(scope.id());
}

// The visit id of an optional "visits/{id}" parent: "" when it is empty.
inline absl::StatusOr<std::string> VisitIdOfParent(std::string_view parent) {
  if (parent.empty()) return std::string();
  return VisitIdOfName(parent);
}

// The caller of a call about the resource `name`, and the name as `parse`
// reads it; nullopt with `reactor` finished when either is refused.
template <typename Parse>
inline auto AdmitFor(Authenticator& auth, grpc::CallbackServerContext& context,
                     grpc::ServerUnaryReactor* reactor, std::string_view name, Parse parse)
    -> std::optional<std::pair<Caller, typename decltype(parse(name))::value_type>> {
  std::optional<Caller> caller = Admit(auth, context, reactor);
  if (!caller) return std::nullopt;
  auto parsed = parse(name);
  if (!parsed.ok()) {
    reactor->Finish(ToGrpcStatus(parsed.status()));
    return std::nullopt;
  }
  return std::make_pair(*std::move(caller), *std::move(parsed));
}

// A call about the visit `name`: the caller, and the visit's id.
struct VisitCall {
  Caller caller;
  std::string visit_id;
};
inline std::optional<VisitCall> AdmitForVisit(Authenticator& auth,
                                              grpc::CallbackServerContext& context,
                                              grpc::ServerUnaryReactor* reactor,
                                              std::string_view name) {
  auto call = AdmitFor(auth, context, reactor, name, VisitIdOfName);
  if (!call) return std::nullopt;
  return VisitCall{std::move(call->first), std::move(call->second)};
}

inline auto AdmitForLate(Authenticator& auth, grpc::CallbackServerContext& context,
                         grpc::ServerUnaryReactor* reactor, std::string_view name) {
  return AdmitFor(auth, context, reactor, name, LateSubmissionName::Parse);
}

inline auto AdmitForRecord(Authenticator& auth, grpc::CallbackServerContext& context,
                           grpc::ServerUnaryReactor* reactor, std::string_view name) {
  return AdmitFor(auth, context, reactor, name, ParseRecordName);
}

inline auto AdmitForConflict(Authenticator& auth, grpc::CallbackServerContext& context,
                             grpc::ServerUnaryReactor* reactor, std::string_view name) {
  return AdmitFor(auth, context, reactor, name, ParseConflictName);
}

inline auto AdmitForParallel(Authenticator& auth, grpc::CallbackServerContext& context,
                             grpc::ServerUnaryReactor* reactor, std::string_view name) {
  return AdmitFor(auth, context, reactor, name, ParseParallelUpdateName);
}

}  // namespace vigil::server::review_admission

#endif  // VIGIL_SERVER_API_REVIEW_ADMISSION_H_
