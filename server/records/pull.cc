// Pull: a page of a scope's change feed as the caller may see it, and scope
// walks for receipts.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/records/read_audit.h"
#include "server/records/record_store.h"
#include "server/records/stored_value.h"
#include "server/records/tables.h"
#include "storage/audit_log.h"
#include "sync/merge.h"

namespace vigil::server {
namespace {

using google::protobuf::internal::WireFormatLite;
using vigil::v1::PullResponse;
using vigil::v1::Record;

// A PullResponse is assembled field by field from the stored record bytes
// (a Record is stored as its deterministic serialization, so it goes out as
// it is, without a parse and a second serialization), in field-number
// order, as the generated serializer writes it.
void AppendBytesField(std::string& out, int field, std::string_view bytes) {
  std::uint8_t header[10];
  std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<std::uint32_t>(bytes.size()), end);
  out.append(reinterpret_cast<const char*>(header), end - header);
  out.append(bytes);
}

void AppendTrueField(std::string& out, int field) {
  std::uint8_t header[6];
  std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT), header);
  *end++ = 1;
  out.append(reinterpret_cast<const char*>(header), end - header);
}

}  // namespace

absl::Status RecordStore::CursorInvalid(std::string_view scope,
                                        std::string_view message) const {
  const absl::Status invalid = absl::InvalidArgumentError(std::string(message));
  const std::string scope_text(scope);
  if (!restored_at_.has_value()) {
    return WithReason(invalid, "CURSOR_INVALID", {{"scope", scope_text}});
  }
  const std::string point = std::to_string(*restored_at_);
  return WithReason(invalid, "CURSOR_INVALID", {{"scope", scope_text}, {"restored_at_seq", point}});
}

absl::StatusOr<std::uint64_t> RecordStore::ForEachInScope(
    const Caller& caller, const sync::Scope& scope,
    absl::FunctionRef<void(const Record&)> visit) {
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  SnapshotTables tables(*storage_, snapshot, *keys_);
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->RequireRead(caller, scope.str(), tables.view()));
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, scope.str()); };
  std::vector<std::string> ids;
  RETURN_IF_ERROR(tables.ScanChanges(scope.str(), 0, [&](std::uint64_t, std::string_view id) {
    ids.emplace_back(id);
    return true;
  }));
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<Record> record, tables.Head(id));
    if (!record.has_value()) return absl::DataLossError(absl::StrCat("change of missing record ", id));
    ASSIGN_OR_RETURN(Visibility visibility, Redact(grant, *record, same_scope));
    if (visibility != Visibility::kWithheld) visit(*record);
  }
  return snapshot.seq();
}

void RecordStore::Pull(const Caller& caller, const vigil::v1::PullRequest& request,
                       PullDoneFn done) {
  absl::StatusOr<sync::Scope> scope = sync::Scope::Parse(request.scope());
  if (!scope.ok()) return done(scope.status());
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<std::string> page = ReadPage(caller, *scope, request, sensitive_ids);
  if (!page.ok()) return done(page.status());
  // Sensitive content leaves the server only once its read is in the audit log.
  AuditReads(*storage_, caller, std::move(sensitive_ids),
             [page = std::move(*page), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(page));
             });
}

