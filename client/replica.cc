#include "client/replica.h"

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
#include "storage/storage.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::client {
namespace {

using storage::ColumnFamily;
using vigil::internal::ClientProfile;
using vigil::internal::LocalRecord;
using vigil::internal::OutboxEntry;
using vigil::internal::ParkedMutation;
using vigil::internal::StoredReceipt;
using vigil::internal::UploadEntry;
using vigil::v1::Mutation;
using vigil::v1::Record;
using vigil::v1::RecordBody;

constexpr ColumnFamily kMeta = ColumnFamily::kMeta;

// Every key of the local store starts with "t/", apart from storage's own.
const std::string kProfileKey = "t/profile";
const std::string kClockKey = "t/clock";
const std::string kOutSeqKey = "t/outseq";
const std::string kKeyCheckKey = "t/keycheck";
std::string FollowKey(const std::string& scope) { return absl::StrCat("t/follow/", scope); }
std::string CursorKey(const std::string& scope) { return absl::StrCat("t/cursor/", scope); }
std::string RecordKey(const std::string& id) { return absl::StrCat("t/rec/", id); }
// Records of a scope: "t/in/{scope}\0{id}".
std::string InScopePrefix(const std::string& scope) {
  return absl::StrCat("t/in/", scope, std::string(1, '\0'));
}
std::string InScopeKey(const std::string& scope, const std::string& id) {
  return absl::StrCat(InScopePrefix(scope), id);
}
std::string OutboxKey(std::uint64_t n) { return absl::StrFormat("t/out/%020d", n); }
std::string ParkKey(std::uint64_t n) { return absl::StrFormat("t/park/%020d", n); }
// One entry per content and scope: the same photo attached in two visits is
// uploaded (or proven) into each. Stores from before keep "t/upload/<sha>".
std::string UploadKey(const std::string& sha, const std::string& scope) {
  return absl::StrCat("t/upload/", sha, "/", scope);
}
std::string ReceiptKey(const std::string& scope) { return absl::StrCat("t/receipt/", scope); }
// After the server was restored from a backup: the revisions this device
// holds that were committed after the backup ("t/lost/{scope}\0{id}", the
// LocalRecord as it was), until they are sent again, and the restore point.
std::string LostPrefix(const std::string& scope) {
  return absl::StrCat("t/lost/", scope, std::string(1, '\0'));
}
std::string RestoredKey(const std::string& scope) { return absl::StrCat("t/restored/", scope); }

// Every value of the local store (records, outbox, parked edits, the
// device token, receipts) is sealed with XChaCha20-Poly1305 under the store
// key, bound to its key name; attachment copies are sealed in chunks. Keys
// (record ids, scope names) stay readable: they say nothing of the content.
class Sealer {
 public:
  explicit Sealer(std::string key) : key_(std::move(key)) {}

  std::string Seal(std::string_view name, std::string_view plain) const {
    std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain.size() +
                        crypto_aead_xchacha20poly1305_ietf_ABYTES,
                    '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(out.data());
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &len,
        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
        reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr, nonce,
        Key());
    return out;
  }

  absl::StatusOr<std::string> Open(std::string_view name, std::string_view sealed) const {
    constexpr std::size_t kOver =
        crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    std::string out(sealed.size() >= kOver ? sealed.size() - kOver : 0, '\0');
    unsigned long long len = 0;
    const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
    if (sealed.size() < kOver ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(out.data()), &len, nullptr,
            nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            sealed.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            reinterpret_cast<const unsigned char*>(name.data()), name.size(), nonce, Key()) != 0) {
      return absl::DataLossError(absl::StrCat(
          "local store: the value at ", std::string(name),
          " does not open with this store key (wrong key, or the store was altered)"));
    }
    return out;
  }

  // One chunk of an attachment copy (see kBlobMagic below).
  std::string SealChunk(const unsigned char* nonce, std::string_view plain) const {
    std::string out(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        reinterpret_cast<unsigned char*>(out.data()), &len,
        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nullptr, 0, nullptr,
        nonce, Key());
    return out;
  }
  bool OpenChunk(const unsigned char* nonce, std::string_view sealed, std::string* plain) const {
    if (sealed.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) return false;
    plain->resize(sealed.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
    unsigned long long len = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               reinterpret_cast<unsigned char*>(plain->data()), &len, nullptr,
               reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(), nullptr, 0,
               nonce, Key()) == 0;
  }

 private:
  const unsigned char* Key() const { return reinterpret_cast<const unsigned char*>(key_.data()); }
  std::string key_;
};

template <typename M>
absl::StatusOr<std::optional<M>> Parse(const Sealer& sealer, const std::string& key,
                                       std::string_view raw) {
  ASSIGN_OR_RETURN(std::string plain, sealer.Open(key, raw));
  M message;
  if (!message.ParseFromString(plain)) {
    return absl::DataLossError(absl::StrCat("local store: unreadable value at ", key));
  }
  return message;
}

template <typename M>
absl::StatusOr<std::optional<M>> LoadIn(const Sealer& sealer, storage::CommitContext& ctx,
                                        const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw, ctx.Get(kMeta, key));
  if (!raw.has_value()) return std::nullopt;
  return Parse<M>(sealer, key, *raw);
}

template <typename M>
absl::StatusOr<std::optional<M>> LoadFrom(const Sealer& sealer, storage::Storage& db,
                                          const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw, db.Get(kMeta, key));
  if (!raw.has_value()) return std::nullopt;
  return Parse<M>(sealer, key, *raw);
}

void Store(const Sealer& sealer, storage::CommitContext& ctx, const std::string& key,
           const google::protobuf::Message& message) {
  ctx.Put(kMeta, key, sealer.Seal(key, message.SerializeAsString()));
}

// Values of every key with `prefix`, in key order, from `scan` (a
// storage's or a commit's Scan over a key range).
template <typename M, typename ScanFn>
absl::StatusOr<std::vector<std::pair<std::string, M>>> CollectSealed(const Sealer& sealer,
                                                                     const std::string& prefix,
                                                                     std::size_t limit,
                                                                     ScanFn scan) {
  std::vector<std::pair<std::string, M>> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(scan(storage::KeyRange::Prefix(prefix),
                       [&](std::string_view key, std::string_view value) {
                         const std::string name(key);
                         absl::StatusOr<std::optional<M>> message = Parse<M>(sealer, name, value);
                         if (!message.ok()) {
                           parse = message.status();
                           return false;
                         }
                         out.emplace_back(name, std::move(**message));
                         return out.size() < limit;
                       }));
  RETURN_IF_ERROR(parse);
  return out;
}

// Scans of the store's keys, and of a commit's (which sees its own writes).
auto ScanOf(storage::Storage& db) {
  return [&db](const storage::KeyRange& range, auto visit) {
    return db.Scan(kMeta, range, nullptr, visit);
  };
}
auto ScanOf(storage::CommitContext& ctx) {
  return [&ctx](const storage::KeyRange& range, auto visit) {
    return ctx.Scan(kMeta, range, visit);
  };
}

template <typename M>
absl::StatusOr<std::vector<std::pair<std::string, M>>> ScanAll(const Sealer& sealer,
                                                               storage::Storage& db,
                                                               const std::string& prefix,
                                                               std::size_t limit = SIZE_MAX) {
  return CollectSealed<M>(sealer, prefix, limit, ScanOf(db));
}

template <typename M>
absl::StatusOr<std::vector<std::pair<std::string, M>>> ScanIn(const Sealer& sealer,
                                                              storage::CommitContext& ctx,
                                                              const std::string& prefix) {
  return CollectSealed<M>(sealer, prefix, SIZE_MAX, ScanOf(ctx));
}

// The ids of the records held in `scope`, from `scan` (a ScanOf).
template <typename ScanFn>
absl::StatusOr<std::vector<std::string>> IdsInScope(const std::string& scope, ScanFn scan) {
  std::vector<std::string> ids;
  const std::string prefix = InScopePrefix(scope);
  RETURN_IF_ERROR(scan(storage::KeyRange::Prefix(prefix),
                       [&](std::string_view key, std::string_view) {
                         ids.emplace_back(key.substr(prefix.size()));
                         return true;
                       }));
  return ids;
}

// Attachment copies: a header (magic, 16-byte file nonce), then chunks of
// kBlobChunk plaintext bytes, each sealed on its own (nonce: file nonce and
// chunk index), so that an upload can resume at any offset.
constexpr char kBlobMagic[8] = {'V', 'G', 'L', 'B', '1', 0, 0, 0};
constexpr std::size_t kBlobNonce = 16;
constexpr std::size_t kBlobHeader = sizeof(kBlobMagic) + kBlobNonce;
constexpr std::size_t kBlobChunk = 64 << 10;
constexpr std::size_t kBlobSealed = kBlobChunk + crypto_aead_xchacha20poly1305_ietf_ABYTES;

