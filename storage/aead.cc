#include "storage/aead.h"

#include <sodium.h>

namespace vigil::storage {

static_assert(kAeadKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

std::string SealBox(const unsigned char* key, std::string_view plaintext,
                    std::string_view associated_data) {
  std::string out(kAeadNonceBytes + plaintext.size() + kAeadTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kAeadNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kAeadNonceBytes, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(associated_data.data()),
      associated_data.size(), nullptr, nonce, key);
  out.resize(kAeadNonceBytes + written);
  return out;
}

absl::StatusOr<std::string> OpenBox(const unsigned char* key, std::string_view sealed,
                                    std::string_view associated_data) {
  if (sealed.size() < kAeadNonceBytes + kAeadTagBytes) {
    return absl::DataLossError("sealed value is malformed");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(sealed.size() - kAeadNonceBytes - kAeadTagBytes, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
          nonce + kAeadNonceBytes, sealed.size() - kAeadNonceBytes,
          reinterpret_cast<const unsigned char*>(associated_data.data()), associated_data.size(),
          nonce, key) != 0) {
    return absl::DataLossError("sealed value failed authentication (tampered or misplaced)");
  }
  out.resize(written);
  return out;
}

std::string SealWithNonce(const unsigned char* key, const unsigned char* nonce,
                          std::string_view plaintext) {
  std::string out(plaintext.size() + kAeadTagBytes, '\0');
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()), &written,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), nullptr, 0,
      nullptr, nonce, key);
  out.resize(written);
  return out;
}

bool OpenWithNonce(const unsigned char* key, const unsigned char* nonce, std::string_view sealed,
                   std::string* plaintext) {
  if (sealed.size() < kAeadTagBytes) return false;
  plaintext->resize(sealed.size() - kAeadTagBytes);
  unsigned long long written = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(
             reinterpret_cast<unsigned char*>(plaintext->data()), &written, nullptr,
             reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(), nullptr, 0,
             nonce, key) == 0;
}

}  // namespace vigil::storage
