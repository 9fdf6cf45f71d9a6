// Attachment copies in the tablet's store (DIR/blobs/{sha256}): a header
// (magic, 16-byte file nonce), then chunks sealed one by one, so that an
// upload can resume at any offset. Internal to vigil_client.
#ifndef VIGIL_CLIENT_ATTACHMENT_COPIES_H_
#define VIGIL_CLIENT_ATTACHMENT_COPIES_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/local_store.h"

namespace vigil::client::detail {

// Attachment copies: a header (magic, 16-byte file nonce), then chunks of
// kBlobChunk plaintext bytes, each sealed on its own (nonce: file nonce and
// chunk index), so that an upload can resume at any offset.
constexpr char kBlobMagic[8] = {'V', 'G', 'L', 'B', '1', 0, 0, 0};
constexpr std::size_t kBlobNonce = 16;
constexpr std::size_t kBlobHeader = sizeof(kBlobMagic) + kBlobNonce;
constexpr std::size_t kBlobChunk = 64 << 10;
constexpr std::size_t kBlobSealed = kBlobChunk + crypto_aead_xchacha20poly1305_ietf_ABYTES;

inline void ChunkNonce(const unsigned char* file_nonce, std::uint64_t index,
                unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES]) {
  std::memcpy(nonce, file_nonce, kBlobNonce);
  for (int i = 0; i < 8; ++i) nonce[kBlobNonce + i] = static_cast<unsigned char>(index >> (8 * i));
}


// InternalError naming `what` and errno.
absl::Status ErrnoError(const std::string& what);
// Writes all of `data` to `fd`.
absl::Status WriteAll(int fd, std::string_view data);
// Reads until `n` bytes or the end of the file: the bytes read.
absl::StatusOr<std::size_t> ReadFull(int fd, char* buffer, std::size_t n);

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

}  // namespace vigil::client::detail

#endif  // VIGIL_CLIENT_ATTACHMENT_COPIES_H_
