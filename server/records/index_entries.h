// What the review indexes' tables share (visit_index, conflict_index,
// record_index, parallel_updates): reading every entry of some tables for a
// rebuild or its check, writing only the entries that changed, and
// scanning one table from a position with its values decoded. Each table
// still owns its keys. Internal to server/records.
#ifndef VIGIL_SERVER_RECORDS_INDEX_ENTRIES_H_
#define VIGIL_SERVER_RECORDS_INDEX_ENTRIES_H_

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/key_codec.h"
#include "storage/storage.h"

namespace vigil::server {

using IndexEntries = std::map<std::string, std::string>;

// Every key and value of the indexes column family under the tables
// (each key's first component) named, as `scan` reads them.
inline absl::StatusOr<IndexEntries> ReadIndexTables(storage::RangeScanFn scan,
                                                   std::initializer_list<std::string_view> tables) {
  IndexEntries entries;
  for (std::string_view table : tables) {
    RETURN_IF_ERROR(scan(storage::ColumnFamily::kIndexes,
                         storage::KeyRange::Prefix(storage::KeyBuilder().AddString(table).key()),
                         [&](std::string_view key, std::string_view value) {
                           entries.emplace(key, value);
                           return true;
                         }));
  }
  return entries;
}

// Moves the index from the entries `was` to `is` in `ctx`: deletes what
// went, puts what is new or changed, and leaves the rest unwritten.
inline void WriteChangedEntries(storage::CommitContext& ctx, const IndexEntries& was,
                                const IndexEntries& is) {
  for (const auto& [key, value] : was) {
    if (!is.contains(key)) ctx.Delete(storage::ColumnFamily::kIndexes, key);
  }
  for (const auto& [key, value] : is) {
    auto it = was.find(key);
    if (it == was.end() || it->second != value) {
      ctx.Put(storage::ColumnFamily::kIndexes, key, value);
    }
  }
}

// Visits the entries under `prefix` after `after` (a position an earlier
// visit was given; empty: from the start) at `snapshot`, each value parsed
// as an M (DataLoss naming `what` when one does not parse). `visit`
// returns false to stop.
template <typename M>
absl::Status ScanIndexMessages(storage::Storage& storage, const storage::Snapshot& snapshot,
                               const std::string& prefix, std::string_view after,
                               std::string_view what,
                               absl::FunctionRef<bool(std::string_view position, const M&)> visit) {
  storage::KeyRange range = storage::KeyRange::Prefix(prefix);
  if (!after.empty()) range.begin = std::string(after) + '\0';
  absl::Status failed;
  RETURN_IF_ERROR(storage.Scan(storage::ColumnFamily::kIndexes, range, &snapshot,
                               [&](std::string_view key, std::string_view value) {
                                 M message;
                                 if (!message.ParseFromArray(value.data(),
                                                             static_cast<int>(value.size()))) {
                                   failed = absl::DataLossError(
                                       absl::StrCat("malformed ", std::string(what)));
                                   return false;
                                 }
                                 return visit(key, message);
                               }));
  return failed;
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_INDEX_ENTRIES_H_
