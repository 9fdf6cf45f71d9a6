// A reviewer's check of a parallel update (parallel_updates.h).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "server/records/etag.h"
#include "server/records/parallel_updates.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "server/records/resource_names.h"
#include "storage/audit_log.h"
#include "sync/ids.h"

namespace vigil::server {

void RecordStore::CheckParallelUpdate(const Caller& caller, ParallelCheckRequest request,
                                      CheckDoneFn done) {
  if (absl::Status s = AccessPolicy::RequireReviewer(caller); !s.ok()) return done(s);
  if (absl::Status s = CheckRequestId(request.request_id); !s.ok()) return done(s);
  storage_->Submit(
      [this, caller, request = std::move(request)](storage::CommitContext& ctx) -> absl::Status {
        CommitTables tables(ctx, *keys_);
        const std::string fingerprint =
            Sha256::Of(absl::StrCat("parallel.check\n", request.id)).substr(0, 16);
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(request.request_id));
        if (stored.has_value()) {
          if (stored->device_id() != caller.device || stored->fingerprint() != fingerprint) {
            return RequestIdReused(request.request_id);
          }
          return absl::OkStatus();  // a retry: checked by its first attempt
        }
        ASSIGN_OR_RETURN(std::optional<vigil::internal::ParallelUpdateEntry> before,
                         LookupParallelUpdate(ctx, request.id));
        if (!before.has_value()) {
          return WithReason(absl::NotFoundError("there is no such parallel update"),
                            "RESOURCE_NOT_FOUND", {{"name", ParallelUpdateName(request.id)}});
        }
        const std::string etag = ParallelUpdateEtag(before->id(), before->checked_by_user_id());
        if (!request.etag.empty() && request.etag != etag) {
          return WithReason(absl::AbortedError("the parallel update changed since you read it: "
                                               "read it again"),
                            "ETAG_MISMATCH", {{"etag", etag}});
        }
        if (!before->checked_by_user_id().empty()) {
          return WithReason(absl::FailedPreconditionError("another reviewer checked it already"),
                            "PARALLEL_UPDATE_CHECKED",
                            {{"checked_by", before->checked_by_user_id()}});
        }
        vigil::internal::ParallelUpdateEntry after = *before;
        after.set_checked_by_user_id(caller.principal);
        after.set_checked_unix_micros(absl::ToUnixMicros(absl::Now()));
        RETURN_IF_ERROR(PutParallelUpdate(ctx, before, after));
        vigil::internal::StoredMutation result;
        result.mutable_result()->set_mutation_id(request.request_id);
        result.mutable_result()->set_record_id(before->record_id());
        result.set_device_id(caller.device);
        result.set_fingerprint(fingerprint);
        tables.PutMutation(request.request_id, result, /*sensitive=*/false);
        return storage::AppendAudit(
            ctx, AuditOf(caller, "parallel_update.checked", ParallelUpdateName(request.id)));
      },
      [done = std::move(done)](absl::StatusOr<storage::CommitResult> committed) mutable {
        done(committed.status());
      });
}

}  // namespace vigil::server
