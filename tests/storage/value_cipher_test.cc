#include "storage/value_cipher.h"

#include <sys/stat.h>

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::ReadFile;
using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

std::unique_ptr<KeyRing> NewRing(const TempDir& dir, const std::string& name = "data.key") {
  EXPECT_OK(KeyRing::Generate(dir.Sub(name)));
  auto ring = KeyRing::Load(dir.Sub(name));
  EXPECT_OK(ring);
  return ring.ok() ? std::move(*ring) : nullptr;
}

TEST(ValueCipherTest, SealsAndOpensBoundToItsKey) {
  TempDir dir;
  auto ring = NewRing(dir);
  const std::string secret = "the detainee described being beaten in cell 4";
  std::string sealed = ring->Seal(secret, "record/1");
  EXPECT_EQ(sealed.find("beaten"), std::string::npos);
  EXPECT_NE(ring->Seal(secret, "record/1"), sealed) << "fresh nonce per value";
  auto opened = ring->Open(sealed, "record/1");
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, secret);
  // Moved to another key, tampered, truncated: refused.
  EXPECT_THAT(ring->Open(sealed, "record/2"), StatusIs(absl::StatusCode::kDataLoss));
  std::string tampered = sealed;
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_THAT(ring->Open(tampered, "record/1"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ring->Open(sealed.substr(0, 10), "record/1"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ValueCipherTest, KeyFileIsPrivateAndGeneratedOnce) {
  TempDir dir;
  ASSERT_OK(KeyRing::Generate(dir.Sub("keys/data.key")));
  struct stat st{};
  ASSERT_EQ(stat(dir.Sub("keys/data.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_THAT(KeyRing::Generate(dir.Sub("keys/data.key")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  chmod(dir.Sub("keys/data.key").c_str(), 0644);
  EXPECT_THAT(KeyRing::Load(dir.Sub("keys/data.key")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(KeyRing::Load(dir.Sub("missing.key")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ValueCipherTest, MalformedKeyFilesAreRefused) {
  TempDir dir;
  for (const std::string& text :
       {std::string("key 1 notbase64!\n"), std::string("key 0 ") + std::string(44, 'A') + "\n",
        std::string("# only a comment\n"), std::string("kye 1 AAAA\n")}) {
    const std::string path = dir.Sub("bad.key");
    std::ofstream(path, std::ios::trunc) << text;
    chmod(path.c_str(), 0600);
    EXPECT_THAT(KeyRing::Load(path), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

TEST(ValueCipherTest, RotationSealsWithNewestAndOpensOld) {
  TempDir dir;
  auto first = NewRing(dir);
  std::string old_value = first->Seal("old", "k");
  // Append a second key (as rotation does): the file now holds keys 1 and 2.
  NewRing(dir, "other.key");
  std::string second_line = ReadFile(dir.Sub("other.key"));
  second_line = second_line.substr(second_line.find("key 1 "));
  second_line.replace(0, 6, "key 2 ");
  std::ofstream(dir.Sub("data.key"), std::ios::app) << second_line;
  auto both = KeyRing::Load(dir.Sub("data.key"));
  ASSERT_OK(both);
  EXPECT_EQ((*both)->active_key_id(), 2u);
  EXPECT_EQ((*both)->Open(old_value, "k").value_or(""), "old");
  std::string fresh = (*both)->Seal("new", "k");
  EXPECT_THAT(first->Open(fresh, "k"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ValueCipherTest, DatabaseRefusesAKeyFileThatIsNotItsOwn) {
  TempDir dir;
  auto ring = NewRing(dir);
  auto other = NewRing(dir, "other.key");
  auto storage = Storage::Open(dir.Sub("db"), StorageOptions());
  ASSERT_OK(storage);
  EXPECT_FALSE(HasKeyChecks(**storage).value_or(true));
  ASSERT_OK(VerifyAndRecordKeyChecks(**storage, *ring));
  EXPECT_TRUE(HasKeyChecks(**storage).value_or(false));
  ASSERT_OK(VerifyAndRecordKeyChecks(**storage, *ring));  // idempotent
  EXPECT_THAT(VerifyAndRecordKeyChecks(**storage, *other),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ValueCipherTest, RotationReEncryptsEverySealedValueAndKeepsPlainOnes) {
  TempDir dir;
  auto ring = NewRing(dir);
  auto storage = Storage::Open(dir.Sub("db"), StorageOptions());
  ASSERT_OK(storage);
  ASSERT_OK(VerifyAndRecordKeyChecks(**storage, *ring));
  // Sealed values in every family that holds them, plain ones beside them.
  const std::vector<ColumnFamily> families = {ColumnFamily::kRecords, ColumnFamily::kHistory,
                                              ColumnFamily::kMutations, ColumnFamily::kIndexes,
                                              ColumnFamily::kAttachments};
  constexpr int kPerFamily = 700;  // more than one batch
  ASSERT_OK((*storage)
                ->Commit([&](CommitContext& ctx) {
                  for (ColumnFamily cf : families) {
                    for (int i = 0; i < kPerFamily; ++i) {
                      const std::string key = "sealed/" + std::to_string(i);
                      ctx.Put(cf, key, ring->Seal("secret " + std::to_string(i), key));
                      ctx.Put(cf, "plain/" + std::to_string(i), std::string("\0plain", 6));
                    }
                  }
                  return absl::OkStatus();
                })
                .status());
  ASSERT_OK(LoadOrCreateSecret(**storage, *ring, "s", [] { return std::string("server secret"); })
                .status());

  auto rotated = RotateDataKey(**storage, *ring, AuditEvent{0, "operator", "", "keys.rotated", ""});
  ASSERT_OK(rotated);
  EXPECT_EQ(*rotated, 2u);
  EXPECT_EQ(ring->active_key_id(), 2u);
  EXPECT_TRUE(ReencryptionPending(**storage).value_or(false));
  // The key file now holds both keys, still private.
  auto reloaded = KeyRing::Load(dir.Sub("data.key"));
  ASSERT_OK(reloaded);
  EXPECT_EQ((*reloaded)->active_key_id(), 2u);

  auto stats = ReencryptOldValues(**storage, *ring);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->resealed, families.size() * kPerFamily + 1);  // + the server secret
  EXPECT_FALSE(ReencryptionPending(**storage).value_or(true));
  for (ColumnFamily cf : families) {
    int sealed = 0;
    ASSERT_OK((*storage)->Scan(cf, KeyRange{}, nullptr,
                               [&](std::string_view key, std::string_view value) {
                                 if (key.substr(0, 6) == "plain/") {
                                   EXPECT_EQ(value, std::string_view("\0plain", 6));
                                   return true;
                                 }
                                 ++sealed;
                                 EXPECT_EQ(KeyRing::SealedKeyId(value), 2u);
                                 auto opened = (*reloaded)->Open(value, key);
                                 EXPECT_OK(opened);
                                 return true;
                               }));
    EXPECT_EQ(sealed, kPerFamily);
  }
  EXPECT_EQ(*LoadOrCreateSecret(**storage, **reloaded, "s", [] { return std::string("new"); }),
            "server secret");
  // Both keys' checks stay: the key file must hold key 1 too.
  ASSERT_OK(VerifyAndRecordKeyChecks(**storage, **reloaded));
  auto again = ReencryptOldValues(**storage, *ring);
  ASSERT_OK(again);
  EXPECT_EQ(again->resealed, 0u);
}

}  // namespace
}  // namespace vigil::storage
