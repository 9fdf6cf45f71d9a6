#include "server/records/receipts.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "sync/merge.h"

namespace vigil::server {

absl::StatusOr<std::unique_ptr<ReceiptSigner>> ReceiptSigner::Create(
    storage::Storage* storage, const storage::KeyRing* keys) {
  ASSIGN_OR_RETURN(std::string seed,
                   storage::LoadOrCreateSecret(*storage, *keys, "receipt_ed25519_seed", [] {
                     std::string s(crypto_sign_SEEDBYTES, '\0');
                     randombytes_buf(s.data(), s.size());
                     return s;
                   }));
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::DataLossError("stored receipt signing seed has the wrong size");
  }
  std::string public_key(crypto_sign_PUBLICKEYBYTES, '\0');
  std::string secret_key(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(public_key.data()),
                           reinterpret_cast<unsigned char*>(secret_key.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(seed.data(), seed.size());
  return std::unique_ptr<ReceiptSigner>(
      new ReceiptSigner(std::move(secret_key), std::move(public_key)));
}

ReceiptSigner::~ReceiptSigner() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

void ReceiptSigner::IssueLater(Caller caller, RecordStore& records, AttachmentStore& attachments,
                               sync::Scope scope, IssueDoneFn done) {
  worker_.Post([this, caller = std::move(caller), &records, &attachments,
                scope = std::move(scope), done = std::move(done)]() mutable {
    done(Issue(caller, records, attachments, scope));
  });
}

absl::StatusOr<vigil::v1::Receipt> ReceiptSigner::Issue(const Caller& caller,
                                                        RecordStore& records,
                                                        AttachmentStore& attachments,
                                                        const sync::Scope& scope) const {
  vigil::v1::ReceiptManifest manifest;
  manifest.set_scope(scope.str());
  const absl::Time now = absl::Now();
  manifest.mutable_issued_at()->set_seconds(absl::ToUnixSeconds(now));
  std::vector<vigil::v1::ReceiptEntry> entries;
  std::set<std::string> named_attachments;
  ASSIGN_OR_RETURN(std::uint64_t seq, records.ForEachInScope(caller, scope, [&](const vigil::v1::Record& r) {
    vigil::v1::ReceiptEntry e;
    e.set_record_id(r.id());
    e.set_revision(r.revision());
    e.set_deleted(r.deleted());
    entries.push_back(std::move(e));
    if (!r.deleted() && r.body().has_attachment() && !r.body().attachment().sha256().empty()) {
      named_attachments.insert(r.body().attachment().sha256());
    }
  }));
  manifest.set_seq(seq);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.record_id() < b.record_id(); });
  for (auto& e : entries) *manifest.add_records() = std::move(e);
  for (const std::string& sha : named_attachments) {
    // Held for this scope: complete, and uploaded or proven here (what the
    // scope's readers can download), not merely held for another scope.
    absl::StatusOr<AttachmentState> state = attachments.GetState(sha);
    if (!state.ok() || !state->complete) continue;
    ASSIGN_OR_RETURN(bool here, attachments.InScope(sha, scope.str()));
    if (here) manifest.add_attachment_sha256(sha);
  }
  vigil::v1::Receipt receipt;
  receipt.set_manifest(sync::SerializeDeterministic(manifest));
  receipt.set_signature(Sign(receipt.manifest()));
  receipt.set_public_key(public_key_);
  return receipt;
}

std::string ReceiptSigner::Sign(std::string_view bytes) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                       reinterpret_cast<const unsigned char*>(secret_key_.data()));
  return signature;
}

}  // namespace vigil::server
