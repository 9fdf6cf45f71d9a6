// Replica::Impl, the tablet's sync core behind the Replica facade
// (client/replica.h), one responsibility a file:
//   replica.cc            the facade, opening the store, credentials
//   local_store.h         keys and sealed values of the local store
//   outbox.cc             local edits: mutations, the outbox, parked edits
//   sync_session.cc       one sync: uploads, push, pull and rebase, receipts
//   restore_recovery.cc   what a server restored from backup lost, sent again
//   scope_lifecycle.cc    purge and forget of a scope
//   attachment_copies.cc  sealed attachment copies: attach, free, orphans
// Internal to vigil_client.
#ifndef VIGIL_CLIENT_REPLICA_IMPL_H_
#define VIGIL_CLIENT_REPLICA_IMPL_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/channel.h"
#include "client/local_store.h"
#include "client/replica.h"
#include "storage/storage.h"
#include "sync/hlc.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::client {

namespace detail {
inline bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::CANCELLED;
}

}  // namespace detail

class Replica::Impl {
 public:
  using ClientProfile = vigil::internal::ClientProfile;
  using LocalRecord = vigil::internal::LocalRecord;
  using OutboxEntry = vigil::internal::OutboxEntry;
  using ParkedMutation = vigil::internal::ParkedMutation;
  using UploadEntry = vigil::internal::UploadEntry;
  using Mutation = vigil::v1::Mutation;
  using Record = vigil::v1::Record;
  using RecordBody = vigil::v1::RecordBody;
  using Sealer = detail::Sealer;

  Impl(std::string dir, std::unique_ptr<storage::Storage> db, std::string key)
      : dir_(std::move(dir)), db_(std::move(db)), sealer_(std::move(key)) {}

  // --- The store and its profile (replica.cc). ---

  // Checks the store key against the store, restores the clock.
  absl::Status Init();

  // The stored credentials; FailedPrecondition before enrollment.
  absl::StatusOr<ClientProfile> Profile() const;

  static ServerAddress AddressOf(const ClientProfile& p);

  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel() const;

  absl::Status SaveProfile(const ClientProfile& profile);

  absl::StatusOr<std::string> NewId();

  absl::StatusOr<std::vector<std::string>> Followed() const;

  // --- Local edits: mutations, the outbox, parked edits (outbox.cc). ---

  // A mutation stamped with this device's identity and a fresh HLC time,
  // which is persisted with it (`ctx`), so time never runs backwards across
  // restarts.
  // `mutation_id`: a new id when empty.
  absl::StatusOr<Mutation> NewMutation(storage::CommitContext& ctx, const ClientProfile& profile,
                                       const std::string& record_id,
                                       std::string mutation_id = "");

  absl::Status Enqueue(storage::CommitContext& ctx, Mutation m);

  absl::StatusOr<std::string> CreateIn(storage::CommitContext& ctx, const ClientProfile& profile,
                                       const std::string& scope, const RecordBody& body,
                                       std::string id = "", const std::string& mutation_id = "");

  absl::StatusOr<std::string> Create(const std::string& scope, const RecordBody& body,
                                     const std::string& wanted);

  // Edit, delete or resolution of an existing record.
  // `made_on`: the server revision the change was made on, when older than
  // the one the device holds now (a parked edit sent again), so that the
  // server merges it with what changed since instead of taking it whole.
  absl::Status Change(const std::string& record_id, const RecordBody* body, bool del,
                      const std::vector<std::string>* resolves,
                      std::uint64_t made_on = 0);

  // `made_on`: unset for the revision the device holds. `onto_deleted`: an
  // edit of a record deleted on the server (kept there as a conflict).
  // `mutation_id`: a new id when empty.
  absl::Status ChangeIn(storage::CommitContext& ctx, const ClientProfile& profile,
                        const std::string& record_id, const RecordBody* body, bool del,
                        const std::vector<std::string>* resolves,
                        std::optional<std::uint64_t> made_on, bool onto_deleted = false,
                        const std::string& mutation_id = "");

  // Moves an outbox entry to the parked list. The local view of its record
  // falls back to the server's when nothing else of this device is pending.
  absl::Status Park(const std::string& outbox_key, const ParkedMutation& parked);

  // Stores `rec` after an edit of it was parked or held rather than applied:
  // with nothing else of it pending, it shows the server's head again (the
  // parked copy keeps the edit), or, if it never reached the server, it
  // leaves the view.
  void StoreSettled(storage::CommitContext& ctx, const std::string& id, LocalRecord& rec);

  static void ShowServer(LocalRecord& rec);

  absl::Status Acknowledge(const std::vector<std::pair<std::string, OutboxEntry>>& batch,
                           const vigil::v1::PushResponse& response, SyncReport& report);

  // --- One sync: uploads, push, pull and rebase, receipts (sync_session.cc). ---

