#include "server/records/parallel_updates.h"

#include "base/status_macros.h"
#include "server/records/index_entries.h"
#include "server/records/visit_index.h"
#include "storage/key_codec.h"
#include "sync/merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::internal::ParallelUpdateEntry;

constexpr std::string_view kById = "parallel";
constexpr std::string_view kByAge = "pq";
constexpr std::string_view kByVisit = "pv";

std::string IdKey(std::string_view id) { return KeyBuilder().AddString(kById).AddString(id).key(); }

bool Checked(const ParallelUpdateEntry& e) { return !e.checked_by_user_id().empty(); }

absl::StatusOr<ParallelUpdateEntry> Decode(std::string_view value) {
  ParallelUpdateEntry entry;
  if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("malformed parallel update entry");
  }
  return entry;
}

}  // namespace

std::map<std::string, std::string> ParallelEntriesOf(const ParallelUpdateEntry& entry) {
  std::map<std::string, std::string> entries;
  const std::string_view visit_id = sync::VisitIdOf(entry.scope());
  if (visit_id.empty()) return entries;
  const std::string value = sync::SerializeDeterministic(entry);
  const std::uint64_t checked = Checked(entry) ? 1 : 0;
  const auto at = static_cast<std::uint64_t>(entry.merged_unix_micros());
  entries[KeyBuilder()
              .AddString(kByAge)
              .AddUint64(checked)
              .AddUint64(at)
              .AddString(entry.id())
              .key()] = value;
  entries[KeyBuilder()
              .AddString(kByVisit)
              .AddString(visit_id)
              .AddUint64(checked)
              .AddUint64(at)
              .AddString(entry.id())
              .key()] = value;
  return entries;
}

absl::Status PutParallelUpdate(storage::CommitContext& ctx,
                               const std::optional<ParallelUpdateEntry>& before,
                               const ParallelUpdateEntry& entry) {
  const std::map<std::string, std::string> is = ParallelEntriesOf(entry);
  if (is.empty()) return absl::OkStatus();  // not a visit's
  WriteChangedEntries(ctx, before.has_value() ? ParallelEntriesOf(*before) : IndexEntries(), is);
  ctx.Put(ColumnFamily::kIndexes, IdKey(entry.id()), sync::SerializeDeterministic(entry));
  const int was = before.has_value() && !Checked(*before) ? 1 : 0;
  const int now = Checked(entry) ? 0 : 1;
  if (was == now) return absl::OkStatus();
  return VisitIndexWriter(ctx).ParallelChanged(entry.scope(), now - was);
}

absl::StatusOr<std::optional<ParallelUpdateEntry>> LookupParallelUpdate(storage::ReadView& view,
                                                                        std::string_view id) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw, view.Get(ColumnFamily::kIndexes, IdKey(id)));
  if (!raw.has_value()) return std::nullopt;
  return Decode(*raw);
}

absl::StatusOr<std::map<std::string, std::string>> StoredParallelEntries(
    storage::RangeScanFn scan) {
  return ReadIndexTables(scan, {kByAge, kByVisit});
}

absl::Status ScanParallelUpdates(
    storage::RangeScanFn scan, absl::FunctionRef<absl::Status(const ParallelUpdateEntry&)> visit) {
  absl::Status failed;
  RETURN_IF_ERROR(scan(ColumnFamily::kIndexes,
                       storage::KeyRange::Prefix(KeyBuilder().AddString(kById).key()),
                       [&](std::string_view, std::string_view value) {
                         absl::StatusOr<ParallelUpdateEntry> entry = Decode(value);
                         failed = entry.ok() ? visit(*entry) : entry.status();
                         return failed.ok();
                       }));
  return failed;
}

absl::StatusOr<std::optional<ParallelUpdateEntry>> ParallelUpdateReader::Get(std::string_view id) {
  storage::StorageView view(storage_, &snapshot_);
  return LookupParallelUpdate(view, id);
}

absl::Status ParallelUpdateReader::Scan(
    std::string_view visit_id, bool checked, std::string_view after,
    absl::FunctionRef<bool(std::string_view, const ParallelUpdateEntry&)> visit) {
  KeyBuilder prefix;
  if (visit_id.empty()) {
    prefix.AddString(kByAge);
  } else {
    prefix.AddString(kByVisit).AddString(visit_id);
  }
  prefix.AddUint64(checked ? 1 : 0);
  return ScanIndexMessages<ParallelUpdateEntry>(storage_, snapshot_, prefix.key(), after,
                                                "parallel update entry", visit);
}

}  // namespace vigil::server
