// The review desk's reads of parallel updates (parallel_updates.h): each
// with the versions it combined, read from the record's history and
// redacted as a pull redacts them.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/auth/field_visibility.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "sync/body_diff.h"
#include "sync/record_merge.h"

namespace vigil::server {
namespace {

using google::protobuf::util::TimeUtil;
using review::AuditedAnswer;
using review::Binding;
using review::Reading;
using vigil::internal::ParallelUpdateEntry;
using vigil::v1::Record;

// The parallel update `e` as the caller sees it, with the records it
// combined when `with_records` (else only their edits and changed fields);
// nullopt when the caller may not see its record.
absl::StatusOr<std::optional<vigil::v1::ParallelUpdate>> ViewOf(
    Reading& reading, const ParallelUpdateEntry& e, bool with_records,
    std::vector<std::string>& sensitive_ids) {
  ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(e.scope()));
  if (!grant->read) return std::nullopt;
  SnapshotTables& tables = reading.tables();
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.HeadInScope(e.record_id(), e.scope()));
  if (!head.has_value()) return std::nullopt;
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, e.scope()); };
  // Each side redacted for the caller, as a pull would show that revision.
  auto shown = [&](Record r) -> absl::StatusOr<std::optional<Record>> {
    ASSIGN_OR_RETURN(Visibility v, Redact(*grant, r, same_scope));
    if (v == Visibility::kWithheld) return std::nullopt;
    return r;
  };
  ASSIGN_OR_RETURN(std::optional<Record> now, shown(*head));
  if (!now.has_value()) return std::nullopt;

  std::optional<Record> base;
  if (e.base_revision() > 0) {
    ASSIGN_OR_RETURN(Record r, tables.Revision(*head, e.base_revision()));
    ASSIGN_OR_RETURN(base, shown(std::move(r)));
  }
  ASSIGN_OR_RETURN(Record theirs_raw, tables.Revision(*head, e.theirs_revision()));
  ASSIGN_OR_RETURN(Record merged_raw, tables.Revision(*head, e.merged_revision()));
  // The merged edit as its device pushed it (kept with its result when the
  // merge differs from it).
  Record ours_raw = merged_raw;
  ours_raw.set_revision(0);
  ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored, tables.Mutation(e.id()));
  if (stored.has_value() && stored->has_pushed_body()) {
    *ours_raw.mutable_body() = stored->pushed_body();
  }
  ASSIGN_OR_RETURN(std::optional<Record> theirs, shown(std::move(theirs_raw)));
  ASSIGN_OR_RETURN(std::optional<Record> ours, shown(std::move(ours_raw)));
  ASSIGN_OR_RETURN(std::optional<Record> merged, shown(std::move(merged_raw)));
  if (!theirs.has_value() || !ours.has_value() || !merged.has_value()) return std::nullopt;

  vigil::v1::ParallelUpdate view;
  view.set_name(ParallelUpdateName(e.id()));
  view.set_visit(e.scope());
  view.set_record(absl::StrCat("records/", e.record_id()));
  const google::protobuf::FieldDescriptor* kind =
      vigil::v1::RecordBody::descriptor()->FindFieldByNumber(e.record_kind());
  view.set_record_kind(kind == nullptr ? "" : kind->name());
  *view.mutable_merged_at() = TimeUtil::MicrosecondsToTimestamp(e.merged_unix_micros());
  view.set_checked(!e.checked_by_user_id().empty());
  view.set_checked_by_user_id(e.checked_by_user_id());
  if (view.checked()) {
    *view.mutable_checked_at() = TimeUtil::MicrosecondsToTimestamp(e.checked_unix_micros());
  }
  view.set_etag(ParallelUpdateEtag(e.id(), e.checked_by_user_id()));

  const vigil::v1::RecordBody& base_body = base ? base->body() : vigil::v1::RecordBody();
  vigil::v1::ParallelVersion& stood = *view.add_versions();
  absl::Status read;
  RETURN_IF_ERROR(tables.ScanHistory(e.record_id(), e.base_revision() + 1, e.theirs_revision() + 1,
                                     [&](absl::StatusOr<Record> r, std::size_t) {
                                       read = r.status();
                                       if (r.ok()) *stood.add_edits() = r->updated();
                                       return read.ok();
                                     }));
  RETURN_IF_ERROR(read);
  for (std::string& f : sync::ChangedFields(base_body, theirs->body())) {
    stood.add_changed_fields(std::move(f));
  }
  vigil::v1::ParallelVersion& edit = *view.add_versions();
  *edit.add_edits() = merged->updated();
  for (std::string& f : sync::ChangedFields(base_body, ours->body())) {
    edit.add_changed_fields(std::move(f));
  }
  if (with_records) {
    if (IsSensitive(head->body())) sensitive_ids.push_back(head->id());
    if (base.has_value()) *view.mutable_base() = *std::move(base);
    *stood.mutable_record() = *std::move(theirs);
    *edit.mutable_record() = *std::move(ours);
    *view.mutable_merged() = *std::move(merged);
  }
  return view;
}

}  // namespace

void ReviewQueries::ListParallelUpdates(const Caller& caller, std::string_view visit_id,
                                        const vigil::v1::ListParallelUpdatesRequest& request,
                                        ParallelUpdatesDoneFn done) {
  AuditedAnswer<vigil::v1::ListParallelUpdatesResponse>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids)
          -> absl::StatusOr<vigil::v1::ListParallelUpdatesResponse> {
        ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
        ASSIGN_OR_RETURN(const google::protobuf::FieldDescriptor* kind,
                         review::RecordKindFilter(request.record_kind()));
        const std::string binding = Binding("ListParallelUpdates", caller, request);
        ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
        Reading reading(*storage_, *keys_, *policy_, caller);
        RETURN_IF_ERROR(reading.RequireParent(visit_id));
        vigil::v1::ListParallelUpdatesResponse response;
        auto take = [&](const ParallelUpdateEntry& e) -> absl::StatusOr<bool> {
          if (kind != nullptr && e.record_kind() != kind->number()) return false;
          ASSIGN_OR_RETURN(auto view, ViewOf(reading, e, false, sensitive_ids));
          if (!view.has_value()) return false;
          *response.add_parallel_updates() = *std::move(view);
          return true;
        };
        ASSIGN_OR_RETURN(
            const std::string next,
            review::ScanPage<ParallelUpdateEntry>(
                [&](auto visit) {
                  return reading.parallel().Scan(visit_id, request.checked(), after, visit);
                },
                page_size, options_.max_examined_per_page,
                [&] { return static_cast<std::uint32_t>(response.parallel_updates_size()); },
                take));
        if (!next.empty()) response.set_next_page_token(tokens_.SealPageToken(binding, next));
        return response;
      },
      std::move(done));
}

void ReviewQueries::GetParallelUpdate(const Caller& caller, std::string_view id,
                                      ParallelUpdateDoneFn done) {
  AuditedAnswer<vigil::v1::ParallelUpdate>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) -> absl::StatusOr<vigil::v1::ParallelUpdate> {
        Reading reading(*storage_, *keys_, *policy_, caller);
        ASSIGN_OR_RETURN(std::optional<ParallelUpdateEntry> entry, reading.parallel().Get(id));
        std::optional<vigil::v1::ParallelUpdate> view;
        if (entry.has_value()) {
          ASSIGN_OR_RETURN(view, ViewOf(reading, *entry, true, sensitive_ids));
        }
        if (!view.has_value()) return Absent(caller, "parallel update", ParallelUpdateName(id));
        return *std::move(view);
      },
      std::move(done));
}

}  // namespace vigil::server
