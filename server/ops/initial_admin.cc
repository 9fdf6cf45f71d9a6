#include "server/ops/initial_admin.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/auth/caller.h"
#include "datadir/data_dir.h"
#include "server/auth/identity_store.h"
#include "storage/audit_log.h"
#include "storage/key_codec.h"

namespace vigil::server {
namespace {

const std::string& AdminHashKey() {
  static const std::string* key = new std::string(
      storage::KeyBuilder().AddString("admin").AddString("initial_token_sha256").key());
  return *key;
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot fsync ", dir));
  return absl::OkStatus();
}

std::optional<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!(in >> token)) return std::nullopt;
  return token;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> EnsureInitialAdmin(
    storage::Storage& storage, const std::string& data_dir) {
  const std::string final_path = data_dir + "/" + std::string(kInitialAdminTokenFile);
  const std::string temp_path = final_path + ".tmp";
  ASSIGN_OR_RETURN(auto stored, storage.Get(storage::ColumnFamily::kMeta, AdminHashKey()));
  if (stored.has_value()) {
    // Finish a creation interrupted between the commit and the rename.
    std::optional<std::string> pending = ReadToken(temp_path);
    if (pending && IdentityStore::TokenHash(*pending) == *stored) {
      if (std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
        return absl::InternalError(absl::StrCat("cannot rename ", temp_path));
      }
      RETURN_IF_ERROR(SyncDirectory(data_dir));
      return final_path;
    }
    return std::nullopt;
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  const std::string token = IdentityStore::NewToken();
  RETURN_IF_ERROR(datadir::WritePrivateFile(temp_path, token + "\n"));
  const std::string hash = IdentityStore::TokenHash(token);
  RETURN_IF_ERROR(storage
                      .Commit([&](storage::CommitContext& ctx) -> absl::Status {
                        ASSIGN_OR_RETURN(auto existing,
                                         ctx.Get(storage::ColumnFamily::kMeta, AdminHashKey()));
                        if (existing.has_value()) {
                          return absl::AlreadyExistsError("admin credential already exists");
                        }
                        ctx.Put(storage::ColumnFamily::kMeta, AdminHashKey(), hash);
                        RETURN_IF_ERROR(IdentityStore::BootstrapAdmin(ctx, hash, absl::Now()));
                        return storage::AppendAudit(
                            ctx, AuditOf(SystemCaller(), "admin.initial_credential_created",
                                         "principals/admin"));
                      })
                      .status());
  if (std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temp_path, " to ", final_path));
  }
  RETURN_IF_ERROR(SyncDirectory(data_dir));
  return final_path;
}

}  // namespace vigil::server
