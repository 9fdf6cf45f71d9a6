// The index of open conflicts across visits, in the indexes column family,
// written by CommitTables::WriteHead in the same commit as the records, and
// derived from them alone (so a rebuild gets it again). No other file
// builds these keys.
//
//   ("conflict", conflict_id)                    -> ConflictRef
//   ("cq", opened_micros, conflict_id)           -> ConflictRef  every visit,
//                                                   oldest first
//   ("cv", visit_id, opened_micros, conflict_id) -> ConflictRef  one visit
//
// Only conflicts of records in visit scopes are indexed. Not thread-safe;
// borrows what it is given.
#ifndef VIGIL_SERVER_RECORDS_CONFLICT_INDEX_H_
#define VIGIL_SERVER_RECORDS_CONFLICT_INDEX_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "vigil/internal/storage_values.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

// Every key and value the index holds for the open conflicts of `record`.
std::map<std::string, std::string> ConflictEntriesOf(const vigil::v1::Record& record);
// Every key and value the index holds, as `scan` reads it.
absl::StatusOr<std::map<std::string, std::string>> StoredConflictEntries(
    storage::RangeScanFn scan);

// `record` became the head (`previous` the one before, if any): its
// conflicts' entries follow, in `ctx`.
void ConflictsWritten(storage::CommitContext& ctx,
                      const std::optional<vigil::v1::Record>& previous,
                      const vigil::v1::Record& record);

// The conflict `id` as `view` holds it, nullopt when it is not open (or
// not a visit's).
absl::StatusOr<std::optional<vigil::internal::ConflictRef>> LookupConflict(
    storage::ReadView& view, std::string_view id);

// Reads of the index at one snapshot.
class ConflictIndexReader {
 public:
  ConflictIndexReader(storage::Storage& storage, const storage::Snapshot& snapshot)
      : storage_(storage), snapshot_(snapshot) {}

  // The conflict `id`, nullopt when it is not open (or not a visit's).
  absl::StatusOr<std::optional<vigil::internal::ConflictRef>> Get(std::string_view id);
  // The open conflicts of visit `visit_id` (every visit when empty), oldest
  // first, after `after` (a position an earlier visit was given; empty:
  // from the start): each one's position and entry. `visit` returns false
  // to stop. DataLoss on a malformed entry.
  absl::Status Scan(std::string_view visit_id, std::string_view after,
                    absl::FunctionRef<bool(std::string_view position,
                                           const vigil::internal::ConflictRef&)>
                        visit);

 private:
  storage::Storage& storage_;
  const storage::Snapshot& snapshot_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_CONFLICT_INDEX_H_
