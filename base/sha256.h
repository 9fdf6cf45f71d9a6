// SHA-256 for the audit chain, attachment content addresses and token
// digests, through OpenSSL's EVP interface: it uses the CPU's SHA extensions
// where there are any. (libsodium's SHA-256 is portable C: 3.4 times slower
// for a 200-byte audit entry and 4.3 times for 1 MiB on this project's
// machines.) The digests are the same bytes either way.
#ifndef VIGIL_BASE_SHA256_H_
#define VIGIL_BASE_SHA256_H_

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace vigil {

class Sha256 {
 public:
  static constexpr std::size_t kBytes = 32;

  Sha256() : ctx_(EVP_MD_CTX_new()) {
    Require(ctx_ != nullptr);
    Reset();
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& Update(std::string_view bytes) {
    Require(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1);
    return *this;
  }

  // The digest of everything updated since the last Final (32 bytes); the
  // hasher then starts over.
  std::string Final() {
    std::string digest(kBytes, '\0');
    unsigned int size = 0;
    Require(EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(digest.data()), &size) ==
                1 &&
            size == kBytes);
    Reset();
    return digest;
  }

  // The same, as 64 lowercase hexadecimal digits.
  std::string FinalHex() { return Hex(Final()); }

  static std::string Of(std::string_view bytes) { return Sha256().Update(bytes).Final(); }
  static std::string HexOf(std::string_view bytes) { return Hex(Of(bytes)); }

  static std::string Hex(std::string_view digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(digest.size() * 2);
    for (unsigned char d : digest) {
      out.push_back(kDigits[d >> 4]);
      out.push_back(kDigits[d & 15]);
    }
    return out;
  }

 private:
  void Reset() { Require(EVP_DigestInit_ex(ctx_, Md(), nullptr) == 1); }

  static const EVP_MD* Md() {
    static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    Require(md != nullptr);
    return md;
  }

  // SHA-256 cannot fail short of a broken OpenSSL or no memory; a wrong
  // digest would break the audit chain or store content under a wrong
  // address, so the process stops instead.
  static void Require(bool ok) {
    if (ok) return;
    std::fputs("vigil: OpenSSL SHA-256 failed\n", stderr);
    std::abort();
  }

  EVP_MD_CTX* ctx_;
};

}  // namespace vigil

#endif  // VIGIL_BASE_SHA256_H_