void ChunkNonce(const unsigned char* file_nonce, std::uint64_t index,
                unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES]) {
  std::memcpy(nonce, file_nonce, kBlobNonce);
  for (int i = 0; i < 8; ++i) nonce[kBlobNonce + i] = static_cast<unsigned char>(index >> (8 * i));
}

std::uint64_t NextCounter(storage::CommitContext& ctx, const std::string& key,
                          absl::Status* status) {
  auto raw = ctx.Get(kMeta, key);
  std::uint64_t n = 0;
  if (!raw.ok()) {
    *status = raw.status();
  } else if (raw->has_value() && !absl::SimpleAtoi(**raw, &n)) {
    *status = absl::DataLossError("local store: unreadable counter");
  }
  ++n;
  ctx.Put(kMeta, key, std::to_string(n));
  return n;
}

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::CANCELLED;
}

LocalView ViewOf(const std::string& id, const LocalRecord& rec) {
  LocalView view;
  view.id = id;
  view.scope = rec.scope();
  view.body = rec.body();
  view.deleted = rec.deleted();
  view.pending = rec.dirty();
  view.server_revision = rec.server().revision();
  view.conflicts.assign(rec.server().open_conflicts().begin(),
                        rec.server().open_conflicts().end());
  view.withheld_fields.assign(rec.server().withheld_fields().begin(),
                              rec.server().withheld_fields().end());
  return view;
}

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

// Reads plaintext ranges of a sealed attachment copy.
class BlobReader {
 public:
  BlobReader(const Sealer& sealer, const std::string& path)
      : sealer_(sealer), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    char header[kBlobHeader];
    ok_ = fd_ >= 0 && ::pread(fd_, header, kBlobHeader, 0) == static_cast<ssize_t>(kBlobHeader) &&
          std::memcmp(header, kBlobMagic, sizeof kBlobMagic) == 0;
    if (ok_) std::memcpy(file_nonce_, header + sizeof kBlobMagic, kBlobNonce);
  }
  ~BlobReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  bool ok() const { return ok_; }

  // Exactly `n` bytes at `offset` into `out`; false when the copy is short
  // or does not open.
  bool Read(std::uint64_t offset, std::size_t n, std::string* out) {
    out->clear();
    std::string sealed(kBlobSealed, '\0');
    std::string plain;
    while (out->size() < n) {
      const std::uint64_t at = offset + out->size();
      const std::uint64_t index = at / kBlobChunk;
      const ssize_t got = ::pread(fd_, sealed.data(), kBlobSealed,
                                  static_cast<off_t>(kBlobHeader + index * kBlobSealed));
      unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
      ChunkNonce(file_nonce_, index, nonce);
      if (got <= 0 ||
          !sealer_.OpenChunk(nonce, std::string_view(sealed.data(), static_cast<std::size_t>(got)),
                             &plain)) {
        return false;
      }
      const std::size_t skip = static_cast<std::size_t>(at - index * kBlobChunk);
      if (skip >= plain.size()) return false;
      out->append(plain, skip, std::min(plain.size() - skip, n - out->size()));
    }
    return true;
  }

 private:
  const Sealer& sealer_;
  int fd_;
  bool ok_ = false;
  unsigned char file_nonce_[kBlobNonce] = {};
};

absl::Status WriteAll(int fd, std::string_view data) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoError("cannot write into the store");
    done += static_cast<std::size_t>(w);
  }
  return absl::OkStatus();
}

