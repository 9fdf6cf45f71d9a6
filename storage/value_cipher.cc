#include "storage/value_cipher.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/aead.h"
#include "storage/key_codec.h"

namespace vigil::storage {
namespace {

constexpr unsigned char kSealedFormat = 1;
constexpr std::size_t kHeader = 1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::string_view kKeyCheckPlaintext = "vigil data key check";

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

const std::string& KeyCheckPrefix() {
  static const std::string* prefix =
      new std::string(KeyBuilder().AddString("key_check").key());
  return *prefix;
}

const std::string& ReencryptPendingKey() {
  static const std::string* key = new std::string(KeyBuilder().AddString("reencrypt").key());
  return *key;
}

std::string KeyCheckKey(std::uint32_t id) {
  return KeyBuilder().AddString("key_check").AddUint64(id).key();
}

// Writes `text` to `path` with mode 0600 and fsyncs it. With `exclusive`,
// AlreadyExists when the file exists.
absl::Status WriteKeyFile(const std::string& path, std::string_view text, bool exclusive) {
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC),
                  0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
    return absl::PermissionDeniedError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  }
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

KeyRing::~KeyRing() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, key] : keys_) sodium_memzero(key.data(), key.size());
}

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Load(const std::string& path) {
  if (!SodiumReady()) return absl::InternalError("libsodium failed to initialise");
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("key file ", path, " does not exist"));
    return absl::PermissionDeniedError(absl::StrCat("key file ", path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key file ", path, " is accessible by group or others; chmod 600 it"));
  }
  std::ifstream in(path);
  if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read key file ", path));
  auto ring = std::unique_ptr<KeyRing>(new KeyRing());
  ring->path_ = path;
  absl::MutexLock lock(&ring->mu_);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string word, id_text, encoded, extra;
    fields >> word >> id_text >> encoded >> extra;
    std::uint32_t id = 0;
    Key key{};
    std::size_t len = 0;
    if (word != "key" || !absl::SimpleAtoi(id_text, &id) || id == 0 || !extra.empty() ||
        sodium_base642bin(key.data(), key.size(), encoded.data(), encoded.size(), nullptr,
                          &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != key.size()) {
      sodium_memzero(key.data(), key.size());
      return absl::InvalidArgumentError(absl::StrCat(
          "key file ", path, " line ", number, ": expected 'key <id> <base64 of 32 bytes>'"));
    }
    if (id <= ring->active_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key file ", path, " line ", number, ": key ids must increase"));
    }
    ring->keys_[id] = key;
    ring->active_ = id;
    sodium_memzero(key.data(), key.size());
  }
  if (ring->keys_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("key file ", path, " holds no key"));
  }
  return ring;
}

absl::Status KeyRing::Generate(const std::string& path) {
  if (!SodiumReady()) return absl::InternalError("libsodium failed to initialise");
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
  }
  Key key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(encoded, sizeof(encoded), key.data(), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key.data(), key.size());
  std::string text = absl::StrCat(
      "# Vigil data keys: they decrypt interviews, identities, medical findings and\n"
      "# attachments. Keep a copy apart from the database backups, readable only\n"
      "# by the vigild user. The last key encrypts new data; keep the older ones\n"
      "# while backups sealed with them may be restored.\n",
      "key 1 ", encoded, "\n");
  sodium_memzero(encoded, sizeof(encoded));
  absl::Status written = WriteKeyFile(path, text, /*exclusive=*/true);
  sodium_memzero(text.data(), text.size());
  return written;
}

std::string KeyRing::Seal(std::string_view plaintext, std::string_view associated_data) const {
  absl::ReaderMutexLock lock(&mu_);
  std::string out(5, '\0');
  out[0] = static_cast<char>(kSealedFormat);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>(active_ >> (24 - 8 * i));
  out += SealBox(keys_.at(active_).data(), plaintext, associated_data);
  return out;
}

absl::StatusOr<std::string> KeyRing::Open(std::string_view sealed,
                                          std::string_view associated_data) const {
  const std::optional<std::uint32_t> id = SealedKeyId(sealed);
  if (!id.has_value()) return absl::DataLossError("sealed value is malformed");
  absl::ReaderMutexLock lock(&mu_);
  auto key = keys_.find(*id);
  if (key == keys_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("value is sealed with data key ", *id, ", which is not in the key file"));
  }
  return OpenBox(key->second.data(), sealed.substr(5), associated_data);
}

