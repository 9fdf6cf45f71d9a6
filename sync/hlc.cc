#include "sync/hlc.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace vigil::sync {

using vigil::v1::Hlc;

namespace {

// 9999-12-31T23:59:59.999999Z: no real clock reads later, and the arithmetic
// below cannot overflow under it.
constexpr int64_t kMaxWallMicros = 253402300799999999;

int64_t Physical(absl::Time now) {
  return std::clamp<int64_t>(absl::ToUnixMicros(now), 0, kMaxWallMicros);
}

Hlc Make(int64_t wall, uint32_t logical) {
  Hlc h;
  h.set_wall_time_micros(wall);
  h.set_logical(logical);
  return h;
}

// The time right after (wall, logical), never wrapping the logical counter:
// at its maximum the wall time moves one microsecond instead.
Hlc Tick(int64_t wall, uint32_t logical) {
  if (logical == std::numeric_limits<uint32_t>::max()) return Make(wall + 1, 0);
  return Make(wall, logical + 1);
}

}  // namespace

Hlc NextHlc(const Hlc& h) { return Tick(h.wall_time_micros(), h.logical()); }

int CompareHlc(const Hlc& a, const Hlc& b) {
  if (a.wall_time_micros() != b.wall_time_micros()) {
    return a.wall_time_micros() < b.wall_time_micros() ? -1 : 1;
  }
  if (a.logical() != b.logical()) return a.logical() < b.logical() ? -1 : 1;
  return 0;
}

Hlc HybridClock::Now(absl::Time now) {
  const int64_t physical = Physical(now);
  if (physical > last_.wall_time_micros()) {
    last_ = Make(physical, 0);
  } else {
    last_ = Tick(last_.wall_time_micros(), last_.logical());
  }
  return last_;
}

absl::StatusOr<HlcReceipt> HybridClock::Receive(const Hlc& remote,
                                                absl::Time now) {
  if (remote.wall_time_micros() < 0 ||
      remote.wall_time_micros() > kMaxWallMicros) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HLC wall time ", remote.wall_time_micros(), " is outside 1970..9999"));
  }
  const int64_t physical = Physical(now);
  const int64_t bound = std::min(
      kMaxWallMicros,
      physical + std::clamp<int64_t>(
                     absl::ToInt64Microseconds(options_.max_forward_skew), 0,
                     kMaxWallMicros));
  HlcReceipt receipt;
  receipt.accepted_remote = remote;
  if (remote.wall_time_micros() > bound) {
    receipt.accepted_remote = Make(bound, 0);
    receipt.clamped = true;
  }
  const Hlc& r = receipt.accepted_remote;
  const int64_t wall =
      std::max({last_.wall_time_micros(), r.wall_time_micros(), physical});
  if (wall == last_.wall_time_micros() && wall == r.wall_time_micros()) {
    last_ = Tick(wall, std::max(last_.logical(), r.logical()));
  } else if (wall == last_.wall_time_micros()) {
    last_ = Tick(wall, last_.logical());
  } else if (wall == r.wall_time_micros()) {
    last_ = Tick(wall, r.logical());
  } else {
    last_ = Make(wall, 0);
  }
  receipt.local = last_;
  return receipt;
}

}  // namespace vigil::sync