absl::StatusOr<std::string> RecordStore::ReadPage(const Caller& caller, const sync::Scope& scope,
                                                  const vigil::v1::PullRequest& request,
                                                  std::vector<std::string>& sensitive_ids) {
  // Rights and records are read at one snapshot.
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  SnapshotTables tables(*storage_, snapshot, *keys_);
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->Grant(caller, scope.str(), tables.view()));
  std::string out;
  if (grant.purge) {
    AppendTrueField(out, PullResponse::kPurgeFieldNumber);
    return out;
  }
  if (!grant.read) return AccessPolicy::Denied();
  const std::optional<CursorPosition> position = cursors_.Decode(scope.str(), request.cursor());
  if (!position.has_value()) {
    return CursorInvalid(scope.str(),
                         "cursor is malformed, was altered, or belongs to another scope or "
                         "server: pull this scope from the beginning");
  }
  std::uint64_t after = position->seq;
  // The caller's view changed since the cursor (another team role, a
  // reviewer's rights): the records it holds were shaped for the old view,
  // so the scope starts again from the beginning, and the page says so.
  // So does a move of the caller's view epoch (an interview gained or lost
  // them as interviewer; a record services saw is withheld from them now).
  const std::uint8_t view = ViewOf(grant);
  ASSIGN_OR_RETURN(const std::uint64_t epoch,
                   tables.ViewEpoch(scope.str(), grant.service ? kServicesPrincipal
                                                               : std::string_view(grant.user_id)));
  const bool reset = after > 0 && (position->view != view || position->epoch != epoch);
  if (reset) after = 0;
  std::uint32_t limit = request.limit() == 0 ? options_.default_pull_limit : request.limit();
  limit = std::min(limit, options_.max_pull_limit);
  if (after > snapshot.seq()) {
    // Only a database restored to an earlier point (with its cursor key)
    // can be behind a cursor it issued; restore also replaces that key, so
    // this is a second line of defence against silently skipping changes.
    return CursorInvalid(scope.str(),
                         "cursor is ahead of this server's data: pull this scope from the "
                         "beginning");
  }
  std::vector<std::pair<std::uint64_t, std::string>> changed;
  RETURN_IF_ERROR(tables.ScanChanges(scope.str(), after, [&](std::uint64_t seq, std::string_view id) {
    changed.emplace_back(seq, std::string(id));
    return changed.size() <= limit;
  }));
  bool has_more = changed.size() > limit;
  if (has_more) changed.resize(limit);
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, scope.str()); };
  // One allocation for the page (growing a megabyte string copies it).
  out.reserve(options_.max_pull_bytes + (256 << 10));
  std::uint64_t last = after;
  // Appends the record of change `i`, stored as `raw`, as the caller may see
  // it. Only records that some callers see in part are parsed and redacted.
  auto append = [&](std::size_t i, std::optional<std::string_view> raw) -> absl::Status {
    const auto& [seq, id] = changed[i];
    if (!raw.has_value() || raw->empty()) {
      return absl::DataLossError(absl::StrCat("change of missing record ", id));
    }
    last = seq;
    // A record that looks the same to this caller as stored goes out as it
    // is (AccessPolicy's MayRedact decides, by kind).
    if (!IsSealed(*raw) && !MayRedact(grant, RecordBodyKindOf(PlainBytes(*raw)))) {
      AppendBytesField(out, PullResponse::kRecordsFieldNumber, PlainBytes(*raw));
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(Record record, tables.DecodeHead(id, *raw));
    ASSIGN_OR_RETURN(Visibility visibility, Redact(grant, record, same_scope));
    if (visibility == Visibility::kWithheld) return absl::OkStatus();
    if (IsSensitive(record.body())) sensitive_ids.push_back(record.id());
    AppendBytesField(out, PullResponse::kRecordsFieldNumber, sync::SerializeDeterministic(record));
    return absl::OkStatus();
  };
  // Records are read in batched lookups of a few hundred keys, and copied
  // from the storage's buffers straight into the page.
  constexpr std::size_t kLookupBatch = 256;
  std::vector<std::string> ids;
  absl::Status failed;
  bool full = false;
  for (std::size_t begin = 0; begin < changed.size() && !full; begin += kLookupBatch) {
    const std::size_t end = std::min(changed.size(), begin + kLookupBatch);
    ids.clear();
    for (std::size_t j = begin; j < end; ++j) ids.push_back(changed[j].second);
    RETURN_IF_ERROR(tables.HeadValues(ids, [&](std::size_t k, std::optional<std::string_view> raw) {
      failed = append(begin + k, raw);
      if (!failed.ok()) return false;
      // Pages also stop at a byte budget (after at least one record), so
      // that a page always fits a client's default 4 MiB message limit.
      if (out.size() >= options_.max_pull_bytes && begin + k + 1 < changed.size()) {
        full = true;
        has_more = true;
        return false;
      }
      return true;
    }));
    RETURN_IF_ERROR(failed);
  }
  AppendBytesField(out, PullResponse::kNextCursorFieldNumber,
                   cursors_.Encode(scope.str(), CursorPosition{last, view, epoch}));
  if (has_more) AppendTrueField(out, PullResponse::kHasMoreFieldNumber);
  if (reset) AppendTrueField(out, PullResponse::kResetFieldNumber);
  return out;
}

}  // namespace vigil::server
