#include "storage/audit_log.h"

#include <sodium.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/deterministic_bytes.h"
#include "base/json.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/key_codec.h"

namespace vigil::storage {
namespace {

using vigil::internal::AuditEntry;
using vigil::internal::AuditHead;

const std::string& HeadKey() {
  static const std::string* key = new std::string(KeyBuilder().AddString("audit_head").key());
  return *key;
}

std::string EntryKey(std::uint64_t index) { return KeyBuilder().AddUint64(index).key(); }

std::string Serialize(const google::protobuf::Message& m) { return DeterministicBytes(m); }

}  // namespace

std::string AuditEntryHash(const AuditEntry& entry) {
  std::string body;
  if (entry.hash().empty()) {
    body = Serialize(entry);  // as appended: not yet hashed, no copy needed
  } else {
    AuditEntry unhashed = entry;
    unhashed.clear_hash();
    body = Serialize(unhashed);
  }
  thread_local Sha256 hasher;
  return hasher.Update(entry.prev_hash()).Update(body).Final();
}

namespace {

const std::string& GenesisHash() {
  static const std::string* zero = new std::string(Sha256::kBytes, '\0');
  return *zero;
}

}  // namespace

absl::Status AppendAudit(CommitContext& ctx, const AuditEvent& event) {
  return AuditAppender(ctx).Append(event);
}

AuditAppender::~AuditAppender() {
  if (dirty_) ctx_.Put(ColumnFamily::kMeta, HeadKey(), Serialize(head_));
}

absl::Status AuditAppender::Append(const AuditEvent& event) {
  if (!loaded_) {
    ASSIGN_OR_RETURN(auto raw_head, ctx_.Get(ColumnFamily::kMeta, HeadKey()));
    if (raw_head.has_value() && !head_.ParseFromString(*raw_head)) {
      return absl::DataLossError("audit log head is corrupt");
    }
    loaded_ = true;
  }
  AuditEntry entry;
  entry.set_index(head_.index() + 1);
  entry.set_time_unix_micros(event.time_unix_micros);
  entry.set_principal(event.principal);
  entry.set_device(event.device);
  entry.set_action(event.action);
  entry.set_target(event.target);
  entry.set_result(event.result);
  entry.set_prev_hash(head_.index() == 0 ? GenesisHash() : head_.hash());
  entry.set_hash(AuditEntryHash(entry));
  head_.set_index(entry.index());
  head_.set_hash(entry.hash());
  dirty_ = true;
  ctx_.Put(ColumnFamily::kAudit, EntryKey(entry.index()), Serialize(entry));
  return absl::OkStatus();
}

absl::Status ForEachAuditEntry(Storage& storage, const Snapshot* snapshot, std::uint64_t from,
                               absl::FunctionRef<bool(const AuditEntry&)> visit) {
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(storage.Scan(ColumnFamily::kAudit, KeyRange{EntryKey(from), ""}, snapshot,
                               [&](std::string_view, std::string_view value) {
                                 AuditEntry entry;
                                 if (!entry.ParseFromArray(value.data(),
                                                           static_cast<int>(value.size()))) {
                                   parse = absl::DataLossError("unparseable audit entry");
                                   return false;
                                 }
                                 return visit(entry);
                               }));
  return parse;
}

absl::StatusOr<AuditVerification> VerifyAuditLog(Storage& storage) {
  Snapshot snapshot = storage.GetSnapshot();
  AuditVerification v;
  std::string prev = GenesisHash();
  auto broken = [&](std::uint64_t index, std::string problem) {
    if (v.first_broken == 0) {
      v.first_broken = index;
      v.problem = std::move(problem);
    }
  };
  RETURN_IF_ERROR(storage.Scan(
      ColumnFamily::kAudit, KeyRange{}, &snapshot,
      [&](std::string_view key, std::string_view value) {
        const std::uint64_t expected = v.entries + 1;
        auto reader = KeyReader::Create(key);
        std::uint64_t stored_index = reader.ok() ? reader->ReadUint64().value_or(0) : 0;
        AuditEntry entry;
        if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          broken(expected, "entry cannot be parsed");
          return false;
        }
        if (stored_index != expected || entry.index() != expected) {
          broken(expected, absl::StrCat("expected entry ", expected, ", found ", entry.index(),
                                        " (an entry was deleted or moved)"));
          return false;
        }
        if (entry.prev_hash() != prev) {
          broken(expected, "does not follow the previous entry (edited, reordered or deleted)");
          return false;
        }
        if (AuditEntryHash(entry) != entry.hash()) {
          broken(expected, "content does not match its hash (edited)");
          return false;
        }
        prev = entry.hash();
        ++v.entries;
        return true;
      }));
  if (v.intact()) {
    ASSIGN_OR_RETURN(auto raw_head, storage.Get(ColumnFamily::kMeta, HeadKey(), &snapshot));
    AuditHead head;
    if (raw_head.has_value() && !head.ParseFromString(*raw_head)) {
      broken(v.entries + 1, "audit head is corrupt");
    } else if (head.index() != v.entries || (v.entries > 0 && head.hash() != prev)) {
      broken(v.entries + 1, absl::StrCat("the log ends at entry ", v.entries,
                                         " but its head says ", head.index(),
                                         " (newest entries deleted)"));
    }
  }
  v.head_hash_hex = absl::BytesToHexString(v.entries > 0 ? prev : GenesisHash());
  return v;
}

std::string AuditEntryToJson(const AuditEntry& e) {
  auto quoted = [](const std::string& s) { return JsonString(s); };
  return absl::StrCat("{\"index\":", e.index(), ",\"time_unix_micros\":", e.time_unix_micros(),
                      ",\"principal\":", quoted(e.principal()), ",\"device\":",
                      quoted(e.device()), ",\"action\":", quoted(e.action()),
                      ",\"target\":", quoted(e.target()), ",\"result\":", quoted(e.result()),
                      ",\"prev_hash\":\"", absl::BytesToHexString(e.prev_hash()),
                      "\",\"hash\":\"", absl::BytesToHexString(e.hash()), "\"}");
}

}  // namespace vigil::storage
