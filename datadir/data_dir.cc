#include "datadir/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace vigil::datadir {

namespace fs = std::filesystem;

DataDirLayout LayoutOf(const std::string& dir) {
  std::error_code ec;
  fs::path abs = fs::absolute(dir, ec);
  return DataDirLayout{(ec ? fs::path(dir) : abs).lexically_normal().string()};
}

absl::StatusOr<DataDirLayout> PrepareDataDir(const std::string& dir) {
  DataDirLayout layout = LayoutOf(dir);
  const std::string& root = layout.root;
  std::error_code ec;
  fs::file_status st = fs::status(root, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::PermissionDeniedError(
        absl::StrCat("data directory ", root, " cannot be examined: ", ec.message()));
  }
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", root, " exists but is not a directory"));
    }
    if (::access(root.c_str(), R_OK | W_OK | X_OK) != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "data directory ", root, " is not readable and writable by this user: ",
          std::strerror(errno)));
    }
    bool empty = fs::is_empty(root, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("data directory ", root, " cannot be listed: ", ec.message()));
    }
    if (!empty && !fs::is_directory(layout.db(), ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", root,
          " is not empty and holds no Vigil database (db/); refusing to write "
          "into it. Point --data-dir at a new directory or an existing Vigil "
          "data directory"));
    }
    return layout;
  }
  fs::create_directories(root, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create data directory ", root, ": ", ec.message()));
  }
  ::chmod(root.c_str(), 0700);
  return layout;
}

absl::Status WritePrivateFile(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

}  // namespace vigil::datadir
