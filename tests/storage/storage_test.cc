// Storage open/close, reads, scans, snapshots, and refused data directories.
#include "storage/storage.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "storage/key_codec.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::DirectoryContents;
using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

std::unique_ptr<Storage> OpenOrDie(const std::string& path) {
  auto s = Storage::Open(path, StorageOptions());
  EXPECT_OK(s);
  return s.ok() ? std::move(*s) : nullptr;
}

absl::Status PutAll(Storage& storage, ColumnFamily cf,
                    const std::map<std::string, std::string>& kv) {
  return storage
      .Commit([&](CommitContext& ctx) {
        for (const auto& [k, v] : kv) ctx.Put(cf, k, v);
        return absl::OkStatus();
      })
      .status();
}

TEST(StorageTest, WritesSurviveReopen) {
  TempDir dir;
  {
    auto storage = OpenOrDie(dir.path());
    ASSERT_OK(PutAll(*storage, ColumnFamily::kRecords, {{"k1", "v1"}, {"k2", "v2"}}));
    ASSERT_OK(PutAll(*storage, ColumnFamily::kHistory, {{"k1", "h1"}}));
  }
  auto storage = OpenOrDie(dir.path());
  auto v = storage->Get(ColumnFamily::kRecords, "k2");
  ASSERT_OK(v);
  EXPECT_EQ(v->value_or("<none>"), "v2");
  // Families are separate key spaces.
  auto missing = storage->Get(ColumnFamily::kChanges, "k1");
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
}

