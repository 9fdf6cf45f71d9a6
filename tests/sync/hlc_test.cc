#include "sync/hlc.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::sync {
namespace {

using ::vigil::testing::StatusIs;
using vigil::v1::Hlc;

Hlc H(int64_t wall, uint32_t logical) {
  Hlc h;
  h.set_wall_time_micros(wall);
  h.set_logical(logical);
  return h;
}

absl::Time Micros(int64_t us) { return absl::FromUnixMicros(us); }

TEST(HlcTest, CompareOrdersByWallThenLogical) {
  struct Row {
    Hlc a, b;
    int want;
  };
  for (const Row& r : std::vector<Row>{{H(1, 0), H(2, 0), -1},
                                       {H(2, 0), H(1, 9), 1},
                                       {H(5, 1), H(5, 2), -1},
                                       {H(5, 3), H(5, 3), 0}}) {
    EXPECT_EQ(CompareHlc(r.a, r.b), r.want);
    EXPECT_EQ(CompareHlc(r.b, r.a), -r.want);
  }
}

TEST(HlcTest, NowFollowsPhysicalTimeAndTicksWhenItStalls) {
  HybridClock clock;
  EXPECT_EQ(CompareHlc(clock.Now(Micros(100)), H(100, 0)), 0);
  EXPECT_EQ(CompareHlc(clock.Now(Micros(100)), H(100, 1)), 0);
  // Physical clock stepped back (NTP): time still moves forward.
  EXPECT_EQ(CompareHlc(clock.Now(Micros(50)), H(100, 2)), 0);
  EXPECT_EQ(CompareHlc(clock.Now(Micros(200)), H(200, 0)), 0);
}

TEST(HlcTest, ReceiveIsAfterBothLocalAndRemote) {
  struct Row {
    Hlc local_last;
    Hlc remote;
    int64_t physical;
    Hlc want;
  };
  const std::vector<Row> rows = {
      {H(100, 0), H(90, 5), 150, H(150, 0)},  // physical is ahead of both
      {H(100, 3), H(90, 5), 50, H(100, 4)},   // local is ahead
      {H(100, 3), H(120, 7), 50, H(120, 8)},  // remote is ahead (in bound)
      {H(100, 3), H(100, 7), 50, H(100, 8)},  // same wall: max logical + 1
  };
  for (const Row& r : rows) {
    HybridClock clock;
    clock.Restore(r.local_last);
    auto receipt = clock.Receive(r.remote, Micros(r.physical));
    ASSERT_OK(receipt);
    EXPECT_EQ(CompareHlc(receipt->local, r.want), 0)
        << receipt->local.ShortDebugString();
    EXPECT_FALSE(receipt->clamped);
    EXPECT_GT(CompareHlc(receipt->local, r.remote), 0);
    EXPECT_GT(CompareHlc(receipt->local, r.local_last), 0);
  }
}

TEST(HlcTest, RemoteTooFarAheadIsClamped) {
  HybridClock clock(HybridClockOptions{.max_forward_skew = absl::Seconds(1)});
  const int64_t now = 1'000'000'000;
  auto receipt = clock.Receive(H(now + 3'600'000'000, 0), Micros(now));
  ASSERT_OK(receipt);
  EXPECT_TRUE(receipt->clamped);
  EXPECT_EQ(receipt->accepted_remote.wall_time_micros(), now + 1'000'000);
  EXPECT_EQ(receipt->local.wall_time_micros(), now + 1'000'000);
  // Exactly at the bound is accepted as is.
  receipt = clock.Receive(H(now + 1'000'000, 9), Micros(now));
  ASSERT_OK(receipt);
  EXPECT_FALSE(receipt->clamped);
}

TEST(HlcTest, RejectsNegativeWallTime) {
  HybridClock clock;
  EXPECT_THAT(clock.Receive(H(-1, 0), Micros(10)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HlcTest, LogicalCounterNeverWraps) {
  HybridClock clock;
  clock.Restore(H(100, UINT32_MAX));
  EXPECT_EQ(CompareHlc(clock.Now(Micros(100)), H(101, 0)), 0);
}

}  // namespace
}  // namespace vigil::sync