// Reads until `n` bytes or the end of the file: the bytes read.
absl::StatusOr<std::size_t> ReadFull(int fd, char* buffer, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buffer + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("cannot read");
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

class Replica::Impl {
 public:
  Impl(std::string dir, std::unique_ptr<storage::Storage> db, std::string key)
      : dir_(std::move(dir)), db_(std::move(db)), sealer_(std::move(key)) {}

  // Deletes attachment copies nothing needs any more: left by an attach, a
  // purge, a forget or a free interrupted between its file and its commit.
  absl::Status RemoveOrphanCopies() {
    ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, "t/upload/"));
    std::set<std::string> needed;
    for (const auto& [key, u] : uploads) {
      if (!u.freed()) needed.insert(u.sha256());
    }
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(absl::StrCat(dir_, "/blobs"), ec)) {
      const std::string name = entry.path().filename().string();
      if (needed.count(name) > 0) continue;
      if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
        return ErrnoError(absl::StrCat("cannot remove ", entry.path().string()));
      }
    }
    if (ec) return absl::InternalError(absl::StrCat("cannot list the store's attachment copies: ",
                                                    ec.message()));
    return absl::OkStatus();
  }

  absl::Status Init() {
    // A known value sealed on first open tells a wrong key at once.
    ASSIGN_OR_RETURN(std::optional<std::string> check, db_->Get(kMeta, kKeyCheckKey));
    if (check.has_value()) {
      if (!sealer_.Open(kKeyCheckKey, *check).ok()) {
        return absl::FailedPreconditionError(
            "this store was sealed with another key: open it with its own key");
      }
    } else {
      RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                           ctx.Put(kMeta, kKeyCheckKey, sealer_.Seal(kKeyCheckKey, "vigil"));
                           return absl::OkStatus();
                         })
                          .status());
    }
    ASSIGN_OR_RETURN(auto clock, LoadFrom<vigil::internal::StoredClock>(sealer_, *db_, kClockKey));
    if (clock.has_value()) clock_.Restore(clock->last());
    return absl::OkStatus();
  }

  std::string BlobPath(const std::string& sha) const { return absl::StrCat(dir_, "/blobs/", sha); }

  absl::StatusOr<ClientProfile> Profile() const {
    ASSIGN_OR_RETURN(auto profile, LoadFrom<ClientProfile>(sealer_, *db_, kProfileKey));
    if (!profile.has_value() || profile->token().empty()) {
      return absl::FailedPreconditionError(
          "this store has no server credentials yet: enroll the device first");
    }
    return *profile;
  }

  static ServerAddress AddressOf(const ClientProfile& p) {
    return ServerAddress{.target = p.server(),
                         .ca_pem = p.ca_pem(),
                         .plaintext = p.plaintext(),
                         .client_cert_pem = p.client_cert_pem(),
                         .client_key_pem = p.client_key_pem()};
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel() const {
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    return MakeChannel(AddressOf(profile), profile.token());
  }

  absl::Status SaveProfile(const ClientProfile& profile) {
    return db_
        ->Commit([&](storage::CommitContext& ctx) {
          Store(sealer_, ctx, kProfileKey, profile);
          return absl::OkStatus();
        })
        .status();
  }

  absl::StatusOr<std::string> NewId() {
    sync::UuidRandomBytes random;
    randombytes_buf(random.data(), random.size());
    return sync::NewUuidV7(absl::Now(), random);
  }

  // A mutation stamped with this device's identity and a fresh HLC time,
  // which is persisted with it (`ctx`), so time never runs backwards across
  // restarts.
  // `mutation_id`: a new id when empty.
  absl::StatusOr<Mutation> NewMutation(storage::CommitContext& ctx, const ClientProfile& profile,
                                       const std::string& record_id,
                                       std::string mutation_id = "") {
    Mutation m;
    if (mutation_id.empty()) {
      ASSIGN_OR_RETURN(mutation_id, NewId());
    }
    m.set_mutation_id(mutation_id);
    m.set_record_id(record_id);
    m.set_author(profile.user_id());
    m.set_device_id(profile.device_id());
    vigil::internal::StoredClock stored;
    {
      absl::MutexLock lock(&clock_mu_);
      *m.mutable_hlc() = clock_.Now(absl::Now());
      *stored.mutable_last() = clock_.last();
    }
    Store(sealer_, ctx, kClockKey, stored);
    return m;
  }

  absl::Status Enqueue(storage::CommitContext& ctx, Mutation m) {
    absl::Status counter = absl::OkStatus();
    const std::uint64_t n = NextCounter(ctx, kOutSeqKey, &counter);
    RETURN_IF_ERROR(counter);
    OutboxEntry entry;
    *entry.mutable_mutation() = std::move(m);
    Store(sealer_, ctx, OutboxKey(n), entry);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> CreateIn(storage::CommitContext& ctx, const ClientProfile& profile,
                                       const std::string& scope, const RecordBody& body,
                                       std::string id = "", const std::string& mutation_id = "") {
    if (body.kind_case() == RecordBody::KIND_NOT_SET) {
      return absl::InvalidArgumentError("a record body needs a kind");
    }
    if (id.empty()) {
      ASSIGN_OR_RETURN(id, NewId());
    } else {
      RETURN_IF_ERROR(sync::ValidateRecordId(id));
      ASSIGN_OR_RETURN(std::optional<std::string> held, ctx.Get(kMeta, RecordKey(id)));
      if (held.has_value()) {
        return absl::AlreadyExistsError(absl::StrCat("record ", id, " is already on this device"));
      }
    }
    ASSIGN_OR_RETURN(Mutation m, NewMutation(ctx, profile, id, mutation_id));
    m.set_scope(scope);
    *m.mutable_body() = body;
    LocalRecord rec;
    *rec.mutable_body() = body;
    rec.set_scope(scope);
    rec.set_dirty(true);
    rec.set_last_mutation_id(m.mutation_id());
    rec.set_queued(1);
    Store(sealer_, ctx, RecordKey(id), rec);
    ctx.Put(kMeta, InScopeKey(scope, id), "");
    RETURN_IF_ERROR(Enqueue(ctx, std::move(m)));
    return id;
  }

  absl::StatusOr<std::string> Create(const std::string& scope, const RecordBody& body,
                                     const std::string& wanted) {
    if (scope.empty()) return absl::InvalidArgumentError("a record needs a scope");
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    std::string id;
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
                         ASSIGN_OR_RETURN(id, CreateIn(ctx, profile, scope, body, wanted));
                         return absl::OkStatus();
                       })
                        .status());
    return id;
  }

  // Edit, delete or resolution of an existing record.
  // `made_on`: the server revision the change was made on, when older than
  // the one the device holds now (a parked edit sent again), so that the
  // server merges it with what changed since instead of taking it whole.
  absl::Status Change(const std::string& record_id, const RecordBody* body, bool del,
                      const std::vector<std::string>* resolves,
                      std::uint64_t made_on = 0) {
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    return db_
        ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
          return ChangeIn(ctx, profile, record_id, body, del, resolves,
                          made_on > 0 ? std::optional<std::uint64_t>(made_on) : std::nullopt);
        })
        .status();
  }

  // `made_on`: unset for the revision the device holds. `onto_deleted`: an
  // edit of a record deleted on the server (kept there as a conflict).
  // `mutation_id`: a new id when empty.
  absl::Status ChangeIn(storage::CommitContext& ctx, const ClientProfile& profile,
                        const std::string& record_id, const RecordBody* body, bool del,
                        const std::vector<std::string>* resolves,
                        std::optional<std::uint64_t> made_on, bool onto_deleted = false,
                        const std::string& mutation_id = "") {
    ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                     LoadIn<LocalRecord>(sealer_, ctx, RecordKey(record_id)));
    if (!rec.has_value()) {
      return absl::NotFoundError(absl::StrCat("no record ", record_id, " on this device"));
    }
    if (rec->deleted() && !onto_deleted) {
      return absl::FailedPreconditionError(
          absl::StrCat("record ", record_id, " is deleted"));
    }
    if (body != nullptr && body->kind_case() != rec->body().kind_case()) {
      return absl::InvalidArgumentError(
          absl::StrCat("record ", record_id, " is of another kind"));
    }
    ASSIGN_OR_RETURN(Mutation m, NewMutation(ctx, profile, record_id, mutation_id));
    if (resolves != nullptr) {
      if (rec->dirty() || rec->queued() > 0) {
        return absl::FailedPreconditionError(
            "the record has local edits not yet synced: sync first, then resolve on the "
            "head the conflicts are on");
      }
      for (const std::string& c : *resolves) m.add_resolves_conflict_ids(c);
    }
    if (!rec->last_mutation_id().empty()) {
      m.set_base_mutation_id(rec->last_mutation_id());
    } else if (made_on.has_value() && *made_on < rec->server().revision()) {
      m.set_base_revision(*made_on);
    } else {
      m.set_base_revision(rec->server().revision());
      // Refused if that revision number names another change on the server
      // (restored from an older backup), rather than merged against it.
      m.set_base_edit_id(rec->server().updated().mutation_id());
    }
    // The server needs it for an edit chained on a create it holds for
    // a locked visit (the record does not exist there yet).
    m.set_scope(rec->scope());
    if (!rec->dirty()) *rec->mutable_base() = rec->server();
    rec->set_dirty(true);
    rec->set_last_mutation_id(m.mutation_id());
    rec->set_queued(rec->queued() + 1);
    if (del) {
      m.set_delete_(true);
      rec->set_deleted(true);
    } else {
      *m.mutable_body() = *body;
      *rec->mutable_body() = *body;
    }
    Store(sealer_, ctx, RecordKey(record_id), *rec);
    return Enqueue(ctx, std::move(m));
  }

  absl::StatusOr<std::string> Attach(const std::string& scope, const std::string& file_path,
                                     vigil::v1::Attachment metadata) {
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    // Copy into the store, hashing on the way.
    const int in = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoError(absl::StrCat("cannot open ", file_path));
    ASSIGN_OR_RETURN(std::string tmp_id, NewId());
    const std::string tmp = absl::StrCat(dir_, "/blobs/.tmp-", tmp_id);
    const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
      ::close(in);
      return ErrnoError("cannot write into the store");
    }
    Sha256 hash;
    unsigned char file_nonce[kBlobNonce];
    randombytes_buf(file_nonce, sizeof file_nonce);
    std::string header(kBlobMagic, sizeof kBlobMagic);
    header.append(reinterpret_cast<const char*>(file_nonce), kBlobNonce);
    absl::Status copied = WriteAll(out, header);
    std::string buffer(kBlobChunk, '\0');
    std::uint64_t size = 0;
    for (std::uint64_t index = 0; copied.ok(); ++index) {
      absl::StatusOr<std::size_t> n = ReadFull(in, buffer.data(), buffer.size());
      if (!n.ok()) {
        copied = ErrnoError(absl::StrCat("cannot read ", file_path));
        break;
      }
      if (*n == 0) break;
      hash.Update(std::string_view(buffer.data(), *n));
      unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
      ChunkNonce(file_nonce, index, nonce);
      copied = WriteAll(out, sealer_.SealChunk(nonce, std::string_view(buffer.data(), *n)));
      size += *n;
      if (*n < buffer.size()) break;
    }
    ::close(in);
    if (copied.ok() && ::fsync(out) != 0) copied = ErrnoError("cannot sync the store");
    ::close(out);
    const std::string sha = hash.FinalHex();
    if (copied.ok() && ::rename(tmp.c_str(), BlobPath(sha).c_str()) != 0) {
      copied = ErrnoError("cannot keep the file in the store");
    }
    if (!copied.ok()) {
      ::unlink(tmp.c_str());
      return copied;
    }
    const int blobs = ::open(absl::StrCat(dir_, "/blobs").c_str(), O_RDONLY | O_DIRECTORY);
    if (blobs >= 0) {
      ::fsync(blobs);
      ::close(blobs);
    }

    metadata.set_sha256(sha);
    metadata.set_size_bytes(size);
    metadata.set_capture_device_id(profile.device_id());
    if (!metadata.has_captured_at()) {
      metadata.mutable_captured_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    }
    if (metadata.visit_id().empty()) metadata.set_visit_id(std::string(sync::VisitIdOf(scope)));
    RecordBody body;
    *body.mutable_attachment() = std::move(metadata);
    std::string id;
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
                         const std::string key = UploadKey(sha, scope);
                         ASSIGN_OR_RETURN(auto upload, LoadIn<UploadEntry>(sealer_, ctx, key));
                         if (!upload.has_value() || upload->freed()) {
                           UploadEntry entry;
                           entry.set_sha256(sha);
                           entry.set_size(size);
                           entry.set_scope(scope);
                           Store(sealer_, ctx, key, entry);
                         }
                         ASSIGN_OR_RETURN(id, CreateIn(ctx, profile, scope, body));
                         return absl::OkStatus();
                       })
                        .status());
    return id;
  }

  // --- Sync. ---

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
      if (s.ok() || !Transient(s.error_code()) || stop(s) ||
          absl::Now() - start + backoff > options.retry_for) {
        return s;
      }
      ++report.retries;
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }

  absl::StatusOr<SyncReport> Sync(const SyncOptions& options, const ProgressFn& progress) {
    absl::MutexLock one_at_a_time(&sync_mu_);
    ASSIGN_OR_RETURN(ClientProfile profile, Profile());
    grpc::ChannelArguments args;
    // A fresh connection per sync: a link that died while the tablet slept
    // is not reused.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                     MakeChannel(AddressOf(profile), profile.token(), args,
                                 options.interceptors ? options.interceptors() : Interceptors()));
    auto stub = vigil::v1::SyncService::NewStub(channel);
    SyncReport report;
    Progress state;
    auto tell = [&](Progress::Phase phase, const std::string& scope) {
      state.phase = phase;
      state.scope = scope;
      if (progress) progress(state);
    };
    if (options.push) {
      RETURN_IF_ERROR(UploadAll(*stub, options, report, state, tell));
      RETURN_IF_ERROR(PushAll(*stub, options, report, state, tell));
    }
    ASSIGN_OR_RETURN(const std::vector<std::string> followed, Followed());
    for (const std::string& scope : followed) {
      absl::Status pulled = PullScope(*stub, scope, options, report, state, tell);
      if (pulled.code() == absl::StatusCode::kUnauthenticated) return pulled;
      if (!pulled.ok()) report.scope_errors.emplace_back(scope, pulled);
    }
    if (options.push && (!report.recovered.empty() || !report.requeued.empty())) {
      // What the server lost in a restore goes back now, not a sync later.
      RETURN_IF_ERROR(UploadAll(*stub, options, report, state, tell));
      RETURN_IF_ERROR(PushAll(*stub, options, report, state, tell));
    }
    if (options.fetch_receipts && !profile.receipt_public_key().empty()) {
      // Scopes purged by this sync are no longer followed.
      ASSIGN_OR_RETURN(const std::vector<std::string> still, Followed());
      for (const std::string& scope : still) {
        if (sync::VisitIdOf(scope).empty()) continue;  // receipts are per visit
        tell(Progress::Phase::kReceipt, scope);
        absl::Status checked = CheckReceipt(*stub, profile, scope, options, report);
        if (checked.code() == absl::StatusCode::kUnauthenticated) return checked;
        if (!checked.ok()) report.scope_errors.emplace_back(scope, checked);
      }
    }
    tell(Progress::Phase::kDone, "");
    return report;
  }

  template <typename Tell>
  absl::Status UploadAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                         SyncReport& report, Progress& state, Tell& tell) {
    ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, "t/upload/"));
    std::vector<std::pair<std::string, UploadEntry>> todo;
    for (auto& [key, entry] : uploads) {
      if (!entry.uploaded() && !entry.freed()) {
        state.bytes_left += entry.size();
        todo.emplace_back(key, std::move(entry));
      }
    }
    for (auto& [key, entry] : todo) {
      tell(Progress::Phase::kUpload, entry.scope());
      absl::Status uploaded = UploadOne(stub, entry, options, report, state, tell);
      // A refusal for one scope (e.g. no longer on its team) does not stop
      // the rest: the pull still brings that scope's purge instruction.
      if (!uploaded.ok() && !Transient(static_cast<grpc::StatusCode>(uploaded.code())) &&
          uploaded.code() != absl::StatusCode::kUnauthenticated) {
        report.scope_errors.emplace_back(entry.scope(), uploaded);
        continue;
      }
      if (!uploaded.ok() && uploaded.code() != absl::StatusCode::kUnauthenticated) {
        // The link did not carry it within the retry window: it stays
        // queued (and resumes where the server's copy ends), and the edits,
        // far smaller, are still pushed.
        report.scope_errors.emplace_back(entry.scope(), uploaded);
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(uploaded);
      RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                           // Only its own mark: the entry may have changed
                           // meanwhile (confirmed, freed).
                           ASSIGN_OR_RETURN(auto now, LoadIn<UploadEntry>(sealer_, ctx, key));
                           if (!now.has_value()) return absl::OkStatus();  // purged
                           now->set_uploaded(true);
                           Store(sealer_, ctx, key, *now);
                           return absl::OkStatus();
                         })
                          .status());
      ++report.attachments_uploaded;
    }
    return absl::OkStatus();
  }

  template <typename Tell>
  absl::Status UploadOne(vigil::v1::SyncService::Stub& stub, const UploadEntry& entry,
                         const SyncOptions& options, SyncReport& report, Progress& state,
                         Tell& tell) {
    const std::uint64_t left_before = state.bytes_left;
    const std::uint64_t done_before = state.bytes_done;
    grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) -> grpc::Status {
      // Where the server's durable copy ends.
      vigil::v1::GetAttachmentStatusRequest ask;
      ask.set_sha256(entry.sha256());
      ask.set_scope(entry.scope());
      vigil::v1::AttachmentStatus held;
      grpc::Status asked = stub.GetAttachmentStatus(&ctx, ask, &held);
      if (!asked.ok() && asked.error_code() != grpc::StatusCode::NOT_FOUND) return asked;
      if (asked.ok() && held.complete()) return grpc::Status::OK;
      const std::uint64_t from = asked.ok() ? held.received() : 0;
      BlobReader file(sealer_, BlobPath(entry.sha256()));
      if (!file.ok()) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "the local copy of attachment " + entry.sha256() +
                                " is missing or does not open with this store key");
      }
      grpc::ClientContext upload_ctx;
      upload_ctx.set_deadline(absl::ToChronoTime(
          absl::Now() + options.call_deadline +
          absl::Seconds(static_cast<double>(entry.size() - from) / (256 << 10))));
      vigil::v1::AttachmentStatus result;
      auto writer = stub.UploadAttachment(&upload_ctx, &result);
      vigil::v1::UploadAttachmentRequest header;
      header.mutable_header()->set_sha256(entry.sha256());
      header.mutable_header()->set_size(entry.size());
      header.mutable_header()->set_scope(entry.scope());
      bool open = writer->Write(header);
      std::string chunk(options.chunk_bytes, '\0');
      std::uint64_t offset = from;
      state.bytes_done = done_before + from;
      state.bytes_left = left_before - from;
      while (open && offset < entry.size()) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), entry.size() - offset));
        if (!file.Read(offset, want, &chunk)) {
          upload_ctx.TryCancel();
          writer->Finish();
          return grpc::Status(grpc::StatusCode::DATA_LOSS,
                              "the local copy of attachment " + entry.sha256() + " is short");
        }
        vigil::v1::UploadAttachmentRequest message;
        auto* c = message.mutable_chunk();
        c->set_offset(offset);
        c->set_data(chunk);
        c->set_sha256(Sha256::HexOf(c->data()));
        open = writer->Write(message);
        if (open) {
          offset += want;
          state.bytes_done = done_before + offset;
          state.bytes_left = left_before - offset;
          tell(Progress::Phase::kUpload, entry.scope());
        }
      }
      if (open) writer->WritesDone();
      grpc::Status finished = writer->Finish();
      if (finished.ok() && !result.complete()) {
        // Not all of it is held yet (another upload of the same content is
        // under way, or this one proved the content and may now resume):
        // ask again.
        return grpc::Status(grpc::StatusCode::ABORTED,
                            "the server does not hold all of attachment " + entry.sha256() + " yet");
      }
      if (finished.ok()) report.uploaded_bytes += entry.size() - from;
      return finished;
    });
    state.bytes_done = done_before + entry.size();
    state.bytes_left = left_before - entry.size();
    return ToAbsl(s);
  }

  template <typename Tell>
  absl::Status PushAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                       SyncReport& report, Progress& state, Tell& tell) {
    ASSIGN_OR_RETURN(auto all, ScanAll<OutboxEntry>(sealer_, *db_, "t/out/"));
    state.records_left = all.size();
    state.records_done = 0;
    tell(Progress::Phase::kPush, "");
    // A batch that cannot cross the link within the deadline (a slow mobile
    // link) is halved, down to one mutation, rather than resent whole
    // forever: it is applied atomically, so nothing of it would ever land.
    std::size_t max_count = static_cast<std::size_t>(std::max(1, options.push_batch));
    std::size_t max_bytes = 8u << 20;  // the server takes 16 MiB per call
    while (true) {
      // The head of the outbox, by count and by bytes.
      ASSIGN_OR_RETURN(auto batch, ScanAll<OutboxEntry>(sealer_, *db_, "t/out/", max_count));
      if (batch.empty()) return absl::OkStatus();
      vigil::v1::PushRequest request;
      std::size_t bytes = 0;
      for (const auto& [key, entry] : batch) {
        bytes += entry.mutation().ByteSizeLong();
        if (request.mutations_size() > 0 && bytes > max_bytes) break;
        *request.add_mutations() = entry.mutation();
      }
      batch.resize(static_cast<std::size_t>(request.mutations_size()));
      vigil::v1::PushResponse response;
      // A batch of several that misses its deadline is halved, not resent.
      auto too_slow_for = [&](const grpc::Status& pushed) {
        return pushed.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
               request.mutations_size() > 1;
      };
      grpc::Status s = Retrying(
          options, report,
          [&](grpc::ClientContext& ctx) {
            response.Clear();
            return stub.Push(&ctx, request, &response);
          },
          too_slow_for);
      if (too_slow_for(s)) {
        // Resending is safe: whatever of it the server applied comes back
        // as duplicates.
        ++report.retries;
        max_count = std::max<std::size_t>(1, batch.size() / 2);
        max_bytes = std::max<std::size_t>(1, bytes / 2);
        continue;
      }
      if (s.ok()) {
        if (response.results_size() != request.mutations_size()) {
          return absl::InternalError("the server answered a push with the wrong number of results");
        }
        RETURN_IF_ERROR(Acknowledge(batch, response, report));
        state.records_done += batch.size();
        state.records_left -= std::min<std::uint64_t>(state.records_left, batch.size());
        tell(Progress::Phase::kPush, "");
        continue;
      }
      // A refusal that names its mutation parks that one, and the rest is
      // sent again. Anything else stops the sync with the outbox intact.
      std::size_t index = 0;
      const std::string named = ErrorMetadata(s, "index");
      if (Transient(s.error_code()) || s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          named.empty() || !absl::SimpleAtoi(named, &index) || index >= batch.size()) {
        return ToAbsl(s);
      }
      ParkedMutation parked;
      *parked.mutable_mutation() = batch[index].second.mutation();
      parked.set_code(static_cast<int>(s.error_code()));
      parked.set_message(s.error_message());
      parked.set_reason(ErrorReason(s));
      parked.set_kind("refused");
      RETURN_IF_ERROR(Park(batch[index].first, parked));
      report.parked.push_back(parked);
      state.records_left -= std::min<std::uint64_t>(state.records_left, 1);
    }
  }

  // Moves an outbox entry to the parked list. The local view of its record
  // falls back to the server's when nothing else of this device is pending.
  absl::Status Park(const std::string& outbox_key, const ParkedMutation& parked) {
    return db_
        ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
          ctx.Delete(kMeta, outbox_key);
          absl::Status counter = absl::OkStatus();
          const std::uint64_t n = NextCounter(ctx, "t/parkseq", &counter);
          RETURN_IF_ERROR(counter);
          Store(sealer_, ctx, ParkKey(n), parked);
          const std::string& id = parked.mutation().record_id();
          ASSIGN_OR_RETURN(std::optional<LocalRecord> rec, LoadIn<LocalRecord>(sealer_, ctx, RecordKey(id)));
          if (!rec.has_value()) return absl::OkStatus();
          rec->set_queued(rec->queued() > 0 ? rec->queued() - 1 : 0);
          if (rec->last_mutation_id() == parked.mutation().mutation_id() && rec->queued() == 0) {
            rec->clear_last_mutation_id();
          }
          StoreSettled(ctx, id, *rec);
          return absl::OkStatus();
        })
        .status();
  }

  // Stores `rec` after an edit of it was parked or held rather than applied:
  // with nothing else of it pending, it shows the server's head again (the
  // parked copy keeps the edit), or, if it never reached the server, it
  // leaves the view.
  void StoreSettled(storage::CommitContext& ctx, const std::string& id, LocalRecord& rec) {
    if (rec.queued() == 0 && rec.acked_revision() <= rec.server().revision()) {
      if (rec.server().revision() == 0) {
        ctx.Delete(kMeta, RecordKey(id));
        ctx.Delete(kMeta, InScopeKey(rec.scope(), id));
        return;
      }
      ShowServer(rec);
    }
    Store(sealer_, ctx, RecordKey(id), rec);
  }

  static void ShowServer(LocalRecord& rec) {
    *rec.mutable_body() = rec.server().body();
    rec.set_deleted(rec.server().deleted());
    rec.set_dirty(false);
    rec.clear_base();
    rec.clear_last_mutation_id();
    rec.set_acked_revision(0);
  }

  absl::Status Acknowledge(const std::vector<std::pair<std::string, OutboxEntry>>& batch,
                           const vigil::v1::PushResponse& response, SyncReport& report) {
    std::vector<ParkedMutation> late;
    RETURN_IF_ERROR(
        db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
             late.clear();
             std::map<std::string, LocalRecord> touched;
             std::set<std::string> held;  // records with an edit held, not applied
             for (std::size_t i = 0; i < batch.size(); ++i) {
               const auto& result = response.results(static_cast<int>(i));
               const Mutation& m = batch[i].second.mutation();
               ctx.Delete(kMeta, batch[i].first);
               auto it = touched.find(m.record_id());
               if (it == touched.end()) {
                 ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                                  LoadIn<LocalRecord>(sealer_, ctx, RecordKey(m.record_id())));
                 if (!rec.has_value()) continue;  // purged meanwhile
                 it = touched.emplace(m.record_id(), std::move(*rec)).first;
               }
               LocalRecord& rec = it->second;
               rec.set_queued(rec.queued() > 0 ? rec.queued() - 1 : 0);
               rec.set_acked_revision(std::max(rec.acked_revision(), result.revision()));
               if (result.late_submission()) {
                 // Not applied: the server holds it for the NPM unit, and
                 // the parked note says so.
                 held.insert(m.record_id());
                 if (rec.last_mutation_id() == m.mutation_id()) rec.clear_last_mutation_id();
                 ParkedMutation parked;
                 *parked.mutable_mutation() = m;
                 parked.set_kind("late_submission");
                 parked.set_message(
                     "the visit is locked: the server keeps this edit for the NPM unit to "
                     "accept or reject");
                 late.push_back(parked);
                 absl::Status counter = absl::OkStatus();
                 const std::uint64_t n = NextCounter(ctx, "t/parkseq", &counter);
                 RETURN_IF_ERROR(counter);
                 Store(sealer_, ctx, ParkKey(n), parked);
               }
             }
             for (auto& [id, rec] : touched) {
               if (held.count(id) > 0) {
                 StoreSettled(ctx, id, rec);
               } else {
                 Store(sealer_, ctx, RecordKey(id), rec);
               }
             }
             return absl::OkStatus();
           })
            .status());
    for (const auto& result : response.results()) {
      ++report.pushed;
      if (result.duplicate()) ++report.duplicates;
      for (const auto& c : result.conflict_ids()) report.new_conflict_ids.push_back(c);
    }
    for (auto& p : late) report.parked.push_back(std::move(p));
    return absl::OkStatus();
  }

  template <typename Tell>
  absl::Status PullScope(vigil::v1::SyncService::Stub& stub, const std::string& scope,
                         const SyncOptions& options, SyncReport& report, Progress& state,
                         Tell& tell) {
    // A cursor the server no longer accepts (its database was restored from
    // a backup, so its cursors were voided) starts the scope again, as a
    // reset: what this device holds is replaced by what the server has.
    bool restart = false;
    // The server's restore point, when it names one (see RecoverLost).
    std::optional<std::uint64_t> restored_at;
    while (true) {
      ASSIGN_OR_RETURN(std::optional<std::string> cursor, db_->Get(kMeta, CursorKey(scope)));
      vigil::v1::PullRequest request;
      request.set_scope(scope);
      request.set_cursor(restart ? "" : cursor.value_or(""));
      request.set_limit(static_cast<std::uint32_t>(options.pull_page));
      vigil::v1::PullResponse page;
      grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) {
        page.Clear();
        return stub.Pull(&ctx, request, &page);
      });
      if (!restart && !request.cursor().empty() &&
          s.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
          ErrorReason(s) == "CURSOR_INVALID") {
        restart = true;
        std::uint64_t point = 0;
        if (absl::SimpleAtoi(ErrorMetadata(s, "restored_at_seq"), &point)) restored_at = point;
        continue;
      }
      RETURN_IF_ERROR(ToAbsl(s));
      if (page.purge()) return Purge(scope, report);
      const bool first_after_restart = restart;
      if (restart) {
        page.set_reset(true);
        restart = false;
      }
      RETURN_IF_ERROR(ApplyPage(scope, page, first_after_restart ? restored_at : std::nullopt));
      report.pulled += static_cast<std::uint64_t>(page.records_size());
      state.records_done += static_cast<std::uint64_t>(page.records_size());
      tell(Progress::Phase::kPull, scope);
      if (!page.has_more()) return RecoverLost(stub, scope, options, report);
    }
  }

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

  // One kept-aside revision (`old`, under `key`): true once settled (sent
  // again, or found on the server), false while it waits.
  absl::StatusOr<bool> RecoverOne(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
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
                         ASSIGN_OR_RETURN(auto parked, ScanIn<ParkedMutation>(sealer_, ctx, "t/park/"));
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

  static bool RefusedForLostBase(const ParkedMutation& p) {
    return p.kind() == "refused" &&
           (p.reason() == "MUTATION_TARGET_NOT_FOUND" || p.reason() == "BASE_REVISION_IN_FUTURE" ||
            p.reason() == "BASE_MUTATION_UNKNOWN" || p.reason() == "BASE_REVISION_UNKNOWN");
  }

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

  // One page and its cursor, atomically: an interrupted pull resumes after
  // the last page stored.
  // `restored_at`: on the first page after the server voided this device's
  // cursor in a restore from backup, the restore point it named.
  absl::Status ApplyPage(const std::string& scope, const vigil::v1::PullResponse& page,
                         std::optional<std::uint64_t> restored_at = std::nullopt) {
    const absl::Time now = absl::Now();
    // A reset page starts the scope again in a new view: what this device
    // holds of it was shaped for the old one and goes, unless it carries
    // edits not yet sent or not yet seen in a pulled head.
    std::vector<std::string> held;
    std::vector<std::pair<std::string, UploadEntry>> uploads;
    if (page.reset()) {
      ASSIGN_OR_RETURN(held, IdsInScope(scope, ScanOf(*db_)));
    }
    if (restored_at.has_value()) {
      ASSIGN_OR_RETURN(uploads, ScanAll<UploadEntry>(sealer_, *db_, "t/upload/"));
    }
    return db_
        ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
          for (const std::string& id : held) {
            ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                             LoadIn<LocalRecord>(sealer_, ctx, RecordKey(id)));
            if (!rec.has_value()) continue;
            const bool pending = rec->dirty() || rec->queued() > 0;
            // A revision committed after the backup the server went back
            // to may exist nowhere else: kept aside until RecoverLost has
            // seen what the server holds.
            const bool pulled_lost = restored_at.has_value() && rec->server().revision() > 0 &&
                                     rec->server().seq() > *restored_at;
            if (pending && rec->queued() == 0 && restored_at.has_value() &&
                !rec->last_mutation_id().empty()) {
              // Edits the server acknowledged, not yet seen in a pull: the
              // view is what they made, the last of them its edit.
              LocalRecord acked = *rec;
              Record& made = *acked.mutable_server();
              *made.mutable_body() = rec->body();
              made.set_deleted(rec->deleted());
              made.set_id(id);
              made.mutable_updated()->set_mutation_id(rec->last_mutation_id());
              Store(sealer_, ctx, LostPrefix(scope) + id, acked);
            } else if (pending) {
              if (pulled_lost) {
                Store(sealer_, ctx, LostPrefix(scope) + id, *rec);
                // Its queued edits were made on that revision: refused by
                // the server and parked, they go out again after it. The
                // device no longer takes the server to hold it.
                rec->clear_server();
                Store(sealer_, ctx, RecordKey(id), *rec);
              }
              continue;
            } else if (pulled_lost) {
              Store(sealer_, ctx, LostPrefix(scope) + id, *rec);
            }
            ctx.Delete(kMeta, RecordKey(id));
            ctx.Delete(kMeta, InScopeKey(scope, id));
          }
          if (restored_at.has_value()) {
            // The earliest point of any restore not yet recovered from.
            ASSIGN_OR_RETURN(std::optional<std::string> earlier,
                             ctx.Get(kMeta, RestoredKey(scope)));
            std::uint64_t point = *restored_at;
            std::uint64_t before = 0;
            if (earlier.has_value() && absl::SimpleAtoi(*earlier, &before)) {
              point = std::min(point, before);
            }
            ctx.Put(kMeta, RestoredKey(scope), std::to_string(point));
            // The receipt vouched for what the server has lost; attachments
            // it held are checked (and sent) again while copies are here.
            ctx.Delete(kMeta, ReceiptKey(scope));
            for (auto [key, entry] : uploads) {
              if (entry.scope() != scope || entry.freed()) continue;
              entry.set_uploaded(false);
              entry.set_confirmed(false);
              Store(sealer_, ctx, key, entry);
            }
          }
          // This device's clock moves past every time it has seen, so that
          // its next edit counts as made after them (a resolution of a
          // conflict it pulled wins over the versions it saw).
          vigil::internal::StoredClock stored;
          {
            absl::MutexLock lock(&clock_mu_);
            for (const Record& r : page.records()) {
              (void)clock_.Receive(r.updated().hlc(), now);
            }
            *stored.mutable_last() = clock_.last();
          }
          Store(sealer_, ctx, kClockKey, stored);
          for (const Record& r : page.records()) {
            ASSIGN_OR_RETURN(std::optional<LocalRecord> found,
                             LoadIn<LocalRecord>(sealer_, ctx, RecordKey(r.id())));
            LocalRecord rec = found.value_or(LocalRecord());
            if (found.has_value() && rec.scope() != r.scope()) {
              ctx.Delete(kMeta, InScopeKey(rec.scope(), r.id()));
            }
            rec.set_scope(r.scope());
            *rec.mutable_server() = r;
            // Server bookkeeping the app never needs.
            rec.mutable_server()->clear_field_stamps();
            rec.mutable_server()->clear_text_merges();
            if (!rec.dirty() ||
                (rec.queued() == 0 && r.revision() >= rec.acked_revision())) {
              ShowServer(rec);
            } else if (!rec.deleted()) {
              Rebase(rec, r, now);
            }
            Store(sealer_, ctx, RecordKey(r.id()), rec);
            ctx.Put(kMeta, InScopeKey(r.scope(), r.id()), "");
          }
          ctx.Put(kMeta, CursorKey(scope), page.next_cursor());
          return absl::OkStatus();
        })
        .status();
  }

  // The local view of a record with pending edits on a new server head: the
  // edits merged onto it as the server will merge them (the same engine).
  // If the merge cannot run, the local body stays as the device wrote it.
  static void Rebase(LocalRecord& rec, const Record& head, absl::Time now) {
    Mutation m;
    m.set_mutation_id(rec.last_mutation_id());
    m.set_record_id(head.id());
    m.set_base_revision(std::min(rec.base().revision(), head.revision()));
    *m.mutable_body() = rec.body();
    *m.mutable_hlc() = head.updated().hlc();
    Record base = rec.base();
    const bool has_base = base.revision() > 0 && base.revision() <= head.revision();
    absl::StatusOr<sync::ApplyOutcome> merged =
        sync::ApplyMutation(&head, has_base ? &base : nullptr, m, now);
    if (!merged.ok()) return;
    *rec.mutable_body() = merged->record.body();
    *rec.mutable_base() = head;
    rec.mutable_base()->clear_open_conflicts();
  }

  absl::Status Purge(const std::string& scope, SyncReport& report) {
    ASSIGN_OR_RETURN(auto outbox, ScanAll<OutboxEntry>(sealer_, *db_, "t/out/"));
    ASSIGN_OR_RETURN(auto parked, ScanAll<ParkedMutation>(sealer_, *db_, "t/park/"));
    ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, "t/upload/"));
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
               const std::uint64_t n = NextCounter(ctx, "t/parkseq", &counter);
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

  // Deletes the scope's records (`ids`), its attachment uploads, cursor,
  // receipt, follow mark and what it kept aside after a server restore. The attachment copies to unlink once the commit
  // is durable are added to `blobs`.
  static absl::Status RemoveScopeIn(
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

  absl::StatusOr<std::uint64_t> Forget(const std::string& scope) {
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
             ASSIGN_OR_RETURN(auto outbox, ScanIn<OutboxEntry>(sealer_, ctx, "t/out/"));
             const auto waiting = std::count_if(outbox.begin(), outbox.end(), [&](const auto& e) {
               return belongs(e.second.mutation());
             });
             if (waiting > 0) {
               return absl::FailedPreconditionError(absl::StrCat(
                   waiting, " edit(s) of ", scope, " wait to be pushed: sync first"));
             }
             ASSIGN_OR_RETURN(auto parked, ScanIn<ParkedMutation>(sealer_, ctx, "t/park/"));
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
             ASSIGN_OR_RETURN(auto uploads, ScanIn<UploadEntry>(sealer_, ctx, "t/upload/"));
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

  absl::Status CheckReceipt(vigil::v1::SyncService::Stub& stub, const ClientProfile& profile,
                            const std::string& scope, const SyncOptions& options,
                            SyncReport& report) {
    vigil::v1::GetReceiptRequest request;
    request.set_scope(scope);
    vigil::v1::Receipt receipt;
    grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) {
      receipt.Clear();
      return stub.GetReceipt(&ctx, request, &receipt);
    });
    RETURN_IF_ERROR(ToAbsl(s));
    ASSIGN_OR_RETURN(vigil::v1::ReceiptManifest manifest,
                     VerifyReceipt(receipt, profile.receipt_public_key()));
    if (manifest.scope() != scope) {
      return absl::DataLossError(absl::StrCat("the receipt for ", scope, " names ",
                                              manifest.scope()));
    }
    ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, "t/upload/"));
    const std::set<std::string> held(manifest.attachment_sha256().begin(),
                                     manifest.attachment_sha256().end());
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                         for (auto [key, u] : uploads) {
                           if (u.scope() == scope && u.uploaded() && !u.confirmed() &&
                               held.count(u.sha256())) {
                             u.set_confirmed(true);
                             Store(sealer_, ctx, key, u);
                           }
                         }
                         StoredReceipt stored;
                         *stored.mutable_receipt() = receipt;
                         *stored.mutable_manifest() = manifest;
                         Store(sealer_, ctx, ReceiptKey(scope), stored);
                         return absl::OkStatus();
                       })
                        .status());
    report.receipts.push_back(std::move(manifest));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> Followed() const {
    std::vector<std::string> scopes;
    const std::string prefix = "t/follow/";
    RETURN_IF_ERROR(db_->Scan(kMeta, storage::KeyRange::Prefix(prefix), nullptr,
                              [&](std::string_view key, std::string_view) {
                                scopes.emplace_back(key.substr(prefix.size()));
                                return true;
                              }));
    return scopes;
  }

  const std::string dir_;
  std::unique_ptr<storage::Storage> db_;
  const Sealer sealer_;
  absl::Mutex sync_mu_;
  mutable absl::Mutex clock_mu_;
  sync::HybridClock clock_ ABSL_GUARDED_BY(clock_mu_);
};

