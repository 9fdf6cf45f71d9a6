// Sealed attachment copies in the store: attach, read back, orphans.
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

namespace detail {

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}


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

}  // namespace detail

absl::Status Replica::Impl::RemoveOrphanCopies() {
  ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, kUploadPrefix));
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

absl::StatusOr<std::string> Replica::Impl::Attach(const std::string& scope, const std::string& file_path,
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

}  // namespace vigil::client
