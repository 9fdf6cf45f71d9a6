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
#include "server/restore.h"
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
  if (absl::Status s = server::CopyTlsMaterial(root + "/tls", target + "/tls"); !s.ok()) {
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
  if (absl::Status s = server::RunRestore(Absolute(backup_dir), root, backup_id, key_file);
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
