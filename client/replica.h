// The tablet sync core: an offline replica of the scopes a device follows,
// kept in a local RocksDB store, synced with vigild over gRPC. A tablet app
// embeds it (through its native interface); vigilctl's field commands use it
// too.
//
// Local edits apply to the local view at once and wait in an outbox with the
// revision they were made on and their HLC time. Sync() pushes the outbox
// (resending safely after any failure: mutation ids make it idempotent),
// uploads queued attachments (resuming where the server's durable copy
// ends), pulls every followed scope (rebasing records that still have local
// edits on the new server head), follows purge instructions, and fetches and
// verifies the signed receipt of each visit scope. Only what a verified
// receipt covers may be freed locally.
//
// Thread-safety: every method may be called from any thread; Sync() runs one
// at a time (a second concurrent call waits for the first).
#ifndef VIGIL_CLIENT_REPLICA_H_
#define VIGIL_CLIENT_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "grpcpp/grpcpp.h"
#include "sync/hlc.h"
#include "vigil/internal/client_store.pb.h"
#include "vigil/v1/record.pb.h"
#include "vigil/v1/sync.pb.h"
#include "vigil/v1/visit_report.pb.h"

namespace vigil::storage {
class Storage;
}

namespace vigil::client {

struct SyncOptions {
  // Mutations per Push call (the server takes at most 500).
  int push_batch = 100;
  // Records per Pull page.
  int pull_page = 500;
  // Bytes per attachment chunk (the server takes at most 1 MiB).
  std::size_t chunk_bytes = 256 << 10;
  // Deadline of each call.
  absl::Duration call_deadline = absl::Seconds(30);
  // Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
  // ABORTED) are retried with exponential backoff from `initial_backoff`,
  // doubling up to `max_backoff`, until `retry_for` has passed since the
  // first failure of that step; then Sync() returns the last error with
  // everything not yet acknowledged still queued.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  absl::Duration retry_for = absl::Minutes(2);
  // Fetch and verify receipts of followed visit scopes after pulling.
  bool fetch_receipts = true;
  // False: only pull (uploads and the outbox wait for the next sync).
  bool push = true;
  // Extra client interceptors for this sync's channel (logging, metrics,
  // fault injection in tests), made fresh for each Sync().
  std::function<Interceptors()> interceptors;
};

// For a progress bar. `*_left` counts what is known to remain; pulls learn
// their size as they go (`has_more`).
struct Progress {
  enum class Phase { kUpload, kPush, kPull, kReceipt, kDone };
  Phase phase = Phase::kPush;
  std::string scope;  // the scope being pulled or checked, if any
  std::uint64_t records_done = 0;
  std::uint64_t records_left = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_left = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

// What one Sync() did.
struct SyncReport {
  std::uint64_t pushed = 0;      // mutations acknowledged (including duplicates)
  std::uint64_t duplicates = 0;  // of which the server had applied before
  std::uint64_t pulled = 0;      // records received
  std::uint64_t uploaded_bytes = 0;
  std::uint64_t attachments_uploaded = 0;
  std::uint64_t retries = 0;
  // Conflicts the server reported for this device's mutations.
  std::vector<std::string> new_conflict_ids;
  // Mutations the server refused for good or held as late submissions, and
  // those discarded by a purge: see Parked().
  std::vector<vigil::internal::ParkedMutation> parked;
  // Late submissions of this device the NPM unit decided on since the last
  // sync (kind late_accepted or late_rejected, with the decision); they
  // stay in Parked() with it.
  std::vector<vigil::internal::ParkedMutation> late_decided;
  // Scopes whose data was removed on the server's purge instruction.
  std::vector<std::string> purged_scopes;
  // Records whose revision the server lost in a restore from backup while
  // this device held it: queued again (and pushed in this sync), authored
  // by this device's user.
  std::vector<std::string> recovered;
  // Parked edits (by mutation id) that had been refused for a base the
  // server lost in that restore, sent again after it.
  std::vector<std::string> requeued;
  // Verified receipts, per visit scope.
  std::vector<vigil::v1::ReceiptManifest> receipts;
  // Followed scopes that could not be pulled or whose receipt failed, and
  // why (e.g. PERMISSION_DENIED before the user is on the visit's team).
  // The other scopes synced.
  std::vector<std::pair<std::string, absl::Status>> scope_errors;
};

// One record as the app sees it.
struct LocalView {
  std::string id;
  std::string scope;
  vigil::v1::RecordBody body;
  bool deleted = false;
  // Local edits not yet reflected in a pulled server head.
  bool pending = false;
  // The last pulled server revision (0: never pulled).
  std::uint64_t server_revision = 0;
  // Open conflicts as of the last pulled head.
  std::vector<vigil::v1::Conflict> conflicts;
  // Fields of the body the server withheld from this user (Record.
  // withheld_fields, as of the last pulled head): hidden, not empty.
  std::vector<std::string> withheld_fields;
  // The NPM unit's review mark (Record.review, as of the last pulled head):
  // accepted, a question for the team, or answered since; unset when never
  // marked. Editing the record, or a Comment about it, answers it.
  vigil::v1::ReviewMark review;
};

class Replica {
 public:
  // Opens (creating when missing) the store in `dir` (a directory, made
  // mode 0700). Every value in it (records, outbox, token) and every
  // attachment copy is sealed (XChaCha20-Poly1305) under `store_key`, 32
  // bytes: a tablet app passes a key kept by the platform's keystore
  // (Android Keystore, iOS Keychain), so that a copy of the files without the
  // device's unlock opens nothing. Empty: a key file `dir/store.key` (mode
  // 0600) is made and used, which protects nothing against someone holding
  // the directory (development; vigilctl without a passphrase). Empty for a
  // store sealed by a passphrase (StoreKeyFromPassphrase) is
  // FailedPrecondition. FailedPrecondition when another process has the
  // store open, or for a key other than the store's.
  static absl::StatusOr<std::unique_ptr<Replica>> Open(const std::string& dir,
                                                       const std::string& store_key = "");

