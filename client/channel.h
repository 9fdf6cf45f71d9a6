// Channels to vigild: TLS with a pinned CA (or plaintext on loopback for
// development and tests), optional client certificate, and the device's
// bearer token on every call.
#ifndef VIGIL_CLIENT_CHANNEL_H_
#define VIGIL_CLIENT_CHANNEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"

namespace vigil::client {

struct ServerAddress {
  // "host:port".
  std::string target;
  // PEM of the CA to trust (vigild's DATA_DIR/tls/ca.crt). Empty with TLS:
  // the system's roots.
  std::string ca_pem;
  // No TLS. Only for loopback targets; vigild must run with
  // --plaintext-loopback.
  bool plaintext = false;
  // Optional client certificate and key (mutual TLS).
  std::string client_cert_pem;
  std::string client_key_pem;
};

// A plaintext address (a server on this machine: development and tests).
inline ServerAddress PlaintextAddress(std::string target) {
  ServerAddress address;
  address.target = std::move(target);
  address.plaintext = true;
  return address;
}

// InvalidArgument for an empty target, or plaintext to a non-loopback host
// (a token must never cross a network in the clear).
absl::Status ValidateAddress(const ServerAddress& address);

using Interceptors =
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>;

// A channel whose every call carries `authorization: Bearer <token>` (none
// when `token` is empty), after `extra` interceptors.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ServerAddress& address,
                                                           const std::string& token,
                                                           grpc::ChannelArguments args = {},
                                                           Interceptors extra = {});

// Adds the bearer header through a client interceptor (call credentials would
// refuse plaintext channels, which tests on loopback use).
class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string token) : header_("Bearer " + std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override;

 private:
  std::string header_;
};

// The google.rpc.ErrorInfo a failed call carries in its details (what
// server/api/grpc_status.h's ToGrpcStatus puts there); NotFound when none.
absl::StatusOr<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status);
// google.rpc.ErrorInfo.reason of a failed call, or "".
std::string ErrorReason(const grpc::Status& status);
// ErrorInfo.metadata[key] of a failed call, or "".
std::string ErrorMetadata(const grpc::Status& status, const std::string& key);
// grpc::Status -> absl::Status: code and message, and the ErrorInfo reason
// and metadata as payloads (base/error_reason.h: ReasonOf, MetadataOf).
absl::Status ToAbsl(const grpc::Status& status);

}  // namespace vigil::client

#endif  // VIGIL_CLIENT_CHANNEL_H_