absl::StatusOr<vigil::v1::ReceiptManifest> VerifyReceipt(const vigil::v1::Receipt& receipt,
                                                         const std::string& public_key) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return absl::FailedPreconditionError("no pinned receipt key to verify against");
  }
  if (receipt.signature().size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(receipt.signature().data()),
          reinterpret_cast<const unsigned char*>(receipt.manifest().data()),
          receipt.manifest().size(),
          reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return WithReason(
        absl::DataLossError("the receipt's signature does not verify against the pinned key"),
        "RECEIPT_SIGNATURE_INVALID");
  }
  vigil::v1::ReceiptManifest manifest;
  if (!manifest.ParseFromString(receipt.manifest())) {
    return absl::DataLossError("the receipt's manifest does not parse");
  }
  return manifest;
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

// Creates `path` (mode 0600; refused if it exists) holding `bytes`, synced:
// the store's key file, or the salt its passphrase key is derived with.
absl::Status CreateSecretFile(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError(absl::StrCat("cannot create ", path));
  absl::Status written = WriteAll(fd, bytes);
  if (written.ok() && ::fsync(fd) != 0) written = ErrnoError(absl::StrCat("cannot sync ", path));
  ::close(fd);
  return written;
}

// The key in DIR/store.key, made on first use (mode 0600).
absl::StatusOr<std::string> StoreKeyFile(const std::string& dir) {
  const std::string path = dir + "/store.key";
  std::string key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    absl::StatusOr<std::size_t> n = ReadFull(fd, key.data(), key.size() + 1);
    ::close(fd);
    if (!n.ok() || *n != key.size()) {
      return absl::DataLossError(absl::StrCat(path, " is not a store key"));
    }
    return key;
  }
  if (errno != ENOENT) return ErrnoError(absl::StrCat("cannot read ", path));
  randombytes_buf(key.data(), key.size());
  RETURN_IF_ERROR(CreateSecretFile(path, key));
  return key;
}

