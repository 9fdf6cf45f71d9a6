// Parallel updates: pushes that merged cleanly with edits their device had
// not seen (disjoint fields, disjoint narrative lines), kept so that a
// reviewer can check each automatic merge (ReviewService.
// ListParallelUpdates). In the indexes column family, written in the
// push's commit. The first table holds each one (written by the merge, and
// again when it is checked); the others derive from it alone, so a rebuild
// gets them again. No other file builds these keys.
//
//   ("parallel", id)                              -> ParallelUpdateEntry
//   ("pq", checked, merged_micros, id)            -> ParallelUpdateEntry
//                                                    every visit, oldest first
//   ("pv", visit_id, checked, merged_micros, id)  -> ParallelUpdateEntry
//                                                    one visit
//
// `id` is the merged edit's mutation id; `checked` is 0 or 1. Only records
// of visit scopes. Not thread-safe; borrows what it is given.
#ifndef VIGIL_SERVER_RECORDS_PARALLEL_UPDATES_H_
#define VIGIL_SERVER_RECORDS_PARALLEL_UPDATES_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "vigil/internal/storage_values.pb.h"

namespace vigil::server {

// Keeps `entry`, a new parallel update (or `entry` checked, replacing
// `before`), in `ctx`, with the visit's count of unchecked ones.
absl::Status PutParallelUpdate(storage::CommitContext& ctx,
                               const std::optional<vigil::internal::ParallelUpdateEntry>& before,
                               const vigil::internal::ParallelUpdateEntry& entry);

// The parallel update `id` as `view` holds it, or nullopt.
absl::StatusOr<std::optional<vigil::internal::ParallelUpdateEntry>> LookupParallelUpdate(
    storage::ReadView& view, std::string_view id);

// For index rebuilds and checks: the derived entries ("pq", "pv") of
// `entry`; those `scan` reads; and every parallel update `scan` reads.
std::map<std::string, std::string> ParallelEntriesOf(
    const vigil::internal::ParallelUpdateEntry& entry);
absl::StatusOr<std::map<std::string, std::string>> StoredParallelEntries(
    storage::RangeScanFn scan);
absl::Status ScanParallelUpdates(
    storage::RangeScanFn scan,
    absl::FunctionRef<absl::Status(const vigil::internal::ParallelUpdateEntry&)> visit);

// Reads at one snapshot.
class ParallelUpdateReader {
 public:
  ParallelUpdateReader(storage::Storage& storage, const storage::Snapshot& snapshot)
      : storage_(storage), snapshot_(snapshot) {}

  absl::StatusOr<std::optional<vigil::internal::ParallelUpdateEntry>> Get(std::string_view id);
  // The parallel updates of visit `visit_id` (every visit when empty),
  // `checked` or not, oldest first, after `after` (a position an earlier
  // visit was given; empty: from the start): each one's position and
  // entry. `visit` returns false to stop. DataLoss on a malformed entry.
  absl::Status Scan(std::string_view visit_id, bool checked, std::string_view after,
                    absl::FunctionRef<bool(std::string_view position,
                                           const vigil::internal::ParallelUpdateEntry&)>
                        visit);

 private:
  storage::Storage& storage_;
  const storage::Snapshot& snapshot_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_PARALLEL_UPDATES_H_
