#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "storage/storage.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

absl::Status Put(Storage& s, const std::string& k, const std::string& v) {
  return s
      .Commit([&](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kRecords, k, v);
        ctx.NextSeq();
        return absl::OkStatus();
      })
      .status();
}

TEST(BackupTest, OnlineBackupRestoresToTheStateAtBackupTime) {
  TempDir dir;
  const std::string backups = dir.Sub("backups");
  {
    auto storage = Storage::Open(dir.Sub("db"), StorageOptions());
    ASSERT_OK(storage);
    for (int i = 0; i < 100; ++i) {
      ASSERT_OK(Put(**storage, "k" + std::to_string(i), "v" + std::to_string(i)));
    }
    // Writers keep committing while the backup runs.
    std::thread writer([&] {
      for (int i = 0; i < 50; ++i) ASSERT_OK(Put(**storage, "during", std::to_string(i)));
    });
    auto first = (*storage)->CreateBackup(backups);
    writer.join();
    ASSERT_OK(first);
    EXPECT_GT(first->file_count, 0u);
    ASSERT_OK(Put(**storage, "after", "x"));
    auto second = (*storage)->CreateBackup(backups);
    ASSERT_OK(second);
    EXPECT_EQ(second->id, first->id + 1);
  }
  auto listed = Storage::ListBackups(backups);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);

  ASSERT_OK(Storage::RestoreBackup(backups, dir.Sub("restored"), std::nullopt));
  auto restored = Storage::Open(dir.Sub("restored"), StorageOptions());
  ASSERT_OK(restored);
  for (int i = 0; i < 100; ++i) {
    auto v = (*restored)->Get(ColumnFamily::kRecords, "k" + std::to_string(i));
    ASSERT_OK(v);
    EXPECT_EQ(v->value_or(""), "v" + std::to_string(i));
  }
  EXPECT_EQ(**(*restored)->Get(ColumnFamily::kRecords, "after"), "x");
  EXPECT_EQ((*restored)->LastCommittedSeq(), 151u);

  // The first backup, chosen by id, predates "after".
  ASSERT_OK(Storage::RestoreBackup(backups, dir.Sub("older"), (*listed)[0].id));
  auto older = Storage::Open(dir.Sub("older"), StorageOptions());
  ASSERT_OK(older);
  auto after = (*older)->Get(ColumnFamily::kRecords, "after");
  ASSERT_OK(after);
  EXPECT_FALSE(after->has_value());
  // The backup holds a prefix of the commit order: the first 100 commits and
  // some of the 50 made while it ran.
  EXPECT_GE((*older)->LastCommittedSeq(), 100u);
  EXPECT_LE((*older)->LastCommittedSeq(), 150u);
}

TEST(BackupTest, RestoreRefusesNonEmptyTargetMissingBackupAndCorruption) {
  TempDir dir;
  const std::string backups = dir.Sub("backups");
  {
    auto storage = Storage::Open(dir.Sub("db"), StorageOptions());
    ASSERT_OK(storage);
    ASSERT_OK(Put(**storage, "k", std::string(100000, 'v')));
    ASSERT_OK((*storage)->CreateBackup(backups).status());
  }
  EXPECT_THAT(Storage::RestoreBackup(backups, dir.Sub("db"), std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Storage::RestoreBackup(backups, dir.Sub("t1"), 99),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Storage::RestoreBackup(dir.Sub("nowhere"), dir.Sub("t2"), std::nullopt),
              StatusIs(absl::StatusCode::kNotFound));

  // Flip bytes in a backed-up table file: verification refuses the restore
  // before anything is written.
  bool corrupted = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(backups)) {
    if (entry.path().extension() == ".sst") {
      std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      f.write("CORRUPTCORRUPT", 14);
      corrupted = true;
    }
  }
  ASSERT_TRUE(corrupted);
  EXPECT_THAT(Storage::RestoreBackup(backups, dir.Sub("t3"), std::nullopt),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("t3")) &&
               !std::filesystem::is_empty(dir.Sub("t3")));
}

}  // namespace
}  // namespace vigil::storage
