// The project's one authenticated cipher: XChaCha20-Poly1305 (libsodium)
// with 32-byte keys. KeyRing (value_cipher.h) seals stored values of the
// server with it behind a format byte and a key id; the tablet's store seals
// its values and attachment copies with it under the store key.
#ifndef VIGIL_STORAGE_AEAD_H_
#define VIGIL_STORAGE_AEAD_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::storage {

inline constexpr std::size_t kAeadKeyBytes = 32;
inline constexpr std::size_t kAeadNonceBytes = 24;
inline constexpr std::size_t kAeadTagBytes = 16;

// Random nonce | ciphertext and tag, bound to `associated_data`. `key` holds
// kAeadKeyBytes.
std::string SealBox(const unsigned char* key, std::string_view plaintext,
                    std::string_view associated_data);
// The plaintext of SealBox's output; DataLoss when it is malformed or fails
// authentication (tampered, moved to another name, or another key).
absl::StatusOr<std::string> OpenBox(const unsigned char* key, std::string_view sealed,
                                    std::string_view associated_data);

// Ciphertext and tag under a nonce the caller derives (kAeadNonceBytes,
// never reused with the same key), without associated data: for chunks of a
// file read back at any offset.
std::string SealWithNonce(const unsigned char* key, const unsigned char* nonce,
                          std::string_view plaintext);
// False when `sealed` fails authentication.
bool OpenWithNonce(const unsigned char* key, const unsigned char* nonce, std::string_view sealed,
                   std::string* plaintext);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_AEAD_H_
