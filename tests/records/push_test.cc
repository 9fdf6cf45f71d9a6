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
                ->ForEachInScope(reviewer, *sync::Scope::Visit(kVisit),
                                 [&](const vigil::v1::Record&) { ++records; })
                .status());
  EXPECT_EQ(records, 0);
}

// The first result answers a resend, and writes nothing more; the same id on
// another edit is refused.
TEST_F(PushTest, AResendIsAnsweredWithItsFirstResultAndAReusedIdIsRefused) {
  const server::Caller anna =
      User("anna", vigil::v1::ROLE_FIELD_MONITOR, kVisit, vigil::v1::TEAM_ROLE_MONITOR);
  ASSERT_OK(Push(anna, CreateFinding()).status());
  auto again = Push(anna, CreateFinding());
  ASSERT_OK(again.status());
  EXPECT_TRUE(again->results(0).duplicate());
  EXPECT_EQ(again->results(0).revision(), 1u);
  vigil::v1::PushRequest other = CreateFinding();
  other.mutable_mutations(0)->mutable_hlc()->set_wall_time_micros(99);
  EXPECT_THAT(Push(anna, other).status(), StatusIs(absl::StatusCode::kAlreadyExists));
}

// The wire bytes of a pull page, assembled from the stored records, are
// what the generated serializer writes for the same page (every field the
// page sets, in field-number order).
TEST_F(PushTest, APullPageIsTheGeneratedSerialization) {
  const server::Caller anna =
      User("anna", vigil::v1::ROLE_FIELD_MONITOR, kVisit, vigil::v1::TEAM_ROLE_MONITOR);
  vigil::v1::PushRequest request = CreateFinding();
  vigil::v1::Mutation* interview = request.add_mutations();
  interview->set_mutation_id("01900000-0000-7000-8000-0000000000a2");
  interview->set_record_id("01900000-0000-7000-8000-0000000000f2");
  interview->set_scope(std::string("visits/") + kVisit);
  interview->mutable_body()->mutable_interview()->set_notes("only for interviewers");
  interview->mutable_body()->mutable_interview()->add_interviewer_user_ids("anna");
  ASSERT_OK(Push(anna, request).status());
  // A service account's page holds a redacted interview (parsed, redacted,
  // serialized again) beside a record copied as stored.
  const server::Caller stats{"stats", "device-of-stats", vigil::v1::ROLE_SERVICE_ACCOUNT};
  for (const auto& [caller, limit] : {std::pair{anna, 1u}, std::pair{anna, 10u},
                                      std::pair{stats, 10u}}) {
    vigil::v1::PullRequest pull;
    pull.set_scope(std::string("visits/") + kVisit);
    pull.set_limit(limit);
    absl::Notification done;
    absl::StatusOr<std::string> page = absl::UnknownError("not done");
    records_->Pull(caller, pull, [&](absl::StatusOr<std::string> p) {
      page = std::move(p);
      done.Notify();
    });
    done.WaitForNotification();
    ASSERT_OK(page.status());
    vigil::v1::PullResponse parsed;
    ASSERT_TRUE(parsed.ParseFromString(*page));
    EXPECT_EQ(parsed.has_more(), limit == 1);
    EXPECT_EQ(parsed.records_size(), limit == 1 ? 1 : 2);
    EXPECT_FALSE(parsed.next_cursor().empty());
    EXPECT_EQ(parsed.SerializeAsString(), *page);
  }
}

}  // namespace
}  // namespace vigil::testing
