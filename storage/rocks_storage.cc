// Storage on embedded RocksDB: one database, the column families of
// column_family.h, and the group-commit pipeline (after LevelDB's
// DBImpl::Write, with a dedicated writer thread so gRPC reactors never block).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <array>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/write_batch.h"
#include "storage/key_codec.h"
#include "storage/rocks_options.h"
#include "storage/rocks_status.h"
#include "storage/storage.h"

namespace vigil::storage {

// The database as it stood when a group of commits became durable: a
// RocksDB snapshot and the last commit sequence number it holds. Released
// when its last holder lets go.
struct DurableView {
  rocksdb::DB* db = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  std::uint64_t seq = 0;
  DurableView(rocksdb::DB* d, std::uint64_t s) : db(d), snapshot(d->GetSnapshot()), seq(s) {}
  ~DurableView() { db->ReleaseSnapshot(snapshot); }
};

struct Snapshot::Rep {
  std::shared_ptr<const DurableView> view;
  const rocksdb::Snapshot* snapshot = nullptr;  // view->snapshot
  std::uint64_t seq = 0;                        // view->seq
};

Snapshot::Snapshot(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Snapshot::Snapshot(Snapshot&&) noexcept = default;
Snapshot& Snapshot::operator=(Snapshot&&) noexcept = default;
Snapshot::~Snapshot() = default;
std::uint64_t Snapshot::seq() const { return rep_->seq; }

KeyRange KeyRange::Prefix(std::string_view prefix) {
  return KeyRange{std::string(prefix), PrefixSuccessor(prefix)};
}

absl::StatusOr<CommitResult> Storage::Commit(PrepareFn prepare) {
  absl::Notification done;
  absl::StatusOr<CommitResult> result;
  Submit(std::move(prepare), [&](absl::StatusOr<CommitResult> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

namespace {

const std::string& FormatVersionKey() {
  static const std::string* key =
      new std::string(KeyBuilder().AddString("format_version").key());
  return *key;
}
const std::string& LastSeqKey() {
  static const std::string* key =
      new std::string(KeyBuilder().AddString("last_seq").key());
  return *key;
}

absl::StatusOr<std::uint64_t> ParseUint64(absl::string_view value,
                                          absl::string_view what) {
  std::uint64_t v = 0;
  if (!absl::SimpleAtoi(value, &v)) {
    return absl::DataLossError(absl::StrCat("malformed ", what, ": '", value, "'"));
  }
  return v;
}

// An exclusive advisory lock on a file, held for the life of the object.
class FileLock {
 public:
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(
      const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot open lock file ", path, ": ", strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {0};
      ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
      ::close(fd);
      std::string holder = n > 0 ? absl::StrCat(" (pid ", absl::string_view(buf, static_cast<size_t>(n)), ")") : "";
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", std::filesystem::path(path).parent_path().string(),
          " is in use by another process", holder));
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }

  // Records this process as the holder, for the message another process
  // gets. Called only once the database opened, so that a refused open
  // leaves the lock file as it was.
  void WriteOwnerPid() {
    std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, pid.data(), pid.size(), 0) !=
            static_cast<ssize_t>(pid.size())) {
      // Only a hint for that message; the lock itself holds regardless.
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// The open families' handles by family (nullptr for a family not open).
using FamilyHandles = std::array<rocksdb::ColumnFamilyHandle*, kColumnFamilyCount>;

FamilyHandles ByFamily(const std::vector<rocksdb::ColumnFamilyHandle*>& open) {
  FamilyHandles by_family{};
  for (rocksdb::ColumnFamilyHandle* h : open) {
    for (ColumnFamily cf : kAllColumnFamilies) {
      if (h->GetName() == ColumnFamilyName(cf)) by_family[static_cast<std::size_t>(cf)] = h;
    }
  }
  return by_family;
}

absl::Status ClosedFamily(ColumnFamily cf) {
  return absl::FailedPreconditionError(absl::StrCat(
      "column family '", std::string(ColumnFamilyName(cf)), "' is not held by this database"));
}

bool DatabaseExists(const std::string& db_path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(db_path) / "CURRENT", ec);
}

// Checks an existing database without writing to it: the column families are
// exactly ours and the stored format version is ours. Returns false for a
// database that holds nothing at all (a first start that crashed between
// creating it and writing its format version), which may be initialised.
// `names` receives the families the database holds.
absl::StatusOr<bool> ProbeReadOnly(const std::string& db_path, const StorageOptions& options,
                                   std::vector<std::string>& names) {
  rocksdb::DBOptions db_options = MakeDBOptions(options);
  RETURN_IF_ERROR(FromRocks(
      rocksdb::DB::ListColumnFamilies(db_options, db_path, &names),
      absl::StrCat("read column families of ", db_path)));
  for (const std::string& name : names) {
    bool known = false;
    for (ColumnFamily cf : kAllColumnFamilies) known |= ColumnFamilyName(cf) == name;
    if (!known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", db_path, " has column family '", name,
          "' that this version of Vigil does not know: it was written by a "
          "newer or different version"));
    }
  }
  auto families = MakeFamilies(options, names);
  std::vector<rocksdb::ColumnFamilyDescriptor> present;
  for (auto& f : families) {
    for (const std::string& name : names) {
      if (f.name == name) present.push_back(f);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(
                                db_options, db_path, present, &handles, &raw),
                            absl::StrCat("open ", db_path, " read-only")));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string version;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), handles[0], FormatVersionKey(), &version);
  bool empty = true;
  if (s.IsNotFound()) {
    for (auto* h : handles) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
      it->SeekToFirst();
      empty = empty && !it->Valid() && it->status().ok();
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  if (s.IsNotFound()) {
    if (empty) return false;
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", db_path, " has no Vigil format version: not a Vigil database"));
  }
  RETURN_IF_ERROR(FromRocks(s, "read format version"));
  ASSIGN_OR_RETURN(std::uint64_t v, ParseUint64(version, "format version"));
  if (v != kStorageFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", db_path, " has storage format version ", v,
        "; this vigild reads version ", kStorageFormatVersion,
        ". Use a matching vigild (or its migration) for this data"));
  }
  return true;
}

