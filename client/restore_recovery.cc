// What a server restored from an older backup lost, sent again from this device.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "client/attachment_copies.h"
#include "client/local_store.h"
#include "client/replica_impl.h"
#include "storage/storage.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::client {

using namespace detail;  // NOLINT: the store's own helpers

absl::Status Replica::Impl::RecoverLost(vigil::v1::SyncService::Stub& stub, const std::string& scope,
                         const SyncOptions& options, SyncReport& report) {
  ASSIGN_OR_RETURN(auto lost, ScanAll<LocalRecord>(sealer_, *db_, LostPrefix(scope)));
  ASSIGN_OR_RETURN(std::optional<std::string> raw_point, db_->Get(kMeta, RestoredKey(scope)));
  std::uint64_t point = 0;
  if (raw_point.has_value() && !absl::SimpleAtoi(*raw_point, &point)) {
    return absl::DataLossError("local store: malformed restore point");
  }
  std::size_t waiting = 0;
  if (!lost.empty()) {
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    for (const auto& [key, old] : lost) {
      absl::StatusOr<bool> settled = RecoverOne(stub, options, report, profile, key, old, point);
      if (!settled.ok() && settled.status().code() == absl::StatusCode::kUnauthenticated) {
        return settled.status();
      }
      if (!settled.ok()) {
        report.scope_errors.emplace_back(
            scope, absl::Status(settled.status().code(),
                                absl::StrCat("record ", old.server().id(),
                                             " (lost in the server's restore, kept on this "
                                             "device): ",
                                             settled.status().message())));
      }
      if (!settled.ok() || !*settled) ++waiting;
    }
  }
  if (waiting == 0 && raw_point.has_value()) {
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                         ctx.Delete(kMeta, RestoredKey(scope));
                         return absl::OkStatus();
                       })
                        .status());
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Replica::Impl::RecoverOne(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                                SyncReport& report, const ClientProfile& profile,
                                const std::string& key, const LocalRecord& old,
                                std::uint64_t point) {
  const Record& held = old.server();
  ASSIGN_OR_RETURN(std::optional<LocalRecord> now,
                   LoadFrom<LocalRecord>(sealer_, *db_, RecordKey(held.id())));
  if (now.has_value() && (now->dirty() || now->queued() > 0)) return false;
  enum class Action { kNothing, kCreate, kEdit } action = Action::kNothing;
  // The revision an edit of it (sent again, or a parked edit made on it)
  // is made on: unset for the server's head, 0 for none (merged as two
  // creates, every difference a conflict).
  std::optional<std::uint64_t> made_on;
  if (!now.has_value()) {
    // Created and deleted after the backup: nothing to bring back.
    action = held.deleted() ? Action::kNothing : Action::kCreate;
  } else {
    const Record& head = now->server();
    const bool same =
        head.updated().mutation_id() == held.updated().mutation_id() ||
        (head.deleted() == held.deleted() &&
         (head.deleted() || sync::SerializeDeterministic(head.body()) ==
                                sync::SerializeDeterministic(held.body())));
    if (same) {
      action = Action::kNothing;
    } else if (head.seq() <= point) {
      action = Action::kEdit;
      made_on = head.revision();
    } else {
      ASSIGN_OR_RETURN(RestoreBase found, RevisionAtRestore(stub, options, report, held, point));
      if (found.held_at.has_value()) {
        made_on = found.held_at;  // not lost after all
      } else {
        made_on = found.kept.has_value() ? found.kept->revision() : 0;
        // Merged here first, as the server would, so that what another
        // tablet already brought back (and was merged with the changes
        // made since) is not sent again.
        Mutation m;
        m.set_mutation_id(held.updated().mutation_id());
        m.set_record_id(held.id());
        m.set_base_revision(*made_on);
        m.set_delete_(held.deleted());
        if (!held.deleted()) *m.mutable_body() = held.body();
        *m.mutable_hlc() = head.updated().hlc();
        absl::StatusOr<sync::ApplyOutcome> merged = sync::ApplyMutation(
            &head, found.kept.has_value() ? &*found.kept : nullptr, m, absl::Now());
        const bool no_op = merged.ok() && merged->conflict_ids.empty() &&
                           merged->record.deleted() == head.deleted() &&
                           sync::SerializeDeterministic(merged->record.body()) ==
                               sync::SerializeDeterministic(head.body());
        action = no_op ? Action::kNothing : Action::kEdit;
      }
    }
  }
  bool moved = false;  // edited or pulled meanwhile: decided again next sync
  std::vector<std::string> requeued;
  RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
                       requeued.clear();
                       ASSIGN_OR_RETURN(std::optional<LocalRecord> again,
                                        LoadIn<LocalRecord>(sealer_, ctx, RecordKey(held.id())));
                       moved = again.has_value() != now.has_value() ||
                               (again.has_value() &&
                                (again->dirty() || again->queued() > 0 ||
                                 again->server().revision() != now->server().revision()));
                       if (moved) return absl::OkStatus();
                       ctx.Delete(kMeta, key);
                       // Sent under the lost edit's own id (unknown to the
                       // restored server), so that every other tablet
                       // holding it finds it in the history again.
                       const std::string& lost_edit = held.updated().mutation_id();
                       if (action == Action::kCreate) {
                         RETURN_IF_ERROR(CreateIn(ctx, profile, old.scope(), held.body(),
                                                  held.id(), lost_edit)
                                             .status());
                       } else if (action == Action::kEdit) {
                         // Also onto a record deleted since: the server keeps
                         // the edit as a delete/edit conflict.
                         RETURN_IF_ERROR(ChangeIn(ctx, profile, held.id(),
                                                  held.deleted() ? nullptr : &held.body(),
                                                  held.deleted(), nullptr, made_on,
                                                  /*onto_deleted=*/true, lost_edit));
                       }
                       // Edits made on the lost revision and refused for it
                       // (pushed before this pull found the restore): chained
                       // on the revision sent again, else made on the one
                       // they were made on.
                       ASSIGN_OR_RETURN(auto parked, ScanIn<ParkedMutation>(sealer_, ctx, kParkPrefix));
                       for (const auto& [parked_key, p] : parked) {
                         const Mutation& edit = p.mutation();
                         if (edit.record_id() != held.id() || !RefusedForLostBase(p)) continue;
                         ASSIGN_OR_RETURN(std::optional<LocalRecord> target,
                                          LoadIn<LocalRecord>(sealer_, ctx, RecordKey(held.id())));
                         if (!target.has_value() || target->deleted()) break;
                         RETURN_IF_ERROR(ChangeIn(ctx, profile, held.id(),
                                                  edit.delete_() ? nullptr : &edit.body(),
                                                  edit.delete_(), nullptr,
                                                  action == Action::kNothing ? made_on
                                                                             : std::nullopt));
                         ctx.Delete(kMeta, parked_key);
                         requeued.push_back(edit.mutation_id());
                       }
                       return absl::OkStatus();
                     })
                      .status());
  if (moved) return false;
  if (action != Action::kNothing) report.recovered.push_back(held.id());
  for (std::string& id : requeued) report.requeued.push_back(std::move(id));
  return true;
}

