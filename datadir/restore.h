// Restoring a data directory from a backup, and copying its TLS material:
// shared by vigild (server/operator_commands) and vigilctl, without the
// server's services.
#ifndef VIGIL_DATADIR_RESTORE_H_
#define VIGIL_DATADIR_RESTORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace vigil::datadir {

// Name of the server secret that authenticates pull cursors. A restored
// database forgets it (storage::ForgetSecret) so every cursor issued before
// is refused and devices pull from the beginning: after going back in time,
// sequence numbers are reused and old cursors would skip changes.
inline constexpr std::string_view kCursorSecretName = "cursor_hmac";

// The meta key (column family kMeta) under which a restored database keeps
// its restore point: the last commit sequence number the backup held, as
// decimal text. Everything a device pulled with a higher sequence number
// was committed after the backup and may be gone; the server names this
// point in CURSOR_INVALID (metadata "restored_at_seq") so that devices can
// send back what only they still hold.
std::string RestorePointKey();

// Copies the files of `from` into `to` (created 0700), keeping permissions;
// nothing when `from` is missing.
absl::Status CopyTlsMaterial(const std::string& from, const std::string& to);

// Restores the newest (or the given) verified backup into `data_dir`, which
// must be missing or empty, together with its TLS material, and voids every
// cursor issued before. When `key_file` is not empty it is copied to
// DATA_DIR/keys/data.key (mode 0600): backups never contain the data keys.
// On failure nothing half-restored is left.
absl::Status RunRestore(const std::string& backup_dir, const std::string& data_dir,
                        std::optional<std::uint32_t> backup_id, const std::string& key_file);

}  // namespace vigil::datadir

#endif  // VIGIL_DATADIR_RESTORE_H_
