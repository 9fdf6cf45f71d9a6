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
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
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

  std::uint32_t active_key_id() const { return active_; }

  // Thread-safe.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;
  // DataLoss when the value is malformed or fails authentication;
  // FailedPrecondition when its key is not in the ring.
  absl::StatusOr<std::string> Open(std::string_view sealed,
                                   std::string_view associated_data) const;

 private:
  using Key = std::array<unsigned char, 32>;
  KeyRing() = default;
  std::map<std::uint32_t, Key> keys_;
  std::uint32_t active_ = 0;
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

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_VALUE_CIPHER_H_
