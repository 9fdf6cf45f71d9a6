// The review queries' index of visits, in the indexes column family, written
// in the same commit as what it indexes (CommitTables::WriteHead and
// HoldLate call it; so does a change of a visit's team). No other file
// builds these keys.
//
//   ("visit", visit_id)                   -> VisitSummary (counts; the Visit
//                                            record's indexed fields)
//   ("vx", field, value, visit_id)        -> ""  for field "all" (value ""),
//                                            "facility", "ftype", "type",
//                                            "state", "member", "reviewer",
//                                            "year" (each year of its period)
//   ("vq", submitted_micros, visit_id)    -> ""  visits submitted, in review
//                                            or sent back: the review queue
//
// A visit is in the "vx" and "vq" entries once its Visit record exists and
// while it is not deleted. Not thread-safe; borrows what it is given.
#ifndef VIGIL_SERVER_RECORDS_VISIT_INDEX_H_
#define VIGIL_SERVER_RECORDS_VISIT_INDEX_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "vigil/internal/storage_values.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

// A visit's period is indexed under at most this many years (its first).
inline constexpr int kMaxIndexedYears = 10;

// The index entries a query scans: one field and its value ("all" and "").
struct VisitIndexKey {
  std::string field;
  std::string value;
};

// Adds `record` to (sign +1) or takes it from (-1) the counts of its
// visit's summary: records, open conflicts, unreviewed records, findings by
// category, occupancy snapshots.
void CountRecord(vigil::internal::VisitSummary& summary, const vigil::v1::Record& record,
                 int sign);

class VisitIndexWriter {
 public:
  // Reads through `ctx`, the commit that writes. `facility` looks up a
  // facility record's head in this commit (nullopt when there is none).
  using FacilityFn = absl::FunctionRef<
      absl::StatusOr<std::optional<vigil::v1::Facility>>(std::string_view id)>;
  explicit VisitIndexWriter(storage::CommitContext& ctx) : ctx_(ctx) {}

  // `record` became the head (`previous` the one before, if any).
  absl::Status HeadWritten(const std::optional<vigil::v1::Record>& previous,
                           const vigil::v1::Record& record, FacilityFn facility);
  // A mutation of `scope` was held as a late submission (+1), or decided
  // (-1).
  absl::Status LateChanged(std::string_view scope, int delta);
  // A parallel update of `scope` was recorded (+1), or checked (-1).
  absl::Status ParallelChanged(std::string_view scope, int delta);
  // The team table of the visit now holds `members` (user ids, sorted) and
  // `lead` ("" when none).
  absl::Status TeamChanged(std::string_view visit_id, std::vector<std::string> members,
                           std::string lead);

  // The visit's summary as this commit holds it (empty when none).
  absl::StatusOr<vigil::internal::VisitSummary> Summary(std::string_view visit_id);

 private:
  // Applies `change` to the counts of the summary of `scope`'s visit.
  absl::Status Count(std::string_view scope,
                     absl::FunctionRef<void(vigil::internal::VisitSummary&)> change);
  absl::Status Put(std::string_view visit_id, const vigil::internal::VisitSummary& before,
                   const vigil::internal::VisitSummary& after);

  storage::CommitContext& ctx_;
};

// The visit an index entry names, and its submission time for the queue.
struct IndexedVisit {
  std::int64_t submitted_micros = 0;
  std::string id;
};

// Reads of the index at one snapshot.
class VisitIndexReader {
 public:
  VisitIndexReader(storage::Storage& storage, const storage::Snapshot& snapshot)
      : storage_(storage), snapshot_(snapshot) {}

  absl::StatusOr<std::optional<vigil::internal::VisitSummary>> Summary(
      std::string_view visit_id);
  // Visits the visit ids of `key`'s entries after `after_id`, in id order,
  // with each summary. `visit` returns false to stop.
  absl::Status Scan(
      const VisitIndexKey& key, std::string_view after_id,
      absl::FunctionRef<bool(std::string_view id, const vigil::internal::VisitSummary&)> visit);
  // The review queue after position (`after_micros`, `after_id`), oldest
  // submission first.
  absl::Status ScanQueue(std::int64_t after_micros, std::string_view after_id,
                         absl::FunctionRef<bool(std::int64_t submitted_micros, std::string_view id,
                                                const vigil::internal::VisitSummary&)>
                             visit);

 private:
  // Visits the entries of `range` in key order with their summaries.
  absl::Status ScanEntries(
      storage::KeyRange range,
      absl::FunctionRef<bool(const IndexedVisit&, const vigil::internal::VisitSummary&)> visit);
  absl::Status SummariesOf(
      const std::vector<std::string>& ids,
      absl::FunctionRef<bool(std::size_t, const vigil::internal::VisitSummary&)> visit);

  storage::Storage& storage_;
  const storage::Snapshot& snapshot_;
};

// Every key and value the index holds for `summaries` (visit id ->
// summary), and every one it holds as `scan` reads it: a rebuild writes the
// first, a check compares the two (index_rebuild.h).
std::map<std::string, std::string> IndexEntriesOf(
    const std::map<std::string, vigil::internal::VisitSummary>& summaries);
absl::StatusOr<std::map<std::string, std::string>> StoredIndexEntries(storage::RangeScanFn scan);

// The index entries of `summary` (none unless its record exists and is
// live), as (field, value) pairs; shared by the writer and the checks.
std::vector<VisitIndexKey> IndexKeysOf(const vigil::internal::VisitSummary& summary);
// Whether `state` puts a visit in the review queue.
bool InReviewQueue(vigil::v1::VisitState state);

// The summary's fields taken from a Visit record (counts and team
// untouched), and from its facility (nullopt: none).
void SummarizeVisit(const vigil::v1::Record& visit_record,
                    const std::optional<vigil::v1::Facility>& facility,
                    vigil::internal::VisitSummary& summary);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_VISIT_INDEX_H_
