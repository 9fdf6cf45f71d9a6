// The first admin credential (user "admin", role ADMIN, one device whose
// token is written to a file), created on the first start of an empty data
// directory so the operator can administer a fresh server.
#ifndef VIGIL_SERVER_OPS_INITIAL_ADMIN_H_
#define VIGIL_SERVER_OPS_INITIAL_ADMIN_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/storage.h"

namespace vigil::server {

inline constexpr std::string_view kInitialAdminTokenFile = "initial-admin-token";

// When the database holds no admin credential yet, generates a random token
// (256 bits from libsodium's CSPRNG), commits only its SHA-256 to the
// database, and writes the token to DATA_DIR/initial-admin-token with mode
// 0600. The file is written (and fsynced) before the commit and renamed into
// place after it, so a crash at any point leaves either no credential or a
// credential whose token file can still be completed on the next start.
// Returns the file's path when this call created it, nullopt when the
// credential already existed. Never logs or returns the token itself.
absl::StatusOr<std::optional<std::string>> EnsureInitialAdmin(
    storage::Storage& storage, const std::string& data_dir);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_OPS_INITIAL_ADMIN_H_
