#include "server/records/index_rebuild.h"

#include <map>

#include "absl/strings/escaping.h"
#include "base/status_macros.h"
#include "server/auth/caller.h"
#include "server/auth/identity_store.h"
#include "server/records/conflict_index.h"
#include "server/records/parallel_updates.h"
#include "server/records/record_index.h"
#include "server/records/tables.h"
#include "server/records/visit_index.h"
#include "storage/audit_log.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::internal::VisitSummary;
using vigil::v1::Record;

// Every index entry as the records, the late queue, the parallel updates
// and the team table that `scan` reads say it should be.
absl::StatusOr<std::map<std::string, std::string>> Expected(storage::RangeScanFn scan,
                                                            const storage::KeyRing& keys,
                                                            ReindexProgressFn progress) {
  std::map<std::string, VisitSummary> summaries;
  std::map<std::string, vigil::v1::Facility> facilities;
  std::map<std::string, Record> visit_records;
  std::map<std::string, std::string> derived;  // from each head alone
  std::uint64_t read = 0;
  RETURN_IF_ERROR(ScanStoredHeads(scan, keys, [&](const Record& record) -> absl::Status {
    if (++read % 10000 == 0) progress(read);
    if (record.body().has_facility()) facilities[record.id()] = record.body().facility();
    derived.merge(ConflictEntriesOf(record));
    derived.merge(RecordIndexEntriesOf(record));
    const std::string_view visit_id = sync::VisitIdOf(record.scope());
    if (visit_id.empty()) return absl::OkStatus();
    VisitSummary& s = summaries[std::string(visit_id)];
    CountRecord(s, record, +1);
    if (record.id() == visit_id && record.body().has_visit()) visit_records[record.id()] = record;
    return absl::OkStatus();
  }));
  progress(read);
  for (const auto& [id, record] : visit_records) {
    auto facility = facilities.find(record.body().visit().facility_id());
    SummarizeVisit(record,
                   facility == facilities.end()
                       ? std::nullopt
                       : std::optional<vigil::v1::Facility>(facility->second),
                   summaries[id]);
  }
  RETURN_IF_ERROR(ScanLateScopes(scan, [&](std::string_view scope) -> absl::Status {
    const std::string_view visit_id = sync::VisitIdOf(scope);
    if (visit_id.empty()) return absl::OkStatus();
    VisitSummary& s = summaries[std::string(visit_id)];
    s.set_pending_late(s.pending_late() + 1);
    return absl::OkStatus();
  }));
  std::map<std::string, std::string> parallel;
  RETURN_IF_ERROR(ScanParallelUpdates(
      scan, [&](const vigil::internal::ParallelUpdateEntry& e) -> absl::Status {
        parallel.merge(ParallelEntriesOf(e));
        const std::string_view visit_id = sync::VisitIdOf(e.scope());
        if (visit_id.empty() || !e.checked_by_user_id().empty()) return absl::OkStatus();
        VisitSummary& s = summaries[std::string(visit_id)];
        s.set_unchecked_parallel(s.unchecked_parallel() + 1);
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(IdentityStore::ScanTeamTable(
      scan, [&](const vigil::v1::TeamMembership& m) -> absl::Status {
        VisitSummary& s = summaries[m.visit_id()];  // in user id order
        s.add_team_user_ids(m.user_id());
        if (m.team_role() == vigil::v1::TEAM_ROLE_TEAM_LEAD && s.team_lead_user_id().empty()) {
          s.set_team_lead_user_id(m.user_id());
        }
        return absl::OkStatus();
      }));
  std::map<std::string, std::string> entries = IndexEntriesOf(summaries);
  entries.merge(derived);
  entries.merge(parallel);
  return entries;
}

// Every entry of the review indexes as `scan` reads them.
absl::StatusOr<std::map<std::string, std::string>> Stored(storage::RangeScanFn scan) {
  ASSIGN_OR_RETURN(auto entries, StoredIndexEntries(scan));
  ASSIGN_OR_RETURN(auto conflicts, StoredConflictEntries(scan));
  ASSIGN_OR_RETURN(auto parallel, StoredParallelEntries(scan));
  ASSIGN_OR_RETURN(auto records, StoredRecordIndexEntries(scan));
  entries.merge(conflicts);
  entries.merge(records);
  entries.merge(parallel);
  return entries;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckVisitIndex(storage::Storage& storage,
                                                         const storage::KeyRing& keys,
                                                         ReindexProgressFn progress) {
  const storage::Snapshot snapshot = storage.GetSnapshot();
  auto scan = [&](storage::ColumnFamily cf, const storage::KeyRange& range,
                  storage::ScanVisitor visit) { return storage.Scan(cf, range, &snapshot, visit); };
  ASSIGN_OR_RETURN(auto expected, Expected(scan, keys, progress));
  ASSIGN_OR_RETURN(auto stored, Stored(scan));
  std::vector<std::string> differences;
  for (const auto& [key, value] : expected) {
    auto it = stored.find(key);
    if (it == stored.end()) {
      differences.push_back("missing " + absl::BytesToHexString(key));
    } else if (it->second != value) {
      differences.push_back("differs " + absl::BytesToHexString(key));
    }
  }
  for (const auto& [key, value] : stored) {
    if (!expected.contains(key)) differences.push_back("extra " + absl::BytesToHexString(key));
  }
  return differences;
}

absl::StatusOr<std::uint64_t> RebuildVisitIndex(storage::Storage& storage,
                                                const storage::KeyRing& keys,
                                                ReindexProgressFn progress) {
  std::uint64_t written = 0;
  RETURN_IF_ERROR(storage
                      .Commit([&](storage::CommitContext& ctx) -> absl::Status {
                        auto scan = [&](storage::ColumnFamily cf, const storage::KeyRange& range,
                                        storage::ScanVisitor visit) {
                          return ctx.Scan(cf, range, visit);
                        };
                        ASSIGN_OR_RETURN(auto expected, Expected(scan, keys, progress));
                        ASSIGN_OR_RETURN(auto stored, Stored(scan));
                        for (const auto& [key, value] : stored) {
                          if (!expected.contains(key)) {
                            ctx.Delete(storage::ColumnFamily::kIndexes, key);
                          }
                        }
                        for (auto& [key, value] : expected) {
                          ctx.Put(storage::ColumnFamily::kIndexes, key, value);
                        }
                        written = expected.size();
                        return storage::AppendAudit(
                            ctx, AuditOf(OperatorCaller(), "index.rebuilt", "indexes/visits"));
                      })
                      .status());
  return written;
}

}  // namespace vigil::server
