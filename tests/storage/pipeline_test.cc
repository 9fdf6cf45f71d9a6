// The commit pipeline: contiguous sequence numbers under concurrency, group
// semantics (rollback of a failed request, read-your-group's-writes), gap-free
// snapshots, and draining at shutdown.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/key_codec.h"
#include "storage/storage.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;

std::string SeqKey(std::uint64_t seq) { return KeyBuilder().AddUint64(seq).key(); }

// Each request allocates 1..3 seqs and writes one changes entry per seq.
PrepareFn WriteSeqs(int count, std::string tag) {
  return [count, tag](CommitContext& ctx) {
    for (int i = 0; i < count; ++i) {
      ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), tag);
    }
    return absl::OkStatus();
  };
}

std::vector<std::uint64_t> ScanSeqs(Storage& storage, const Snapshot* snap) {
  std::vector<std::uint64_t> seqs;
  EXPECT_OK(storage.Scan(ColumnFamily::kChanges, KeyRange{}, snap,
                         [&](std::string_view key, std::string_view) {
                           auto reader = KeyReader::Create(key);
                           seqs.push_back(*reader->ReadUint64());
                           return true;
                         }));
  return seqs;
}

TEST(PipelineTest, ConcurrentSubmittersGetContiguousSeqsThatSurviveReopen) {
  TempDir dir;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 60;
  absl::Mutex mu;
  std::vector<std::uint64_t> allocated;
  {
    auto storage = Storage::Open(dir.path(), StorageOptions());
    ASSERT_OK(storage);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          int count = 1 + (t + i) % 3;
          auto result = (*storage)->Commit(
              WriteSeqs(count, std::to_string(t) + "/" + std::to_string(i)));
          ASSERT_OK(result);
          ASSERT_EQ(result->last_seq - result->first_seq + 1,
                    static_cast<std::uint64_t>(count));
          absl::MutexLock lock(&mu);
          for (auto s = result->first_seq; s <= result->last_seq; ++s) {
            allocated.push_back(s);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ((*storage)->LastCommittedSeq(), allocated.size());
  }
  std::sort(allocated.begin(), allocated.end());
  for (std::size_t i = 0; i < allocated.size(); ++i) {
    ASSERT_EQ(allocated[i], i + 1) << "gap or duplicate";
  }
  auto reopened = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(reopened);
  EXPECT_EQ(ScanSeqs(**reopened, nullptr), allocated);
  EXPECT_EQ((*reopened)->LastCommittedSeq(), allocated.size());
  // Numbering continues after reopen.
  auto next = (*reopened)->Commit(WriteSeqs(1, "after"));
  ASSERT_OK(next);
  EXPECT_EQ(next->first_seq, allocated.size() + 1);
}

TEST(PipelineTest, FailedRequestGivesBackSeqsAndWritesNothingInItsGroup) {
  TempDir dir;
  auto storage = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(storage);
  Storage& s = **storage;

  absl::Notification release;
  absl::Notification blocker_started;
  absl::Notification blocker_done;
  // Holds the writer so the next three requests queue up as one group.
  s.Submit(
      [&](CommitContext& ctx) {
        blocker_started.Notify();
        release.WaitForNotification();
        ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), "blocker");
        return absl::OkStatus();
      },
      [&](absl::StatusOr<CommitResult> r) {
        EXPECT_OK(r);
        blocker_done.Notify();
      });
  blocker_started.WaitForNotification();

  std::vector<absl::StatusOr<CommitResult>> results(3);
  std::vector<absl::Notification> done(3);
  std::optional<std::string> seen_by_c;
  s.Submit(
      [](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kRecords, "a", "from-a");
        ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), "a");
        return absl::OkStatus();
      },
      [&](absl::StatusOr<CommitResult> r) { results[0] = r; done[0].Notify(); });
  s.Submit(
      [](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kRecords, "b", "from-b");
        ctx.Put(ColumnFamily::kRecords, "a", "overwritten-by-b");
        ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), "b");
        ctx.NextSeq();
        return absl::InvalidArgumentError("b refuses");
      },
      [&](absl::StatusOr<CommitResult> r) { results[1] = r; done[1].Notify(); });
  s.Submit(
      [&](CommitContext& ctx) -> absl::Status {
        auto a = ctx.Get(ColumnFamily::kRecords, "a");
        if (!a.ok()) return a.status();
        seen_by_c = *a;
        ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), "c");
        return absl::OkStatus();
      },
      [&](absl::StatusOr<CommitResult> r) { results[2] = r; done[2].Notify(); });
  release.Notify();
  blocker_done.WaitForNotification();
  for (auto& d : done) d.WaitForNotification();

  ASSERT_OK(results[0]);
  EXPECT_EQ(results[0]->first_seq, 2u);
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(results[2]);
  EXPECT_EQ(results[2]->first_seq, 3u);  // b's seqs were given back
  EXPECT_EQ(seen_by_c, std::optional<std::string>("from-a"));
  auto b = s.Get(ColumnFamily::kRecords, "b");
  ASSERT_OK(b);
  EXPECT_FALSE(b->has_value());
  EXPECT_EQ(**s.Get(ColumnFamily::kRecords, "a"), "from-a");
  EXPECT_EQ(ScanSeqs(s, nullptr), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(PipelineTest, ContextScanSeesCommittedAndGroupWrites) {
  TempDir dir;
  auto storage = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(storage);
  ASSERT_OK((*storage)->Commit(WriteSeqs(2, "x")).status());
  std::vector<std::uint64_t> seen;
  ASSERT_OK((*storage)
                ->Commit([&](CommitContext& ctx) {
                  ctx.Put(ColumnFamily::kChanges, SeqKey(ctx.NextSeq()), "y");
                  ctx.Delete(ColumnFamily::kChanges, SeqKey(1));
                  return ctx.Scan(ColumnFamily::kChanges,
                                  KeyRange{SeqKey(0), SeqKey(100)},
                                  [&](std::string_view key, std::string_view) {
                                    seen.push_back(
                                        *KeyReader::Create(key)->ReadUint64());
                                    return true;
                                  });
                })
                .status());
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{2, 3}));
}

