// Push on the record engine itself, without a server: the steps of a batch
// on a temporary-directory Storage.
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/records/records_fixture.h"

namespace vigil::testing {
namespace {

constexpr char kVisit[] = "01900000-0000-7000-8000-000000000001";
constexpr char kFinding[] = "01900000-0000-7000-8000-0000000000f1";
constexpr char kMutation[] = "01900000-0000-7000-8000-0000000000a1";

vigil::v1::PushRequest CreateFinding() {
  vigil::v1::PushRequest request;
  vigil::v1::Mutation* m = request.add_mutations();
  m->set_mutation_id(kMutation);
  m->set_record_id(kFinding);
  m->set_scope(std::string("visits/") + kVisit);
  m->mutable_body()->mutable_finding()->set_title("No mattress in cell 4");
  m->mutable_hlc()->set_wall_time_micros(1);
  return request;
}

class PushTest : public RecordsFixture {};

TEST_F(PushTest, AMonitorOnTheTeamCreatesAFinding) {
  const server::Caller anna =
      User("anna", vigil::v1::ROLE_FIELD_MONITOR, kVisit, vigil::v1::TEAM_ROLE_MONITOR);
  auto pushed = Push(anna, CreateFinding());
  ASSERT_OK(pushed.status());
  ASSERT_EQ(pushed->results_size(), 1);
  EXPECT_EQ(pushed->results(0).revision(), 1u);
}

// Rights are read through the commit that writes: a removal from the team
// committed in the same write group, ahead of the push, stops it.
// Regression (issue 16): Push read the team from the last durable commit,
// so a push queued behind the removal was applied.
TEST_F(PushTest, ARemovalFromTheTeamAheadInTheSameWriteGroupStopsThePush) {
  const server::Caller anna =
      User("anna", vigil::v1::ROLE_FIELD_MONITOR, kVisit, vigil::v1::TEAM_ROLE_MONITOR);
  // Hold the writer so that the removal and the push queue up behind it and
  // are taken as one group.
  absl::Notification writer_busy, release, blocker_done;
  storage_->Submit(
      [&](storage::CommitContext&) {
        writer_busy.Notify();
        release.WaitForNotification();
        return absl::OkStatus();
      },
      [&](absl::StatusOr<storage::CommitResult>) { blocker_done.Notify(); });
  writer_busy.WaitForNotification();
  absl::Notification removed, pushed;
  absl::StatusOr<bool> removal = absl::UnknownError("not done");
  identities_->RemoveTeamMember(server::SystemCaller(), kVisit, "anna",
                                [&](absl::StatusOr<bool> r) {
                                  removal = std::move(r);
                                  removed.Notify();
                                });
  absl::StatusOr<vigil::v1::PushResponse> push = absl::UnknownError("not done");
  records_->Push(anna, CreateFinding(), [&](absl::StatusOr<vigil::v1::PushResponse> r) {
    push = std::move(r);
    pushed.Notify();
  });
  release.Notify();
  blocker_done.WaitForNotification();
  removed.WaitForNotification();
  pushed.WaitForNotification();
  ASSERT_OK(removal.status());
  EXPECT_THAT(push.status(), StatusIs(absl::StatusCode::kPermissionDenied));
  // Nothing of it was written.
  const server::Caller reviewer{"rita", "device-of-rita", vigil::v1::ROLE_NPM_REVIEWER};
  int records = 0;
  ASSERT_OK(records_
                ->ForEachInScope(reviewer, std::string("visits/") + kVisit,
                                 [&](const vigil::v1::Record&) { ++records; })
                .status());
  EXPECT_EQ(records, 0);
}

}  // namespace
}  // namespace vigil::testing