  // Runs `call` until it succeeds, fails for good, the retry window ends, or
  // `stop` says a transient failure is not to be retried as it is.
  template <typename Call, typename Stop = bool (*)(const grpc::Status&)>
  grpc::Status Retrying(const SyncOptions& options, SyncReport& report, Call call,
                        Stop stop = [](const grpc::Status&) { return false; }) {
    const absl::Time start = absl::Now();
    absl::Duration backoff = options.initial_backoff;
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.call_deadline));
      grpc::Status s = call(ctx);
      if (s.ok() || !detail::Transient(s.error_code()) || stop(s) ||
          absl::Now() - start + backoff > options.retry_for) {
        return s;
      }
      ++report.retries;
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
  absl::StatusOr<SyncReport> Sync(const SyncOptions& options, const ProgressFn& progress);

  template <typename Tell>
  absl::Status UploadAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                         SyncReport& report, Progress& state, Tell& tell);

  template <typename Tell>
  absl::Status UploadOne(vigil::v1::SyncService::Stub& stub, const UploadEntry& entry,
                         const SyncOptions& options, SyncReport& report, Progress& state,
                         Tell& tell);

  template <typename Tell>
  absl::Status PushAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                       SyncReport& report, Progress& state, Tell& tell);

  // Sends the parked late submissions again (a resend changes nothing) to
  // learn the NPM unit's decisions, and keeps each decision with its
  // parked entry.
  absl::Status AskLateOutcomes(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                               SyncReport& report);

  template <typename Tell>
  absl::Status PullScope(vigil::v1::SyncService::Stub& stub, const std::string& scope,
                         const SyncOptions& options, SyncReport& report, Progress& state,
                         Tell& tell);

  // One page and its cursor, atomically: an interrupted pull resumes after
  // the last page stored.
  // `restored_at`: on the first page after the server voided this device's
  // cursor in a restore from backup, the restore point it named.
  absl::Status ApplyPage(const std::string& scope, const vigil::v1::PullResponse& page,
                         std::optional<std::uint64_t> restored_at = std::nullopt);

  // The local view of a record with pending edits on a new server head: the
  // edits merged onto it as the server will merge them (the same engine).
  // If the merge cannot run, the local body stays as the device wrote it.
  static void Rebase(LocalRecord& rec, const Record& head, absl::Time now);

  absl::Status CheckReceipt(vigil::v1::SyncService::Stub& stub, const ClientProfile& profile,
                            const std::string& scope, const SyncOptions& options,
                            SyncReport& report);

  // --- After a server restore (restore_recovery.cc). ---

  // Sends again what the server lost in a restore from backup: each
  // revision this device held that was committed after the backup and that
  // the server, now pulled in full, does not have. A record the server no
  // longer has is created again (same id); one it has at another revision
  // gets the held body (or deletion) as an edit made on the revision the
  // backup held, so the server merges it with what was changed since the
  // restore. They go out with this device's next push, authored by its
  // user. A record with local edits waits until those are through; one
  // that cannot be settled now (its history unreadable) is reported for the
  // scope and tried again at the next sync, the others go on.
  absl::Status RecoverLost(vigil::v1::SyncService::Stub& stub, const std::string& scope,
                           const SyncOptions& options, SyncReport& report);

  // One kept-aside revision (`old`, under `key`): true once settled (sent
  // again, or found on the server), false while it waits.
  absl::StatusOr<bool> RecoverOne(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                                  SyncReport& report, const ClientProfile& profile,
                                  const std::string& key, const LocalRecord& old,
                                  std::uint64_t point);

  static bool RefusedForLostBase(const ParkedMutation& p);

  // From a record's history on the restored server: the revision holding
  // `held` itself (the same edit, as when a cursor is refused for another
  // reason long after a restore, or the same content, sent again by another
  // tablet): not lost after all; else the newest revision the backup kept
  // (committed at or before `point`), if any.
  struct RestoreBase {
    std::optional<std::uint64_t> held_at;
    std::optional<Record> kept;
  };
  absl::StatusOr<RestoreBase> RevisionAtRestore(vigil::v1::SyncService::Stub& stub,
                                                const SyncOptions& options, SyncReport& report,
                                                const Record& held, std::uint64_t point);

  // --- Purge and forget of a scope (scope_lifecycle.cc). ---

  absl::Status Purge(const std::string& scope, SyncReport& report);

  // Deletes the scope's records (`ids`), its attachment uploads, cursor,
  // receipt, follow mark and what it kept aside after a server restore. The attachment copies to unlink once the commit
  // is durable are added to `blobs`.
  static absl::Status RemoveScopeIn(
      storage::CommitContext& ctx, const std::string& scope, const std::vector<std::string>& ids,
      const std::vector<std::pair<std::string, UploadEntry>>& uploads,
      std::vector<std::string>* blobs);

  absl::StatusOr<std::uint64_t> Forget(const std::string& scope);

  // --- Attachment copies (attachment_copies.cc). ---

  std::string BlobPath(const std::string& sha) const { return absl::StrCat(dir_, "/blobs/", sha); }

  // Deletes attachment copies nothing needs any more: left by an attach, a
  // purge, a forget or a free interrupted between its file and its commit.
  absl::Status RemoveOrphanCopies();

  // Copies `file_path` into the store (sealed, hashed on the way) and
  // creates its Attachment record in `scope`, queued for upload.
  absl::StatusOr<std::string> Attach(const std::string& scope, const std::string& file_path,
                                     vigil::v1::Attachment metadata);

  const std::string dir_;
  std::unique_ptr<storage::Storage> db_;
  const Sealer sealer_;
  absl::Mutex sync_mu_;
  mutable absl::Mutex clock_mu_;
  sync::HybridClock clock_ ABSL_GUARDED_BY(clock_mu_);
};

}  // namespace vigil::client

#endif  // VIGIL_CLIENT_REPLICA_IMPL_H_