// Not inlined: GCC 12 then misreads a checked std::optional as uninitialised.
[[gnu::noinline]] std::optional<std::uint32_t> KeyRing::SealedKeyId(std::string_view value) {
  if (value.size() < kHeader + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
      static_cast<unsigned char>(value[0]) != kSealedFormat) {
    return std::nullopt;
  }
  unsigned char id_bytes[4];
  std::memcpy(id_bytes, value.data() + 1, sizeof(id_bytes));
  return (std::uint32_t{id_bytes[0]} << 24) | (std::uint32_t{id_bytes[1]} << 16) |
         (std::uint32_t{id_bytes[2]} << 8) | id_bytes[3];
}

absl::StatusOr<std::uint32_t> KeyRing::AddKey() {
  // The file work happens outside mu_, so Seal and Open go on meanwhile.
  absl::MutexLock adding(&add_mu_);
  const std::uint32_t id = active_key_id() + 1;
  std::ifstream in(path_);
  std::stringstream current;
  current << in.rdbuf();
  if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read key file ", path_));
  std::string text = current.str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  Key key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  absl::Cleanup wipe = [&] { sodium_memzero(key.data(), key.size()); };
  char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(encoded, sizeof(encoded), key.data(), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  text += absl::StrCat("key ", id, " ", encoded, "\n");
  sodium_memzero(encoded, sizeof(encoded));
  const std::string temp = path_ + ".tmp";
  ::unlink(temp.c_str());  // left by a crash; created afresh (O_EXCL) below
  absl::Status written = WriteKeyFile(temp, text, /*exclusive=*/true);
  sodium_memzero(text.data(), text.size());
  RETURN_IF_ERROR(written);
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot replace ", path_, ": ", std::strerror(errno)));
  }
  // The new key seals nothing before the file that holds it is durable.
  const auto dir = std::filesystem::path(path_).parent_path();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = dir_fd >= 0 && ::fsync(dir_fd) == 0;
  if (dir_fd >= 0) ::close(dir_fd);
  if (!synced) {
    return absl::InternalError(absl::StrCat("cannot sync the directory of ", path_,
                                            "; the new key is not in use"));
  }
  absl::MutexLock lock(&mu_);
  keys_[id] = key;
  active_ = id;
  return id;
}

std::string SecretKey(std::string_view name) {
  return KeyBuilder().AddString("secret").AddString(name).key();
}

absl::Status ForgetSecret(Storage& storage, std::string_view name) {
  return storage
      .Commit([&](CommitContext& ctx) {
        ctx.Delete(ColumnFamily::kMeta, SecretKey(name));
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::string> LoadOrCreateSecret(Storage& storage, const KeyRing& keys,
                                               std::string_view name,
                                               absl::FunctionRef<std::string()> make) {
  const std::string key = SecretKey(name);
  std::string secret;
  RETURN_IF_ERROR(storage
                      .Commit([&](CommitContext& ctx) -> absl::Status {
                        ASSIGN_OR_RETURN(auto stored, ctx.Get(ColumnFamily::kMeta, key));
                        if (stored.has_value()) {
                          ASSIGN_OR_RETURN(secret, keys.Open(*stored, key));
                          return absl::OkStatus();
                        }
                        secret = make();
                        ctx.Put(ColumnFamily::kMeta, key, keys.Seal(secret, key));
                        return absl::OkStatus();
                      })
                      .status());
  return secret;
}

absl::StatusOr<bool> HasKeyChecks(Storage& storage) {
  bool any = false;
  RETURN_IF_ERROR(storage.Scan(ColumnFamily::kMeta, KeyRange::Prefix(KeyCheckPrefix()), nullptr,
                               [&](std::string_view, std::string_view) {
                                 any = true;
                                 return false;
                               }));
  return any;
}

absl::Status VerifyAndRecordKeyChecks(Storage& storage, const KeyRing& keys) {
  std::vector<std::pair<std::string, std::string>> checks;
  RETURN_IF_ERROR(storage.Scan(ColumnFamily::kMeta, KeyRange::Prefix(KeyCheckPrefix()), nullptr,
                               [&](std::string_view key, std::string_view value) {
                                 checks.emplace_back(key, value);
                                 return true;
                               }));
  bool active_recorded = false;
  for (const auto& [key, value] : checks) {
    auto opened = keys.Open(value, key);
    if (!opened.ok() || *opened != kKeyCheckPlaintext) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data key file does not match this database (",
          opened.ok() ? "wrong key" : std::string(opened.status().message()),
          "): restore the key file that belongs to this data"));
    }
    active_recorded |= key == KeyCheckKey(keys.active_key_id());
  }
  if (active_recorded) return absl::OkStatus();
  const std::string key = KeyCheckKey(keys.active_key_id());
  const std::string check = keys.Seal(kKeyCheckPlaintext, key);
  return storage
      .Commit([&](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kMeta, key, check);
        return absl::OkStatus();
      })
      .status();
}