namespace {

constexpr char kSaltMagic[8] = {'V', 'G', 'L', 'S', 'A', 'L', 'T', '1'};

std::string SaltPath(const std::string& dir) { return dir + "/store.salt"; }

void PutUint64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t GetUint64(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in.substr(0, 8)) v = (v << 8) | c;
  return v;
}

}  // namespace

bool SealedByPassphrase(const std::string& dir) {
  struct stat st{};
  return ::stat(SaltPath(dir).c_str(), &st) == 0;
}

absl::StatusOr<std::string> StoreKeyFromPassphrase(const std::string& dir,
                                                   std::string_view passphrase) {
  if (sodium_init() < 0) return absl::InternalError("libsodium did not initialise");
  if (passphrase.empty()) return absl::InvalidArgumentError("the passphrase is empty");
  struct stat st{};
  if (::stat((dir + "/store.key").c_str(), &st) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is sealed with a key file (store.key), not a passphrase"));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(absl::StrCat("cannot create ", dir));
  }
  // Salt file: magic, opslimit, memlimit (8 bytes each), salt.
  const std::string path = SaltPath(dir);
  constexpr std::size_t kSize = sizeof kSaltMagic + 16 + crypto_pwhash_SALTBYTES;
  std::string salt_file(kSize + 1, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    absl::StatusOr<std::size_t> n = ReadFull(fd, salt_file.data(), salt_file.size());
    ::close(fd);
    if (!n.ok() || *n != kSize ||
        std::string_view(salt_file.data(), sizeof kSaltMagic) !=
            std::string_view(kSaltMagic, sizeof kSaltMagic)) {
      return absl::DataLossError(absl::StrCat(path, " is not a store salt file"));
    }
    salt_file.resize(kSize);
  } else {
    if (errno != ENOENT) return ErrnoError(absl::StrCat("cannot read ", path));
    salt_file.assign(kSaltMagic, sizeof kSaltMagic);
    PutUint64(salt_file, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    PutUint64(salt_file, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    std::string salt(crypto_pwhash_SALTBYTES, '\0');
    randombytes_buf(salt.data(), salt.size());
    salt_file += salt;
    RETURN_IF_ERROR(CreateSecretFile(path, salt_file));
  }
  const std::string_view fields(salt_file.data() + sizeof kSaltMagic, 16);
  const std::uint64_t opslimit = GetUint64(fields);
  const std::uint64_t memlimit = GetUint64(fields.substr(8));
  if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > (1ull << 32)) {
    return absl::DataLossError(absl::StrCat(path, " names limits out of range"));
  }
  std::string key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
  if (crypto_pwhash(reinterpret_cast<unsigned char*>(key.data()), key.size(), passphrase.data(),
                    passphrase.size(),
                    reinterpret_cast<const unsigned char*>(salt_file.data()) + sizeof kSaltMagic +
                        16,
                    opslimit, static_cast<std::size_t>(memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("not enough memory to derive the store key");
  }
  return key;
}

absl::StatusOr<std::unique_ptr<Replica>> Replica::Open(const std::string& dir,
                                                       const std::string& store_key) {
  if (sodium_init() < 0) return absl::InternalError("libsodium did not initialise");
  if (!store_key.empty() && store_key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    return absl::InvalidArgumentError("a store key is 32 bytes");
  }
  for (const std::string& d : {dir, dir + "/blobs"}) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError(absl::StrCat("cannot create ", d));
    }
  }
  std::string key = store_key;
  if (key.empty()) {
    if (SealedByPassphrase(dir)) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " is sealed by a passphrase: open it with the key derived from it"));
    }
    ASSIGN_OR_RETURN(key, StoreKeyFile(dir));
  }
  storage::StorageOptions options;
  options.block_cache_bytes = 8 << 20;
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Storage> db,
                   storage::Storage::Open(dir + "/db", options));
  auto impl = std::make_unique<Impl>(dir, std::move(db), std::move(key));
  RETURN_IF_ERROR(impl->Init());
  RETURN_IF_ERROR(impl->RemoveOrphanCopies());
  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

