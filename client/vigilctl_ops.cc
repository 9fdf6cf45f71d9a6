// vigilctl backup and restore, run on the server's host: the same work as
// `vigild backup` / `vigild restore` (datadir/operator_commands.cc), without
// linking the server. Backup goes through the running server's operations
// socket; restore writes a new data directory while no server runs on it.
#include <sys/stat.h>

#include <string_view>

#include "absl/strings/str_cat.h"
#include "client/vigilctl_commands.h"
#include "datadir/data_dir.h"
#include "datadir/restore.h"
#include "datadir/running_server.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::vigilctl {
namespace {

std::string Absolute(const std::string& dir) { return datadir::LayoutOf(dir).root; }

}  // namespace

int Backup(const Globals& g, const std::string& data_dir, const std::string& backup_dir) {
  const std::string target = Absolute(backup_dir);
  const datadir::DataDirLayout layout = datadir::LayoutOf(data_dir);
  auto server = datadir::ConnectToRunningServer(layout);
  if (server == nullptr) {
    return Fail("backup", absl::FailedPreconditionError(absl::StrCat(
                              "no vigild answers on ", layout.ops_socket(),
                              "; with the server stopped, run `vigild backup --data-dir ", data_dir,
                              " --to ", backup_dir, "` instead")));
  }
  absl::StatusOr<storage::BackupInfo> b = datadir::BackupThroughRunningServer(*server, target);
  if (!b.ok()) return Fail("backup", b.status());
  if (absl::Status s = datadir::CopyTlsMaterial(layout.tls(), target + "/tls"); !s.ok()) {
    return Fail("copying the TLS material", s);
  }
  g.out().Result(JsonObject()
                     .Uint("backup_id", b->id)
                     .Str("backup_dir", target)
                     .Int("timestamp_unix", b->timestamp)
                     .Uint("size_bytes", b->size_bytes)
                     .Uint("file_count", b->file_count),
                 absl::StrCat("backup ", b->id, " written to ", target, " (",
                              FormatBytes(b->size_bytes), ", ", b->file_count,
                              " files, verified)\nthe data key file is not part of the backup: "
                              "keep a copy of it apart"));
  return kExitOk;
}

int Restore(const Globals& g, const std::string& backup_dir, const std::string& data_dir,
            std::optional<std::uint32_t> backup_id, const std::string& key_file) {
  const std::string root = Absolute(data_dir);
  if (absl::Status s = datadir::RunRestore(Absolute(backup_dir), root, backup_id, key_file);
      !s.ok()) {
    return Fail("restore", s);
  }
  g.out().Result(
      JsonObject().Str("data_dir", root).Str("backup_dir", Absolute(backup_dir)),
      absl::StrCat("restored into ", root, "; start vigild with --data-dir ", root,
                   key_file.empty()
                       ? absl::StrCat(" once your copy of the data key file is at ", root,
                                      "/keys/data.key (or restore with "
                                      "--key-file)")
                       : ""));
  return kExitOk;
}

}  // namespace vigil::vigilctl