  // Enrolls this device with a one-time code (AdminService.EnrollDevice) and
  // stores the token, device id and the server's pinned receipt key.
  // FailedPrecondition when the store is already enrolled.
  absl::Status Enroll(const ServerAddress& server, const std::string& code,
                      const std::string& device_name);
  // Uses an existing token instead (an admin, or a test). FailedPrecondition
  // when the store belongs to another user (one store per user).
  absl::Status SetCredentials(const ServerAddress& server, const std::string& token);
  absl::StatusOr<vigil::internal::ClientProfile> Profile() const;
  // A channel to the server with this device's credentials.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel() const;

  ~Replica();

  // --- Scopes. ---
  // Follows a scope ("registry", "visits/{id}", "facilities/{id}"): the next
  // Sync() pulls it.
  absl::Status Follow(const std::string& scope);
  absl::StatusOr<std::vector<std::string>> Followed() const;

  // --- Local edits: applied at once, queued for the next Sync(). ---
  // Creates a record; returns its id: `id` when given (a UUIDv7 or ULID the
  // app chose, e.g. a visit's own id for the Visit record of
  // "visits/{id}"), else a new UUIDv7. InvalidArgument for a malformed id,
  // AlreadyExists for an id this device holds.
  absl::StatusOr<std::string> Create(const std::string& scope, const vigil::v1::RecordBody& body,
                                     const std::string& id = "");
  // Replaces the body of a record (the whole new body, as the app edits it).
  // NotFound for an unknown record, InvalidArgument for a body of another
  // kind, FailedPrecondition for a deleted record.
  absl::Status Edit(const std::string& record_id, const vigil::v1::RecordBody& body);
  // The same, for an app that keeps a record open while syncs run:
  // `made_on_revision` is the `server_revision` of the view the user
  // edited. If a sync has pulled a newer revision since, the edit is merged
  // with what changed meanwhile instead of undoing it.
  absl::Status Edit(const std::string& record_id, const vigil::v1::RecordBody& body,
                    std::uint64_t made_on_revision);
  absl::Status Delete(const std::string& record_id);
  // Settles open conflicts with `body` (a side chosen, or a new value).
  // FailedPrecondition when the record has local edits not yet synced (the
  // resolution must see the head the conflicts are on: sync first).
  absl::Status Resolve(const std::string& record_id, const std::vector<std::string>& conflict_ids,
                       const vigil::v1::RecordBody& body);

  // Copies the file into the store, creates its Attachment record in `scope`
  // (sha256, size, media type, capture time and device filled in; the rest
  // from `metadata`) and queues the upload. Returns the record id.
  absl::StatusOr<std::string> Attach(const std::string& scope, const std::string& file_path,
                                     vigil::v1::Attachment metadata);