absl::Status Replica::Enroll(const ServerAddress& server, const std::string& code,
                             const std::string& device_name) {
  ASSIGN_OR_RETURN(auto existing, LoadFrom<ClientProfile>(impl_->sealer_, *impl_->db_, kProfileKey));
  if (existing.has_value() && !existing->token().empty()) {
    return absl::FailedPreconditionError(
        "this store is already enrolled; use another store for another device");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(server, ""));
  vigil::v1::EnrollDeviceRequest request;
  request.set_enrollment_code(code);
  request.set_device_name(device_name);
  vigil::v1::EnrollDeviceResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  RETURN_IF_ERROR(
      ToAbsl(vigil::v1::AdminService::NewStub(channel)->EnrollDevice(&ctx, request, &response)));
  ClientProfile profile;
  profile.set_server(server.target);
  profile.set_ca_pem(server.ca_pem);
  profile.set_plaintext(server.plaintext);
  profile.set_client_cert_pem(server.client_cert_pem);
  profile.set_client_key_pem(server.client_key_pem);
  profile.set_token(response.token());
  profile.set_device_id(response.device().device_id());
  profile.set_user_id(response.device().user_id());
  profile.set_receipt_public_key(response.receipt_public_key());
  return impl_->SaveProfile(profile);
}

