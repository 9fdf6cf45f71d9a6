// Small pieces every vigil.v1 service uses on the gRPC callback API.
#ifndef VIGIL_SERVER_API_REACTORS_H_
#define VIGIL_SERVER_API_REACTORS_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/auth/authenticator.h"
#include "server/auth/caller.h"
#include "server/api/grpc_status.h"

namespace vigil::server {

// The caller of a gRPC call (its `authorization` metadata and peer),
// charged `request_bytes`: Authenticator::Authenticate.
inline absl::StatusOr<Caller> AuthenticateCall(Authenticator& auth,
                                               const grpc::ServerContextBase& context,
                                               std::uint64_t request_bytes = 0) {
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  std::optional<std::string_view> authorization;
  if (header != metadata.end()) {
    authorization = std::string_view(header->second.data(), header->second.size());
  }
  return auth.Authenticate(authorization, Authenticator::SourceOf(context.peer()), request_bytes);
}

// The authenticated caller of a unary call; when there is none, `reactor` is
// finished with the refusal and nullopt returned.
inline std::optional<Caller> Admit(Authenticator& auth, grpc::CallbackServerContext& context,
                                   grpc::ServerUnaryReactor* reactor,
                                   std::uint64_t request_bytes = 0) {
  absl::StatusOr<Caller> caller = AuthenticateCall(auth, context, request_bytes);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return std::nullopt;
  }
  return std::move(*caller);
}

// Finishes a unary call with `result`'s status, moving its value into
// `response` on success.
template <typename T>
void FinishUnary(grpc::ServerUnaryReactor* reactor, absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(ToGrpcStatus(result.status()));
}

// A server stream that ends at once with an error.
template <typename T>
class RefusedWriteReactor final : public grpc::ServerWriteReactor<T> {
 public:
  explicit RefusedWriteReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// A client stream that ends at once with an error.
template <typename T>
class RefusedReadReactor final : public grpc::ServerReadReactor<T> {
 public:
  explicit RefusedReadReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_REACTORS_H_
