#include "server/ops/key_rotation.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/ops/logging.h"
#include "storage/audit_log.h"

namespace vigil::server {

KeyRotator::~KeyRotator() { stop_ = true; }

absl::Status KeyRotator::ResumeIfPending() {
  ASSIGN_OR_RETURN(bool pending, storage::ReencryptionPending(*storage_));
  if (pending) StartReencryption();
  return absl::OkStatus();
}

absl::StatusOr<std::uint32_t> KeyRotator::Rotate(const Caller& by) {
  ASSIGN_OR_RETURN(std::uint32_t id,
                   storage::RotateDataKey(*storage_, *keys_, AuditOf(by, "keys.rotated", "")));
  LogInfo("keys.rotated", {{"key_id", static_cast<std::int64_t>(id)}});
  StartReencryption();
  return id;
}

void KeyRotator::StartReencryption() {
  worker_.Post([this] {
    absl::StatusOr<storage::ReencryptStats> stats =
        storage::ReencryptOldValues(*storage_, *keys_, &stop_);
    if (stats.ok()) {
      LogInfo("keys.reencrypted", {{"scanned", stats->scanned}, {"resealed", stats->resealed}});
    } else if (stats.status().code() == absl::StatusCode::kCancelled) {
      LogInfo("keys.reencryption_paused", {{"status", stats.status()}});
    } else {
      LogError("keys.reencryption_failed", {{"status", stats.status()}});
    }
  });
}

}  // namespace vigil::server