  // --- Reading the local view. ---
  absl::StatusOr<LocalView> Get(const std::string& record_id) const;
  // Every record of the scope, ordered by id.
  absl::StatusOr<std::vector<LocalView>> List(const std::string& scope) const;
  // Open conflicts in the scope (as of the last pull).
  absl::StatusOr<std::vector<vigil::v1::Conflict>> Conflicts(const std::string& scope) const;
  // Mutations waiting to be pushed.
  absl::StatusOr<std::uint64_t> OutboxSize() const;
  // Refused, late and purged mutations, oldest first.
  absl::StatusOr<std::vector<vigil::internal::ParkedMutation>> Parked() const;
  // Queues a refused mutation again, once what refused it is mended (e.g.
  // the user was put on the visit's team): as a new edit made on the
  // revision the refused one was made on (so the server merges it with what
  // others changed since, instead of undoing that), or a create when the
  // record is not on the device.
  // NotFound for an unknown id; FailedPrecondition for a late submission
  // (the server holds it) or a purged one (its content is gone).
  absl::Status Requeue(const std::string& mutation_id);
  // Forgets a parked mutation. NotFound for an unknown id.
  absl::Status DropParked(const std::string& mutation_id);
  // Queued attachments and their state.
  absl::StatusOr<std::vector<vigil::internal::UploadEntry>> Uploads() const;
  // The last verified receipt of a scope, if any.
  absl::StatusOr<std::optional<vigil::v1::ReceiptManifest>> LastReceipt(
      const std::string& scope) const;

  // --- Briefing (briefing.cc). ---
  // Downloads the briefing pack of visit `visit_id` (ReportService.
  // GetBriefing) and keeps it in the store, sealed like every value, until
  // the visit is forgotten or taken off this device. Errors: the server's
  // (ToAbsl), e.g. PERMISSION_DENIED for a visit the user may not read.
  absl::StatusOr<vigil::v1::Briefing> FetchBriefing(const std::string& visit_id);
  // The briefing kept for the visit, if any (no network).
  absl::StatusOr<std::optional<vigil::v1::Briefing>> StoredBriefing(
      const std::string& visit_id) const;

  // --- Sync. ---
  absl::StatusOr<SyncReport> Sync(const SyncOptions& options = {}, ProgressFn progress = {});

  // Deletes the local copies of attachments that a verified receipt lists,
  // for every visit the content was attached in (a copy attached in two
  // visits stays until both receipts list it). Returns the bytes freed.
  absl::StatusOr<std::uint64_t> FreeConfirmedAttachments();

  // Frees this device's copy of a scope (a visit that is over): stops
  // following it and deletes its records, its attachment copies, cursor,
  // receipt and parked notes, once nothing of it exists only here.
  // FailedPrecondition, and nothing changes, while an edit of the scope
  // waits in the outbox or is not yet reflected in a pulled head, an edit of
  // it is parked as refused (its content is only here: requeue or drop it),
  // an attachment of it is not confirmed by a verified receipt, or (a visit
  // scope) the last verified receipt does not list every record the device
  // holds at the revision it last pulled or later. NotFound when
  // the device neither follows nor holds the scope. Returns how many records
  // were removed. Following the scope again pulls it again.
  absl::StatusOr<std::uint64_t> Forget(const std::string& scope);

 private:
  class Impl;
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A store key derived from a passphrase, for a machine with no keystore to
// hold one (vigilctl on a laptop): Argon2id (libsodium's crypto_pwhash,
// interactive limits: 64 MiB, about 0.1 s) over a random salt kept, with
// the limits, in `dir`/store.salt, made on first use (and `dir` with it,
// mode 0700). The store's files then open only with the passphrase; a wrong
// one is refused by Replica::Open. InvalidArgument for an empty passphrase,
// FailedPrecondition when `dir` already has a key file (`store.key`: the
// store is not sealed by a passphrase), DataLoss for a malformed salt file.
absl::StatusOr<std::string> StoreKeyFromPassphrase(const std::string& dir,
                                                   std::string_view passphrase);

// Whether the store in `dir` was sealed under a passphrase (has store.salt).
bool SealedByPassphrase(const std::string& dir);

// Checks a receipt's Ed25519 signature against `public_key` and parses its
// manifest. DataLoss when it does not verify.
absl::StatusOr<vigil::v1::ReceiptManifest> VerifyReceipt(const vigil::v1::Receipt& receipt,
                                                         const std::string& public_key);

}  // namespace vigil::client

#endif  // VIGIL_CLIENT_REPLICA_H_
