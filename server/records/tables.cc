#include "server/records/tables.h"

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/status_macros.h"
#include "server/auth/field_visibility.h"
#include "server/records/conflict_index.h"
#include "server/records/record_index.h"
#include "server/records/stored_value.h"
#include "server/records/visit_index.h"
#include "storage/key_codec.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::internal::StoredMutation;
using vigil::v1::Record;

std::string RecordKey(std::string_view id) { return KeyBuilder().AddString(id).key(); }
std::string HistoryKey(std::string_view id, std::uint64_t revision) {
  return KeyBuilder().AddString(id).AddUint64(revision).key();
}
std::string ChangePrefix(std::string_view scope) { return KeyBuilder().AddString(scope).key(); }
std::string ChangeKey(std::string_view scope, std::uint64_t seq) {
  return KeyBuilder().AddString(scope).AddUint64(seq).key();
}
std::string MutationKey(std::string_view id) { return KeyBuilder().AddString(id).key(); }
constexpr std::string_view kPendingLate = "late";
constexpr std::string_view kDecidedLate = "late_decided";

std::string LateKey(std::string_view scope, std::string_view mutation_id,
                    std::string_view table = kPendingLate) {
  return KeyBuilder().AddString(table).AddString(scope).AddString(mutation_id).key();
}

absl::StatusOr<std::optional<HeldLate>> ReadLate(storage::ReadView& view,
                                                 std::string_view scope,
                                                 std::string_view mutation_id,
                                                 const storage::KeyRing& keys) {
  for (const bool decided : {false, true}) {
    const std::string key = LateKey(scope, mutation_id, decided ? kDecidedLate : kPendingLate);
    ASSIGN_OR_RETURN(auto raw, view.Get(ColumnFamily::kIndexes, key));
    if (!raw.has_value()) continue;
    ASSIGN_OR_RETURN(vigil::v1::Mutation held, DecodeStored<vigil::v1::Mutation>(*raw, key, keys));
    return HeldLate{std::move(held), decided};
  }
  return std::nullopt;
}
std::string ViewEpochKey(std::string_view scope, std::string_view principal) {
  return KeyBuilder().AddString("view_epoch").AddString(scope).AddString(principal).key();
}

std::string PublicationKey(std::string_view visit_id) {
  return KeyBuilder().AddString("publication").AddString(visit_id).key();
}

absl::StatusOr<std::optional<vigil::v1::PublishedReport>> ReadPublication(
    storage::ReadView& view, std::string_view visit_id, const storage::KeyRing& keys) {
  const std::string key = PublicationKey(visit_id);
  ASSIGN_OR_RETURN(auto raw, view.Get(ColumnFamily::kIndexes, key));
  if (!raw.has_value()) return std::nullopt;
  return DecodeStored<vigil::v1::PublishedReport>(*raw, key, keys);
}

std::string EpochBytes(std::uint64_t epoch) {
  std::string out;
  AppendBigEndian64(out, epoch);
  return out;
}

absl::StatusOr<std::uint64_t> ParseEpoch(const std::optional<std::string>& raw) {
  if (!raw.has_value()) return 0;
  if (raw->size() != 8) return absl::DataLossError("malformed view epoch");
  return ReadBigEndian64(*raw);
}

absl::StatusOr<std::optional<Record>> ReadRecord(storage::ReadView& view, ColumnFamily cf,
                                                 const std::string& key,
                                                 const storage::KeyRing& keys) {
  ASSIGN_OR_RETURN(auto raw, view.Get(cf, key));
  if (!raw.has_value()) return std::nullopt;
  return DecodeStored<Record>(*raw, key, keys);
}

}  // namespace

absl::Status ScanStoredHeads(storage::RangeScanFn scan, const storage::KeyRing& keys,
                             absl::FunctionRef<absl::Status(const Record&)> visit) {
  absl::Status failed;
  RETURN_IF_ERROR(scan(ColumnFamily::kRecords, storage::KeyRange{},
                       [&](std::string_view key, std::string_view value) {
                         absl::StatusOr<Record> record = DecodeStored<Record>(value, key, keys);
                         failed = record.ok() ? visit(*record) : record.status();
                         return failed.ok();
                       }));
  return failed;
}

