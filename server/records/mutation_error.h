// The error of one mutation of a push: the code of `status`, a message naming
// the mutation, a stable reason, and metadata "mutation_id" and "index".
#ifndef VIGIL_SERVER_RECORDS_MUTATION_ERROR_H_
#define VIGIL_SERVER_RECORDS_MUTATION_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

inline absl::Status AtMutation(const absl::Status& status, int index,
                               const vigil::v1::Mutation& m, absl::string_view reason) {
  return WithReason(
      absl::Status(status.code(), absl::StrCat("mutation ", index, " (", m.mutation_id(),
                                               "): ", status.message())),
      reason, {{"mutation_id", m.mutation_id()}, {"index", std::to_string(index)}});
}

// The same, keeping the reason and metadata `status` already carries.
inline absl::Status AtMutation(const absl::Status& status, int index,
                               const vigil::v1::Mutation& m) {
  absl::Status out = AtMutation(status, index, m, ReasonOf(status).value_or("MUTATION_INVALID"));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (url != kReasonPayload) out.SetPayload(url, value);
  });
  return out;
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_MUTATION_ERROR_H_