bool Replica::Impl::RefusedForLostBase(const ParkedMutation& p) {
  return p.kind() == "refused" &&
         (p.reason() == "MUTATION_TARGET_NOT_FOUND" || p.reason() == "BASE_REVISION_IN_FUTURE" ||
          p.reason() == "BASE_MUTATION_UNKNOWN" || p.reason() == "BASE_REVISION_UNKNOWN");
}

absl::StatusOr<Replica::Impl::RestoreBase> Replica::Impl::RevisionAtRestore(vigil::v1::SyncService::Stub& stub,
                                              const SyncOptions& options, SyncReport& report,
                                              const Record& held, std::uint64_t point) {
  vigil::v1::GetHistoryRequest request;
  request.set_record_id(held.id());
  request.set_page_size(1000);
  RestoreBase found;
  const std::string held_body = sync::SerializeDeterministic(held.body());
  while (true) {
    vigil::v1::GetHistoryResponse page;
    RETURN_IF_ERROR(ToAbsl(Retrying(options, report, [&](grpc::ClientContext& ctx) {
      page.Clear();
      return stub.GetHistory(&ctx, request, &page);
    })));
    for (const Record& r : page.revisions()) {
      if (r.updated().mutation_id() == held.updated().mutation_id() ||
          (r.deleted() == held.deleted() &&
           sync::SerializeDeterministic(r.body()) == held_body)) {
        found.held_at = r.revision();
        return found;
      }
      if (r.seq() <= point && (!found.kept.has_value() || r.revision() > found.kept->revision())) {
        found.kept = r;
      }
    }
    if (page.next_page_token().empty()) return found;
    request.set_page_token(page.next_page_token());
  }
}

}  // namespace vigil::client
