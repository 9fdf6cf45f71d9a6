// The one conversion from rocksdb::Status to absl::Status. Internal to
// storage/: nothing outside this folder includes RocksDB headers.
#ifndef VIGIL_STORAGE_ROCKS_STATUS_H_
#define VIGIL_STORAGE_ROCKS_STATUS_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace vigil::storage {

// Maps the RocksDB code to the most specific absl code and prefixes the
// message with `context` (what was being done), e.g. "open /data/db".
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_ROCKS_STATUS_H_
