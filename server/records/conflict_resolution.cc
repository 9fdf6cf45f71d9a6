// Resolving an open conflict from the review desk: an ordinary edit of its
// record, with the reason kept as a Comment beside it.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/conflict_index.h"
#include "server/records/etag.h"
#include "server/records/record_store.h"
#include "server/records/resource_names.h"
#include "server/records/request_ids.h"
#include "sync/conflict_sides.h"
#include "sync/ids.h"

namespace vigil::server {
namespace {

using vigil::v1::Record;

absl::Status CheckResolve(const RecordStore::ResolveRequest& request) {
  RETURN_IF_ERROR(CheckRequestId(request.request_id));
  if (request.reason.empty()) {
    return WithReason(absl::InvalidArgumentError("a resolution needs a reason: the team reads it"),
                      "REASON_REQUIRED");
  }
  if (request.take.has_value() == request.body.has_value()) {
    return WithReason(absl::InvalidArgumentError("give either a side to take or a new body"),
                      "RESOLUTION_INVALID");
  }
  return absl::OkStatus();
}

// The open conflict and its record's head, as this commit holds them.
struct Target {
  Record head;
  vigil::v1::Conflict conflict;
};

absl::StatusOr<Target> FindOpen(CommitTables& tables, const AccessPolicy& policy,
                                const Caller& caller, std::string_view conflict_id) {
  auto absent = [&]() {
    return Absent(caller, "open conflict", absl::StrCat("conflicts/", std::string(conflict_id)));
  };
  ASSIGN_OR_RETURN(std::optional<vigil::internal::ConflictRef> ref,
                   LookupConflict(tables.context(), conflict_id));
  if (!ref.has_value()) return absent();
  RETURN_IF_ERROR(policy.RequireRead(caller, ref->scope(), tables.context()).status());
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.HeadInScope(ref->record_id(), ref->scope()));
  if (!head.has_value()) return absent();
  for (const vigil::v1::Conflict& c : head->open_conflicts()) {
    if (c.id() == conflict_id) return Target{*std::move(head), c};
  }
  return absent();
}

}  // namespace

void RecordStore::ResolveConflict(const Caller& caller, ResolveRequest request,
                                  ResolveDoneFn done) {
  if (absl::Status s = CheckResolve(request); !s.ok()) return done(s);
  absl::StatusOr<std::string> comment_id = sync::DerivedId(request.request_id, "comment");
  absl::StatusOr<std::string> comment_mutation = sync::DerivedId(request.request_id, "comment-edit");
  if (!comment_id.ok() || !comment_mutation.ok()) return done(comment_id.status());
  auto resolved = std::make_shared<Resolved>();
  resolved->comment_id = *comment_id;
  CommitPush(
      caller,
      [this, caller, request = std::move(request), resolved,
       comment_mutation = *comment_mutation](CommitTables& tables,
                                             PushBatch& batch) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.request_id));
        if (stored.has_value()) {
          if (stored->device_id() != caller.device) return AccessPolicy::Denied();
          resolved->result = stored->result();
          resolved->result.set_duplicate(true);
          resolved->record_id = stored->result().record_id();
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(Target target, FindOpen(tables, *policy_, caller, request.conflict_id));
        const Record& head = target.head;
        if (!request.etag.empty() && request.etag != RecordEtag(head)) {
          return WithReason(absl::AbortedError("the record changed since you read it: read the "
                                               "conflict again, then resolve it"),
                            "ETAG_MISMATCH", {{"etag", RecordEtag(head)}});
        }
        vigil::v1::PushRequest push;
        vigil::v1::Mutation& m = *push.add_mutations();
        m.set_mutation_id(request.request_id);
        m.set_record_id(head.id());
        m.set_base_revision(head.revision());
        m.set_base_edit_id(head.updated().mutation_id());
        if (request.take.has_value()) {
          bool deletes = false;
          absl::StatusOr<vigil::v1::RecordBody> body = sync::TakeSide(
              head.body(), target.conflict, static_cast<int>(*request.take), &deletes);
          if (!body.ok()) {
            return WithReason(absl::InvalidArgumentError(body.status().message()),
                              "RESOLUTION_INVALID");
          }
          *m.mutable_body() = *std::move(body);
          m.set_delete_(deletes);
        } else {
          *m.mutable_body() = *request.body;
        }
        m.add_resolves_conflict_ids(target.conflict.id());
        m.set_author(caller.principal);
        m.set_device_id(caller.device);
        *m.mutable_hlc() = clock_.Now(absl::Now());
        vigil::v1::Mutation& note = *push.add_mutations();
        note.set_mutation_id(comment_mutation);
        note.set_record_id(resolved->comment_id);
        note.set_scope(head.scope());
        vigil::v1::Comment& comment = *note.mutable_body()->mutable_comment();
        comment.set_subject_record_id(head.id());
        comment.set_subject_field_path(target.conflict.field_path());
        comment.set_text(absl::StrCat("Conflict resolved (",
                                      request.take.has_value()
                                          ? absl::StrCat("took side ", *request.take)
                                          : std::string("new value"),
                                      "): ", request.reason));
        note.set_author(caller.principal);
        note.set_device_id(caller.device);
        *note.mutable_hlc() = clock_.Now(absl::Now());
        vigil::v1::PushResponse response;
        RETURN_IF_ERROR(batch.Apply(push, response));
        resolved->result = response.results(0);
        resolved->record_id = head.id();
        return absl::OkStatus();
      },
      [resolved, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*resolved);
      });
}

}  // namespace vigil::server
