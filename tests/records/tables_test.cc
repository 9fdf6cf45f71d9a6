// The record engine's tables on a temporary-directory Storage.
#include "server/records/tables.h"

#include <string>
#include <vector>

#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "tests/records/records_fixture.h"

namespace vigil::testing {
namespace {

using vigil::v1::Record;

class TablesTest : public RecordsFixture {
 protected:
  Record Finding(const std::string& id, std::uint64_t revision, const std::string& title) {
    Record r;
    r.set_id(id);
    r.set_scope("visits/01900000-0000-7000-8000-000000000001");
    r.set_revision(revision);
    r.mutable_body()->mutable_finding()->set_title(title);
    return r;
  }

  void Commit(absl::AnyInvocable<absl::Status(server::CommitTables&)> write) {
    ASSERT_OK(storage_
                  ->Commit([&](storage::CommitContext& ctx) {
                    server::CommitTables tables(ctx, *keys_);
                    return write(tables);
                  })
                  .status());
  }

  std::vector<std::pair<std::uint64_t, std::string>> Feed(const std::string& scope) {
    const storage::Snapshot snapshot = storage_->GetSnapshot();
    server::SnapshotTables tables(*storage_, snapshot, *keys_);
    std::vector<std::pair<std::uint64_t, std::string>> feed;
    EXPECT_OK(tables.ScanChanges(scope, 0, [&](std::uint64_t seq, std::string_view id) {
      feed.emplace_back(seq, std::string(id));
      return true;
    }));
    return feed;
  }
};

constexpr char kId[] = "01900000-0000-7000-8000-0000000000f1";

// A new head moves the old one into the history and its one feed entry to
// the new seq: the feed holds a record once, however often it changed.
TEST_F(TablesTest, ANewHeadMovesTheOldOneToHistoryAndItsFeedEntry) {
  Record first = Finding(kId, 1, "first");
  Commit([&](server::CommitTables& t) {
    first.set_seq(t.context().NextSeq());
    RETURN_IF_ERROR(t.WriteHead(std::nullopt, first));
    return absl::OkStatus();
  });
  Record second = Finding(kId, 2, "second");
  Commit([&](server::CommitTables& t) {
    second.set_seq(t.context().NextSeq());
    RETURN_IF_ERROR(t.WriteHead(first, second));
    return absl::OkStatus();
  });
  Commit([&](server::CommitTables& t) -> absl::Status {
    auto head = t.Head(kId);
    EXPECT_OK(head.status());
    EXPECT_EQ((*head)->body().finding().title(), "second");
    auto old = t.Revision(**head, 1);
    EXPECT_OK(old.status());
    EXPECT_EQ(old->body().finding().title(), "first");
    EXPECT_THAT(t.Revision(**head, 7).status(),
                StatusIs(absl::StatusCode::kDataLoss));  // history lacks it
    return absl::OkStatus();
  });
  EXPECT_EQ(Feed(first.scope()),
            (std::vector<std::pair<std::uint64_t, std::string>>{{second.seq(), kId}}));
}

// Sensitive kinds, their stored mutations and every held mutation are
// sealed: the plain text is nowhere in the stored values.
TEST_F(TablesTest, SensitiveValuesAreSealed) {
  Record interview = Finding(kId, 1, "");
  interview.mutable_body()->mutable_interview()->set_notes("the guard named Petrov");
  vigil::internal::StoredMutation stored;
  *stored.mutable_pushed_body() = interview.body();
  vigil::v1::Mutation held;
  held.set_mutation_id("01900000-0000-7000-8000-0000000000a1");
  *held.mutable_body() = interview.body();
  Commit([&](server::CommitTables& t) {
    interview.set_seq(t.context().NextSeq());
    RETURN_IF_ERROR(t.WriteHead(std::nullopt, interview));
    t.PutMutation("01900000-0000-7000-8000-0000000000a1", stored, true);
    RETURN_IF_ERROR(t.HoldLate(interview.scope(), held));
    return absl::OkStatus();
  });
  for (auto cf : {storage::ColumnFamily::kRecords, storage::ColumnFamily::kMutations,
                  storage::ColumnFamily::kIndexes}) {
    ASSERT_OK(storage_->Scan(cf, storage::KeyRange{}, nullptr,
                             [&](std::string_view, std::string_view value) {
                               EXPECT_EQ(value.find("Petrov"), std::string_view::npos);
                               return true;
                             }));
  }
  Commit([&](server::CommitTables& t) -> absl::Status {
    auto head = t.Head(kId);
    EXPECT_OK(head.status());
    EXPECT_EQ((*head)->body().interview().notes(), "the guard named Petrov");
    auto read = t.Mutation("01900000-0000-7000-8000-0000000000a1");
    EXPECT_OK(read.status());
    EXPECT_EQ((*read)->pushed_body().interview().notes(), "the guard named Petrov");
    return absl::OkStatus();
  });
}

TEST_F(TablesTest, ViewEpochsMoveOnePrincipalAtATime) {
  const std::string scope = "visits/01900000-0000-7000-8000-000000000001";
  Commit([&](server::CommitTables& t) -> absl::Status {
    EXPECT_EQ(*t.ViewEpoch(scope, "anna"), 0u);
    EXPECT_OK(t.MoveViewEpoch(scope, "anna"));
    EXPECT_OK(t.MoveViewEpoch(scope, "anna"));
    return absl::OkStatus();
  });
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  server::SnapshotTables tables(*storage_, snapshot, *keys_);
  EXPECT_EQ(*tables.ViewEpoch(scope, "anna"), 2u);
  EXPECT_EQ(*tables.ViewEpoch(scope, "ben"), 0u);
  EXPECT_EQ(*tables.ViewEpoch(scope, server::kServicesPrincipal), 0u);
}

}  // namespace
}  // namespace vigil::testing
