// The index of a visit's findings and interviews for the review desk's
// queries (ListFindings, ListInterviews), in the indexes column family,
// written by CommitTables::WriteHead in the same commit as the records and
// derived from them alone (so a rebuild gets it again). No other file
// builds these keys.
//
//   ("rx", kind, field, value, record_id) -> ""
//
// `kind` is the RecordBody field number. Every live finding or interview of
// a visit scope has the entry ("visit", visit id); a finding also
// ("category", n); a recommendation (any scope) ("all", ""), ("addressee",
// a), ("facility", f), ("visit", v), ("finding", f) and ("repeats", r) for
// each link, ("year", y) of its issue. Nothing more for findings and
// interviews: every entry costs every push of the kind (written, flushed,
// compacted; six entries per finding cost the server 30 µs of CPU per
// pushed record in bench_sync), and an interview's content is sealed at
// rest while the index keys are not. Entries carry nothing; a
// query reads the records they name. Not thread-safe; borrows what it is
// given.
#ifndef VIGIL_SERVER_RECORDS_RECORD_INDEX_H_
#define VIGIL_SERVER_RECORDS_RECORD_INDEX_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

// One set of entries: records of `kind` with `field` = `value`.
struct RecordIndexKey {
  int kind = 0;
  std::string field;
  std::string value;
};

// Every key the index holds for `record` (with empty values).
std::map<std::string, std::string> RecordIndexEntriesOf(const vigil::v1::Record& record);
// Every entry of the index as `scan` reads it.
absl::StatusOr<std::map<std::string, std::string>> StoredRecordIndexEntries(
    storage::RangeScanFn scan);

// `record` became the head (`previous` the one before, if any): its
// entries follow, in `ctx`.
void RecordIndexWritten(storage::CommitContext& ctx,
                        const std::optional<vigil::v1::Record>& previous,
                        const vigil::v1::Record& record);

// A position after every entry of `key` (a record id sorts before it), for
// a scan that moves past a set of entries without naming one.
std::string EndOfEntries(const RecordIndexKey& key);

// The key of a position a reader gave (DataLoss when it is not one).
absl::StatusOr<RecordIndexKey> RecordIndexKeyOf(std::string_view position);

// Reads at one snapshot.
class RecordIndexReader {
 public:
  RecordIndexReader(storage::Storage& storage, const storage::Snapshot& snapshot)
      : storage_(storage), snapshot_(snapshot) {}

  // The record ids of `key`'s entries in id order, after `after` (a
  // position an earlier visit was given, of the same key; empty: from the
  // start): each one's position and id. `visit` returns false to stop.
  // DataLoss on a malformed entry.
  absl::Status Scan(const RecordIndexKey& key, std::string_view after,
                    absl::FunctionRef<bool(std::string_view position, std::string_view id)> visit);

 private:
  storage::Storage& storage_;
  const storage::Snapshot& snapshot_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_RECORD_INDEX_H_