absl::Status ScanLateScopes(storage::RangeScanFn scan,
                            absl::FunctionRef<absl::Status(std::string_view scope)> visit) {
  absl::Status failed;
  RETURN_IF_ERROR(scan(ColumnFamily::kIndexes,
                       storage::KeyRange::Prefix(KeyBuilder().AddString(kPendingLate).key()),
                       [&](std::string_view key, std::string_view) {
                         absl::StatusOr<storage::KeyReader> reader =
                             storage::KeyReader::Create(key);
                         if (!reader.ok()) {
                           failed = reader.status();
                           return false;
                         }
                         (void)reader->ReadString();  // "late"
                         absl::StatusOr<std::string> scope = reader->ReadString();
                         failed = scope.ok() ? visit(*scope) : scope.status();
                         return failed.ok();
                       }));
  return failed;
}

namespace {

// Revision `revision` of the record whose head is `head`, through `view`.
absl::StatusOr<Record> RevisionOf(storage::ReadView& view, const Record& head,
                                  std::uint64_t revision, const storage::KeyRing& keys) {
  if (head.revision() == revision) return head;
  ASSIGN_OR_RETURN(std::optional<Record> found,
                   ReadRecord(view, ColumnFamily::kHistory, HistoryKey(head.id(), revision), keys));
  if (!found.has_value()) {
    return absl::DataLossError(
        absl::StrCat("history of ", head.id(), " lacks revision ", revision));
  }
  return *std::move(found);
}

}  // namespace

// --- CommitTables ---

absl::StatusOr<std::optional<Record>> CommitTables::Head(std::string_view id) {
  return ReadRecord(ctx_, ColumnFamily::kRecords, RecordKey(id), keys_);
}

absl::StatusOr<std::optional<Record>> CommitTables::HeadInScope(std::string_view id,
                                                                std::string_view scope) {
  ASSIGN_OR_RETURN(std::optional<Record> record, Head(id));
  if (record.has_value() && record->scope() != scope) record.reset();
  return record;
}

absl::StatusOr<Record> CommitTables::Revision(const Record& head, std::uint64_t revision) {
  return RevisionOf(ctx_, head, revision, keys_);
}

absl::Status CommitTables::WriteHead(const std::optional<Record>& previous,
                                     const Record& record) {
  if (previous.has_value()) {
    ctx_.Delete(ColumnFamily::kChanges, ChangeKey(previous->scope(), previous->seq()));
    // The superseded head joins the history; the new head is the newest
    // revision, so history never stores it twice.
    std::string old_key = HistoryKey(previous->id(), previous->revision());
    std::string old_value = EncodeStored(*previous, IsSensitive(previous->body()), old_key, keys_);
    ctx_.Put(ColumnFamily::kHistory, std::move(old_key), std::move(old_value));
  }
  ctx_.Put(ColumnFamily::kChanges, ChangeKey(record.scope(), record.seq()), record.id());
  std::string key = RecordKey(record.id());
  std::string value = EncodeStored(record, IsSensitive(record.body()), key, keys_);
  ctx_.Put(ColumnFamily::kRecords, std::move(key), std::move(value));
  // The review indexes, in the same commit.
  auto facility = [&](std::string_view id) -> absl::StatusOr<std::optional<vigil::v1::Facility>> {
    if (id.empty()) return std::nullopt;
    ASSIGN_OR_RETURN(std::optional<Record> head, Head(id));
    if (!head.has_value() || !head->body().has_facility()) return std::nullopt;
    return head->body().facility();
  };
  ConflictsWritten(ctx_, previous, record);
  RecordIndexWritten(ctx_, previous, record);
  return VisitIndexWriter(ctx_).HeadWritten(previous, record, facility);
}

absl::StatusOr<std::optional<StoredMutation>> CommitTables::Mutation(std::string_view id) {
  const std::string key = MutationKey(id);
  ASSIGN_OR_RETURN(auto raw, ctx_.Get(ColumnFamily::kMutations, key));
  if (!raw.has_value()) return std::nullopt;
  return DecodeStored<StoredMutation>(*raw, key, keys_);
}