absl::Status Replica::SetCredentials(const ServerAddress& server, const std::string& token) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(server, token));
  vigil::v1::WhoAmIResponse me;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  RETURN_IF_ERROR(ToAbsl(
      vigil::v1::AdminService::NewStub(channel)->WhoAmI(&ctx, vigil::v1::WhoAmIRequest(), &me)));
  ClientProfile profile;
  profile.set_server(server.target);
  profile.set_ca_pem(server.ca_pem);
  profile.set_plaintext(server.plaintext);
  profile.set_client_cert_pem(server.client_cert_pem);
  profile.set_client_key_pem(server.client_key_pem);
  profile.set_token(token);
  profile.set_device_id(me.device().device_id());
  profile.set_user_id(me.user().user_id());
  ASSIGN_OR_RETURN(auto existing, LoadFrom<ClientProfile>(impl_->sealer_, *impl_->db_, kProfileKey));
  // A store holds one user's work: another user's token would push the
  // queued edits, and show the records, of the first.
  if (existing.has_value() && !existing->user_id().empty() &&
      existing->user_id() != profile.user_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this store belongs to ", existing->user_id(), ", not ", profile.user_id(),
        ": use another store for another user"));
  }
  // Keep a key pinned at enrollment.
  if (existing.has_value()) profile.set_receipt_public_key(existing->receipt_public_key());
  return impl_->SaveProfile(profile);
}

