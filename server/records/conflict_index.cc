#include "server/records/conflict_index.h"

#include <algorithm>

#include "base/status_macros.h"
#include "server/records/index_entries.h"
#include "storage/key_codec.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::internal::ConflictRef;

constexpr std::string_view kById = "conflict";
constexpr std::string_view kByAge = "cq";
constexpr std::string_view kByVisit = "cv";

std::uint64_t OpenedMicros(const vigil::v1::Conflict& c) {
  std::int64_t latest = 0;
  for (const vigil::v1::ConflictVersion& v : c.versions()) {
    latest = std::max(latest, v.edit().hlc().wall_time_micros());
  }
  return static_cast<std::uint64_t>(latest);
}

}  // namespace

std::map<std::string, std::string> ConflictEntriesOf(const vigil::v1::Record& record) {
  std::map<std::string, std::string> entries;
  const std::string_view visit_id = sync::VisitIdOf(record.scope());
  if (visit_id.empty()) return entries;
  const google::protobuf::FieldDescriptor* kind = sync::BodyKindField(record.body());
  for (const vigil::v1::Conflict& c : record.open_conflicts()) {
    ConflictRef ref;
    ref.set_conflict_id(c.id());
    ref.set_record_id(record.id());
    ref.set_scope(record.scope());
    ref.set_record_kind(kind == nullptr ? 0 : kind->number());
    ref.set_field_path(c.field_path());
    ref.set_kind(c.kind());
    const std::uint64_t opened = OpenedMicros(c);
    ref.set_opened_unix_micros(static_cast<std::int64_t>(opened));
    const std::string value = sync::SerializeDeterministic(ref);
    entries[KeyBuilder().AddString(kById).AddString(c.id()).key()] = value;
    entries[KeyBuilder().AddString(kByAge).AddUint64(opened).AddString(c.id()).key()] = value;
    entries[KeyBuilder()
                .AddString(kByVisit)
                .AddString(visit_id)
                .AddUint64(opened)
                .AddString(c.id())
                .key()] = value;
  }
  return entries;
}

absl::StatusOr<std::map<std::string, std::string>> StoredConflictEntries(
    storage::RangeScanFn scan) {
  return ReadIndexTables(scan, {kById, kByAge, kByVisit});
}

void ConflictsWritten(storage::CommitContext& ctx, const std::optional<vigil::v1::Record>& previous,
                      const vigil::v1::Record& record) {
  if (record.open_conflicts().empty() &&
      (!previous.has_value() || previous->open_conflicts().empty())) {
    return;
  }
  WriteChangedEntries(ctx, previous.has_value() ? ConflictEntriesOf(*previous) : IndexEntries(),
                      ConflictEntriesOf(record));
}

absl::StatusOr<std::optional<ConflictRef>> ConflictIndexReader::Get(std::string_view id) {
  storage::StorageView view(storage_, &snapshot_);
  return LookupConflict(view, id);
}

absl::StatusOr<std::optional<ConflictRef>> LookupConflict(storage::ReadView& view,
                                                          std::string_view id) {
  ASSIGN_OR_RETURN(
      std::optional<std::string> raw,
      view.Get(ColumnFamily::kIndexes, KeyBuilder().AddString(kById).AddString(id).key()));
  if (!raw.has_value()) return std::nullopt;
  ConflictRef ref;
  if (!ref.ParseFromString(*raw)) return absl::DataLossError("malformed conflict index entry");
  return ref;
}

absl::Status ConflictIndexReader::Scan(
    std::string_view visit_id, std::string_view after,
    absl::FunctionRef<bool(std::string_view, const ConflictRef&)> visit) {
  KeyBuilder prefix;
  if (visit_id.empty()) {
    prefix.AddString(kByAge);
  } else {
    prefix.AddString(kByVisit).AddString(visit_id);
  }
  return ScanIndexMessages<ConflictRef>(storage_, snapshot_, prefix.key(), after,
                                        "conflict index entry", visit);
}

}  // namespace vigil::server