void CommitTables::PutMutation(std::string_view id, const StoredMutation& stored,
                               bool sensitive) {
  std::string key = MutationKey(id);
  std::string value = EncodeStored(stored, sensitive, key, keys_);
  ctx_.Put(ColumnFamily::kMutations, std::move(key), std::move(value));
}

absl::Status CommitTables::HoldLate(std::string_view scope, const vigil::v1::Mutation& m) {
  std::string key = LateKey(scope, m.mutation_id());
  std::string value = EncodeStored(m, true, key, keys_);
  ctx_.Put(ColumnFamily::kIndexes, std::move(key), std::move(value));
  return VisitIndexWriter(ctx_).LateChanged(scope, +1);
}

absl::StatusOr<std::optional<HeldLate>> CommitTables::Late(std::string_view scope,
                                                           std::string_view mutation_id) {
  return ReadLate(ctx_, scope, mutation_id, keys_);
}

absl::Status CommitTables::SettleLate(std::string_view scope, const vigil::v1::Mutation& held) {
  ctx_.Delete(ColumnFamily::kIndexes, LateKey(scope, held.mutation_id()));
  std::string key = LateKey(scope, held.mutation_id(), kDecidedLate);
  std::string value = EncodeStored(held, true, key, keys_);
  ctx_.Put(ColumnFamily::kIndexes, std::move(key), std::move(value));
  return VisitIndexWriter(ctx_).LateChanged(scope, -1);
}

absl::StatusOr<std::uint64_t> CommitTables::ViewEpoch(std::string_view scope,
                                                      std::string_view principal) {
  ASSIGN_OR_RETURN(auto raw, ctx_.Get(ColumnFamily::kIndexes, ViewEpochKey(scope, principal)));
  return ParseEpoch(raw);
}

absl::Status CommitTables::MoveViewEpoch(std::string_view scope, std::string_view principal) {
  ASSIGN_OR_RETURN(const std::uint64_t epoch, ViewEpoch(scope, principal));
  ctx_.Put(ColumnFamily::kIndexes, ViewEpochKey(scope, principal), EpochBytes(epoch + 1));
  return absl::OkStatus();
}

// --- SnapshotTables ---

absl::StatusOr<std::optional<Record>> SnapshotTables::Head(std::string_view id) {
  return ReadRecord(view_, ColumnFamily::kRecords, RecordKey(id), keys_);
}

absl::StatusOr<std::optional<Record>> SnapshotTables::HeadInScope(std::string_view id,
                                                                  std::string_view scope) {
  ASSIGN_OR_RETURN(std::optional<Record> record, Head(id));
  if (record.has_value() && record->scope() != scope) record.reset();
  return record;
}

absl::StatusOr<bool> CommitTables::ScopeChangedAfter(std::string_view scope,
                                                    std::uint64_t seq) {
  bool changed = false;
  RETURN_IF_ERROR(ctx_.Scan(ColumnFamily::kChanges,
                            storage::KeyRange{ChangeKey(scope, seq + 1),
                                              storage::PrefixSuccessor(ChangePrefix(scope))},
                            [&](std::string_view, std::string_view) {
                              changed = true;
                              return false;
                            }));
  return changed;
}

void CommitTables::PutPublication(std::string_view visit_id,
                                  const vigil::v1::PublishedReport& published) {
  const std::string key = PublicationKey(visit_id);
  std::string value = EncodeStored(published, /*sensitive=*/true, key, keys_);
  ctx_.Put(ColumnFamily::kIndexes, key, std::move(value));
}

absl::StatusOr<std::optional<vigil::v1::PublishedReport>> CommitTables::Publication(
    std::string_view visit_id) {
  return ReadPublication(ctx_, visit_id, keys_);
}

absl::StatusOr<std::optional<vigil::v1::PublishedReport>> SnapshotTables::Publication(
    std::string_view visit_id) {
  return ReadPublication(view_, visit_id, keys_);
}

