#include "sync/ids.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::sync {
namespace {

using ::vigil::testing::StatusIs;

TEST(IdsTest, UuidV7HasTimeVersionAndVariant) {
  const UuidRandomBytes random = {0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff};
  const absl::Time t = absl::FromUnixMillis(0x0190'1234'5678);
  auto id = NewUuidV7(t, random);
  ASSERT_OK(id);
  EXPECT_EQ(*id, "01901234-5678-7fff-bfff-ffffffffffff");
  EXPECT_OK(ValidateUuidV7(*id));
  EXPECT_OK(ValidateRecordId(*id));
  auto time = IdTime(*id);
  ASSERT_OK(time);
  EXPECT_EQ(*time, t);
}

TEST(IdsTest, UuidV7SortsByTime) {
  const UuidRandomBytes high = {0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff};
  const UuidRandomBytes low = {};
  auto earlier = NewUuidV7(absl::FromUnixMillis(1'700'000'000'000), high);
  auto later = NewUuidV7(absl::FromUnixMillis(1'700'000'000'001), low);
  ASSERT_OK(earlier);
  ASSERT_OK(later);
  EXPECT_LT(*earlier, *later);
}

TEST(IdsTest, UuidV7RejectsTimeOutOfRange) {
  EXPECT_THAT(NewUuidV7(absl::FromUnixMillis(-1), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NewUuidV7(absl::FromUnixMillis(int64_t{1} << 48), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IdsTest, ValidatesRecordIds) {
  struct Row {
    std::string id;
    bool valid;
  };
  const std::vector<Row> rows = {
      {"01901234-5678-7abc-8def-0123456789ab", true},
      {"01901234-5678-7abc-bdef-0123456789ab", true},
      {"01901234-5678-4abc-8def-0123456789ab", false},  // v4
      {"01901234-5678-7abc-cdef-0123456789ab", false},  // variant
      {"01901234-5678-7ABC-8def-0123456789ab", false},  // uppercase
      {"01901234_5678-7abc-8def-0123456789ab", false},  // separator
      {"019012345678-7abc-8def-0123456789ab", false},   // length
      {"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},             // ULID
      {"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},             // max ULID
      {"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false},            // overflows
      {"01arz3ndektsv4rrffq69g5fav", false},            // lowercase
      {"01ARZ3NDEKTSV4RRFFQ69G5FAI", false},            // I
      {"01ARZ3NDEKTSV4RRFFQ69G5FA", false},             // length
      {"", false},
      {std::string("01901234-5678-7abc-8def-0123456789a\0", 36), false},
  };
  for (const Row& r : rows) {
    if (r.valid) {
      EXPECT_OK(ValidateRecordId(r.id)) << r.id;
    } else {
      EXPECT_THAT(ValidateRecordId(r.id),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << r.id;
    }
  }
}

TEST(IdsTest, UlidTime) {
  auto time = IdTime("01ARZ3NDEKTSV4RRFFQ69G5FAV");
  ASSERT_OK(time);
  EXPECT_EQ(absl::ToUnixMillis(*time), 1469922850259);
}

}  // namespace
}  // namespace vigil::sync
