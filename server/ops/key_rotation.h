// Data key rotation on a running server: a new key seals new values at once,
// and a background job re-encrypts what older keys sealed. A job cut short by
// a shutdown resumes at the next start.
#ifndef VIGIL_SERVER_OPS_KEY_ROTATION_H_
#define VIGIL_SERVER_OPS_KEY_ROTATION_H_

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "base/background_worker.h"
#include "server/auth/caller.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::server {

class KeyRotator {
 public:
  // Borrowed; both must outlive the rotator.
  KeyRotator(storage::Storage* storage, storage::KeyRing* keys)
      : storage_(storage), keys_(keys) {}
  // Stops a running re-encryption (it resumes on the next start).
  ~KeyRotator();

  // Starts the re-encryption left unfinished by an earlier run, if any.
  absl::Status ResumeIfPending();

  // Adds a key, audits the rotation and starts re-encrypting in the
  // background; returns the new key id. Blocks on commits: call it off the
  // gRPC threads.
  absl::StatusOr<std::uint32_t> Rotate(const Caller& by);

 private:
  void StartReencryption();

  storage::Storage* storage_;
  storage::KeyRing* keys_;
  std::atomic<bool> stop_{false};
  BackgroundWorker worker_;  // last member: joined first
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_OPS_KEY_ROTATION_H_