class RocksStorage;

struct WriteRequest {
  PrepareFn prepare;
  CommitDoneFn done;
};

// The context a PrepareFn sees: the group's writes over the database.
// Writes are held in a hash overlay per column family, which reads consult
// first, and become one WriteBatch only when the group is complete:
// - a key written many times in a group (the audit head, once per
//   mutation) reaches the memtable once;
// - the batch is built in key order, which the memtable inserts fastest;
// - reads of the group's own writes are hash lookups, not the key
//   comparisons of WriteBatchWithIndex's ordered index (a fifth of the
//   writer thread's time when it was used).
// A request's writes stay in their own layer until it succeeds, so a
// failed request leaves no trace.
class GroupContext final : public CommitContext {
 public:
  GroupContext(rocksdb::DB* db, const FamilyHandles& handles, std::uint64_t* next_seq)
      : db_(db), handles_(handles), next_seq_(next_seq) {}

  // Whether the current request wrote to a family this database does not
  // hold (its writes are then not kept: see CommitGroup); clears the mark.
  bool TakeClosedFamilyWrite() { return std::exchange(closed_family_write_, false); }

  // Ends the current request: its writes join the group if `keep`, else
  // they are forgotten.
  void EndRequest(bool keep) {
    for (std::size_t cf = 0; cf < kColumnFamilyCount; ++cf) {
      Layer& written = request_[cf];
      if (!keep) {
        written.clear();
        continue;
      }
      // Moved node by node: no key or value is copied.
      while (!written.empty()) {
        auto node = written.extract(written.begin());
        group_bytes_ += node.key().size() + (node.mapped() ? node.mapped()->size() : 0);
        auto inserted = group_[cf].insert(std::move(node));
        if (!inserted.inserted) inserted.position->second = std::move(inserted.node.mapped());
      }
    }
  }

