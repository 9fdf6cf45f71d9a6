// gRPC client interceptors for tests: replies lost on a weak link.
#ifndef VIGIL_TESTS_TESTING_DROP_REPLIES_H_
#define VIGIL_TESTS_TESTING_DROP_REPLIES_H_

#include <atomic>
#include <memory>
#include <random>
#include <string>

#include "grpcpp/support/client_interceptor.h"

namespace vigil::testing {

// Fails calls of one method after the server answered them, as when the
// reply is lost on a weak link: the server applied the call, the client
// learns nothing and resends.
class DropReplies final : public grpc::experimental::Interceptor {
 public:
  DropReplies(bool drop) : drop_(drop) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (drop_ && methods->QueryInterceptionHookPoint(
                     grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::Status* status = methods->GetRecvStatus();
      if (status->ok()) *status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "reply lost");
    }
    methods->Proceed();
  }

 private:
  bool drop_;
};

class DropRepliesFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  // Drops the reply of a call to `method` with probability 1/`one_in`, or
  // only calls number `from`.. when `one_in` is 0.
  DropRepliesFactory(std::string method, std::shared_ptr<std::atomic<int>> calls,
                     unsigned one_in, int from, unsigned seed)
      : method_(std::move(method)), calls_(std::move(calls)), one_in_(one_in), from_(from),
        rng_(seed) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    bool drop = false;
    if (method_ == info->method()) {
      const int n = ++*calls_;
      drop = one_in_ > 0 ? rng_() % one_in_ == 0 : n >= from_;
    }
    return new DropReplies(drop);
  }

 private:
  std::string method_;
  std::shared_ptr<std::atomic<int>> calls_;
  unsigned one_in_;
  int from_;
  std::mt19937 rng_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_DROP_REPLIES_H_
