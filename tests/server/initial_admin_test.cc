#include "server/ops/initial_admin.h"
#include "server/auth/identity_store.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::server {
namespace {

using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  in >> token;
  return token;
}

TEST(InitialAdminTest, CreatedOnceStoredOnlyAsHash) {
  TempDir dir;
  auto storage = storage::Storage::Open(dir.Sub("db"), storage::StorageOptions());
  ASSERT_OK(storage);
  auto created = EnsureInitialAdmin(**storage, dir.path());
  ASSERT_OK(created);
  ASSERT_TRUE(created->has_value());
  const std::string path = **created;
  EXPECT_EQ(path, dir.Sub("initial-admin-token"));
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string token = ReadToken(path);
  EXPECT_EQ(token.rfind("vgl_", 0), 0u);
  EXPECT_EQ(token.size(), 4u + 43u);  // 256 bits, base64url

  IdentityStore identities(storage->get());
  auto admin = identities.Authenticate(token);
  ASSERT_OK(admin);
  EXPECT_EQ(admin->principal, "admin");
  EXPECT_EQ(admin->role, vigil::v1::ROLE_ADMIN);
  EXPECT_THAT(identities.Authenticate(token + "x"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(identities.Authenticate(""), StatusIs(absl::StatusCode::kUnauthenticated));

  auto again = EnsureInitialAdmin(**storage, dir.path());
  ASSERT_OK(again);
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(ReadToken(path), token);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(InitialAdminTest, InterruptedCreationIsCompletedOnNextStart) {
  TempDir dir;
  auto storage = storage::Storage::Open(dir.Sub("db"), storage::StorageOptions());
  ASSERT_OK(storage);
  ASSERT_OK(EnsureInitialAdmin(**storage, dir.path()).status());
  const std::string path = dir.Sub("initial-admin-token");
  const std::string token = ReadToken(path);
  // As if the process died after the commit, before the rename.
  std::filesystem::rename(path, path + ".tmp");
  auto completed = EnsureInitialAdmin(**storage, dir.path());
  ASSERT_OK(completed);
  ASSERT_TRUE(completed->has_value());
  EXPECT_EQ(ReadToken(path), token);
  EXPECT_OK(IdentityStore(storage->get()).Authenticate(token).status());
}

}  // namespace
}  // namespace vigil::server