  // Bytes the group's kept requests wrote (overwritten values included).
  std::size_t group_bytes() const { return group_bytes_; }

  // The group's final writes, each key once, in key order per family.
  rocksdb::WriteBatch TakeBatch() {
    // Room for every key and value plus a few bytes of framing each.
    std::size_t entries_count = 0;
    for (const Layer& layer : group_) entries_count += layer.size();
    rocksdb::WriteBatch batch(group_bytes_ + 16 * entries_count + 64);
    for (std::size_t cf = 0; cf < kColumnFamilyCount; ++cf) {
      std::vector<Layer::value_type*> entries;
      entries.reserve(group_[cf].size());
      for (auto& entry : group_[cf]) entries.push_back(&entry);
      std::sort(entries.begin(), entries.end(),
                [](const auto* a, const auto* b) { return a->first < b->first; });
      for (auto* entry : entries) {
        const rocksdb::Slice key(entry->first);
        if (entry->second.has_value()) {
          batch.Put(handles_[cf], key, rocksdb::Slice(*entry->second)).PermitUncheckedError();
        } else {
          batch.Delete(handles_[cf], key).PermitUncheckedError();
        }
      }
      group_[cf].clear();
    }
    group_bytes_ = 0;
    return batch;
  }

  absl::StatusOr<std::optional<std::string>> Get(ColumnFamily cf,
                                                 std::string_view key) override {
    if (handle(cf) == nullptr) return ClosedFamily(cf);
    if (const Pending* pending = Find(cf, key); pending != nullptr) return *pending;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(cf),
                                 rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(FromRocks(s, "read in commit"));
    return value;
  }

  absl::Status Scan(ColumnFamily cf, const KeyRange& range,
                    ScanVisitor visit) override {
    if (handle(cf) == nullptr) return ClosedFamily(cf);
    // The group's writes in the range, in key order, newest layer winning.
    std::map<std::string_view, const Pending*> pending;
    auto in_range = [&](std::string_view key) {
      return key >= range.begin && (range.end.empty() || key < range.end);
    };
    for (const auto* layer : {&request_[Index(cf)], &group_[Index(cf)]}) {
      for (const auto& [key, value] : *layer) {
        if (in_range(key)) pending.emplace(key, &value);
      }
    }
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(range.end);
    if (!range.end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf)));
    it->Seek(range.begin);
    auto next_pending = pending.begin();
    while (true) {
      const bool stored = it->Valid();
      const bool written = next_pending != pending.end();
      if (!stored && !written) break;
      const int order = !stored    ? 1
                        : !written ? -1
                                   : it->key().ToStringView().compare(next_pending->first);
      bool go_on = true;
      if (order < 0) {
        go_on = visit(it->key().ToStringView(), it->value().ToStringView());
        it->Next();
      } else {
        if (order == 0) it->Next();  // overwritten or deleted in this group
        if (next_pending->second->has_value()) {
          go_on = visit(next_pending->first, **next_pending->second);
        }
        ++next_pending;
      }
      if (!go_on) break;
    }
    return FromRocks(it->status(), "scan in commit");
  }

  void Put(ColumnFamily cf, std::string key, std::string value) override {
    if (handle(cf) == nullptr) {
      closed_family_write_ = true;
      return;
    }
    request_[Index(cf)].insert_or_assign(std::move(key), std::move(value));
  }

  void Delete(ColumnFamily cf, std::string key) override {
    if (handle(cf) == nullptr) {
      closed_family_write_ = true;
      return;
    }
    request_[Index(cf)].insert_or_assign(std::move(key), std::nullopt);
  }

  std::uint64_t NextSeq() override { return (*next_seq_)++; }

 private:
  // A value written in this group, or nullopt for a delete.
  using Pending = std::optional<std::string>;
  using Layer = absl::flat_hash_map<std::string, Pending>;

  static std::size_t Index(ColumnFamily cf) { return static_cast<std::size_t>(cf); }
  const Pending* Find(ColumnFamily cf, std::string_view key) const {
    for (const Layer* layer : {&request_[Index(cf)], &group_[Index(cf)]}) {
      if (auto it = layer->find(absl::string_view(key.data(), key.size()));
          it != layer->end()) {
        return &it->second;
      }
    }
    return nullptr;
  }
  rocksdb::ColumnFamilyHandle* handle(ColumnFamily cf) const {
    return handles_[static_cast<std::size_t>(cf)];
  }
  rocksdb::DB* db_;
  const FamilyHandles& handles_;
  std::uint64_t* next_seq_;
  bool closed_family_write_ = false;
  std::array<Layer, kColumnFamilyCount> group_;
  std::size_t group_bytes_ = 0;
  std::array<Layer, kColumnFamilyCount> request_;
};

