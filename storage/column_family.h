// The column families of Vigil's one RocksDB database, in one enum.
#ifndef VIGIL_STORAGE_COLUMN_FAMILY_H_
#define VIGIL_STORAGE_COLUMN_FAMILY_H_

#include <array>
#include <cstddef>
#include <string_view>

namespace vigil::storage {

enum class ColumnFamily : int {
  kMeta = 0,     // format version, last committed seq, server secrets
  kRecords,      // record id -> head state
  kHistory,      // record id + revision -> that revision's body
  kChanges,      // scope + seq -> record id (one entry per record)
  kMutations,    // mutation id -> first result (idempotency)
  kAttachments,  // content-addressed chunks (BlobDB for large values)
  kAudit,        // hash-chained audit log
  kIndexes,      // secondary indexes for the review queries
};

inline constexpr std::size_t kColumnFamilyCount = 8;

inline constexpr std::array<ColumnFamily, kColumnFamilyCount>
    kAllColumnFamilies = {
        ColumnFamily::kMeta,      ColumnFamily::kRecords,
        ColumnFamily::kHistory,   ColumnFamily::kChanges,
        ColumnFamily::kMutations, ColumnFamily::kAttachments,
        ColumnFamily::kAudit,     ColumnFamily::kIndexes,
};

// The name RocksDB stores for each family. kMeta is RocksDB's default family.
constexpr std::string_view ColumnFamilyName(ColumnFamily cf) {
  switch (cf) {
    case ColumnFamily::kMeta:
      return "default";
    case ColumnFamily::kRecords:
      return "records";
    case ColumnFamily::kHistory:
      return "history";
    case ColumnFamily::kChanges:
      return "changes";
    case ColumnFamily::kMutations:
      return "mutations";
    case ColumnFamily::kAttachments:
      return "attachments";
    case ColumnFamily::kAudit:
      return "audit";
    case ColumnFamily::kIndexes:
      return "indexes";
  }
  return "unknown";
}

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_COLUMN_FAMILY_H_
