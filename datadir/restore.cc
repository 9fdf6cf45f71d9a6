#include "datadir/restore.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "datadir/data_dir.h"
#include "storage/key_codec.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::datadir {
namespace fs = std::filesystem;
absl::Status CopyTlsMaterial(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return absl::OkStatus();
  fs::create_directories(to, ec);
  ::chmod(to.c_str(), 0700);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("copy ", from, " to ", to, ": ", ec.message()));
  }
  return absl::OkStatus();
}

namespace {

absl::Status CopyKeyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) {
    return absl::NotFoundError(absl::StrCat("key file ", from, " does not exist"));
  }
  fs::create_directories(fs::path(to).parent_path(), ec);
  ::chmod(fs::path(to).parent_path().c_str(), 0700);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("copy ", from, ": ", ec.message()));
  ::chmod(to.c_str(), 0600);
  return absl::OkStatus();
}

}  // namespace

std::string RestorePointKey() { return storage::KeyBuilder().AddString("restore_point").key(); }

absl::Status RunRestore(const std::string& backup_dir, const std::string& data_dir,
                        std::optional<std::uint32_t> backup_id, const std::string& key_file) {
  DataDirLayout layout = LayoutOf(data_dir);
  std::error_code ec;
  if (fs::exists(layout.root, ec) && !fs::is_empty(layout.root, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore target ", layout.root, " is not empty; restore into a new directory"));
  }
  const bool existed = fs::exists(layout.root, ec);
  ASSIGN_OR_RETURN(layout, PrepareDataDir(data_dir));
  absl::Status restored = storage::Storage::RestoreBackup(backup_dir, layout.db(), backup_id);
  if (restored.ok()) {
    // Sequence numbers after the backup point will be handed out again:
    // invalidate every cursor issued before, so no device skips a change.
    storage::StorageOptions options;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<storage::Storage>> db =
        storage::Storage::Open(layout.db(), options);
    restored = db.ok() ? storage::ForgetSecret(**db, kCursorSecretName) : db.status();
    if (restored.ok()) {
      // Where the backup ends, for the devices that hold what came after.
      // A backup of a database restored before keeps the earlier point: a
      // device that last synced before that restore holds what it lost.
      std::uint64_t point = (*db)->LastCommittedSeq();
      absl::StatusOr<std::optional<std::string>> earlier =
          (*db)->Get(storage::ColumnFamily::kMeta, RestorePointKey(), nullptr);
      std::uint64_t before = 0;
      if (!earlier.ok()) {
        restored = earlier.status();
      } else if (earlier->has_value() && absl::SimpleAtoi(**earlier, &before)) {
        point = std::min(point, before);
      }
      if (restored.ok()) {
        restored = (*db)
                       ->Commit([&](storage::CommitContext& ctx) {
                         ctx.Put(storage::ColumnFamily::kMeta, RestorePointKey(),
                                 std::to_string(point));
                         return absl::OkStatus();
                       })
                       .status();
      }
    }
  }
  if (restored.ok()) restored = CopyTlsMaterial(LayoutOf(backup_dir).root + "/tls", layout.tls());
  if (restored.ok() && !key_file.empty()) restored = CopyKeyFile(key_file, layout.default_key_file());
  if (!restored.ok()) {
    // Leave no half-restored directory that a server could start on.
    if (existed) {
      for (const auto& entry : fs::directory_iterator(layout.root, ec)) {
        fs::remove_all(entry.path(), ec);
      }
    } else {
      fs::remove_all(layout.root, ec);
    }
  }
  return restored;
}

}  // namespace vigil::datadir
