// The data directory: DIR/db (RocksDB), DIR/tls (generated TLS material),
// DIR/initial-admin-token, DIR/vigild.sock (operations socket),
// DIR/keys/data.key (data keys, unless configured elsewhere).
#ifndef VIGIL_DATADIR_DATA_DIR_H_
#define VIGIL_DATADIR_DATA_DIR_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::datadir {

struct DataDirLayout {
  std::string root;  // absolute
  std::string db() const { return root + "/db"; }
  std::string tls() const { return root + "/tls"; }
  std::string ops_socket() const { return root + "/vigild.sock"; }
  std::string default_key_file() const { return root + "/keys/data.key"; }
};

// Resolves `dir` to an absolute path and checks it can hold Vigil data
// without touching anything that is not Vigil's: a missing or empty directory
// is created (mode 0700); an existing one must be a directory, accessible,
// and already hold a Vigil database (DIR/db). Errors: FailedPrecondition
// (not a directory, not empty and not a Vigil data directory),
// PermissionDenied (cannot be read, written or created).
absl::StatusOr<DataDirLayout> PrepareDataDir(const std::string& dir);

// Resolves the layout of `dir` without creating or checking anything.
DataDirLayout LayoutOf(const std::string& dir);

// Writes a secret (token, private key) to `path`, readable only by this
// user (0600), and fsyncs it. Replaces an existing file.
absl::Status WritePrivateFile(const std::string& path, std::string_view content);

}  // namespace vigil::datadir

#endif  // VIGIL_DATADIR_DATA_DIR_H_