// Requests of one group see each other's writes (overwrites and deletes
// included) through Get and Scan, and a key written many times in the group
// is stored with its last value.
TEST(PipelineTest, RequestsOfOneGroupSeeEachOthersFinalWrites) {
  TempDir dir;
  auto storage = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(storage);
  Storage& s = **storage;
  for (const char* key : {"k1", "k3", "k6"}) {
    ASSERT_OK(s.Commit([key](CommitContext& ctx) {
                 ctx.Put(ColumnFamily::kIndexes, key, "stored");
                 return absl::OkStatus();
               })
                  .status());
  }

  absl::Notification release;
  absl::Notification blocker_started;
  s.Submit(
      [&](CommitContext&) {
        blocker_started.Notify();
        release.WaitForNotification();
        return absl::OkStatus();
      },
      [](absl::StatusOr<CommitResult> r) { EXPECT_OK(r); });
  blocker_started.WaitForNotification();

  std::vector<absl::Notification> done(3);
  s.Submit(
      [](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kIndexes, "k2", "first");
        ctx.Put(ColumnFamily::kIndexes, "k4", "first");
        ctx.Put(ColumnFamily::kIndexes, "k3", "first");
        for (int i = 0; i < 50; ++i) ctx.Put(ColumnFamily::kMeta, "head", std::to_string(i));
        return absl::OkStatus();
      },
      [&](absl::StatusOr<CommitResult> r) { EXPECT_OK(r); done[0].Notify(); });
  std::vector<std::pair<std::string, std::string>> scanned;
  std::vector<std::string> first_two;
  std::optional<std::string> k2_after_delete = "unread";
  std::optional<std::string> head_seen;
  s.Submit(
      [&](CommitContext& ctx) -> absl::Status {
        ctx.Delete(ColumnFamily::kIndexes, "k2");
        ctx.Put(ColumnFamily::kIndexes, "k3", "second");
        ctx.Delete(ColumnFamily::kIndexes, "k6");
        ctx.Put(ColumnFamily::kIndexes, "k5", "second");
        ASSIGN_OR_RETURN(k2_after_delete, ctx.Get(ColumnFamily::kIndexes, "k2"));
        ASSIGN_OR_RETURN(head_seen, ctx.Get(ColumnFamily::kMeta, "head"));
        RETURN_IF_ERROR(ctx.Scan(ColumnFamily::kIndexes, KeyRange{"k", "k9"},
                                 [&](std::string_view key, std::string_view value) {
                                   scanned.emplace_back(key, value);
                                   return true;
                                 }));
        RETURN_IF_ERROR(ctx.Scan(ColumnFamily::kIndexes, KeyRange{"k", "k9"},
                                 [&](std::string_view key, std::string_view) {
                                   first_two.emplace_back(key);
                                   return first_two.size() < 2;
                                 }));
        ctx.Put(ColumnFamily::kMeta, "head", "last");
        return absl::OkStatus();
      },
      [&](absl::StatusOr<CommitResult> r) { EXPECT_OK(r); done[1].Notify(); });
  s.Submit(
      [](CommitContext& ctx) {
        ctx.Put(ColumnFamily::kIndexes, "k4", "refused");
        ctx.Delete(ColumnFamily::kIndexes, "k1");
        return absl::AbortedError("refused");
      },
      [&](absl::StatusOr<CommitResult> r) {
        EXPECT_THAT(r, StatusIs(absl::StatusCode::kAborted));
        done[2].Notify();
      });
  release.Notify();
  for (auto& d : done) d.WaitForNotification();

  EXPECT_EQ(k2_after_delete, std::nullopt);
  EXPECT_EQ(head_seen, std::optional<std::string>("49"));
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"k1", "stored"}, {"k3", "second"}, {"k4", "first"}, {"k5", "second"}};
  EXPECT_EQ(scanned, expected);
  EXPECT_EQ(first_two, (std::vector<std::string>{"k1", "k3"}));
  std::vector<std::pair<std::string, std::string>> stored;
  ASSERT_OK(s.Scan(ColumnFamily::kIndexes, KeyRange{}, nullptr,
                   [&](std::string_view key, std::string_view value) {
                     stored.emplace_back(key, value);
                     return true;
                   }));
  EXPECT_EQ(stored, expected);
  EXPECT_EQ(**s.Get(ColumnFamily::kMeta, "head"), "last");
}

