#include "storage/audit_log.h"

#include "gtest/gtest.h"
#include "storage/key_codec.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::StatusIs;
using ::vigil::testing::TempDir;
using vigil::internal::AuditEntry;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Storage::Open(dir_.Sub("db"), StorageOptions());
    ASSERT_OK(s);
    storage_ = std::move(*s);
  }

  void AppendEntries(int n, int per_commit = 1) {
    for (int i = 0; i < n; i += per_commit) {
      ASSERT_OK(storage_
                    ->Commit([&](CommitContext& ctx) -> absl::Status {
                      for (int j = i; j < i + per_commit && j < n; ++j) {
                        ctx.Put(ColumnFamily::kRecords, "r" + std::to_string(j), "v");
                        absl::Status s = AppendAudit(
                            ctx, AuditEvent{1000 + j, "monitor-" + std::to_string(j % 3),
                                            "tablet-1", "record.write",
                                            "records/r" + std::to_string(j)});
                        if (!s.ok()) return s;
                      }
                      return absl::OkStatus();
                    })
                    .status());
    }
  }

  std::string RawEntry(std::uint64_t index) {
    return storage_->Get(ColumnFamily::kAudit, KeyBuilder().AddUint64(index).key())
        .value()
        .value_or("");
  }

  void Tamper(absl::AnyInvocable<void(CommitContext&)> edit) {
    ASSERT_OK(storage_
                  ->Commit([&](CommitContext& ctx) {
                    edit(ctx);
                    return absl::OkStatus();
                  })
                  .status());
  }

  AuditVerification Verify() {
    auto v = VerifyAuditLog(*storage_);
    EXPECT_OK(v);
    return v.value_or(AuditVerification{});
  }

  TempDir dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(AuditLogTest, IntactChainVerifies) {
  EXPECT_TRUE(Verify().intact());
  EXPECT_EQ(Verify().entries, 0u);
  AppendEntries(10);
  AppendEntries(9, /*per_commit=*/3);  // several entries in one batch
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, 19u);
  EXPECT_EQ(v.head_hash_hex.size(), 64u);
  std::vector<std::uint64_t> indexes;
  ASSERT_OK(ForEachAuditEntry(*storage_, nullptr, 0, [&](const AuditEntry& e) {
    indexes.push_back(e.index());
    return true;
  }));
  ASSERT_EQ(indexes.size(), 19u);
  std::vector<std::uint64_t> tail;
  ASSERT_OK(ForEachAuditEntry(*storage_, nullptr, 17, [&](const AuditEntry& e) {
    tail.push_back(e.index());
    return true;
  }));
  EXPECT_EQ(tail, (std::vector<std::uint64_t>{17, 18, 19}));
  EXPECT_EQ(indexes.front(), 1u);
  EXPECT_EQ(indexes.back(), 19u);
}

// An appender reads the head once and writes it once; entries appended
// through it chain exactly like single appends before and after it.
TEST_F(AuditLogTest, AppenderChainsManyEntriesInOneRequest) {
  AppendEntries(2);
  ASSERT_OK(storage_
                ->Commit([](CommitContext& ctx) -> absl::Status {
                  AuditAppender audit(ctx);
                  for (int j = 0; j < 5; ++j) {
                    absl::Status s = audit.Append(AuditEvent{
                        2000 + j, "lead", "tablet-2", "record.write", "records/a" + std::to_string(j)});
                    if (!s.ok()) return s;
                  }
                  return absl::OkStatus();
                })
                .status());
  // An appender that appends nothing leaves the head alone.
  ASSERT_OK(storage_->Commit([](CommitContext& ctx) {
                      AuditAppender unused(ctx);
                      return absl::OkStatus();
                    })
                .status());
  AppendEntries(1);
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, 8u);
  std::vector<std::string> targets;
  ASSERT_OK(ForEachAuditEntry(*storage_, nullptr, 0, [&](const AuditEntry& e) {
    targets.push_back(e.target());
    return true;
  }));
  EXPECT_EQ(targets, (std::vector<std::string>{"records/r0", "records/r1", "records/a0",
                                               "records/a1", "records/a2", "records/a3",
                                               "records/a4", "records/r0"}));
}

