#include "storage/rocks_options.h"

#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace vigil::storage {

rocksdb::DBOptions MakeDBOptions(const StorageOptions& options) {
  rocksdb::DBOptions db;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = options.create_if_missing;
  db.paranoid_checks = true;
  db.max_background_jobs = 2;
  // One memtable budget for all families keeps memory flat as data grows.
  db.db_write_buffer_size = 64 << 20;
  db.keep_log_file_num = 5;
  db.max_manifest_file_size = 64 << 20;
  return db;
}

bool Wanted(const StorageOptions& options, const std::vector<std::string>& present,
            ColumnFamily cf) {
  if (cf == ColumnFamily::kMeta) return true;
  for (ColumnFamily c : options.column_families) {
    if (c == cf) return true;
  }
  for (const std::string& name : present) {
    if (name == ColumnFamilyName(cf)) return true;
  }
  return false;
}

std::vector<rocksdb::ColumnFamilyDescriptor> MakeFamilies(
    const StorageOptions& options, const std::vector<std::string>& present) {
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (ColumnFamily cf : kAllColumnFamilies) {
    if (!Wanted(options, present, cf)) continue;
    rocksdb::ColumnFamilyOptions cfo;
    cfo.write_buffer_size = 16 << 20;
    // Most reads in a commit miss (a new mutation id, a new record): a
    // whole-key bloom filter on the memtable answers them without a search.
    cfo.memtable_prefix_bloom_size_ratio = 0.02;
    cfo.memtable_whole_key_filtering = true;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    table.cache_index_and_filter_blocks = true;
    // Index and filter in 4 KiB partitions under a small top level pinned
    // in the cache: a point read loads the partitions it needs, not a whole
    // file's index and filter, so its cost does not grow with the files
    // (the review queries' random reads of records and summaries).
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.partition_filters = true;
    table.metadata_block_size = 4096;
    table.pin_top_level_index_and_filter = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.format_version = 5;
    // Debian's RocksDB computes CRC32C without the SSE4.2 instruction; XXH3
    // is as strong at detecting corruption and far cheaper on every block
    // written and read. Files written before keep their own checksum type.
    table.checksum = rocksdb::kXXH3;
    if (cf == ColumnFamily::kRecords || cf == ColumnFamily::kHistory) {
      // Records of one scope were mostly written together, and a pull reads
      // them in that order: larger blocks mean fewer reads, allocations and
      // index entries per record (and better compression of narratives).
      table.block_size = 16 << 10;
    }
    cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    if (cf == ColumnFamily::kAttachments) {
      // Attachment chunks are large: keep them out of the LSM tree.
      cfo.enable_blob_files = true;
      cfo.min_blob_size = 4096;
      cfo.enable_blob_garbage_collection = true;
    }
    families.emplace_back(std::string(ColumnFamilyName(cf)), cfo);
  }
  return families;
}

}  // namespace vigil::storage
