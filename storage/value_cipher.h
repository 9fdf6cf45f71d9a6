// Authenticated encryption of stored values (XChaCha20-Poly1305, libsodium)
// under data keys from a key file, with the key id in every sealed value so
// keys can be rotated: new values use the newest key, old values stay
// readable as long as their key is in the file.
//
// Sealed value: 0x01 | key id (4 bytes, big-endian) | nonce (24) | ciphertext+tag.
// Callers pass the value's storage key as associated data, so a sealed value
// moved to another key fails to open.
//
// Key file (text, mode 0600, never inside a backup):
//   # comments
//   key 1 <base64 of 32 bytes>
//   key 2 <base64 of 32 bytes>      <- the last key seals new values
#ifndef VIGIL_STORAGE_VALUE_CIPHER_H_
#define VIGIL_STORAGE_VALUE_CIPHER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/audit_log.h"
#include "storage/storage.h"

namespace vigil::storage {

class KeyRing {
 public:
  // Loads a key file. NotFound (missing), FailedPrecondition (readable by
  // group or others), InvalidArgument (malformed line, bad key, duplicate or
  // decreasing id, no key), PermissionDenied (unreadable).
  static absl::StatusOr<std::unique_ptr<KeyRing>> Load(const std::string& path);

  // Writes a new key file with one random key (id 1), mode 0600, creating its
  // directory (0700). AlreadyExists if the file exists.
  static absl::Status Generate(const std::string& path);

  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  std::uint32_t active_key_id() const {
    absl::ReaderMutexLock lock(&mu_);
    return active_;
  }

  // Thread-safe, also against AddKey.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;
  // DataLoss when the value is malformed or fails authentication;
  // FailedPrecondition when its key is not in the ring.
  absl::StatusOr<std::string> Open(std::string_view sealed,
                                   std::string_view associated_data) const;

  // Appends a new random key to the key file (rewritten atomically, mode
  // 0600) and makes it the one that seals new values; returns its id. Older
  // keys stay: values and backups sealed with them still need them.
  absl::StatusOr<std::uint32_t> AddKey();

  // The key id of a sealed value; nullopt for anything else (plain values
  // start with 0x00, protobuf messages never with 0x01).
  static std::optional<std::uint32_t> SealedKeyId(std::string_view value);

 private:
  absl::Mutex add_mu_;  // one AddKey at a time; held across the file work
  using Key = std::array<unsigned char, 32>;
  KeyRing() = default;
  std::string path_;
  mutable absl::Mutex mu_;
  std::map<std::uint32_t, Key> keys_ ABSL_GUARDED_BY(mu_);
  std::uint32_t active_ ABSL_GUARDED_BY(mu_) = 0;
};

// Ties a database to its keys. For every key check stored in the database
// the ring must hold that key and open the check (else FailedPrecondition:
// the data key file is missing or wrong); the active key's check is added
// when missing. Call at startup, before serving.
absl::Status VerifyAndRecordKeyChecks(Storage& storage, const KeyRing& keys);

// A server secret (cursor MAC key, signing key) kept sealed in the meta
// family under ("secret", name): returns the stored one, or stores and
// returns `make()` on first use.
absl::StatusOr<std::string> LoadOrCreateSecret(Storage& storage, const KeyRing& keys,
                                               std::string_view name,
                                               absl::FunctionRef<std::string()> make);

// Removes a server secret, so that the next LoadOrCreateSecret makes a new
// one (e.g. the cursor key after a restore, invalidating every old cursor).
absl::Status ForgetSecret(Storage& storage, std::string_view name);

// True when the database has recorded any key check, that is, when it may
// hold values sealed with a key that must not be replaced by a new one.
absl::StatusOr<bool> HasKeyChecks(Storage& storage);

// Makes a new data key current (KeyRing::AddKey), records its key check,
// waits until every commit that may have sealed a value with the old key is
// durable, and marks the database as needing re-encryption, with `audit`
// (its target set to "keys/<id>") in that same commit.
absl::StatusOr<std::uint32_t> RotateDataKey(Storage& storage, KeyRing& keys, AuditEvent audit);

// True from a rotation until ReencryptOldValues has finished.
absl::StatusOr<bool> ReencryptionPending(Storage& storage);

struct ReencryptStats {
  std::uint64_t scanned = 0;   // values looked at
  std::uint64_t resealed = 0;  // values sealed anew under the active key
};

// Reseals, under the active key, every stored value sealed with an older
// one (records, history, pushed mutations, queues, attachment bytes, server
// secrets), in small batches through the commit pipeline so that writes go
// on meanwhile, then clears the pending mark. Cancelled when `stop` turns
// true; running it again continues. Key checks of old keys are kept: they
// still tell whether a key file matches the database.
absl::StatusOr<ReencryptStats> ReencryptOldValues(Storage& storage, const KeyRing& keys,
                                                  const std::atomic<bool>* stop = nullptr);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_VALUE_CIPHER_H_
