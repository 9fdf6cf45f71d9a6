// The tablet sync core against a real vigild process that is killed
// (SIGKILL) in the middle of a sync and started again: the client finishes
// after the restart with nothing lost and nothing applied twice.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
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

void PutOnTeam(const std::shared_ptr<grpc::Channel>& admin_channel, const std::string& visit,
               const std::string& user, v1::TeamRole role) {
  grpc::ClientContext ctx;
  v1::SetTeamMemberRequest request;
  request.mutable_membership()->set_visit_id(visit);
  request.mutable_membership()->set_user_id(user);
  request.mutable_membership()->set_team_role(role);
  v1::TeamMembership membership;
  EXPECT_TRUE(v1::AdminService::NewStub(admin_channel)->SetTeamMember(&ctx, request, &membership).ok());
}

v1::RecordBody Finding(const std::string& title, const std::string& narrative) {
  v1::RecordBody body;
  body.mutable_finding()->set_title(title);
  body.mutable_finding()->set_narrative(narrative);
  return body;
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
  PutOnTeam(*admin_channel, visit, "lena", v1::TEAM_ROLE_TEAM_LEAD);
  ASSERT_OK((*tablet)->Follow(scope));

  // A day of work, offline.
  constexpr int kRecords = 1500;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_OK((*tablet)->Create(scope, Finding(absl::StrCat("Finding ", i), std::string(900, 'n')))
                  .status());
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

TEST(VigildRestartTest, WhatTheServerLostInARestoreIsSentAgainByTheTabletsThatHoldIt) {
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
  const std::string visit = "0190a000-0000-7000-8000-00000000cafe";
  const std::string scope = "visits/" + visit;
  auto lena = Replica::Open(tmp.Sub("lena"));
  ASSERT_OK(lena.status());
  ASSERT_OK((*lena)->Enroll(address, EnrollmentCode(*admin_channel, "lena", v1::ROLE_TEAM_LEAD),
                            "tablet 1"));
  PutOnTeam(*admin_channel, visit, "lena", v1::TEAM_ROLE_TEAM_LEAD);
  ASSERT_OK((*lena)->Follow(scope));
  // A teammate's tablet pulls everything before the server's disk is lost.
  auto omar = Replica::Open(tmp.Sub("omar"));
  ASSERT_OK(omar.status());
  ASSERT_OK((*omar)->Enroll(address, EnrollmentCode(*admin_channel, "omar", v1::ROLE_FIELD_MONITOR),
                            "tablet 2"));
  PutOnTeam(*admin_channel, visit, "omar", v1::TEAM_ROLE_MONITOR);
  ASSERT_OK((*omar)->Follow(scope));
  auto office = Replica::Open(tmp.Sub("office"));
  ASSERT_OK(office.status());
  ASSERT_OK((*office)->Enroll(address,
                              EnrollmentCode(*admin_channel, "rita", v1::ROLE_NPM_REVIEWER),
                              "office"));
  ASSERT_OK((*office)->Follow(scope));

  auto one = (*lena)->Create(scope, Finding("One", "n1"));
  auto four = (*lena)->Create(scope, Finding("Four", "n4"));
  ASSERT_OK(one.status());
  ASSERT_OK(four.status());
  ASSERT_OK((*lena)->Sync().status());
  const std::string backups = tmp.Sub("backups");
  testing::CommandResult backup = testing::RunCommand(
      {VIGIL_VIGILD, "backup", "--data-dir", data, "--to", backups}, tmp.Sub("backup.log"));
  ASSERT_EQ(backup.exit_code, 0) << backup.output;

  // Acknowledged after the backup, then lost with the disk.
  auto two = (*lena)->Create(scope, Finding("Two", "n2"));
  auto three = (*lena)->Create(scope, Finding("Three", "n3"));
  ASSERT_OK(two.status());
  ASSERT_OK(three.status());
  ASSERT_OK((*lena)->Edit(*one, Finding("One, checked", "n1")));
  ASSERT_OK((*lena)->Edit(*four, Finding("Four", "n4, cell 3 seen")));
  ASSERT_OK((*lena)->Sync().status());
  ASSERT_OK((*lena)->Delete(*three));
  auto acked = (*lena)->Sync();
  ASSERT_OK(acked.status());
  ASSERT_EQ((*lena)->OutboxSize().value_or(~0ull), 0u);
  ASSERT_OK((*omar)->Sync().status());
  first->Stop();
  first.reset();

  const std::string restored = tmp.Sub("restored");
  testing::CommandResult restore = testing::RunCommand(
      {VIGIL_VIGILD, "restore", "--from", backups, "--data-dir", restored, "--key-file",
       data + "/keys/data.key"},
      tmp.Sub("restore.log"));
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  testing::Vigild second(VIGIL_VIGILD, tmp, restored, {"--plaintext-loopback"},
                         "127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(second.port(), port) << second.process().Output();

  // The office works on the restored server first: it knows only the backup.
  auto before = (*office)->Sync();
  ASSERT_OK(before.status());
  ASSERT_EQ((*office)->List(scope)->size(), 2u);
  ASSERT_OK((*office)->Edit(*four, Finding("Four (reviewed)", "n4")));
  ASSERT_OK((*office)->Sync().status());

  // Lena's tablet finds its cursor void, pulls the scope again, and sends
  // back what only it still holds.
  auto report = (*lena)->Sync();
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->scope_errors.empty());
  EXPECT_TRUE(report->parked.empty());
  std::set<std::string> recovered(report->recovered.begin(), report->recovered.end());
  EXPECT_EQ(recovered, (std::set<std::string>{*one, *two, *four}));
  EXPECT_EQ((*lena)->OutboxSize().value_or(~0ull), 0u);
  // Nothing is left to recover on the next sync.
  auto again = (*lena)->Sync();
  ASSERT_OK(again.status());
  EXPECT_TRUE(again->recovered.empty());

  // The teammate's tablet held the same revisions: the server has them
  // again, so it sends nothing twice.
  auto teammate = (*omar)->Sync();
  ASSERT_OK(teammate.status());
  EXPECT_TRUE(teammate->recovered.empty());
  EXPECT_EQ(teammate->pushed, 0u);

  // The server holds every value again; the office's edit made after the
  // restore is merged, not undone.
  ASSERT_OK((*office)->Sync().status());
  for (Replica* r : {lena->get(), omar->get(), office->get()}) {
    auto views = r->List(scope);
    ASSERT_OK(views.status());
    std::map<std::string, std::pair<std::string, std::string>> seen;
    for (const auto& v : *views) {
      EXPECT_FALSE(v.pending) << v.id;
      seen[v.id] = {v.body.finding().title(), v.body.finding().narrative()};
    }
    EXPECT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[*one], std::make_pair(std::string("One, checked"), std::string("n1")));
    EXPECT_EQ(seen[*two], std::make_pair(std::string("Two"), std::string("n2")));
    EXPECT_EQ(seen[*four],
              std::make_pair(std::string("Four (reviewed)"), std::string("n4, cell 3 seen")));
    EXPECT_EQ(seen.count(*three), 0u);
  }
}

}  // namespace
}  // namespace vigil
