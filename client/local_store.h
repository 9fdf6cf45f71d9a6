// The tablet's local store: one RocksDB database (storage/) whose keys all
// start with "t/", every value sealed under the store key (XChaCha20-Poly1305,
// bound to its key name); record ids and scope names stay readable, they say
// nothing of the content. The key spellings and the sealed value helpers live
// here and nowhere else. Internal to vigil_client (client/replica.h is the
// interface).
#ifndef VIGIL_CLIENT_LOCAL_STORE_H_
#define VIGIL_CLIENT_LOCAL_STORE_H_

#include <sodium.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "client/replica.h"
#include "storage/aead.h"
#include "storage/storage.h"
#include "vigil/internal/client_store.pb.h"

namespace vigil::client::detail {

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
inline const std::string kProfileKey = "t/profile";
inline const std::string kClockKey = "t/clock";
inline const std::string kOutSeqKey = "t/outseq";
inline const std::string kKeyCheckKey = "t/keycheck";
inline std::string CursorKey(const std::string& scope) { return absl::StrCat("t/cursor/", scope); }
inline std::string RecordKey(const std::string& id) { return absl::StrCat("t/rec/", id); }
// Records of a scope: "t/in/{scope}\0{id}".
inline std::string InScopePrefix(const std::string& scope) {
  return absl::StrCat("t/in/", scope, std::string(1, '\0'));
}
inline std::string InScopeKey(const std::string& scope, const std::string& id) {
  return absl::StrCat(InScopePrefix(scope), id);
}
inline std::string OutboxKey(std::uint64_t n) { return absl::StrFormat("t/out/%020d", n); }
inline std::string ParkKey(std::uint64_t n) { return absl::StrFormat("t/park/%020d", n); }
inline const std::string kFollowPrefix = "t/follow/";
inline std::string FollowKey(const std::string& scope) { return kFollowPrefix + scope; }
inline const std::string kOutboxPrefix = "t/out/";
inline const std::string kParkPrefix = "t/park/";
inline const std::string kParkSeqKey = "t/parkseq";
inline const std::string kUploadPrefix = "t/upload/";
// One entry per content and scope: the same photo attached in two visits is
// uploaded (or proven) into each.
inline std::string UploadKey(const std::string& sha, const std::string& scope) {
  return absl::StrCat("t/upload/", sha, "/", scope);
}
inline std::string ReceiptKey(const std::string& scope) { return absl::StrCat("t/receipt/", scope); }
// The visit's briefing pack (ReportService.GetBriefing), kept for the visit.
inline std::string BriefingKey(const std::string& scope) {
  return absl::StrCat("t/briefing/", scope);
}
// After the server was restored from a backup: the revisions this device
// holds that were committed after the backup ("t/lost/{scope}\0{id}", the
// LocalRecord as it was), until they are sent again, and the restore point.
inline std::string LostPrefix(const std::string& scope) {
  return absl::StrCat("t/lost/", scope, std::string(1, '\0'));
}
inline std::string RestoredKey(const std::string& scope) { return absl::StrCat("t/restored/", scope); }

// Every value of the local store (records, outbox, parked edits, the
// device token, receipts) is sealed with XChaCha20-Poly1305 under the store
// key, bound to its key name; attachment copies are sealed in chunks. Keys
// (record ids, scope names) stay readable: they say nothing of the content.
class Sealer {
 public:
  explicit Sealer(std::string key) : key_(std::move(key)) {}

  std::string Seal(std::string_view name, std::string_view plain) const {
    return storage::SealBox(Key(), plain, name);
  }

  absl::StatusOr<std::string> Open(std::string_view name, std::string_view sealed) const {
    absl::StatusOr<std::string> plain = storage::OpenBox(Key(), sealed, name);
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat(
          "local store: the value at ", std::string(name),
          " does not open with this store key (wrong key, or the store was altered)"));
    }
    return plain;
  }

  // One chunk of an attachment copy (attachment_copies.h).
  std::string SealChunk(const unsigned char* nonce, std::string_view plain) const {
    return storage::SealWithNonce(Key(), nonce, plain);
  }
  bool OpenChunk(const unsigned char* nonce, std::string_view sealed, std::string* plain) const {
    return storage::OpenWithNonce(Key(), nonce, sealed, plain);
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

inline void Store(const Sealer& sealer, storage::CommitContext& ctx, const std::string& key,
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
inline auto ScanOf(storage::Storage& db) {
  return [&db](const storage::KeyRange& range, auto visit) {
    return db.Scan(kMeta, range, nullptr, visit);
  };
}
inline auto ScanOf(storage::CommitContext& ctx) {
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


inline std::uint64_t NextCounter(storage::CommitContext& ctx, const std::string& key,
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

inline LocalView ViewOf(const std::string& id, const LocalRecord& rec) {
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
  view.review = rec.server().review();
  return view;
}

}  // namespace vigil::client::detail

#endif  // VIGIL_CLIENT_LOCAL_STORE_H_
