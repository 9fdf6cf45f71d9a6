// Helpers shared by the sync tests: text-format bodies and edit stamps.
#ifndef VIGIL_TESTS_SYNC_TEST_UTIL_H_
#define VIGIL_TESTS_SYNC_TEST_UTIL_H_

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "vigil/v1/clock.pb.h"

namespace vigil::sync::testing {

template <typename T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

inline vigil::v1::EditStamp Edit(const std::string& mutation_id,
                                 int64_t wall_micros,
                                 const std::string& device = "device-a",
                                 const std::string& author = "user-a") {
  vigil::v1::EditStamp e;
  e.set_mutation_id(mutation_id);
  e.set_author(author);
  e.set_device_id(device);
  e.mutable_hlc()->set_wall_time_micros(wall_micros);
  return e;
}

}  // namespace vigil::sync::testing

#endif  // VIGIL_TESTS_SYNC_TEST_UTIL_H_
