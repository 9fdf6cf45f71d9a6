#include "server/records/record_index.h"

#include <vector>

#include "base/status_macros.h"
#include "server/records/index_entries.h"
#include "storage/key_codec.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::v1::Record;

constexpr std::string_view kTable = "rx";

KeyBuilder PrefixOf(const RecordIndexKey& key) {
  KeyBuilder prefix;
  prefix.AddString(kTable)
      .AddUint64(static_cast<std::uint64_t>(key.kind))
      .AddString(key.field)
      .AddString(key.value);
  return prefix;
}

// The record id of an entry.
absl::StatusOr<std::string> IdOf(std::string_view key) {
  ASSIGN_OR_RETURN(storage::KeyReader reader, storage::KeyReader::Create(key));
  RETURN_IF_ERROR(reader.ReadString().status());  // "rx"
  RETURN_IF_ERROR(reader.ReadUint64().status());  // kind
  RETURN_IF_ERROR(reader.ReadString().status());  // field
  RETURN_IF_ERROR(reader.ReadString().status());  // value
  return reader.ReadString();
}

// A recommendation's: every one ("all"), and each link a query follows
// (addressee, facility, visit, each finding it was made from, each
// recommendation it repeats, its issue year). Recommendations are few (a
// handful per visit) and written from the desk, not by every push.
std::vector<RecordIndexKey> RecommendationKeysOf(const Record& record) {
  const int kind = vigil::v1::RecordBody::kRecommendation;
  const vigil::v1::Recommendation& r = record.body().recommendation();
  std::vector<RecordIndexKey> keys = {{kind, "all", ""}};
  auto link = [&](std::string_view field, const std::string& value) {
    if (!value.empty()) keys.push_back({kind, std::string(field), value});
  };
  link("addressee", r.addressee_authority_id());
  link("facility", r.facility_id());
  link("visit", r.visit_id());
  for (const std::string& id : r.finding_ids()) link("finding", id);
  for (const std::string& id : r.repeats_recommendation_ids()) link("repeats", id);
  if (r.has_issued_on()) link("year", std::to_string(r.issued_on().year()));
  return keys;
}

std::vector<RecordIndexKey> KeysOf(const Record& record) {
  std::vector<RecordIndexKey> keys;
  if (!record.deleted() && record.body().has_recommendation()) {
    return RecommendationKeysOf(record);
  }
  const std::string_view visit_id = sync::VisitIdOf(record.scope());
  if (record.deleted() || visit_id.empty()) return keys;
  const int kind = record.body().kind_case();
  if (kind != vigil::v1::RecordBody::kFinding && kind != vigil::v1::RecordBody::kInterview) {
    return keys;
  }
  // Every entry is paid for by every push of the kind (written, flushed,
  // compacted): the visit's, and a finding's category, which bounds a scan
  // across visits; other filters are checked on the records.
  keys.push_back({kind, "visit", std::string(visit_id)});
  if (record.body().has_finding()) {
    keys.push_back({kind, "category", std::to_string(record.body().finding().category())});
  }
  return keys;
}

}  // namespace

std::map<std::string, std::string> RecordIndexEntriesOf(const Record& record) {
  std::map<std::string, std::string> entries;
  for (const RecordIndexKey& key : KeysOf(record)) {
    entries[PrefixOf(key).AddString(record.id()).key()] = "";
  }
  return entries;
}

absl::StatusOr<std::map<std::string, std::string>> StoredRecordIndexEntries(
    storage::RangeScanFn scan) {
  return ReadIndexTables(scan, {kTable});
}

void RecordIndexWritten(storage::CommitContext& ctx, const std::optional<Record>& previous,
                        const Record& record) {
  // An edit that keeps the visit and category writes nothing here.
  WriteChangedEntries(ctx, previous.has_value() ? RecordIndexEntriesOf(*previous) : IndexEntries(),
                      RecordIndexEntriesOf(record));
}

std::string EndOfEntries(const RecordIndexKey& key) {
  return PrefixOf(key).AddString("\xff").key();
}

absl::StatusOr<RecordIndexKey> RecordIndexKeyOf(std::string_view position) {
  ASSIGN_OR_RETURN(storage::KeyReader reader, storage::KeyReader::Create(position));
  ASSIGN_OR_RETURN(const std::string table, reader.ReadString());
  if (table != kTable) return absl::DataLossError("not a position in the records index");
  RecordIndexKey key;
  ASSIGN_OR_RETURN(const std::uint64_t kind, reader.ReadUint64());
  key.kind = static_cast<int>(kind);
  ASSIGN_OR_RETURN(key.field, reader.ReadString());
  ASSIGN_OR_RETURN(key.value, reader.ReadString());
  return key;
}

absl::Status RecordIndexReader::Scan(
    const RecordIndexKey& key, std::string_view after,
    absl::FunctionRef<bool(std::string_view, std::string_view)> visit) {
  storage::KeyRange range = storage::KeyRange::Prefix(PrefixOf(key).key());
  if (!after.empty()) range.begin = std::string(after) + '\0';
  absl::Status failed;
  RETURN_IF_ERROR(storage_.Scan(ColumnFamily::kIndexes, range, &snapshot_,
                                [&](std::string_view k, std::string_view) {
                                  absl::StatusOr<std::string> id = IdOf(k);
                                  failed = id.status();
                                  return failed.ok() && visit(k, *id);
                                }));
  return failed;
}

}  // namespace vigil::server