class RocksStorage final : public Storage {
 public:
  RocksStorage(std::unique_ptr<FileLock> lock, std::unique_ptr<rocksdb::DB> db,
               std::vector<rocksdb::ColumnFamilyHandle*> handles,
               const StorageOptions& options, std::uint64_t last_seq)
      : lock_(std::move(lock)),
        db_(std::move(db)),
        handles_(std::move(handles)),
        by_family_(ByFamily(handles_)),
        options_(options),
        next_seq_(last_seq + 1),
        last_committed_seq_(last_seq),
        current_view_(std::make_shared<const DurableView>(db_.get(), last_seq)) {
    syncer_ = std::thread([this] { SyncerLoop(); });
    writer_ = std::thread([this] { WriterLoop(); });
  }

  ~RocksStorage() override {
    Shutdown();
    {
      absl::MutexLock lock(&view_mu_);
      current_view_.reset();
    }
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    rocksdb::Status s = db_->Close();
    (void)s;  // Close only reports unreleased snapshots; data is already synced.
    db_.reset();
  }

  Snapshot GetSnapshot() override {
    auto rep = std::make_unique<Snapshot::Rep>();
    rep->view = CurrentView();
    rep->snapshot = rep->view->snapshot;
    rep->seq = rep->view->seq;
    return Snapshot(std::move(rep));
  }

  absl::StatusOr<std::optional<std::string>> Get(
      ColumnFamily cf, std::string_view key, const Snapshot* snapshot) override {
    std::shared_ptr<const DurableView> latest;
    const rocksdb::ReadOptions ro = ReadAt(snapshot, latest);
    if (handle(cf) == nullptr) return ClosedFamily(cf);
    std::string value;
    rocksdb::Status s =
        db_->Get(ro, handle(cf), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(FromRocks(s, "read"));
    return value;
  }

  absl::Status MultiGet(ColumnFamily cf, const std::vector<std::string>& keys,
                        const Snapshot* snapshot, MultiGetVisitor visit) override {
    std::shared_ptr<const DurableView> latest;
    rocksdb::ReadOptions ro = ReadAt(snapshot, latest);
    ro.fill_cache = false;
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    if (handle(cf) == nullptr) return ClosedFamily(cf);
    db_->MultiGet(ro, handle(cf), keys.size(), slices.data(), values.data(), statuses.data());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      std::optional<std::string_view> value;
      if (!statuses[i].IsNotFound()) {
        RETURN_IF_ERROR(FromRocks(statuses[i], "read"));
        value = values[i].ToStringView();
      }
      if (!visit(i, value)) break;
    }
    return absl::OkStatus();
  }

