// Vigil's storage interface: atomic batches through the commit pipeline,
// consistent snapshots, range and prefix scans, online backup and restore.
//
// The only implementation today is embedded RocksDB (rocks_storage.cc), but
// nothing above this header sees RocksDB: a deployment that outgrows one
// machine can put the same interface on a distributed transactional store.
#ifndef VIGIL_STORAGE_STORAGE_H_
#define VIGIL_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/column_family.h"

namespace vigil::storage {

// Version of the on-disk layout as a whole (column families, key codec,
// value encodings). Stored in the database; a database written by another
// version is refused at open, untouched.
inline constexpr std::uint32_t kStorageFormatVersion = 1;

struct StorageOptions {
  // Create the database when the directory holds none.
  // Default: true.
  bool create_if_missing = true;

  // fsync every commit before it completes. Only benchmarks and tests that
  // measure the cost of durability turn this off.
  // Default: true.
  bool sync_writes = true;

  // A group commit stops taking requests once its batch holds this many bytes.
  // Default: 4 MiB.
  std::size_t max_group_bytes = 4 << 20;

  // Shared block cache for all column families.
  // Default: 64 MiB.
  std::size_t block_cache_bytes = 64 << 20;

  // The column families a database this opens holds (kMeta always). A new
  // database is created with these; an existing one is opened with these and
  // any others it already has (with create_if_missing false, with the ones
  // it has). Reading or writing a family not open is FailedPrecondition (a
  // write fails its whole request). A tablet's store uses kMeta only.
  // Default: every family (kAllColumnFamilies).
  std::vector<ColumnFamily> column_families{kAllColumnFamilies.begin(),
                                            kAllColumnFamilies.end()};
};

// A consistent read view. Move-only; releases the view when destroyed.
// Must not outlive the Storage that made it.
class Snapshot {
 public:
  struct Rep;
  explicit Snapshot(std::unique_ptr<Rep> rep);
  Snapshot(Snapshot&&) noexcept;
  Snapshot& operator=(Snapshot&&) noexcept;
  ~Snapshot();

  // The last commit sequence number visible in this view: the view holds
  // exactly the commits 1..seq(), never one with a gap before it.
  std::uint64_t seq() const;
  const Rep& rep() const { return *rep_; }

 private:
  std::unique_ptr<Rep> rep_;
};

// Half-open key range [begin, end); an empty `end` means no upper bound.
struct KeyRange {
  std::string begin;
  std::string end;
  static KeyRange Prefix(std::string_view prefix);
};

// Visits one key/value; returns false to stop the scan early. The views are
// valid only during the call.
using ScanVisitor =
    absl::FunctionRef<bool(std::string_view key, std::string_view value)>;

// A range scan of some view (a commit's, a snapshot's): for code that reads
// the same way inside a commit and outside one (index rebuilds and checks).
using RangeScanFn =
    absl::FunctionRef<absl::Status(ColumnFamily cf, const KeyRange& range, ScanVisitor visit)>;

// Point reads from one consistent view of the data: a commit in progress
// (CommitContext is one), a snapshot or the latest committed state
// (StorageView). Code that decides something from stored state (whether a
// caller may write, say) takes the view of the request it decides for, so
// that a push is judged by what its own commit sees. Borrowed for one
// request; not thread-safe.
class ReadView {
 public:
  virtual ~ReadView() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(
      ColumnFamily cf, std::string_view key) = 0;
};

// What a write request sees and does on the writer thread. Reads see every
// commit before this group plus the writes of earlier requests of this group
// and of this request itself.
class CommitContext : public ReadView {
 public:
  virtual absl::Status Scan(ColumnFamily cf, const KeyRange& range,
                            ScanVisitor visit) = 0;
  // Keys and values are taken by value: pass temporaries (or std::move) and
  // nothing is copied on the writer thread.
  virtual void Put(ColumnFamily cf, std::string key, std::string value) = 0;
  virtual void Delete(ColumnFamily cf, std::string key) = 0;

