// IsOk() and StatusIs(code) GoogleMock matchers for absl::Status and
// absl::StatusOr<T>. Debian 12's Abseil ships none, so they live here, once.
#ifndef VIGIL_TESTS_TESTING_STATUS_MATCHERS_H_
#define VIGIL_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace vigil::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code,
          "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

}  // namespace vigil::testing

#define ASSERT_OK(expr) ASSERT_THAT(expr, ::vigil::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::vigil::testing::IsOk())

#endif  // VIGIL_TESTS_TESTING_STATUS_MATCHERS_H_
