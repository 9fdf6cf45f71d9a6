// The publication commit on the record engine itself: a move to PUBLISHED
// needs the signed report, and is refused when a record of the visit
// changed after the snapshot the report was rendered from.
#include <string>

#include "base/error_reason.h"
#include "gtest/gtest.h"
#include "server/records/tables.h"
#include "tests/records/records_fixture.h"

namespace vigil::testing {
namespace {

constexpr char kVisit[] = "01900000-0000-7000-8000-000000000002";

std::string RequestId(int n) {
  return "01900000-0000-7000-8000-0000000001" + std::string(n < 10 ? "0" : "") + std::to_string(n);
}

class PublicationTest : public RecordsFixture {
 protected:
  absl::StatusOr<vigil::v1::MutationResult> Move(const server::Caller& caller,
                                                 vigil::v1::VisitState to, int request,
                                                 std::optional<vigil::v1::PublishedReport> p = {}) {
    server::RecordStore::VisitMoveRequest move;
    move.visit_id = kVisit;
    move.to = to;
    move.request_id = RequestId(request);
    move.publication = std::move(p);
    return Wait<vigil::v1::MutationResult>(
        [&](auto done) { records_->MoveVisit(caller, std::move(move), std::move(done)); });
  }

  absl::StatusOr<std::optional<vigil::v1::PublishedReport>> Stored() {
    const storage::Snapshot snapshot = storage_->GetSnapshot();
    server::SnapshotTables tables(*storage_, snapshot, *keys_);
    return tables.Publication(kVisit);
  }
};

TEST_F(PublicationTest, APublishedVisitHasItsReportFromAnUnchangedSnapshot) {
  const server::Caller rita =
      User("rita", vigil::v1::ROLE_NPM_REVIEWER, "", vigil::v1::TEAM_ROLE_UNSPECIFIED);
  vigil::v1::PushRequest create;
  vigil::v1::Mutation* m = create.add_mutations();
  m->set_mutation_id(RequestId(1));
  m->set_record_id(kVisit);
  m->set_scope(std::string("visits/") + kVisit);
  m->mutable_body()->mutable_visit()->set_announced(true);
  m->mutable_hlc()->set_wall_time_micros(1);
  ASSERT_OK(Push(rita, create).status());
  int request = 2;
  for (vigil::v1::VisitState to :
       {vigil::v1::VISIT_STATE_IN_PROGRESS, vigil::v1::VISIT_STATE_SUBMITTED,
        vigil::v1::VISIT_STATE_IN_REVIEW}) {
    ASSERT_OK(Move(rita, to, request++).status());
  }
  const std::uint64_t before_approval = storage_->LastCommittedSeq();
  ASSERT_OK(Move(rita, vigil::v1::VISIT_STATE_APPROVED, request++).status());

  // Without the report: refused.
  absl::StatusOr<vigil::v1::MutationResult> moved =
      Move(rita, vigil::v1::VISIT_STATE_PUBLISHED, request++);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(vigil::ReasonOf(moved.status()).value_or(""), "REPORT_REQUIRED");
  // A report rendered before the approval (the Visit record changed since):
  // refused, nothing stored.
  vigil::v1::PublishedReport published;
  published.set_visit(std::string("visits/") + kVisit);
  published.set_seq(before_approval);
  published.add_documents()->set_content("the report as it stood");
  moved = Move(rita, vigil::v1::VISIT_STATE_PUBLISHED, request++, published);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(vigil::ReasonOf(moved.status()).value_or(""), "ETAG_MISMATCH");
  absl::StatusOr<std::optional<vigil::v1::PublishedReport>> stored = Stored();
  ASSERT_OK(stored.status());
  EXPECT_FALSE(stored->has_value());
  // From the current snapshot: published and stored in the same commit.
  published.set_seq(storage_->LastCommittedSeq());
  ASSERT_OK(Move(rita, vigil::v1::VISIT_STATE_PUBLISHED, request++, published).status());
  stored = Stored();
  ASSERT_OK(stored.status());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->documents(0).content(), "the report as it stood");
}

}  // namespace
}  // namespace vigil::testing
