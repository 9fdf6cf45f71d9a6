// `vigild backup`, `vigild restore` and `vigild list-backups`: the operator's
// backup commands, run on the server's host.
#ifndef VIGIL_SERVER_BACKUP_COMMAND_H_
#define VIGIL_SERVER_BACKUP_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "storage/storage.h"

namespace vigil::server {

// Backs up the data directory `data_dir` into `backup_dir`. When a vigild is
// running on it, the backup is taken online by that server (through
// DATA_DIR/vigild.sock) while it keeps committing; otherwise the database is
// opened directly. The generated TLS material (DATA_DIR/tls) is copied to
// BACKUP_DIR/tls so a restored server keeps its identity.
absl::StatusOr<storage::BackupInfo> RunBackup(const std::string& data_dir,
                                              const std::string& backup_dir);

// Restores the newest (or the given) verified backup into `data_dir`, which
// must be missing or empty, together with its TLS material. When `key_file`
// is not empty it is copied to DATA_DIR/keys/data.key (mode 0600): backups
// never contain the data keys.
absl::Status RunRestore(const std::string& backup_dir, const std::string& data_dir,
                        std::optional<std::uint32_t> backup_id, const std::string& key_file);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_BACKUP_COMMAND_H_
