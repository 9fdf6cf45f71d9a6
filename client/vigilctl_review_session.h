// What the vigilctl review commands share (vigilctl_review.cc,
// vigilctl_merges.cc): a session with the ReviewService, and retries of a
// mutating call under one request id.
#ifndef VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_
#define VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/replica.h"
#include "client/vigilctl_commands.h"
#include "vigil/v1/report.grpc.pb.h"
#include "vigil/v1/review.grpc.pb.h"

namespace vigil::vigilctl {

struct ReviewSession {
  std::unique_ptr<client::Replica> replica;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<vigil::v1::ReviewService::Stub> stub;
};

// Opens the home's replica and a ReviewService stub on its channel; false
// with `*code` set (and the error printed) when it cannot.
bool StartReview(const Globals& g, ReviewSession& s, int* code);
// The same, and a ReportService stub on its channel.
bool StartReport(const Globals& g, ReviewSession& s,
                 std::unique_ptr<vigil::v1::ReportService::Stub>& stub, int* code);

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

// Opens a session and reads every page of `request` (200 a page) through
// `call(stub, context, request, &page)`, giving each page to `each`; the
// exit code (a failure names `what`).
template <typename Request, typename Response, typename Call, typename Each>
inline int AllPages(const Globals& g, Request request, const std::string& what, Call call,
                    Each each) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  request.set_page_size(200);
  do {
    Response page;
    auto context = CallContext();
    if (grpc::Status st = call(*s.stub, context.get(), request, &page); !st.ok()) {
      return Fail(absl::StrCat("listing ", what), st);
    }
    each(page);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return kExitOk;
}

}  // namespace vigil::vigilctl

#endif  // VIGIL_CLIENT_VIGILCTL_REVIEW_SESSION_H_
