// How Vigil tunes RocksDB: the database's options and each column family's
// (memtable, block cache, partitioned index and filter, checksums, blob
// files), in one place for every open of a database. Internal to storage/.
#ifndef VIGIL_STORAGE_ROCKS_OPTIONS_H_
#define VIGIL_STORAGE_ROCKS_OPTIONS_H_

#include <string>
#include <vector>

#include "rocksdb/db.h"
#include "storage/column_family.h"
#include "storage/storage.h"

namespace vigil::storage {

rocksdb::DBOptions MakeDBOptions(const StorageOptions& options);

// Whether a database opened with `options` holds `cf`, given the families
// `present` in it already (none for a new database).
bool Wanted(const StorageOptions& options, const std::vector<std::string>& present,
            ColumnFamily cf);

// The descriptors of the families to open, kMeta first, in enum order.
std::vector<rocksdb::ColumnFamilyDescriptor> MakeFamilies(
    const StorageOptions& options, const std::vector<std::string>& present = {});

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_ROCKS_OPTIONS_H_
