// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// 2014). The physical time is a parameter: sync/ reads no clock of its own.
#ifndef VIGIL_SYNC_HLC_H_
#define VIGIL_SYNC_HLC_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vigil/v1/clock.pb.h"

namespace vigil::sync {

// Orders HLC times: by wall_time_micros, then logical. -1, 0 or 1.
int CompareHlc(const vigil::v1::Hlc& a, const vigil::v1::Hlc& b);

// The time right after `h`, never wrapping the logical counter: at its
// maximum the wall time moves one microsecond instead.
vigil::v1::Hlc NextHlc(const vigil::v1::Hlc& h);

struct HybridClockOptions {
  // How far ahead of the local physical clock a remote time may be. A remote
  // time beyond that (a device whose clock is wrong) is clamped to
  // local physical time + max_forward_skew before it enters the clock, so one
  // bad device can never drag every later timestamp into the future.
  // Default: 5 minutes.
  absl::Duration max_forward_skew = absl::Minutes(5);
};

// Result of receiving a remote time.
struct HlcReceipt {
  // The local clock after the receive (strictly after both the previous local
  // time and the accepted remote time).
  vigil::v1::Hlc local;
  // The remote time as accepted: equal to the remote time, or clamped.
  vigil::v1::Hlc accepted_remote;
  // The remote time was more than max_forward_skew ahead and was clamped.
  bool clamped = false;
};

// One node's clock. Not thread-safe: the owner serializes calls (the commit
// pipeline's single writer on the server, the sync loop on a tablet).
//
// Policy for wrong device clocks: clamp, never reject. A tablet whose clock is
// an hour fast must still be able to sync a day of interviews; its edits are
// accepted with their time capped (the caller can store accepted_remote in
// place of the device's time and flag the device). A device clock that runs
// behind needs no special case: the logical counter orders its events.
class HybridClock {
 public:
  explicit HybridClock(HybridClockOptions options = {}) : options_(options) {}

  // Restores a clock from a persisted last time (e.g. after a restart).
  void Restore(const vigil::v1::Hlc& last) { last_ = last; }

  // A time for a local or send event, at local physical time `now`: later
  // than every time this clock has issued or received.
  vigil::v1::Hlc Now(absl::Time now);

  // Merges a received time `remote` at local physical time `now`.
  // InvalidArgument if `remote`'s wall time is before 1970 or after 9999
  // (physical times are clamped to that range too).
  absl::StatusOr<HlcReceipt> Receive(const vigil::v1::Hlc& remote,
                                     absl::Time now);

  const vigil::v1::Hlc& last() const { return last_; }

 private:
  HybridClockOptions options_;
  vigil::v1::Hlc last_;
};

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_HLC_H_
