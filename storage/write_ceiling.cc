#include "storage/write_ceiling.h"

#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/db.h"
#include "storage/key_codec.h"
#include "storage/rocks_status.h"

namespace vigil::storage {

absl::StatusOr<double> MeasureRawWriteCeiling(const std::string& dir,
                                              const CeilingOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " already exists"));
  }
  double records_per_s = 0;
  {
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, dir, &raw),
                              absl::StrCat("open ", dir)));
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string value(static_cast<std::size_t>(options.value_bytes), 'v');
    rocksdb::WriteOptions wo;
    wo.sync = true;
    std::uint64_t n = 0;
    auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < options.batches; ++b) {
      rocksdb::WriteBatch batch;
      for (int r = 0; r < options.records_per_batch; ++r) {
        batch.Put(KeyBuilder().AddUint64(n++).key(), value);
      }
      RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "raw write"));
    }
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    records_per_s = static_cast<double>(n) / elapsed.count();
    RETURN_IF_ERROR(FromRocks(db->Close(), "close"));
  }
  std::filesystem::remove_all(dir, ec);
  return records_per_s;
}

}  // namespace vigil::storage
