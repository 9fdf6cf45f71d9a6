// The raw write ceiling of a disk: how fast RocksDB itself commits synced
// WriteBatches there, with no Vigil logic. Benchmarks compare the commit
// pipeline and the sync service against it on the same disk in the same run.
#ifndef VIGIL_STORAGE_WRITE_CEILING_H_
#define VIGIL_STORAGE_WRITE_CEILING_H_

#include <string>

#include "absl/status/statusor.h"

namespace vigil::storage {

struct CeilingOptions {
  // Default: 100 records of 1 KiB per batch, 2000 batches, fsync on each.
  int records_per_batch = 100;
  int value_bytes = 1024;
  int batches = 2000;
};

// Writes `batches` WriteBatches with sync=true, one after another, into a new
// database under `dir` (which must not exist; it is removed afterwards) and
// returns records per second.
absl::StatusOr<double> MeasureRawWriteCeiling(const std::string& dir,
                                              const CeilingOptions& options);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_WRITE_CEILING_H_
