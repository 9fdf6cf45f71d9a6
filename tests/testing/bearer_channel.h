// A plaintext channel whose every call carries `authorization: Bearer
// <token>`, through the client library's interceptor (tests and benchmarks
// talk plaintext on loopback).
#ifndef VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_
#define VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/channel.h"
#include "grpcpp/grpcpp.h"

namespace vigil::testing {

// An empty token makes a channel without credentials. The token is sent as
// given (tests send malformed ones on purpose).
inline std::shared_ptr<grpc::Channel> BearerChannel(const std::string& target,
                                                    const std::string& token,
                                                    grpc::ChannelArguments args = {}) {
  client::Interceptors factories;
  if (!token.empty()) factories.push_back(std::make_unique<client::BearerInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, grpc::InsecureChannelCredentials(), args, std::move(factories));
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_BEARER_CHANNEL_H_
