// The operator's commands run on the server's host: backup, restore and
// list-backups, audit-verify and audit-export, rotate-key. Each works online, through the
// operations socket of a vigild running on the data directory, or offline by
// opening the database itself.
#ifndef VIGIL_DATADIR_OPERATOR_COMMANDS_H_
#define VIGIL_DATADIR_OPERATOR_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "datadir/restore.h"
#include "storage/audit_log.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::datadir {

// Backs up the data directory `data_dir` into `backup_dir`. When a vigild is
// running on it, the backup is taken online by that server (through
// DATA_DIR/vigild.sock) while it keeps committing; otherwise the database is
// opened directly. The generated TLS material (DATA_DIR/tls) is copied to
// BACKUP_DIR/tls so a restored server keeps its identity.
absl::StatusOr<storage::BackupInfo> RunBackup(const std::string& data_dir,
                                              const std::string& backup_dir);

// RunRestore: server/restore.h.

// Verifies the audit log's hash chain.
absl::StatusOr<storage::AuditVerification> RunAuditVerify(const std::string& data_dir);

// Rotates the data key of a stopped server: appends a new key to the key
// file (`key_file`, or DATA_DIR/keys/data.key) and re-encrypts every value
// sealed with an older key. FailedPrecondition while a vigild runs on the
// directory: rotate through its AdminService (vigilctl) instead.
absl::StatusOr<std::pair<std::uint32_t, storage::ReencryptStats>> RunRotateKey(
    const std::string& data_dir, const std::string& key_file);

// The database and data keys of a data directory no vigild runs on, for an
// offline command (`what`, named in the refusal): FailedPrecondition while a
// vigild runs on it, NotFound when it holds no database; the keys are
// checked against the database.
struct StoppedDataDir {
  std::unique_ptr<storage::Storage> storage;
  std::unique_ptr<storage::KeyRing> keys;
};
absl::StatusOr<StoppedDataDir> OpenStoppedDataDir(const std::string& data_dir,
                                                  const std::string& key_file,
                                                  const std::string& what);

// Writes the audit log to `out` as JSON lines, oldest first.
absl::Status RunAuditExport(const std::string& data_dir, std::ostream& out);

}  // namespace vigil::datadir

#endif  // VIGIL_DATADIR_OPERATOR_COMMANDS_H_
