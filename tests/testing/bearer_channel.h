// A channel whose every call carries `authorization: Bearer <token>`, added
// by a client interceptor (call credentials would need TLS; tests and
// benchmarks talk plaintext on loopback).
#ifndef VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_
#define VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"

namespace vigil::testing {

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

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(header_);
  }

 private:
  std::string header_;
};

// An empty token makes a channel without credentials.
inline std::shared_ptr<grpc::Channel> BearerChannel(const std::string& target,
                                                    const std::string& token,
                                                    grpc::ChannelArguments args = {}) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  if (!token.empty()) factories.push_back(std::make_unique<BearerInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, grpc::InsecureChannelCredentials(), args, std::move(factories));
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_
