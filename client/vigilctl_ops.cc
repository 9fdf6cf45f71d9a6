// vigilctl backup and restore, run on the server's host: the same work as
// `vigild backup` / `vigild restore` (server/operator_commands.cc), without
// linking the server. Backup goes through the running server's operations
// socket; restore writes a new data directory while no server runs on it.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "client/vigilctl_commands.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "vigil/internal/operations.grpc.pb.h"

namespace vigil::vigilctl {
namespace {

namespace fs = std::filesystem;

// The data directory layout vigild uses (server/data_dir.h).
std::string Absolute(const std::string& dir) {
  std::string out = fs::absolute(fs::path(dir)).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// The key that authenticates pull cursors (server/record_store.h,
// RecordStore::kCursorSecret): forgotten after a restore, so that every
// device pulls again from the start rather than skipping the sequence
// numbers that will be handed out a second time.
constexpr std::string_view kCursorSecret = "cursor_hmac";

// Copies the files of `from` into `to` (created 0700).
absl::Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return absl::OkStatus();
  fs::create_directories(to, ec);
  ::chmod(to.c_str(), 0700);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("copy ", from, " to ", to, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status RestoreInto(const std::string& backup_dir, const std::string& root,
                         std::optional<std::uint32_t> backup_id, const std::string& key_file) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  ::chmod(root.c_str(), 0700);
  const std::string db = root + "/db";
  absl::Status s = storage::Storage::RestoreBackup(backup_dir, db, backup_id);
  if (!s.ok()) return s;
  {
    storage::StorageOptions options;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<storage::Storage>> opened = storage::Storage::Open(db, options);
    if (!opened.ok()) return opened.status();
    s = storage::ForgetSecret(**opened, kCursorSecret);
    if (!s.ok()) return s;
  }
  s = CopyTree(backup_dir + "/tls", root + "/tls");
  if (!s.ok()) return s;
  if (!key_file.empty()) {
    if (!fs::is_regular_file(key_file, ec)) {
      return absl::NotFoundError(absl::StrCat("key file ", key_file, " does not exist"));
    }
    const std::string keys = root + "/keys";
    fs::create_directories(keys, ec);
    ::chmod(keys.c_str(), 0700);
    fs::copy_file(key_file, keys + "/data.key", fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("copy ", key_file, ": ", ec.message()));
    ::chmod((keys + "/data.key").c_str(), 0600);
  }
  return absl::OkStatus();
}

}  // namespace

int Backup(const Globals& g, const std::string& data_dir, const std::string& backup_dir) {
  const std::string root = Absolute(data_dir);
  const std::string target = Absolute(backup_dir);
  const std::string socket = root + "/vigild.sock";
  std::error_code ec;
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  if (!fs::exists(socket, ec) ||
      !channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    return Fail("backup", absl::FailedPreconditionError(absl::StrCat(
                              "no vigild answers on ", socket,
                              "; with the server stopped, run `vigild backup --data-dir ", data_dir,
                              " --to ", backup_dir, "` instead")));
  }
  auto stub = vigil::internal::OperationsService::NewStub(channel);
  vigil::internal::CreateBackupRequest request;
  request.set_backup_dir(target);
  vigil::internal::CreateBackupResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(6));
  if (grpc::Status s = stub->CreateBackup(&context, request, &response); !s.ok()) {
    return Fail("backup by the running server", s);
  }
  if (absl::Status s = CopyTree(root + "/tls", target + "/tls"); !s.ok()) {
    return Fail("copying the TLS material", s);
  }
  const auto& b = response.backup();
  g.out().Result(JsonObject()
                     .Uint("backup_id", b.id())
                     .Str("backup_dir", target)
                     .Int("timestamp_unix", b.timestamp_unix())
                     .Uint("size_bytes", b.size_bytes())
                     .Uint("file_count", b.file_count()),
                 absl::StrCat("backup ", b.id(), " written to ", target, " (",
                              FormatBytes(b.size_bytes()), ", ", b.file_count(),
                              " files, verified)\nthe data key file is not part of the backup: "
                              "keep a copy of it apart"));
  return kExitOk;
}

int Restore(const Globals& g, const std::string& backup_dir, const std::string& data_dir,
            std::optional<std::uint32_t> backup_id, const std::string& key_file) {
  const std::string root = Absolute(data_dir);
  std::error_code ec;
  const bool existed = fs::exists(root, ec);
  if (existed && (!fs::is_directory(root, ec) || !fs::is_empty(root, ec))) {
    return Fail("restore", absl::FailedPreconditionError(absl::StrCat(
                               root, " is not an empty directory; restore into a new one")));
  }
  absl::Status s = RestoreInto(Absolute(backup_dir), root, backup_id, key_file);
  if (!s.ok()) {
    // Leave no half-restored directory that a server could start on.
    if (existed) {
      for (const auto& entry : fs::directory_iterator(root, ec)) fs::remove_all(entry.path(), ec);
    } else {
      fs::remove_all(root, ec);
    }
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
