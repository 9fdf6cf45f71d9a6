// One upload stream of a caller (SyncService.UploadAttachment): a header
// naming the scope, hash and size, then chunks, each durable before the next
// is taken. When content of this hash is held for another scope only, the
// stream proves possession: every byte is hashed, not stored, and the scope
// is linked once all of them match. Knowing a hash is not having the photo.
#ifndef VIGIL_SERVER_RECORDS_ATTACHMENT_UPLOAD_H_
#define VIGIL_SERVER_RECORDS_ATTACHMENT_UPLOAD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "base/sha256.h"
#include "server/auth/caller.h"
#include "server/records/attachment_store.h"

namespace vigil::server {

// Not thread-safe: one stream, each call's `done` before the next call.
class AttachmentUpload {
 public:
  // `store` is borrowed and must outlive the upload.
  AttachmentUpload(AttachmentStore& store, Caller caller)
      : store_(store), caller_(std::move(caller)) {}

  // The header. InvalidArgument (UPLOAD_HEADER_REPEATED) when begun already;
  // the errors of AttachmentStore::Begin.
  void Begin(std::string scope, std::string sha256, std::uint64_t size, AttachmentDoneFn done);

  // The next chunk: appended (AttachmentStore::Append), or, while proving
  // possession, hashed: DataLoss (CHUNK_CORRUPT) for bytes that do not match
  // the chunk's hash, FailedPrecondition (CHUNK_OFFSET_MISMATCH) unless the
  // chunks come from offset 0 in order, InvalidArgument (CHUNK_PAST_END),
  // DataLoss (ATTACHMENT_HASH_MISMATCH) when the whole does not match.
  // InvalidArgument (UPLOAD_HEADER_MISSING) before Begin.
  void Chunk(std::uint64_t offset, std::string data, std::string chunk_sha256,
             AttachmentDoneFn done);

  // The state after the last call that succeeded; nullopt before Begin did.
  const std::optional<AttachmentState>& state() const { return state_; }

  // InvalidArgument, UPLOAD_HEADER_MISSING: a stream that does not start
  // with its header.
  static absl::Status HeaderMissing();
  // InvalidArgument, UPLOAD_HEADER_REPEATED: anything but chunks after it.
  static absl::Status HeaderRepeated();

 private:
  void Prove(std::uint64_t offset, const std::string& data, const std::string& chunk_sha256,
             AttachmentDoneFn done);
  // Keeps a successful state, then hands it on.
  AttachmentDoneFn Keep(AttachmentDoneFn done);

  AttachmentStore& store_;
  const Caller caller_;
  std::string scope_;
  std::optional<AttachmentState> state_;
  Sha256 proof_;
  std::uint64_t proved_ = 0;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_ATTACHMENT_UPLOAD_H_
