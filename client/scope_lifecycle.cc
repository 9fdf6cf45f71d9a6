// Purge (taken off a team) and forget (done with a visit) of a scope.
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

absl::Status Replica::Impl::Purge(const std::string& scope, SyncReport& report) {
  ASSIGN_OR_RETURN(auto outbox, ScanAll<OutboxEntry>(sealer_, *db_, kOutboxPrefix));
  ASSIGN_OR_RETURN(auto parked, ScanAll<ParkedMutation>(sealer_, *db_, kParkPrefix));
  ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, kUploadPrefix));
  ASSIGN_OR_RETURN(const std::vector<std::string> ids, IdsInScope(scope, ScanOf(*db_)));
  std::set<std::string> in_scope(ids.begin(), ids.end());
  std::vector<ParkedMutation> discarded;
  std::vector<std::string> blobs;
  RETURN_IF_ERROR(
      db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
           discarded.clear();
           blobs.clear();
           // What could not be sent is discarded, and said so; its content
           // does not stay on a device that lost the right to it.
           auto discard = [&](const std::string& mutation_id, const std::string& record_id,
                              std::string message) -> absl::Status {
             ParkedMutation p;
             p.mutable_mutation()->set_mutation_id(mutation_id);
             p.mutable_mutation()->set_record_id(record_id);
             p.mutable_mutation()->set_scope(scope);
             p.set_kind("purged");
             p.set_message(std::move(message));
             absl::Status counter = absl::OkStatus();
             const std::uint64_t n = NextCounter(ctx, kParkSeqKey, &counter);
             RETURN_IF_ERROR(counter);
             Store(sealer_, ctx, ParkKey(n), p);
             discarded.push_back(std::move(p));
             return absl::OkStatus();
           };
           for (const auto& [key, entry] : outbox) {
             const Mutation& m = entry.mutation();
             if (!in_scope.count(m.record_id()) && m.scope() != scope) continue;
             ctx.Delete(kMeta, key);
             RETURN_IF_ERROR(discard(m.mutation_id(), m.record_id(),
                                     absl::StrCat("not sent: this device may no longer write ",
                                                  scope)));
           }
           // Revisions the server lost in a restore, not yet sent again.
           ASSIGN_OR_RETURN(auto lost, ScanIn<LocalRecord>(sealer_, ctx, LostPrefix(scope)));
           for (const auto& [key, old] : lost) {
             RETURN_IF_ERROR(discard(
                 old.server().updated().mutation_id(), old.server().id(),
                 absl::StrCat("revision ", old.server().revision(),
                              " lost in the server's restore was not sent again: this device "
                              "may no longer write ",
                              scope)));
           }
           for (auto [key, p] : parked) {
             if (!in_scope.count(p.mutation().record_id()) && p.mutation().scope() != scope) {
               continue;
             }
             p.mutable_mutation()->clear_body();
             Store(sealer_, ctx, key, p);
           }
           RETURN_IF_ERROR(RemoveScopeIn(ctx, scope, ids, uploads, &blobs));
           return absl::OkStatus();
         })
          .status());
  for (const std::string& sha : blobs) ::unlink(BlobPath(sha).c_str());
  // The purged values (sealed) go from the store's files too.
  RETURN_IF_ERROR(db_->CompactAll());
  for (auto& p : discarded) report.parked.push_back(std::move(p));
  report.purged_scopes.push_back(scope);
  return absl::OkStatus();
}

absl::Status Replica::Impl::RemoveScopeIn(
    storage::CommitContext& ctx, const std::string& scope, const std::vector<std::string>& ids,
    const std::vector<std::pair<std::string, UploadEntry>>& uploads,
    std::vector<std::string>* blobs) {
  for (const std::string& id : ids) {
    ctx.Delete(kMeta, RecordKey(id));
    ctx.Delete(kMeta, InScopeKey(scope, id));
  }
  // A copy another scope still has to upload (or prove) stays.
  std::set<std::string> kept;
  for (const auto& [key, u] : uploads) {
    if (u.scope() != scope && !u.freed()) kept.insert(u.sha256());
  }
  for (const auto& [key, u] : uploads) {
    if (u.scope() != scope) continue;
    ctx.Delete(kMeta, key);
    if (kept.count(u.sha256()) == 0) blobs->push_back(u.sha256());
  }
  ctx.Delete(kMeta, CursorKey(scope));
  ctx.Delete(kMeta, FollowKey(scope));
  ctx.Delete(kMeta, ReceiptKey(scope));
  ctx.Delete(kMeta, BriefingKey(scope));
  ctx.Delete(kMeta, RestoredKey(scope));
  std::vector<std::string> lost;
  RETURN_IF_ERROR(ctx.Scan(kMeta, storage::KeyRange::Prefix(LostPrefix(scope)),
                           [&](std::string_view key, std::string_view) {
                             lost.emplace_back(key);
                             return true;
                           }));
  for (const std::string& key : lost) ctx.Delete(kMeta, key);
  return absl::OkStatus();
}