absl::Status SnapshotTables::ScanChanges(
    std::string_view scope, std::uint64_t after_seq,
    absl::FunctionRef<bool(std::uint64_t seq, std::string_view id)> visit) {
  absl::Status malformed;
  RETURN_IF_ERROR(storage_.Scan(
      ColumnFamily::kChanges,
      storage::KeyRange{ChangeKey(scope, after_seq + 1),
                        storage::PrefixSuccessor(ChangePrefix(scope))},
      &snapshot_, [&](std::string_view key, std::string_view value) {
        auto reader = storage::KeyReader::Create(key);
        absl::StatusOr<std::uint64_t> seq = absl::DataLossError("malformed change key");
        if (reader.ok() && reader->ReadString().ok()) seq = reader->ReadUint64();
        if (!seq.ok()) {
          malformed = seq.status();
          return false;
        }
        return visit(*seq, value);
      }));
  return malformed;
}

absl::StatusOr<std::optional<StoredMutation>> SnapshotTables::Mutation(std::string_view id) {
  const std::string key = MutationKey(id);
  ASSIGN_OR_RETURN(auto raw, view_.Get(ColumnFamily::kMutations, key));
  if (!raw.has_value()) return std::nullopt;
  return DecodeStored<StoredMutation>(*raw, key, keys_);
}

absl::StatusOr<std::optional<HeldLate>> SnapshotTables::Late(std::string_view scope,
                                                             std::string_view mutation_id) {
  return ReadLate(view_, scope, mutation_id, keys_);
}

absl::Status SnapshotTables::ScanLate(
    std::string_view scope, bool decided, std::string_view after,
    absl::FunctionRef<bool(std::string_view, std::string_view, const vigil::v1::Mutation&)>
        visit) {
  KeyBuilder prefix;
  prefix.AddString(decided ? kDecidedLate : kPendingLate);
  if (!scope.empty()) prefix.AddString(scope);
  storage::KeyRange range = storage::KeyRange::Prefix(prefix.key());
  if (!after.empty()) range.begin = std::string(after) + '\0';
  absl::Status failed;
  RETURN_IF_ERROR(storage_.Scan(
      ColumnFamily::kIndexes, range, &snapshot_,
      [&](std::string_view key, std::string_view value) {
        absl::StatusOr<storage::KeyReader> reader = storage::KeyReader::Create(key);
        absl::StatusOr<std::string> held_scope = absl::DataLossError("malformed late key");
        if (reader.ok() && reader->ReadString().ok()) held_scope = reader->ReadString();
        absl::StatusOr<vigil::v1::Mutation> held =
            held_scope.ok() ? DecodeStored<vigil::v1::Mutation>(value, key, keys_)
                            : absl::StatusOr<vigil::v1::Mutation>(held_scope.status());
        if (!held.ok()) {
          failed = held.status();
          return false;
        }
        return visit(key, *held_scope, *held);
      }));
  return failed;
}

absl::Status SnapshotTables::HeadValues(
    const std::vector<std::string>& ids,
    absl::FunctionRef<bool(std::size_t index, std::optional<std::string_view> value)> visit) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(RecordKey(id));
  return storage_.MultiGet(ColumnFamily::kRecords, keys, &snapshot_, visit);
}

absl::StatusOr<Record> SnapshotTables::DecodeHead(std::string_view id,
                                                  std::string_view value) const {
  return DecodeStored<Record>(value, RecordKey(id), keys_);
}

absl::StatusOr<Record> SnapshotTables::Revision(const Record& head, std::uint64_t revision) {
  return RevisionOf(view_, head, revision, keys_);
}

absl::Status SnapshotTables::ScanHistory(
    std::string_view id, std::uint64_t from, std::uint64_t to,
    absl::FunctionRef<bool(absl::StatusOr<Record> revision, std::size_t bytes)> visit) {
  return storage_.Scan(ColumnFamily::kHistory,
                       storage::KeyRange{HistoryKey(id, from), HistoryKey(id, to)}, &snapshot_,
                       [&](std::string_view key, std::string_view value) {
                         return visit(DecodeStored<Record>(value, key, keys_), value.size());
                       });
}

absl::StatusOr<std::uint64_t> SnapshotTables::ViewEpoch(std::string_view scope,
                                                        std::string_view principal) {
  ASSIGN_OR_RETURN(auto raw, view_.Get(ColumnFamily::kIndexes, ViewEpochKey(scope, principal)));
  return ParseEpoch(raw);
}

}  // namespace vigil::server