TEST(PipelineTest, SnapshotsAlwaysSeeAGapFreePrefix) {
  TempDir dir;
  auto storage = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(storage);
  Storage& s = **storage;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 80; ++i) {
        ASSERT_OK(s.Commit(WriteSeqs(1 + i % 2, std::to_string(t))).status());
      }
    });
  }
  int checks = 0;
  std::thread reader([&] {
    while (!stop.load()) {
      Snapshot snap = s.GetSnapshot();
      std::vector<std::uint64_t> seqs = ScanSeqs(s, &snap);
      ASSERT_EQ(seqs.size(), snap.seq());
      for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1);
      ++checks;
    }
  });
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_GT(checks, 0);
}

TEST(PipelineTest, ShutdownCompletesQueuedRequestsAndRefusesNewOnes) {
  TempDir dir;
  auto storage = Storage::Open(dir.path(), StorageOptions());
  ASSERT_OK(storage);
  Storage& s = **storage;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  for (int i = 0; i < kRequests; ++i) {
    s.Submit(WriteSeqs(1, "q"), [&](absl::StatusOr<CommitResult> r) {
      if (r.ok()) ++ok;
    });
  }
  s.Shutdown();
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_EQ(s.LastCommittedSeq(), static_cast<std::uint64_t>(kRequests));
  EXPECT_THAT(s.Commit(WriteSeqs(1, "late")),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace vigil::storage
