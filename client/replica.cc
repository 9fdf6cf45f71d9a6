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
#include "base/big_endian.h"
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

absl::Status Replica::Impl::Init() {
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

absl::StatusOr<ClientProfile> Replica::Impl::Profile() const {
  ASSIGN_OR_RETURN(auto profile, LoadFrom<ClientProfile>(sealer_, *db_, kProfileKey));
  if (!profile.has_value() || profile->token().empty()) {
    return absl::FailedPreconditionError(
        "this store has no server credentials yet: enroll the device first");
  }
  return *profile;
}

ServerAddress Replica::Impl::AddressOf(const ClientProfile& p) {
  return ServerAddress{.target = p.server(),
                       .ca_pem = p.ca_pem(),
                       .plaintext = p.plaintext(),
                       .client_cert_pem = p.client_cert_pem(),
                       .client_key_pem = p.client_key_pem()};
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Replica::Impl::Channel() const {
  ASSIGN_OR_RETURN(ClientProfile profile, Profile());
  return MakeChannel(AddressOf(profile), profile.token());
}

absl::Status Replica::Impl::SaveProfile(const ClientProfile& profile) {
  return db_
      ->Commit([&](storage::CommitContext& ctx) {
        Store(sealer_, ctx, kProfileKey, profile);
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::string> Replica::Impl::NewId() {
  sync::UuidRandomBytes random;
  randombytes_buf(random.data(), random.size());
  return sync::NewUuidV7(absl::Now(), random);
}

absl::StatusOr<std::vector<std::string>> Replica::Impl::Followed() const {
  std::vector<std::string> scopes;
  const std::string prefix = kFollowPrefix;
  RETURN_IF_ERROR(db_->Scan(kMeta, storage::KeyRange::Prefix(prefix), nullptr,
                            [&](std::string_view key, std::string_view) {
                              scopes.emplace_back(key.substr(prefix.size()));
                              return true;
                            }));
  return scopes;
}


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
    AppendBigEndian64(salt_file, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    AppendBigEndian64(salt_file, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    std::string salt(crypto_pwhash_SALTBYTES, '\0');
    randombytes_buf(salt.data(), salt.size());
    salt_file += salt;
    RETURN_IF_ERROR(CreateSecretFile(path, salt_file));
  }
  const std::string_view fields(salt_file.data() + sizeof kSaltMagic, 16);
  const std::uint64_t opslimit = ReadBigEndian64(fields);
  const std::uint64_t memlimit = ReadBigEndian64(fields.substr(8));
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
  // Everything of the tablet's store lives under "t/" keys of one family.
  options.column_families = {storage::ColumnFamily::kMeta};
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
  RETURN_IF_ERROR(impl_->db_->Scan(kMeta, storage::KeyRange::Prefix(kOutboxPrefix), nullptr,
                                   [&](std::string_view, std::string_view) {
                                     ++n;
                                     return true;
                                   }));
  return n;
}

absl::StatusOr<std::vector<ParkedMutation>> Replica::Parked() const {
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, kParkPrefix));
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
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, kParkPrefix));
  ASSIGN_OR_RETURN(auto found, FindParked(all, mutation_id));
  const auto& [key, parked] = found;
  if (parked.kind() != "refused") {
    return absl::FailedPreconditionError(
        absl::StartsWith(parked.kind(), "late_")
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
  ASSIGN_OR_RETURN(auto all, ScanAll<ParkedMutation>(impl_->sealer_, *impl_->db_, kParkPrefix));
  ASSIGN_OR_RETURN(auto found, FindParked(all, mutation_id));
  return impl_->db_
      ->Commit([&](storage::CommitContext& ctx) {
        ctx.Delete(kMeta, found.first);
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::vector<UploadEntry>> Replica::Uploads() const {
  ASSIGN_OR_RETURN(auto all, ScanAll<UploadEntry>(impl_->sealer_, *impl_->db_, kUploadPrefix));
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
  ASSIGN_OR_RETURN(auto all, ScanAll<UploadEntry>(impl_->sealer_, *impl_->db_, kUploadPrefix));
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
