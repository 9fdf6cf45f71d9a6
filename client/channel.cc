#include "client/channel.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/loopback.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace vigil::client {
namespace {

class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(std::string header) : header_(std::move(header)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  std::string header_;
};

// The host part of "host:port", "[v6]:port" or "unix:..." (empty for unix).
std::string HostOf(const std::string& target) {
  if (absl::StartsWith(target, "unix:")) return "";
  if (absl::StartsWith(target, "[")) {
    const auto close = target.find(']');
    return close == std::string::npos ? target : target.substr(1, close - 1);
  }
  const auto colon = target.rfind(':');
  return colon == std::string::npos ? target : target.substr(0, colon);
}

}  // namespace

grpc::experimental::Interceptor* BearerInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo*) {
  return new BearerInterceptor(header_);
}

absl::Status ValidateAddress(const ServerAddress& address) {
  if (address.target.empty()) return absl::InvalidArgumentError("no server address given");
  if (address.plaintext && !absl::StartsWith(address.target, "unix:") &&
      !IsLoopbackHost(HostOf(address.target))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plaintext is only for a server on this machine (loopback); ", address.target,
        " needs TLS: give the server's CA certificate"));
  }
  if (address.client_cert_pem.empty() != address.client_key_pem.empty()) {
    return absl::InvalidArgumentError("a client certificate needs its key, and a key its certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ServerAddress& address,
                                                           const std::string& token,
                                                           grpc::ChannelArguments args,
                                                           Interceptors extra) {
  if (absl::Status valid = ValidateAddress(address); !valid.ok()) return valid;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (address.plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = address.ca_pem;
    ssl.pem_cert_chain = address.client_cert_pem;
    ssl.pem_private_key = address.client_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  // A token read from a file comes with its line end; anything else that
  // cannot go in a header is refused here rather than by gRPC (which aborts).
  const std::string clean(absl::StripAsciiWhitespace(token));
  for (const char c : clean) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("the token holds characters a token cannot have");
    }
  }
  Interceptors factories = std::move(extra);
  if (!clean.empty()) factories.push_back(std::make_unique<BearerInterceptorFactory>(clean));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address.target, credentials,
                                                                 args, std::move(factories));
}

absl::StatusOr<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (status.error_details().empty() || !rich.ParseFromString(status.error_details())) {
    return absl::NotFoundError("status carries no google.rpc.Status details");
  }
  for (const auto& any : rich.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return absl::NotFoundError("status carries no google.rpc.ErrorInfo");
}

std::string ErrorReason(const grpc::Status& status) {
  auto info = ErrorInfoOf(status);
  return info.ok() ? info->reason() : "";
}

std::string ErrorMetadata(const grpc::Status& status, const std::string& key) {
  auto info = ErrorInfoOf(status);
  if (!info.ok()) return "";
  auto it = info->metadata().find(key);
  return it == info->metadata().end() ? "" : it->second;
}

absl::Status ToAbsl(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (auto info = ErrorInfoOf(status); info.ok() && !info->reason().empty()) {
    out.SetPayload(kReasonPayload, absl::Cord(info->reason()));
    for (const auto& [key, value] : info->metadata()) {
      out.SetPayload(absl::StrCat(kMetadataPayloadPrefix, key), absl::Cord(value));
    }
  }
  return out;
}

}  // namespace vigil::client