// A database opened with only some families (a tablet's store: kMeta)
// holds only those; the others are refused, for reads and writes alike, and
// a refused write keeps nothing of its request. An existing database keeps
// the families it has.
TEST(StorageTest, ADatabaseHoldsOnlyTheFamiliesItIsOpenedWith) {
  TempDir dir;
  StorageOptions meta_only;
  meta_only.column_families = {ColumnFamily::kMeta};
  {
    auto opened = Storage::Open(dir.path(), meta_only);
    ASSERT_OK(opened);
    Storage& storage = **opened;
    ASSERT_OK(PutAll(storage, ColumnFamily::kMeta, {{"t/a", "1"}}));
    EXPECT_THAT(storage.Get(ColumnFamily::kRecords, "k"),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(storage.Scan(ColumnFamily::kHistory, KeyRange{}, nullptr,
                             [](std::string_view, std::string_view) { return true; }),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(storage
                    .Commit([](CommitContext& ctx) {
                      ctx.Put(ColumnFamily::kMeta, "t/b", "2");
                      ctx.Put(ColumnFamily::kRecords, "k", "v");
                      return absl::OkStatus();
                    })
                    .status(),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    auto b = storage.Get(ColumnFamily::kMeta, "t/b");
    ASSERT_OK(b);
    EXPECT_FALSE(b->has_value());
  }
  // Opened again with every family: the missing ones are created.
  auto full = OpenOrDie(dir.path());
  ASSERT_OK(PutAll(*full, ColumnFamily::kRecords, {{"k", "v"}}));
  full.reset();
  // And an existing database keeps every family it has.
  auto again = Storage::Open(dir.path(), meta_only);
  ASSERT_OK(again);
  auto v = (*again)->Get(ColumnFamily::kRecords, "k");
  ASSERT_OK(v);
  EXPECT_EQ(v->value_or(""), "v");
}

// Deleted values are in the write-ahead log (and maybe a table file) until
// CompactAll rewrites the database without them.
TEST(StorageTest, CompactAllLeavesNoDeletedValueInAnyFile) {
  TempDir dir;
  auto storage = OpenOrDie(dir.path());
  std::map<std::string, std::string> kv;
  for (int i = 0; i < 50; ++i) {
    kv["k" + std::to_string(i)] = "secret-value-" + std::to_string(i) + "-of-a-purged-visit";
  }
  ASSERT_OK(PutAll(*storage, ColumnFamily::kMeta, kv));
  ASSERT_OK(PutAll(*storage, ColumnFamily::kRecords, {{"kept", "kept-value-of-a-visit"}}));
  ASSERT_OK(storage
                ->Commit([&](CommitContext& ctx) {
                  for (const auto& [k, v] : kv) ctx.Delete(ColumnFamily::kMeta, k);
                  return absl::OkStatus();
                })
                .status());
  auto anywhere = [&](const std::string& needle) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      if (bytes.str().find(needle) != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_TRUE(anywhere("secret-value-7-of-a-purged-visit")) << "the log holds it";
  ASSERT_OK(storage->CompactAll());
  for (const auto& [k, v] : kv) EXPECT_FALSE(anywhere(v)) << v;
  auto kept = storage->Get(ColumnFamily::kRecords, "kept");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->value_or(""), "kept-value-of-a-visit");
  EXPECT_TRUE(anywhere("kept-value-of-a-visit"));
}

TEST(StorageTest, ScanVisitsRangeInOrderAndStops) {
  TempDir dir;
  auto storage = OpenOrDie(dir.path());
  std::map<std::string, std::string> kv;
  for (int i = 0; i < 20; ++i) {
    kv[KeyBuilder().AddString(i < 10 ? "a" : "b").AddUint64(i).key()] =
        std::to_string(i);
  }
  ASSERT_OK(PutAll(*storage, ColumnFamily::kChanges, kv));
  std::vector<std::string> seen;
  ASSERT_OK(storage->Scan(ColumnFamily::kChanges,
                          KeyRange::Prefix(KeyBuilder().AddString("b").key()),
                          nullptr, [&](std::string_view, std::string_view v) {
                            seen.emplace_back(v);
                            return true;
                          }));
  EXPECT_EQ(seen, (std::vector<std::string>{"10", "11", "12", "13", "14", "15",
                                            "16", "17", "18", "19"}));
  int visited = 0;
  ASSERT_OK(storage->Scan(ColumnFamily::kChanges, KeyRange{}, nullptr,
                          [&](std::string_view, std::string_view) {
                            return ++visited < 3;
                          }));
  EXPECT_EQ(visited, 3);
}

TEST(StorageTest, SnapshotIsStableAndCarriesItsSeq) {
  TempDir dir;
  auto storage = OpenOrDie(dir.path());
  auto first = storage->Commit([](CommitContext& ctx) {
    ctx.Put(ColumnFamily::kRecords, "r", "old");
    ctx.NextSeq();
    return absl::OkStatus();
  });
  ASSERT_OK(first);
  Snapshot snap = storage->GetSnapshot();
  EXPECT_EQ(snap.seq(), 1u);
  ASSERT_OK(storage
                ->Commit([](CommitContext& ctx) {
                  ctx.Put(ColumnFamily::kRecords, "r", "new");
                  ctx.NextSeq();
                  return absl::OkStatus();
                })
                .status());
  auto at_snap = storage->Get(ColumnFamily::kRecords, "r", &snap);
  auto latest = storage->Get(ColumnFamily::kRecords, "r");
  ASSERT_OK(at_snap);
  ASSERT_OK(latest);
  EXPECT_EQ(**at_snap, "old");
  EXPECT_EQ(**latest, "new");
  EXPECT_EQ(storage->GetSnapshot().seq(), 2u);
  EXPECT_EQ(storage->LastCommittedSeq(), 2u);
}

TEST(StorageTest, SecondOpenOfLockedDatabaseIsRefusedAndChangesNothing) {
  TempDir dir;
  auto storage = OpenOrDie(dir.path());
  ASSERT_OK(PutAll(*storage, ColumnFamily::kRecords, {{"k", "v"}}));
  auto before = DirectoryContents(dir.path());
  EXPECT_THAT(Storage::Open(dir.path(), StorageOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(DirectoryContents(dir.path()), before);
}

TEST(StorageTest, OtherFormatVersionIsRefusedAndChangesNothing) {
  TempDir dir;
  {
    auto storage = OpenOrDie(dir.path());
    ASSERT_OK(PutAll(*storage, ColumnFamily::kMeta,
                     {{KeyBuilder().AddString("format_version").key(),
                       std::to_string(kStorageFormatVersion + 1)}}));
  }
  auto before = DirectoryContents(dir.path());
  auto reopened = Storage::Open(dir.path(), StorageOptions());
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(reopened.status().message().find("format version"), std::string::npos);
  EXPECT_EQ(DirectoryContents(dir.path()), before);
}

TEST(StorageTest, CorruptDatabaseIsRefusedAndChangesNothing) {
  TempDir dir;
  {
    auto storage = OpenOrDie(dir.path());
    ASSERT_OK(PutAll(*storage, ColumnFamily::kRecords, {{"k", "v"}}));
  }
  std::ofstream(dir.path() + "/CURRENT", std::ios::trunc) << "garbage";
  auto before = DirectoryContents(dir.path());
  EXPECT_THAT(Storage::Open(dir.path(), StorageOptions()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(DirectoryContents(dir.path()), before);
}

TEST(StorageTest, EmptyDatabaseLeftByACrashedFirstStartIsInitialised) {
  TempDir dir;
  // What a crash between RocksDB creating the database and Vigil writing
  // its format version leaves: our families, no keys at all.
  {
    auto storage = Storage::Open(dir.path(), StorageOptions());
    ASSERT_OK(storage);
    ASSERT_OK((*storage)
                  ->Commit([](CommitContext& ctx) {
                    ctx.Delete(ColumnFamily::kMeta, KeyBuilder().AddString("format_version").key());
                    ctx.Delete(ColumnFamily::kMeta, KeyBuilder().AddString("last_seq").key());
                    return absl::OkStatus();
                  })
                  .status());
  }
  auto reopened = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(reopened);
  EXPECT_EQ((*reopened)->LastCommittedSeq(), 0u);
  ASSERT_OK(PutAll(**reopened, ColumnFamily::kRecords, {{"k", "v"}}));
}

TEST(StorageTest, DatabaseWithDataButNoFormatVersionIsRefused) {
  TempDir dir;
  {
    auto storage = Storage::Open(dir.path(), StorageOptions());
    ASSERT_OK(storage);
    ASSERT_OK(PutAll(**storage, ColumnFamily::kRecords, {{"k", "v"}}));
    ASSERT_OK((*storage)
                  ->Commit([](CommitContext& ctx) {
                    ctx.Delete(ColumnFamily::kMeta, KeyBuilder().AddString("format_version").key());
                    return absl::OkStatus();
                  })
                  .status());
  }
  EXPECT_THAT(Storage::Open(dir.path(), StorageOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(StorageTest, MissingDatabaseWithoutCreateIsRefused) {
  TempDir dir;
  StorageOptions options;
  options.create_if_missing = false;
  EXPECT_THAT(Storage::Open(dir.Sub("none"), options),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("none")));
}

TEST(StorageTest, PathThatIsAFileIsRefused) {
  TempDir dir;
  std::ofstream(dir.Sub("file")) << "not a directory";
  auto opened = Storage::Open(dir.Sub("file"), StorageOptions());
  EXPECT_THAT(opened, StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace vigil::storage