TEST_F(AuditLogTest, EntryLivesAndDiesWithItsWrite) {
  AppendEntries(2);
  auto failed = storage_->Commit([](CommitContext& ctx) -> absl::Status {
    ctx.Put(ColumnFamily::kRecords, "x", "v");
    absl::Status s = AppendAudit(ctx, AuditEvent{1, "p", "d", "record.write", "records/x"});
    if (!s.ok()) return s;
    return absl::InvalidArgumentError("the write is refused");
  });
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Verify().entries, 2u);
  EXPECT_TRUE(Verify().intact());
  AppendEntries(1);
  EXPECT_EQ(Verify().entries, 3u);
}

TEST_F(AuditLogTest, EditedEntryIsNamed) {
  AppendEntries(8);
  AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(RawEntry(5)));
  e.set_principal("someone-else");
  Tamper([&](CommitContext& ctx) {
    ctx.Put(ColumnFamily::kAudit, KeyBuilder().AddUint64(5).key(), e.SerializeAsString());
  });
  AuditVerification v = Verify();
  EXPECT_EQ(v.first_broken, 5u);
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
}

TEST_F(AuditLogTest, DeletedEntryIsNamed) {
  AppendEntries(8);
  Tamper([&](CommitContext& ctx) {
    ctx.Delete(ColumnFamily::kAudit, KeyBuilder().AddUint64(4).key());
  });
  EXPECT_EQ(Verify().first_broken, 4u);
}

TEST_F(AuditLogTest, ReorderedEntriesAreNamed) {
  AppendEntries(8);
  const std::string third = RawEntry(3);
  const std::string sixth = RawEntry(6);
  Tamper([&](CommitContext& ctx) {
    ctx.Put(ColumnFamily::kAudit, KeyBuilder().AddUint64(3).key(), sixth);
    ctx.Put(ColumnFamily::kAudit, KeyBuilder().AddUint64(6).key(), third);
  });
  EXPECT_EQ(Verify().first_broken, 3u);
}

TEST_F(AuditLogTest, TruncatedNewestEntriesAreDetected) {
  AppendEntries(8);
  Tamper([&](CommitContext& ctx) {
    ctx.Delete(ColumnFamily::kAudit, KeyBuilder().AddUint64(8).key());
    ctx.Delete(ColumnFamily::kAudit, KeyBuilder().AddUint64(7).key());
  });
  AuditVerification v = Verify();
  EXPECT_EQ(v.first_broken, 7u);
  EXPECT_NE(v.problem.find("head"), std::string::npos) << v.problem;
}

TEST_F(AuditLogTest, RehashedEditBreaksTheNextLink) {
  AppendEntries(8);
  // An attacker who edits entry 5 and recomputes its hash still breaks 6.
  AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(RawEntry(5)));
  e.set_action("nothing.happened");
  e.set_hash(AuditEntryHash(e));
  Tamper([&](CommitContext& ctx) {
    ctx.Put(ColumnFamily::kAudit, KeyBuilder().AddUint64(5).key(), e.SerializeAsString());
  });
  EXPECT_EQ(Verify().first_broken, 6u);
}

TEST_F(AuditLogTest, ExportsJsonLines) {
  ASSERT_OK(storage_
                ->Commit([](CommitContext& ctx) {
                  return AppendAudit(ctx, AuditEvent{42, "reviewer \"A\"", "dev", "a.b",
                                                     "t\nx", "ok"});
                })
                .status());
  std::string line;
  ASSERT_OK(ForEachAuditEntry(*storage_, nullptr, 0, [&](const AuditEntry& e) {
    line = AuditEntryToJson(e);
    return true;
  }));
  EXPECT_EQ(line.rfind("{\"index\":1,\"time_unix_micros\":42,\"principal\":\"reviewer \\\"A\\\"\"", 0),
            0u)
      << line;
  EXPECT_NE(line.find("\"target\":\"t\\nx\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace vigil::storage
