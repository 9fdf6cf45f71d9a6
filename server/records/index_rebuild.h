// The review indexes recomputed from what they index (the records, the late
// queue, the team table): rebuilt offline by `vigild reindex`, and compared
// with what the commits wrote by `vigild reindex --check` and the tests.
#ifndef VIGIL_SERVER_RECORDS_INDEX_REBUILD_H_
#define VIGIL_SERVER_RECORDS_INDEX_REBUILD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::server {

// Called every 10,000 records read, and once at the end, with the count.
using ReindexProgressFn = absl::FunctionRef<void(std::uint64_t records_read)>;

// The differences between the stored visit index and one recomputed from a
// full scan at one snapshot, one line each ("missing KEY", "extra KEY",
// "differs KEY"; keys in hex); empty when they agree.
absl::StatusOr<std::vector<std::string>> CheckVisitIndex(storage::Storage& storage,
                                                         const storage::KeyRing& keys,
                                                         ReindexProgressFn progress);

// Replaces the visit index with one recomputed from a full scan, in one
// commit (with its audit entry), and returns how many entries it holds.
absl::StatusOr<std::uint64_t> RebuildVisitIndex(storage::Storage& storage,
                                                const storage::KeyRing& keys,
                                                ReindexProgressFn progress);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_INDEX_REBUILD_H_
