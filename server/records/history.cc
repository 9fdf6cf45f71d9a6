// Record history: every revision a caller may see, oldest first, in pages.
#include "absl/strings/numbers.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/read_audit.h"
#include "server/records/record_store.h"
#include "server/records/tables.h"
#include "sync/ids.h"

namespace vigil::server {

using vigil::v1::Record;

void RecordStore::History(const Caller& caller, const vigil::v1::GetHistoryRequest& request,
                          HistoryDoneFn done) {
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<vigil::v1::GetHistoryResponse> page =
      ReadHistory(caller, request, sensitive_ids);
  if (!page.ok()) return done(page.status());
  AuditReads(*storage_, caller, std::move(sensitive_ids),
             [page = std::move(*page), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(page));
             });
}

absl::StatusOr<vigil::v1::GetHistoryResponse> RecordStore::ReadHistory(
    const Caller& caller, const vigil::v1::GetHistoryRequest& request,
    std::vector<std::string>& sensitive_ids) {
  if (absl::Status s = sync::ValidateRecordId(request.record_id()); !s.ok()) {
    return WithReason(s, "RECORD_ID_INVALID", {{"record_id", request.record_id()}});
  }
  std::uint64_t from = 1;
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &from) || from == 0)) {
    return WithReason(absl::InvalidArgumentError("page_token is malformed"), "PAGE_TOKEN_INVALID");
  }
  const std::uint32_t page =
      request.page_size() == 0 ? 100 : std::min<std::uint32_t>(request.page_size(), 1000);
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  SnapshotTables tables(*storage_, snapshot, *keys_);
  ASSIGN_OR_RETURN(std::optional<Record> found, tables.Head(request.record_id()));
  if (!found.has_value()) {
    // Only a caller who could read it anywhere learns that it does not exist.
    if (!AccessPolicy::MayLearnOfAbsence(caller)) return AccessPolicy::Denied();
    return WithReason(absl::NotFoundError("no such record"), "RECORD_NOT_FOUND",
                      {{"record_id", request.record_id()}});
  }
  Record& head = *found;
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->RequireRead(caller, head.scope(), tables.view()));
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, head.scope()); };
  // A withheld record is withheld with all its history; otherwise each
  // revision is shown as it itself may be seen (an attachment once marked
  // identifiable, a visit once an unannounced plan), and a revision the
  // caller may not see at all is left out.
  ASSIGN_OR_RETURN(Visibility visibility, VisibilityOf(grant, head, same_scope));
  if (visibility == Visibility::kWithheld) return AccessPolicy::Denied();
  // History holds revisions 1..head-1; the head is the last one.
  vigil::v1::GetHistoryResponse response;
  absl::Status decoded;
  std::size_t bytes = 0;
  std::uint32_t read = 0;       // revisions read for this page, shown or not
  std::uint64_t last_read = 0;  // the newest of them
  bool full = false;            // the byte budget ended the page
  RETURN_IF_ERROR(tables.ScanHistory(
      request.record_id(), from, head.revision(),
      [&](absl::StatusOr<Record> record, std::size_t size) {
        if (read == page) return false;
        if (bytes >= options_.max_pull_bytes) {
          full = true;
          return false;
        }
        bytes += size;
        if (!record.ok()) {
          decoded = record.status();
          return false;
        }
        ++read;
        last_read = record->revision();
        absl::StatusOr<Visibility> shown = Redact(grant, *record, same_scope);
        if (!shown.ok()) {
          decoded = shown.status();
          return false;
        }
        if (*shown != Visibility::kWithheld) *response.add_revisions() = std::move(*record);
        return true;
      }));
  RETURN_IF_ERROR(decoded);
  RETURN_IF_ERROR(Redact(grant, head, same_scope).status());
  // Audited as read whether or not this page reaches the head.
  if (IsSensitive(head.body())) sensitive_ids.push_back(head.id());
  if (!full && read < page && from <= head.revision()) {
    *response.add_revisions() = std::move(head);
  } else if (last_read > 0 && last_read < head.revision()) {
    response.set_next_page_token(std::to_string(last_read + 1));
  }
  return response;
}

}  // namespace vigil::server
