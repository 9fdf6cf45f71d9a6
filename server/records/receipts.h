// Signed per-scope receipts: what the server holds durably, so a tablet can
// free its local copies of exactly that and nothing more.
#ifndef VIGIL_SERVER_RECORDS_RECEIPTS_H_
#define VIGIL_SERVER_RECORDS_RECEIPTS_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "base/background_worker.h"
#include "server/records/attachment_store.h"
#include "server/records/record_store.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "sync/scope.h"
#include "vigil/v1/sync.pb.h"

namespace vigil::server {

class ReceiptSigner {
 public:
  // Loads (creating on first use) the server's Ed25519 signing key, kept
  // sealed in the database. Everything is borrowed.
  static absl::StatusOr<std::unique_ptr<ReceiptSigner>> Create(storage::Storage* storage,
                                                               const storage::KeyRing* keys);

  ~ReceiptSigner();
  const std::string& public_key() const { return public_key_; }

  // The receipt for `scope` at one snapshot, listing what the caller may see
  // of it (PERMISSION_DENIED when it may not read the scope). Walks the whole
  // scope: callers on a transport's threads use IssueLater.
  absl::StatusOr<vigil::v1::Receipt> Issue(const Caller& caller, RecordStore& records,
                                           AttachmentStore& attachments,
                                           const sync::Scope& scope) const;

  // Issue() on the signer's own thread, then `done` there. `records` and
  // `attachments` must outlive the signer.
  using IssueDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::Receipt>)>;
  void IssueLater(Caller caller, RecordStore& records, AttachmentStore& attachments,
                  sync::Scope scope, IssueDoneFn done);

  // A tablet checks a receipt with client::VerifyReceipt (client/replica.h).

  // The Ed25519 signature (detached, 64 bytes) of `bytes` by the server's
  // key: what a published report carries. Thread-safe.
  std::string Sign(std::string_view bytes) const;

 private:
  ReceiptSigner(std::string secret_key, std::string public_key)
      : secret_key_(std::move(secret_key)), public_key_(std::move(public_key)) {}
  std::string secret_key_;
  std::string public_key_;
  BackgroundWorker worker_;  // last member: joined first
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_RECEIPTS_H_
