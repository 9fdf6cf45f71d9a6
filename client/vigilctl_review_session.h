// What the vigilctl review commands share (vigilctl_review.cc,
// vigilctl_merges.cc): a session with the ReviewService, and retries of a
// mutating call under one request id.
#ifndef VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_
#define VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_

#include <memory>

#include "client/replica.h"
#include "client/vigilctl_commands.h"
#include "vigil/v1/review.grpc.pb.h"

namespace vigil::vigilctl {

struct ReviewSession {
  std::unique_ptr<client::Replica> replica;
  std::unique_ptr<vigil::v1::ReviewService::Stub> stub;
};

// Opens the home's replica and a ReviewService stub on its channel; false
// with `*code` set (and the error printed) when it cannot.
bool StartReview(const Globals& g, ReviewSession& s, int* code);

// Up to three attempts of one mutating call with the same request (and so
// the same request id): a retry after a lost reply gets the first result.
template <typename Call>
inline grpc::Status SameRequestRetried(Call call) {
  grpc::Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto context = CallContext();
    st = call(context.get());
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
        st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
  }
  return st;
}

}  // namespace vigil::vigilctl

#endif  // VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_