absl::StatusOr<std::uint32_t> RotateDataKey(Storage& storage, KeyRing& keys, AuditEvent audit) {
  ASSIGN_OR_RETURN(std::uint32_t id, keys.AddKey());
  RETURN_IF_ERROR(VerifyAndRecordKeyChecks(storage, keys));
  audit.target = absl::StrCat("keys/", id);
  // The pipeline applies requests in order: once this commit is durable, so
  // is every request that sealed a value before the key changed, and the
  // re-encryption scan will see it.
  RETURN_IF_ERROR(storage
                      .Commit([&](CommitContext& ctx) {
                        ctx.Put(ColumnFamily::kMeta, ReencryptPendingKey(), std::to_string(id));
                        return AppendAudit(ctx, audit);
                      })
                      .status());
  return id;
}

absl::StatusOr<bool> ReencryptionPending(Storage& storage) {
  ASSIGN_OR_RETURN(auto mark, storage.Get(ColumnFamily::kMeta, ReencryptPendingKey()));
  return mark.has_value();
}

absl::StatusOr<ReencryptStats> ReencryptOldValues(Storage& storage, const KeyRing& keys,
                                                  const std::atomic<bool>* stop) {
  constexpr std::size_t kBatchValues = 256;
  constexpr std::size_t kBatchBytes = 8 << 20;
  const std::uint32_t active = keys.active_key_id();
  ReencryptStats stats;
  for (ColumnFamily cf : {ColumnFamily::kRecords, ColumnFamily::kHistory,
                          ColumnFamily::kMutations, ColumnFamily::kIndexes,
                          ColumnFamily::kAttachments, ColumnFamily::kMeta}) {
    std::string begin;
    bool done = false;
    while (!done) {
      if (stop != nullptr && stop->load()) {
        return absl::CancelledError("re-encryption stopped; it continues on the next start");
      }
      std::vector<std::string> stale;
      std::size_t bytes = 0;
      std::string last;
      done = true;
      RETURN_IF_ERROR(storage.Scan(
          cf, KeyRange{begin, ""}, nullptr, [&](std::string_view key, std::string_view value) {
            if (stale.size() == kBatchValues || bytes >= kBatchBytes) {
              done = false;
              return false;
            }
            last = std::string(key);
            ++stats.scanned;
            const bool check = cf == ColumnFamily::kMeta && key.substr(0, KeyCheckPrefix().size()) ==
                                                                KeyCheckPrefix();
            std::optional<std::uint32_t> id = KeyRing::SealedKeyId(value);
            if (!check && id.has_value() && *id != active) {
              stale.emplace_back(key);
              bytes += value.size();
            }
            return true;
          }));
      begin = last + std::string(1, '\0');  // the key right after the last one seen
      if (stale.empty()) continue;
      std::uint64_t resealed = 0;
      RETURN_IF_ERROR(storage
                          .Commit([&](CommitContext& ctx) -> absl::Status {
                            resealed = 0;
                            for (const std::string& key : stale) {
                              // Written again since the scan: sealed anew already.
                              ASSIGN_OR_RETURN(auto value, ctx.Get(cf, key));
                              if (!value.has_value()) continue;
                              std::optional<std::uint32_t> id = KeyRing::SealedKeyId(*value);
                              if (!id.has_value() || *id == active) continue;
                              ASSIGN_OR_RETURN(std::string plain, keys.Open(*value, key));
                              ctx.Put(cf, key, keys.Seal(plain, key));
                              sodium_memzero(plain.data(), plain.size());
                              ++resealed;
                            }
                            return absl::OkStatus();
                          })
                          .status());
      stats.resealed += resealed;
    }
  }
  // A newer rotation that started meanwhile keeps its own mark.
  RETURN_IF_ERROR(storage
                      .Commit([&](CommitContext& ctx) -> absl::Status {
                        ASSIGN_OR_RETURN(auto mark, ctx.Get(ColumnFamily::kMeta,
                                                            ReencryptPendingKey()));
                        if (mark.has_value() && *mark == std::to_string(active)) {
                          ctx.Delete(ColumnFamily::kMeta, ReencryptPendingKey());
                        }
                        return absl::OkStatus();
                      })
                      .status());
  return stats;
}

}  // namespace vigil::storage