  absl::Status Scan(ColumnFamily cf, const KeyRange& range,
                    const Snapshot* snapshot, ScanVisitor visit) override {
    std::shared_ptr<const DurableView> latest;
    rocksdb::ReadOptions ro = ReadAt(snapshot, latest);
    if (handle(cf) == nullptr) return ClosedFamily(cf);
    rocksdb::Slice upper(range.end);
    if (!range.end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf)));
    for (it->Seek(range.begin); it->Valid(); it->Next()) {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "scan");
  }

  std::uint64_t LastCommittedSeq() const override {
    return last_committed_seq_.load(std::memory_order_acquire);
  }

  void Submit(PrepareFn prepare, CommitDoneFn done) override {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        queue_.push_back(WriteRequest{std::move(prepare), std::move(done)});
        return;
      }
    }
    done(absl::UnavailableError("storage is shutting down"));
  }

  void Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (writer_.joinable()) writer_.join();
    {
      absl::MutexLock lock(&sync_mu_);
      syncer_stopping_ = true;
    }
    if (syncer_.joinable()) syncer_.join();
  }

  absl::StatusOr<BackupInfo> CreateBackup(const std::string& backup_dir) override {
    std::error_code ec;
    std::filesystem::create_directories(backup_dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("create backup directory ", backup_dir, ": ", ec.message()));
    }
    rocksdb::BackupEngine* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(
        rocksdb::BackupEngine::Open(rocksdb::Env::Default(),
                                    rocksdb::BackupEngineOptions(backup_dir), &raw),
        absl::StrCat("open backup directory ", backup_dir)));
    std::unique_ptr<rocksdb::BackupEngine> engine(raw);
    rocksdb::CreateBackupOptions create;
    create.flush_before_backup = true;
    rocksdb::BackupID id = 0;
    RETURN_IF_ERROR(FromRocks(engine->CreateNewBackup(create, db_.get(), &id),
                              "create backup"));
    RETURN_IF_ERROR(FromRocks(engine->VerifyBackup(id, /*verify_with_checksum=*/true),
                              "verify new backup"));
    rocksdb::BackupInfo info;
    RETURN_IF_ERROR(FromRocks(engine->GetBackupInfo(id, &info), "read backup info"));
    return BackupInfo{info.backup_id, info.timestamp, info.size, info.number_files};
  }

  absl::Status CompactAll() override {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    RETURN_IF_ERROR(FromRocks(db_->Flush(flush, handles_), "flush before compacting"));
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, h, nullptr, nullptr),
                                absl::StrCat("compact ", h->GetName())));
    }
    return absl::OkStatus();
  }

 private:
  rocksdb::ColumnFamilyHandle* handle(ColumnFamily cf) const {
    return by_family_[static_cast<std::size_t>(cf)];
  }

  void WriterLoop() {
    std::deque<WriteRequest> pending;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](RocksStorage* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
              return !s->queue_.empty() || s->stopping_;
            },
            this));
        if (queue_.empty()) return;  // stopping, and everything is done
        pending.swap(queue_);
      }
      while (!pending.empty()) CommitGroup(pending);
    }
  }

  // Prepares requests from the front of `pending` until the batch is full,
  // writes the group durably, then completes its requests.
  void CommitGroup(std::deque<WriteRequest>& pending) {
    const std::uint64_t group_first_seq = next_seq_;
    GroupContext context(db_.get(), by_family_, &next_seq_);
    std::vector<std::pair<WriteRequest, absl::StatusOr<CommitResult>>> group;
    while (!pending.empty() && context.group_bytes() < options_.max_group_bytes) {
      WriteRequest request = std::move(pending.front());
      pending.pop_front();
      const std::uint64_t first = next_seq_;
      absl::Status s = request.prepare(context);
      if (context.TakeClosedFamilyWrite() && s.ok()) {
        s = absl::FailedPreconditionError("a write to a column family this database does not hold");
      }
      context.EndRequest(s.ok());
      if (s.ok()) {
        group.emplace_back(std::move(request), CommitResult{first, next_seq_ - 1});
      } else {
        next_seq_ = first;
        group.emplace_back(std::move(request), std::move(s));
      }
    }
    if (next_seq_ != group_first_seq) {
      context.Put(ColumnFamily::kMeta, LastSeqKey(), std::to_string(next_seq_ - 1));
      context.EndRequest(/*keep=*/true);
    }
    rocksdb::WriteBatch batch = context.TakeBatch();
    WrittenGroup written{std::move(group), absl::OkStatus(), nullptr, next_seq_ - 1};
    if (absl::Status failed = SyncFailure(); !failed.ok()) {
      written.status = failed;  // nothing more is written after a failed sync
      next_seq_ = group_first_seq;
    } else if (batch.Count() > 0) {
      // Written without waiting for the disk: the syncer makes it durable
      // while the next group is prepared against it. Nothing outside this
      // thread sees it (reads use durable views) before it is synced.
      written.status = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch),
                                 "commit");
      if (written.status.ok()) {
        written.view = std::make_shared<const DurableView>(db_.get(), next_seq_ - 1);
      } else {
        next_seq_ = group_first_seq;
      }
    }
    absl::MutexLock lock(&sync_mu_);
    to_sync_.push_back(std::move(written));
  }

  // Syncs the WAL once for every group written since the last sync, then
  // publishes their views and completes their requests, in order.
  void SyncerLoop() {
    std::deque<WrittenGroup> groups;
    while (true) {
      {
        absl::MutexLock lock(&sync_mu_);
        sync_mu_.Await(absl::Condition(
            +[](RocksStorage* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->sync_mu_) {
              return !s->to_sync_.empty() || s->syncer_stopping_;
            },
            this));
        if (to_sync_.empty()) return;  // the writer has stopped and all is done
        groups.swap(to_sync_);
      }
      bool wrote = false;
      for (const WrittenGroup& g : groups) wrote |= g.view != nullptr;
      // After one failed sync nothing is confirmed any more: later groups
      // were prepared on top of writes that may not be on disk, and a retried
      // fsync can succeed without them.
      absl::Status synced = SyncFailure();
      if (synced.ok() && wrote && options_.sync_writes) {
        synced = FromRocks(db_->SyncWAL(), "sync the write-ahead log");
        if (!synced.ok()) {
          absl::MutexLock lock(&sync_mu_);
          sync_failure_ = absl::UnavailableError(absl::StrCat(
              "storage could not make commits durable (", synced.message(),
              "); restart vigild once the disk is healthy"));
        }
      }
      for (WrittenGroup& g : groups) {
        absl::Status status = g.status.ok() ? synced : g.status;
        if (status.ok() && g.view != nullptr) {
          {
            absl::MutexLock lock(&view_mu_);
            current_view_ = g.view;
          }
          last_committed_seq_.store(g.last_seq, std::memory_order_release);
        }
        for (auto& [request, result] : g.requests) {
          if (!status.ok() && result.ok()) result = status;
          request.done(std::move(result));
        }
      }
      groups.clear();
    }
  }

  absl::Status SyncFailure() {
    absl::MutexLock lock(&sync_mu_);
    return sync_failure_;
  }

  std::shared_ptr<const DurableView> CurrentView() {
    absl::MutexLock lock(&view_mu_);
    return current_view_;
  }

  // Reads at `snapshot`, or at the latest durable view (held in `hold`).
  rocksdb::ReadOptions ReadAt(const Snapshot* snapshot,
                              std::shared_ptr<const DurableView>& hold) {
    rocksdb::ReadOptions ro;
    if (snapshot != nullptr) {
      ro.snapshot = snapshot->rep().snapshot;
    } else {
      hold = CurrentView();
      ro.snapshot = hold->snapshot;
    }
    return ro;
  }

  // A group written to the database, waiting for the WAL sync.
  struct WrittenGroup {
    std::vector<std::pair<WriteRequest, absl::StatusOr<CommitResult>>> requests;
    absl::Status status;                      // of the write
    std::shared_ptr<const DurableView> view;  // null when nothing was written
    std::uint64_t last_seq = 0;
  };

  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // the open families
  const FamilyHandles by_family_;                        // nullptr: not open
  const StorageOptions options_;

  absl::Mutex mu_;
  std::deque<WriteRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::uint64_t next_seq_;  // owned by the writer thread
  std::atomic<std::uint64_t> last_committed_seq_;

  absl::Mutex sync_mu_;
  std::deque<WrittenGroup> to_sync_ ABSL_GUARDED_BY(sync_mu_);
  bool syncer_stopping_ ABSL_GUARDED_BY(sync_mu_) = false;
  absl::Status sync_failure_ ABSL_GUARDED_BY(sync_mu_);

  absl::Mutex view_mu_;
  std::shared_ptr<const DurableView> current_view_ ABSL_GUARDED_BY(view_mu_);

  std::thread syncer_;
  std::thread writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(
    const std::string& db_path, const StorageOptions& options) {
  std::error_code ec;
  const bool exists = DatabaseExists(db_path);
  if (!exists && !options.create_if_missing) {
    return absl::FailedPreconditionError(
        absl::StrCat("no database in ", db_path));
  }
  if (std::filesystem::exists(db_path, ec) &&
      !std::filesystem::is_directory(db_path, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_path, " exists and is not a directory"));
  }
  if (!exists) {
    std::filesystem::create_directories(db_path, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("create ", db_path, ": ", ec.message()));
    }
  }
  ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(db_path + "/VIGIL.LOCK"));
  bool initialized = false;
  std::vector<std::string> present;
  if (exists) {
    ASSIGN_OR_RETURN(initialized, ProbeReadOnly(db_path, options, present));
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  // Opened without permission to create anything, an existing database is
  // opened with the families it has.
  StorageOptions families = options;
  if (exists && !options.create_if_missing) families.column_families.clear();
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(MakeDBOptions(options), db_path,
                                              MakeFamilies(families, present), &handles, &raw),
                            absl::StrCat("open ", db_path)));
  std::unique_ptr<rocksdb::DB> db(raw);
  auto close_handles = [&] {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  };

  std::uint64_t last_seq = 0;
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), handles[0], LastSeqKey(), &value);
  if (s.ok()) {
    auto parsed = ParseUint64(value, "last commit sequence");
    if (!parsed.ok()) {
      close_handles();
      return parsed.status();
    }
    last_seq = *parsed;
  } else if (s.IsNotFound() && !initialized) {
    rocksdb::WriteBatch init;
    init.Put(handles[0], FormatVersionKey(), std::to_string(kStorageFormatVersion));
    init.Put(handles[0], LastSeqKey(), "0");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Write(wo, &init);
  }
  if (!s.ok()) {
    close_handles();
    return FromRocks(s, "read last commit sequence");
  }
  lock->WriteOwnerPid();
  return std::unique_ptr<Storage>(new RocksStorage(
      std::move(lock), std::move(db), std::move(handles), options, last_seq));
}

