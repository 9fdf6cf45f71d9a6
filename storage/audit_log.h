// The hash-chained audit log. Entries are appended inside a commit's
// PrepareFn, so an entry is durable in the same atomic batch as the write it
// records, and never without it. Each entry's hash covers the previous
// entry's hash, so editing, deleting or reordering any entry (or dropping the
// newest ones) breaks the chain where it happened.
//
// The chain proves integrity against edits through anything but a full
// rewrite of the log; record the head hash that verification prints outside
// the server (e.g. in the NPM's records) to anchor it.
#ifndef VIGIL_STORAGE_AUDIT_LOG_H_
#define VIGIL_STORAGE_AUDIT_LOG_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "vigil/internal/storage_values.pb.h"

namespace vigil::storage {

struct AuditEvent {
  std::int64_t time_unix_micros = 0;
  std::string principal;
  std::string device;
  std::string action;
  std::string target;
  std::string result = "ok";
};

// Appends `event` to the log within the calling request's batch.
absl::Status AppendAudit(CommitContext& ctx, const AuditEvent& event);

// Appends several entries within one request, reading the log's head once
// and writing it once (when destroyed), where AppendAudit reads and rewrites
// it for every entry. While one is alive, the request appends only through
// it.
class AuditAppender {
 public:
  explicit AuditAppender(CommitContext& ctx) : ctx_(ctx) {}
  AuditAppender(const AuditAppender&) = delete;
  AuditAppender& operator=(const AuditAppender&) = delete;
  ~AuditAppender();

  absl::Status Append(const AuditEvent& event);

 private:
  CommitContext& ctx_;
  bool loaded_ = false;
  bool dirty_ = false;
  vigil::internal::AuditHead head_;
};

struct AuditVerification {
  std::uint64_t entries = 0;        // entries checked
  std::string head_hash_hex;        // hash of the newest entry
  std::uint64_t first_broken = 0;   // 0 when the chain is intact
  std::string problem;              // what is wrong at first_broken
  bool intact() const { return first_broken == 0; }
};

// Walks the whole log at one snapshot. A broken chain is a result, not an
// error; errors are I/O failures.
absl::StatusOr<AuditVerification> VerifyAuditLog(Storage& storage);

// Visits the entries from index `from` on, in order, at `snapshot` (latest
// state when null), until `visit` returns false.
absl::Status ForEachAuditEntry(
    Storage& storage, const Snapshot* snapshot, std::uint64_t from,
    absl::FunctionRef<bool(const vigil::internal::AuditEntry&)> visit);

// SHA-256(prev_hash || entry serialized deterministically without its hash).
std::string AuditEntryHash(const vigil::internal::AuditEntry& entry);

// One entry as a JSON object on one line (hashes in hex).
std::string AuditEntryToJson(const vigil::internal::AuditEntry& entry);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_AUDIT_LOG_H_
