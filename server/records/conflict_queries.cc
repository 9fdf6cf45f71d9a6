// The review desk's reads of open conflicts across visits, from the
// conflict index (conflict_index.h), redacted as a pull redacts them.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/auth/field_visibility.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "sync/ids.h"
#include "sync/record_merge.h"

namespace vigil::server {
namespace {

using review::AuditedAnswer;
using review::Binding;
using review::FilterInvalid;
using review::Reading;
using vigil::internal::ConflictRef;
using vigil::v1::Record;

std::string KindName(int number) {
  const google::protobuf::FieldDescriptor* f =
      vigil::v1::RecordBody::descriptor()->FindFieldByNumber(number);
  return f == nullptr ? "" : f->name();
}

// Whether `path` is `filter` or lies under it.
bool UnderPath(std::string_view path, std::string_view filter) {
  if (filter.empty() || path == filter) return true;
  if (path.substr(0, filter.size()) != filter) return false;
  const char next = path[filter.size()];
  return next == '.' || next == '[';
}

// The conflict `ref` names as the caller sees it, with its record when
// `with_record`; nullopt when the caller may not see the record, or the
// record no longer holds it open.
absl::StatusOr<std::optional<vigil::v1::ConflictView>> ViewOf(
    Reading& reading, const ConflictRef& ref, bool with_record,
    std::vector<std::string>& sensitive_ids) {
  ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(ref.scope()));
  if (!grant->read) return std::nullopt;
  SnapshotTables& tables = reading.tables();
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.HeadInScope(ref.record_id(), ref.scope()));
  if (!head.has_value()) return std::nullopt;
  vigil::v1::ConflictView view;
  view.set_etag(RecordEtag(*head));
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, ref.scope()); };
  ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *head, same_scope));
  if (shown == Visibility::kWithheld) return std::nullopt;
  for (const vigil::v1::Conflict& c : head->open_conflicts()) {
    if (c.id() == ref.conflict_id()) *view.mutable_conflict() = c;
  }
  if (!view.has_conflict()) return std::nullopt;
  view.set_name("conflicts/" + ref.conflict_id());
  view.set_visit(ref.scope());
  view.set_record_kind(KindName(ref.record_kind()));
  *view.mutable_opened_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(ref.opened_unix_micros());
  if (IsSensitive(head->body())) sensitive_ids.push_back(head->id());
  if (with_record) *view.mutable_record() = *std::move(head);
  return view;
}

}  // namespace

void ReviewQueries::ListConflicts(const Caller& caller, std::string_view visit_id,
                                  const vigil::v1::ListConflictsRequest& request,
                                  ConflictsDoneFn done) {
  AuditedAnswer<vigil::v1::ListConflictsResponse>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids)
          -> absl::StatusOr<vigil::v1::ListConflictsResponse> {
        ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
        if (!request.facility_id().empty() && !sync::ValidateRecordId(request.facility_id()).ok()) {
          return FilterInvalid("facility_id", "not a record id");
        }
        ASSIGN_OR_RETURN(const google::protobuf::FieldDescriptor* kind,
                         review::RecordKindFilter(request.record_kind()));
        const std::int64_t before =
            request.has_opened_before()
                ? google::protobuf::util::TimeUtil::TimestampToMicroseconds(request.opened_before())
                : 0;
        const std::string binding = Binding("ListConflicts", caller, request);
        ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
        Reading reading(*storage_, *keys_, *policy_, caller);
        RETURN_IF_ERROR(reading.RequireParent(visit_id));
        std::map<std::string, std::string> facility_of;  // visit id -> facility id
        vigil::v1::ListConflictsResponse response;
        auto take = [&](const ConflictRef& ref) -> absl::StatusOr<bool> {
          if (kind != nullptr && ref.record_kind() != kind->number()) return false;
          if (!UnderPath(ref.field_path(), request.field_path())) return false;
          if (before != 0 && ref.opened_unix_micros() >= before) return false;
          if (!request.facility_id().empty()) {
            const std::string visit(sync::VisitIdOf(ref.scope()));
            auto it = facility_of.find(visit);
            if (it == facility_of.end()) {
              ASSIGN_OR_RETURN(auto summary, reading.index().Summary(visit));
              it = facility_of.emplace(visit, summary ? summary->facility_id() : "").first;
            }
            if (it->second != request.facility_id()) return false;
          }
          ASSIGN_OR_RETURN(auto view, ViewOf(reading, ref, false, sensitive_ids));
          if (!view.has_value()) return false;
          *response.add_conflicts() = *std::move(view);
          return true;
        };
        ASSIGN_OR_RETURN(
            const std::string next,
            review::ScanPage<ConflictRef>(
                [&](auto visit) { return reading.conflicts().Scan(visit_id, after, visit); },
                page_size, options_.max_examined_per_page,
                [&] { return static_cast<std::uint32_t>(response.conflicts_size()); }, take));
        if (!next.empty()) response.set_next_page_token(tokens_.SealPageToken(binding, next));
        return response;
      },
      std::move(done));
}

void ReviewQueries::GetConflict(const Caller& caller, std::string_view conflict_id,
                                ConflictDoneFn done) {
  AuditedAnswer<vigil::v1::ConflictView>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) -> absl::StatusOr<vigil::v1::ConflictView> {
        Reading reading(*storage_, *keys_, *policy_, caller);
        ASSIGN_OR_RETURN(std::optional<ConflictRef> ref, reading.conflicts().Get(conflict_id));
        std::optional<vigil::v1::ConflictView> view;
        if (ref.has_value()) {
          ASSIGN_OR_RETURN(view, ViewOf(reading, *ref, true, sensitive_ids));
        }
        if (!view.has_value()) {
          return Absent(caller, "open conflict",
                        absl::StrCat("conflicts/", std::string(conflict_id)));
        }
        return *std::move(view);
      },
      std::move(done));
}

}  // namespace vigil::server
