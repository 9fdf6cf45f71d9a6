// The tablet sync core against a real vigild process that is killed
// (SIGKILL) in the middle of a sync and started again: the client finishes
// after the restart with nothing lost and nothing applied twice.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/replica.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil {
namespace {

using client::Replica;

std::string EnrollmentCode(const std::shared_ptr<grpc::Channel>& admin_channel,
                           const std::string& user, v1::Role role) {
  auto admin = v1::AdminService::NewStub(admin_channel);
  {
    grpc::ClientContext ctx;
    v1::CreateUserRequest request;
    request.mutable_user()->set_user_id(user);
    request.mutable_user()->set_role(role);
    v1::User created;
    EXPECT_TRUE(admin->CreateUser(&ctx, request, &created).ok());
  }
  grpc::ClientContext ctx;
  v1::CreateEnrollmentCodeRequest request;
  request.set_user_id(user);
  v1::EnrollmentCode code;
  EXPECT_TRUE(admin->CreateEnrollmentCode(&ctx, request, &code).ok());
  return code.code();
}

TEST(VigildRestartTest, SyncFinishesAfterTheServerIsKilledMidPush) {
  testing::TempDir tmp;
  const std::string data = tmp.Sub("data");
  auto first = std::make_unique<testing::Vigild>(VIGIL_VIGILD, tmp, data,
                                                 std::vector<std::string>{"--plaintext-loopback"});
  ASSERT_GT(first->port(), 0) << first->process().Output();
  const int port = first->port();
  const client::ServerAddress address =
      client::PlaintextAddress("127.0.0.1:" + std::to_string(port));
  auto admin_channel = client::MakeChannel(address, testing::ReadFile(data + "/initial-admin-token"));
  ASSERT_OK(admin_channel.status());
  const std::string visit = "0190a000-0000-7000-8000-00000000beef";
  const std::string scope = "visits/" + visit;

  auto tablet = Replica::Open(tmp.Sub("tablet"));
  ASSERT_OK(tablet.status());
  ASSERT_OK((*tablet)->Enroll(address,
                              EnrollmentCode(*admin_channel, "lena", v1::ROLE_TEAM_LEAD),
                              "tablet 1"));
  {
    grpc::ClientContext ctx;
    v1::SetTeamMemberRequest request;
    request.mutable_membership()->set_visit_id(visit);
    request.mutable_membership()->set_user_id("lena");
    request.mutable_membership()->set_team_role(v1::TEAM_ROLE_TEAM_LEAD);
    v1::TeamMembership membership;
    ASSERT_TRUE(v1::AdminService::NewStub(*admin_channel)
                    ->SetTeamMember(&ctx, request, &membership)
                    .ok());
  }
  ASSERT_OK((*tablet)->Follow(scope));

  // A day of work, offline.
  constexpr int kRecords = 1500;
  for (int i = 0; i < kRecords; ++i) {
    v1::RecordBody body;
    body.mutable_finding()->set_title(absl::StrCat("Finding ", i));
    body.mutable_finding()->set_narrative(std::string(900, 'n'));
    ASSERT_OK((*tablet)->Create(scope, body).status());
  }

  client::SyncOptions options;
  options.push_batch = 20;
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  options.retry_for = absl::Seconds(60);
  options.call_deadline = absl::Seconds(5);
  std::promise<void> midway;
  std::atomic<bool> told{false};
  auto progress = [&](const client::Progress& p) {
    if (p.phase == client::Progress::Phase::kPush && p.records_done >= 300 && !told.exchange(true)) {
      midway.set_value();
    }
  };
  auto sync = std::async(std::launch::async, [&] { return (*tablet)->Sync(options, progress); });

  midway.get_future().wait();
  first->Stop(SIGKILL);
  first.reset();
  // Down for a moment; the tablet keeps retrying.
  absl::SleepFor(absl::Milliseconds(300));
  testing::Vigild second(VIGIL_VIGILD, tmp, data, {"--plaintext-loopback"},
                         "127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(second.port(), port) << second.process().Output();

  auto report = sync.get();
  ASSERT_OK(report.status());
  EXPECT_GT(report->retries, 0u);
  EXPECT_EQ((*tablet)->OutboxSize().value_or(~0ull), 0u);
  EXPECT_TRUE(report->parked.empty());

  // The tablet's view: every record, each applied exactly once (revision 1).
  auto views = (*tablet)->List(scope);
  ASSERT_OK(views.status());
  ASSERT_EQ(views->size(), static_cast<std::size_t>(kRecords));
  for (const auto& v : *views) {
    EXPECT_EQ(v.server_revision, 1u) << v.id;
    EXPECT_FALSE(v.pending) << v.id;
  }

  // A fresh replica of the NPM unit sees the same: no record lost, none twice.
  auto reviewer = Replica::Open(tmp.Sub("reviewer"));
  ASSERT_OK(reviewer.status());
  ASSERT_OK((*reviewer)->Enroll(address,
                                EnrollmentCode(*admin_channel, "rita", v1::ROLE_NPM_REVIEWER),
                                "office"));
  ASSERT_OK((*reviewer)->Follow(scope));
  ASSERT_OK((*reviewer)->Sync().status());
  auto pulled = (*reviewer)->List(scope);
  ASSERT_OK(pulled.status());
  std::set<std::string> titles;
  for (const auto& v : *pulled) titles.insert(v.body.finding().title());
  EXPECT_EQ(pulled->size(), static_cast<std::size_t>(kRecords));
  EXPECT_EQ(titles.size(), static_cast<std::size_t>(kRecords));
  // The receipt covers all of it.
  ASSERT_EQ(report->receipts.size(), 1u);
  EXPECT_EQ(report->receipts[0].records_size(), kRecords);
}

}  // namespace
}  // namespace vigil
