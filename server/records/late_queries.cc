// The review desk's reads of late submissions: pending and decided, with
// what each changes against the record's head.
#include <memory>
#include <string>
#include <vector>

#include "base/status_macros.h"
#include "server/auth/field_visibility.h"
#include "server/records/read_audit.h"
#include "server/records/resource_names.h"
#include "server/records/review_queries.h"
#include "server/records/review_reading.h"
#include "sync/body_diff.h"
#include "sync/merge.h"
#include "sync/record_merge.h"

namespace vigil::server {
namespace {

using review::AuditedAnswer;
using review::Binding;
using review::Reading;
using vigil::v1::Record;

// One late submission as the review desk shows it: the held mutation, the
// record's head (redacted for the caller), what it changes, its result and
// etag. Names the record in `sensitive_ids` when it shows sensitive content.
absl::StatusOr<vigil::v1::LateSubmission> ViewOfLate(Reading& reading, std::string_view scope,
                                                     const vigil::v1::Mutation& m,
                                                     std::vector<std::string>& sensitive_ids) {
  SnapshotTables& tables = reading.tables();
  vigil::v1::LateSubmission late;
  late.set_name(LateSubmissionName::Format(scope, m.mutation_id()));
  late.set_visit(std::string(scope));
  *late.mutable_mutation() = m;
  ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                   tables.Mutation(m.mutation_id()));
  if (stored.has_value()) *late.mutable_result() = stored->result();
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(m.record_id()));
  late.set_etag(LateSubmissionEtag(head.has_value() ? &*head : nullptr, late.result()));
  if (m.delete_()) {
    late.add_changed_fields("(deleted)");
  } else {
    for (std::string& f : sync::ChangedFields(head ? head->body() : vigil::v1::RecordBody(),
                                              m.body())) {
      late.add_changed_fields(std::move(f));
    }
  }
  if (head.has_value()) {
    ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(head->scope()));
    auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, head->scope()); };
    ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *head, same_scope));
    if (shown != Visibility::kWithheld) *late.mutable_head() = *std::move(head);
  }
  if (IsSensitive(m.body()) || IsSensitive(late.head().body())) {
    sensitive_ids.push_back(m.record_id());
  }
  return late;
}

}  // namespace

void ReviewQueries::ListLateSubmissions(const Caller& caller, std::string_view visit_id,
                                        const vigil::v1::ListLateSubmissionsRequest& request,
                                        LateDoneFn done) {
  AuditedAnswer<vigil::v1::ListLateSubmissionsResponse>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) {
        return ReadLate(caller, visit_id, request, sensitive_ids);
      },
      std::move(done));
}

void ReviewQueries::GetLateSubmission(const Caller& caller, const LateSubmissionName& name,
                                      GetLateDoneFn done) {
  AuditedAnswer<vigil::v1::LateSubmission>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids) -> absl::StatusOr<vigil::v1::LateSubmission> {
        RETURN_IF_ERROR(AccessPolicy::RequireReviewer(caller));
        Reading reading(*storage_, *keys_, *policy_, caller);
        ASSIGN_OR_RETURN(std::optional<HeldLate> held,
                         reading.tables().Late(name.visit.str(), name.mutation_id));
        if (!held.has_value()) {
          return WithReason(absl::NotFoundError("there is no such late submission"),
                            "RESOURCE_NOT_FOUND", {{"name", name.str()}});
        }
        return ViewOfLate(reading, name.visit.str(), held->mutation, sensitive_ids);
      },
      std::move(done));
}

absl::StatusOr<vigil::v1::ListLateSubmissionsResponse> ReviewQueries::ReadLate(
    const Caller& caller, std::string_view visit_id,
    const vigil::v1::ListLateSubmissionsRequest& request,
    std::vector<std::string>& sensitive_ids) {
  RETURN_IF_ERROR(AccessPolicy::RequireReviewer(caller));
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  std::string scope;
  if (!visit_id.empty()) {
    ASSIGN_OR_RETURN(const sync::Scope visit, sync::Scope::Visit(visit_id));
    scope = visit.str();
  }
  const std::string binding = Binding("ListLateSubmissions", caller, request);
  ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
  Reading reading(*storage_, *keys_, *policy_, caller);
  vigil::v1::ListLateSubmissionsResponse response;
  absl::Status failed;
  std::string last;
  RETURN_IF_ERROR(reading.tables().ScanLate(
      scope, request.decided(), after,
      [&](std::string_view position, std::string_view held_scope, const vigil::v1::Mutation& m) {
        if (static_cast<std::uint32_t>(response.late_submissions_size()) == page_size) {
          response.set_next_page_token(tokens_.SealPageToken(binding, last));
          return false;
        }
        last = std::string(position);
        absl::StatusOr<vigil::v1::LateSubmission> late =
            ViewOfLate(reading, held_scope, m, sensitive_ids);
        failed = late.status();
        if (late.ok()) *response.add_late_submissions() = *std::move(late);
        return failed.ok();
      }));
  RETURN_IF_ERROR(failed);
  return response;
}

}  // namespace vigil::server