absl::StatusOr<std::vector<BackupInfo>> Storage::ListBackups(
    const std::string& backup_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(backup_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no backup directory ", backup_dir));
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(
      rocksdb::BackupEngineReadOnly::Open(
          rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw),
      absl::StrCat("open backup directory ", backup_dir)));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<BackupInfo> out;
  for (const auto& i : infos) {
    out.push_back(BackupInfo{i.backup_id, i.timestamp, i.size, i.number_files});
  }
  return out;
}

absl::Status Storage::RestoreBackup(const std::string& backup_dir,
                                    const std::string& db_path,
                                    std::optional<std::uint32_t> backup_id) {
  ASSIGN_OR_RETURN(std::vector<BackupInfo> backups, ListBackups(backup_dir));
  if (backups.empty()) {
    return absl::NotFoundError(absl::StrCat("no backups in ", backup_dir));
  }
  std::uint32_t id = backup_id.value_or(backups.back().id);
  std::error_code ec;
  if (std::filesystem::exists(db_path, ec) &&
      !std::filesystem::is_empty(db_path, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore target ", db_path, " is not empty; restore into a new directory"));
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(
      rocksdb::BackupEngineReadOnly::Open(
          rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw),
      absl::StrCat("open backup directory ", backup_dir)));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  rocksdb::Status verified = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (verified.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no backup ", id, " in ", backup_dir));
  }
  if (!verified.ok()) {
    return absl::DataLossError(absl::StrCat("backup ", id, " in ", backup_dir,
                                            " failed verification: ",
                                            verified.ToString()));
  }
  std::filesystem::create_directories(db_path, ec);
  return FromRocks(engine->RestoreDBFromBackup(id, db_path, db_path),
                   absl::StrCat("restore backup ", id, " into ", db_path));
}

}  // namespace vigil::storage