absl::StatusOr<std::uint64_t> Replica::Impl::Forget(const std::string& scope) {
  absl::MutexLock one_at_a_time(&sync_mu_);
  std::string pinned_key;
  if (!sync::VisitIdOf(scope).empty()) {
    absl::StatusOr<ClientProfile> profile = Profile();
    if (profile.ok()) pinned_key = profile->receipt_public_key();
  }
  std::vector<std::string> blobs;
  std::uint64_t forgotten = 0;
  // Checked and removed in one commit: a local edit made meanwhile either
  // comes before (and is seen) or after (and finds the record gone).
  RETURN_IF_ERROR(
      db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
           blobs.clear();
           ASSIGN_OR_RETURN(const std::vector<std::string> ids,
                            IdsInScope(scope, ScanOf(ctx)));
           ASSIGN_OR_RETURN(std::optional<std::string> followed,
                            ctx.Get(kMeta, FollowKey(scope)));
           if (!followed.has_value() && ids.empty()) {
             return absl::NotFoundError(
                 absl::StrCat("this device neither follows nor holds ", scope));
           }
           const std::set<std::string> in_scope(ids.begin(), ids.end());
           auto belongs = [&](const Mutation& m) {
             return m.scope() == scope || in_scope.count(m.record_id()) > 0;
           };
           ASSIGN_OR_RETURN(auto outbox, ScanIn<OutboxEntry>(sealer_, ctx, kOutboxPrefix));
           const auto waiting = std::count_if(outbox.begin(), outbox.end(), [&](const auto& e) {
             return belongs(e.second.mutation());
           });
           if (waiting > 0) {
             return absl::FailedPreconditionError(absl::StrCat(
                 waiting, " edit(s) of ", scope, " wait to be pushed: sync first"));
           }
           ASSIGN_OR_RETURN(auto parked, ScanIn<ParkedMutation>(sealer_, ctx, kParkPrefix));
           for (const auto& [key, p] : parked) {
             // A refused delete carries no body but is still an intent
             // only this device holds.
             if (belongs(p.mutation()) && p.kind() == "refused") {
               return absl::FailedPreconditionError(absl::StrCat(
                   "edit ", p.mutation().mutation_id(), " of ", scope,
                   " was refused and exists only on this device: requeue it once allowed, "
                   "or drop it"));
             }
           }
           ASSIGN_OR_RETURN(auto lost, ScanIn<LocalRecord>(sealer_, ctx, LostPrefix(scope)));
           if (!lost.empty()) {
             return absl::FailedPreconditionError(absl::StrCat(
                 lost.size(), " record(s) of ", scope,
                 " the server lost in a restore from backup are held only on this device: "
                 "sync first"));
           }
           ASSIGN_OR_RETURN(auto uploads, ScanIn<UploadEntry>(sealer_, ctx, kUploadPrefix));
           for (const auto& [key, u] : uploads) {
             if (u.scope() == scope && !u.confirmed()) {
               return absl::FailedPreconditionError(
                   absl::StrCat("attachment ", u.sha256(), " of ", scope,
                                " is not yet confirmed by a verified receipt: sync first"));
             }
           }
           // Every record as pulled (this device's edits are in it).
           std::vector<std::pair<std::string, std::uint64_t>> held_here;
           for (const std::string& id : ids) {
             ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                              LoadIn<LocalRecord>(sealer_, ctx, RecordKey(id)));
             if (!rec.has_value()) continue;
             if (rec->dirty() || rec->queued() > 0) {
               return absl::FailedPreconditionError(absl::StrCat(
                   "record ", id, " has edits the server has not shown back yet: sync first"));
             }
             held_here.emplace_back(id, rec->server().revision());
           }
           if (!sync::VisitIdOf(scope).empty() && !held_here.empty()) {
             ASSIGN_OR_RETURN(std::optional<StoredReceipt> stored,
                              LoadIn<StoredReceipt>(sealer_, ctx, ReceiptKey(scope)));
             if (!stored.has_value()) {
               return absl::FailedPreconditionError(
                   absl::StrCat("no verified receipt of ", scope, " yet: sync first"));
             }
             ASSIGN_OR_RETURN(vigil::v1::ReceiptManifest manifest,
                              VerifyReceipt(stored->receipt(), pinned_key));
             std::map<std::string, std::uint64_t> held;
             for (const auto& e : manifest.records()) held[e.record_id()] = e.revision();
             for (const auto& [id, revision] : held_here) {
               auto it = held.find(id);
               if (manifest.scope() != scope || it == held.end() || it->second < revision) {
                 return absl::FailedPreconditionError(absl::StrCat(
                     "the last receipt of ", scope, " does not list record ", id,
                     " at revision ", revision, " or later: sync first"));
               }
             }
           }
           RETURN_IF_ERROR(RemoveScopeIn(ctx, scope, ids, uploads, &blobs));
           // Late submissions are held by the server, purged edits kept no
           // content: their notes go with the scope.
           for (const auto& [key, p] : parked) {
             if (belongs(p.mutation())) ctx.Delete(kMeta, key);
           }
           forgotten = ids.size();
           return absl::OkStatus();
         })
          .status());
  for (const std::string& sha : blobs) ::unlink(BlobPath(sha).c_str());
  // The forgotten values (sealed) go from the store's files too.
  RETURN_IF_ERROR(db_->CompactAll());
  return forgotten;
}

}  // namespace vigil::client