absl::StatusOr<ClientProfile> Replica::Profile() const { return impl_->Profile(); }

absl::StatusOr<std::shared_ptr<grpc::Channel>> Replica::Channel() const {
  return impl_->Channel();
}

absl::Status Replica::Follow(const std::string& scope) {
  RETURN_IF_ERROR(sync::Scope::Parse(scope).status());
  return impl_->db_
      ->Commit([&](storage::CommitContext& ctx) {
        ctx.Put(kMeta, FollowKey(scope), "");
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::vector<std::string>> Replica::Followed() const { return impl_->Followed(); }

absl::StatusOr<std::string> Replica::Create(const std::string& scope, const RecordBody& body,
                                            const std::string& id) {
  return impl_->Create(scope, body, id);
}

absl::Status Replica::Edit(const std::string& record_id, const RecordBody& body) {
  return impl_->Change(record_id, &body, false, nullptr);
}

absl::Status Replica::Edit(const std::string& record_id, const RecordBody& body,
                           std::uint64_t made_on_revision) {
  return impl_->Change(record_id, &body, false, nullptr, made_on_revision);
}

absl::Status Replica::Delete(const std::string& record_id) {
  return impl_->Change(record_id, nullptr, true, nullptr);
}

absl::Status Replica::Resolve(const std::string& record_id,
                              const std::vector<std::string>& conflict_ids,
                              const RecordBody& body) {
  if (conflict_ids.empty()) return absl::InvalidArgumentError("name the conflicts to resolve");
  return impl_->Change(record_id, &body, false, &conflict_ids);
}

absl::StatusOr<std::string> Replica::Attach(const std::string& scope, const std::string& file_path,
                                            vigil::v1::Attachment metadata) {
  return impl_->Attach(scope, file_path, std::move(metadata));
}

absl::StatusOr<LocalView> Replica::Get(const std::string& record_id) const {
  ASSIGN_OR_RETURN(auto rec, LoadFrom<LocalRecord>(impl_->sealer_, *impl_->db_, RecordKey(record_id)));
  if (!rec.has_value()) {
    return absl::NotFoundError(absl::StrCat("no record ", record_id, " on this device"));
  }
  return ViewOf(record_id, *rec);
}

absl::StatusOr<std::vector<LocalView>> Replica::List(const std::string& scope) const {
  ASSIGN_OR_RETURN(const std::vector<std::string> ids, IdsInScope(scope, ScanOf(*impl_->db_)));
  std::vector<LocalView> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(LocalView view, Get(id));
    out.push_back(std::move(view));
  }
  return out;
}

absl::StatusOr<std::vector<vigil::v1::Conflict>> Replica::Conflicts(
    const std::string& scope) const {
  ASSIGN_OR_RETURN(std::vector<LocalView> views, List(scope));
  std::vector<vigil::v1::Conflict> out;
  for (auto& v : views) {
    for (auto& c : v.conflicts) out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::uint64_t> Replica::OutboxSize() const {
  std::uint64_t n = 0;
  RETURN_IF_ERROR(impl_->db_->Scan(kMeta, storage::KeyRange::Prefix("t/out/"), nullptr,
                                   [&](std::string_view, std::string_view) {
                                     ++n;
                                     return true;
                                   }));
  return n;
}

absl::StatusOr<std::vector<ParkedMutation>> Replica::Parked() const {
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, "t/park/"));
  std::vector<ParkedMutation> out;
  for (auto& [key, p] : all) out.push_back(std::move(p));
  return out;
}

namespace {

absl::StatusOr<std::pair<std::string, ParkedMutation>> FindParked(
    const std::vector<std::pair<std::string, ParkedMutation>>& all,
    const std::string& mutation_id) {
  for (const auto& entry : all) {
    if (entry.second.mutation().mutation_id() == mutation_id) return entry;
  }
  return absl::NotFoundError(absl::StrCat("no parked mutation ", mutation_id));
}

}  // namespace

absl::Status Replica::Requeue(const std::string& mutation_id) {
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, "t/park/"));
  ASSIGN_OR_RETURN(auto found, FindParked(all, mutation_id));
  const auto& [key, parked] = found;
  if (parked.kind() != "refused") {
    return absl::FailedPreconditionError(
        parked.kind() == "late_submission"
            ? "a late submission is held by the server for the NPM unit, not by this device"
            : "a purged edit kept no content to send");
  }
  const Mutation& m = parked.mutation();
  absl::StatusOr<LocalView> view = Get(m.record_id());
  if (view.ok() && !view->deleted) {
    // Sent as made on the revision it was made on (when that is known), so
    // that what others changed since is merged with it, not undone.
    const std::uint64_t made_on = m.base_mutation_id().empty() ? m.base_revision() : 0;
    RETURN_IF_ERROR(impl_->Change(m.record_id(), m.delete_() ? nullptr : &m.body(), m.delete_(),
                                  nullptr, made_on));
  } else if (!view.ok() && m.base_revision() == 0 && m.base_mutation_id().empty() &&
             !m.scope().empty() && m.has_body()) {
    RETURN_IF_ERROR(Create(m.scope(), m.body(), m.record_id()).status());
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "record ", m.record_id(), " is deleted or not on this device: nothing to apply it to"));
  }
  return impl_->db_
      ->Commit([&](storage::CommitContext& ctx) {
        ctx.Delete(kMeta, key);
        return absl::OkStatus();
      })
      .status();
}

absl::Status Replica::DropParked(const std::string& mutation_id) {
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, "t/park/"));
  ASSIGN_OR_RETURN(auto found, FindParked(all, mutation_id));
  return impl_->db_
      ->Commit([&](storage::CommitContext& ctx) {
        ctx.Delete(kMeta, found.first);
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::vector<UploadEntry>> Replica::Uploads() const {
  ASSIGN_OR_RETURN(auto all, ScanAll<UploadEntry>(impl_->sealer_, *impl_->db_, "t/upload/"));
  std::vector<UploadEntry> out;
  for (auto& [key, u] : all) out.push_back(std::move(u));
  return out;
}

absl::StatusOr<std::optional<vigil::v1::ReceiptManifest>> Replica::LastReceipt(
    const std::string& scope) const {
  ASSIGN_OR_RETURN(auto stored, LoadFrom<StoredReceipt>(impl_->sealer_, *impl_->db_, ReceiptKey(scope)));
  if (!stored.has_value()) return std::nullopt;
  return stored->manifest();
}

absl::StatusOr<SyncReport> Replica::Sync(const SyncOptions& options, ProgressFn progress) {
  return impl_->Sync(options, progress);
}

absl::StatusOr<std::uint64_t> Replica::Forget(const std::string& scope) {
  return impl_->Forget(scope);
}

absl::StatusOr<std::uint64_t> Replica::FreeConfirmedAttachments() {
  absl::MutexLock one_at_a_time(&impl_->sync_mu_);
  ASSIGN_OR_RETURN(auto all, ScanAll<UploadEntry>(impl_->sealer_, *impl_->db_, "t/upload/"));
  // A copy is freed once every scope it was attached in holds it: one
  // content may be attached in several visits.
  std::map<std::string, std::vector<std::pair<std::string, UploadEntry>*>> by_content;
  for (auto& entry : all) {
    if (!entry.second.freed()) by_content[entry.second.sha256()].push_back(&entry);
  }
  std::uint64_t freed = 0;
  for (auto& [sha, entries] : by_content) {
    const bool all_confirmed = std::all_of(entries.begin(), entries.end(), [](const auto* e) {
      return e->second.confirmed();
    });
    if (!all_confirmed) continue;
    if (::unlink(impl_->BlobPath(sha).c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("cannot free an attachment copy");
    }
    RETURN_IF_ERROR(impl_->db_
                        ->Commit([&](storage::CommitContext& ctx) {
                          for (auto* e : entries) {
                            e->second.set_freed(true);
                            Store(impl_->sealer_, ctx, e->first, e->second);
                          }
                          return absl::OkStatus();
                        })
                        .status());
    freed += entries.front()->second.size();
  }
  return freed;
}

}  // namespace vigil::client