  // Allocates the next global commit sequence number. Numbers are consecutive
  // across the whole commit order: a request whose Prepare fails gives its
  // numbers back.
  virtual std::uint64_t NextSeq() = 0;
};

// Computes a request's writes against the current state. Runs on the single
// writer thread, one request at a time, so it must not block on I/O other
// than the context's reads, nor on other requests. Returning an error
// discards every write it made; the caller gets that error.
using PrepareFn = absl::AnyInvocable<absl::Status(CommitContext&)>;

struct CommitResult {
  // The sequence numbers the request allocated: [first_seq, last_seq], or
  // first_seq == last_seq + 1 when it allocated none (then first_seq is the
  // next number to be handed out).
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
};

// Called once, on the writer thread, after the request's group is durable (or
// failed). Must be quick and must not submit and wait on another commit.
using CommitDoneFn = absl::AnyInvocable<void(absl::StatusOr<CommitResult>)>;

struct BackupInfo {
  std::uint32_t id = 0;
  std::int64_t timestamp = 0;  // seconds since the epoch
  std::uint64_t size_bytes = 0;
  std::uint32_t file_count = 0;
};

class Storage {
 public:
  // Opens the database in `db_path`. An existing database is first checked
  // read-only (column families, format version) and is not modified when that
  // fails. Errors: FailedPrecondition (locked by another process, another
  // format version, missing and !create_if_missing), DataLoss (corrupt),
  // PermissionDenied / Internal (I/O).
  static absl::StatusOr<std::unique_ptr<Storage>> Open(
      const std::string& db_path, const StorageOptions& options);

  // Restores the newest verified backup (or `backup_id`) in `backup_dir` into
  // `db_path`, which must not hold a database. Checksums of every file are
  // verified before anything is written. Errors: NotFound (no such backup),
  // FailedPrecondition (target not empty), DataLoss (backup corrupt).
  static absl::Status RestoreBackup(const std::string& backup_dir,
                                    const std::string& db_path,
                                    std::optional<std::uint32_t> backup_id);

  // Lists the backups in `backup_dir`, oldest first.
  static absl::StatusOr<std::vector<BackupInfo>> ListBackups(
      const std::string& backup_dir);

  // Closes the database after the pipeline has drained: every submitted
  // request completes first. Thread-safe with respect to Submit.
  virtual ~Storage() = default;

  // --- Reads. Thread-safe. ---
  virtual Snapshot GetSnapshot() = 0;
  // Reads one key at `snapshot`, or the latest committed state when null.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      ColumnFamily cf, std::string_view key,
      const Snapshot* snapshot = nullptr) = 0;
  // Reads `keys` of one family at `snapshot` (latest when null) in one
  // batched lookup, then visits the results in order: `index` into `keys`
  // and the value, or nullopt for an absent key; the view is valid only
  // during the call. `visit` returns false to stop. Meant for bulk reads (a
  // pull): blocks read from disk for it are not kept in the block cache, so
  // pulling a whole scope does not evict the hot working set. Errors: the
  // first read error.
  using MultiGetVisitor =
      absl::FunctionRef<bool(std::size_t index, std::optional<std::string_view> value)>;
  virtual absl::Status MultiGet(ColumnFamily cf, const std::vector<std::string>& keys,
                                const Snapshot* snapshot, MultiGetVisitor visit) = 0;
  // Visits the keys of `range` in order. Ends with the iterator's status.
  virtual absl::Status Scan(ColumnFamily cf, const KeyRange& range,
                            const Snapshot* snapshot, ScanVisitor visit) = 0;
  // The last durable commit sequence number.
  virtual std::uint64_t LastCommittedSeq() const = 0;

  // --- Writes. Thread-safe. ---
  // Queues a write request for the commit pipeline; `done` runs after the
  // group holding it is durable. After Shutdown() began, `done` gets
  // Unavailable at once.
  virtual void Submit(PrepareFn prepare, CommitDoneFn done) = 0;
  // Submits and waits. Never call from inside a PrepareFn or CommitDoneFn.
  absl::StatusOr<CommitResult> Commit(PrepareFn prepare);

  // Stops taking new requests, completes every queued one, and stops the
  // writer. Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;

  // --- Operations. ---
  // Creates a consistent online backup in `backup_dir` (created if missing;
  // unchanged files are shared with earlier backups there) and verifies it.
  virtual absl::StatusOr<BackupInfo> CreateBackup(
      const std::string& backup_dir) = 0;

  // Rewrites every column family's files down to the last level, so that
  // values deleted so far no longer sit in any file of the database (older
  // files and write-ahead logs are removed). For a device that has just
  // discarded data it must not keep.
  virtual absl::Status CompactAll() = 0;
};

// Reads of `storage` at `snapshot`, or of the latest committed state when
// null. Both are borrowed and must outlive the view.
class StorageView final : public ReadView {
 public:
  explicit StorageView(Storage& storage, const Snapshot* snapshot = nullptr)
      : storage_(storage), snapshot_(snapshot) {}
  absl::StatusOr<std::optional<std::string>> Get(ColumnFamily cf,
                                                 std::string_view key) override {
    return storage_.Get(cf, key, snapshot_);
  }

 private:
  Storage& storage_;
  const Snapshot* snapshot_;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_STORAGE_H_
