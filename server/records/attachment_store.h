// Content-addressed attachment bytes: resumable chunked upload, verification
// of each chunk and of the whole content against its SHA-256, deduplication,
// and ranged reads. Built on the Storage interface (attachments family).
//
// Starting an upload, storing a complete attachment and discarding one that
// fails its hash are audited in the same batch.
//
// Layout: ("m", sha256) -> vigil.internal.AttachmentMeta;
//         ("p", sha256, end_offset) -> the piece of bytes ending there,
//         sealed with the data key (storage/value_cipher.h).
// Keying pieces by their end offset lets a ranged read seek straight to the
// piece that holds its first byte.
#ifndef VIGIL_SERVER_RECORDS_ATTACHMENT_STORE_H_
#define VIGIL_SERVER_RECORDS_ATTACHMENT_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "base/background_worker.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::server {

struct AttachmentState {
  std::string sha256;  // lowercase hex
  std::uint64_t size = 0;
  std::uint64_t received = 0;
  bool complete = false;
  // The content is stored (or being stored) for another scope: this upload
  // must send every byte, which is hashed and not stored, before the
  // content is linked to its scope (Link). Knowing a hash is not having
  // the photo.
  bool proof_needed = false;
};

struct AttachmentPiece {
  std::uint64_t offset = 0;
  std::string data;
};

struct AttachmentOptions {
  // Largest attachment accepted.
  // Default: 2 GiB.
  std::uint64_t max_attachment_bytes = 2ull << 30;
  // Largest chunk of one upload message.
  // Default: 1 MiB.
  std::size_t max_chunk_bytes = 1 << 20;
};

using AttachmentDoneFn = absl::AnyInvocable<void(absl::StatusOr<AttachmentState>)>;

class AttachmentStore {
 public:
  // `storage`, `keys` and `policy` are borrowed and must outlive the store.
  // Every piece is sealed with `keys` (bound to its storage key). Every
  // write checks, through its own commit, that the caller may write the
  // scope (PERMISSION_DENIED, SCOPE_NOT_PERMITTED, otherwise).
  AttachmentStore(storage::Storage* storage, const storage::KeyRing* keys,
                  const AccessPolicy* policy, AttachmentOptions options)
      : storage_(storage), keys_(keys), policy_(policy), options_(options) {}

  const AttachmentOptions& options() const { return options_; }

  // InvalidArgument (reason SHA256_INVALID) unless 64 lowercase hex digits.
  static absl::Status ValidateSha256(std::string_view sha256);

  // The stored state; NotFound when nothing of it is stored.
  absl::StatusOr<AttachmentState> GetState(std::string_view sha256);

  // The asynchronous calls below complete `done` once their writes are
  // durable, on a storage or worker thread; `done` must not block.

  // Starts an upload, or resumes the one stored for this hash; content
  // already stored comes back complete, and content fully received but not
  // yet verified is verified first. InvalidArgument for a bad hash or a
  // size of 0 or over the limit; FailedPrecondition when the stored content
  // of this hash has another size. An unfinished upload that declared
  // another size is restarted.
  // A new upload is stored for `scope` (InvalidArgument, SCOPE_INVALID,
  // unless a scope the caller may write), which is linked to the content (its readers may download it)
  // once every byte is stored and verified: beginning an upload proves
  // nothing. When content of this hash is held, or being uploaded, for
  // another scope only, the state comes back with proof_needed, nothing is
  // written, and the caller links the scope with Link once the uploader has
  // sent every byte and they matched.
  void Begin(const Caller& caller, std::string scope, std::string sha256, std::uint64_t size,
             AttachmentDoneFn done);
  // Links stored content to `scope` after its bytes were proven (see Begin),
  // audited as attachment.linked; an unfinished upload is taken over by
  // that scope (it resumes it). Aborted when the content was discarded
  // meanwhile (upload again).
  void Link(const Caller& caller, std::string scope, std::string sha256, AttachmentDoneFn done);
  // The state of an attachment of `scope` for a caller who may download its
  // bytes (AccessPolicy::RequireAttachmentBytes): InvalidArgument for a bad
  // scope or hash, PERMISSION_DENIED, NotFound (ATTACHMENT_NOT_FOUND) unless
  // the content is linked to the scope or an unfinished upload of the scope
  // (which learns where it ends).
  absl::StatusOr<AttachmentState> StateFor(const Caller& caller, std::string_view scope,
                                           std::string_view sha256);
  // StateFor(), then the read is committed to the audit log
  // (attachment.read): the bytes may leave the server once `done` sees OK.
  void OpenForDownload(const Caller& caller, std::string scope, std::string sha256,
                       AttachmentDoneFn done);

  // True once content of this hash was uploaded into `scope`, or proven
  // there, and verified: readers of the scope may download it.
  absl::StatusOr<bool> InScope(std::string_view sha256, std::string_view scope);
  // True while `scope` stores an unfinished upload of this hash.
  absl::StatusOr<bool> UploadingIn(std::string_view sha256, std::string_view scope);

  // Appends `data` at `offset` after checking it against `chunk_sha256`
  // (DataLoss when it does not match; nothing is written), for an upload
  // begun in `scope` (or content proven there); FailedPrecondition
  // UPLOAD_NOT_BEGUN otherwise. The offset must be where the stored upload
  // ends (FailedPrecondition with metadata expected_offset otherwise). When
  // this completes the content, the whole attachment is verified against its
  // hash in the background: it is marked complete and linked to the scope
  // that stored it, or discarded with DataLoss.
  void Append(const Caller& caller, std::string scope, std::string sha256, std::uint64_t offset,
              std::string data, std::string_view chunk_sha256, AttachmentDoneFn done);

  // Up to `max_bytes` (at least one piece) of a complete attachment from
  // `offset` until `end`. NotFound when not complete, OutOfRange when
  // offset >= end or end > size.
  absl::StatusOr<std::vector<AttachmentPiece>> Read(std::string_view sha256,
                                                    std::uint64_t offset, std::uint64_t end,
                                                    std::size_t max_bytes);

 private:
  void Verify(Caller caller, std::string sha256, AttachmentDoneFn done);
  // Wraps `done` so that a state holding every byte but not yet verified
  // (the last append just landed, or a crash or error interrupted an earlier
  // verification) is verified before `done` sees it.
  AttachmentDoneFn VerifyWhenFull(const Caller& caller, AttachmentDoneFn done);

  // PERMISSION_DENIED unless the caller may write `scope` as `ctx` holds.
  absl::Status CheckWrite(const Caller& caller, const std::string& scope,
                          storage::CommitContext& ctx) const;

  storage::Storage* storage_;
  const storage::KeyRing* keys_;
  const AccessPolicy* policy_;
  const AttachmentOptions options_;
  BackgroundWorker verifier_;  // hashes whole attachments off the writer thread
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_ATTACHMENT_STORE_H_
