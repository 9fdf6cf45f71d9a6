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
#include "storage/storage.h"
#include "tests/testing/drop_replies.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil {
namespace {

using client::Replica;
using client::SyncOptions;

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

// A real vigild on a data directory, and tablets enrolled with it.
class VigildRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = std::make_unique<testing::Vigild>(VIGIL_VIGILD, tmp_, data_,
                                               std::vector<std::string>{"--plaintext-loopback"});
    ASSERT_GT(first_->port(), 0) << first_->process().Output();
    port_ = first_->port();
    address_ = client::PlaintextAddress("127.0.0.1:" + std::to_string(port_));
    auto channel = client::MakeChannel(address_, testing::ReadFile(data_ + "/initial-admin-token"));
    ASSERT_OK(channel.status());
    admin_channel_ = *channel;
  }

  // A device of a new user in `dir`, following `scope`; on the team of
  // `visit` unless the role is TEAM_ROLE_UNSPECIFIED.
  std::unique_ptr<Replica> Tablet(const std::string& dir, const std::string& user, v1::Role role,
                                  const std::string& device, const std::string& visit,
                                  v1::TeamRole team_role) {
    auto tablet = Replica::Open(tmp_.Sub(dir));
    EXPECT_OK(tablet.status());
    if (!tablet.ok()) return nullptr;
    EXPECT_OK((*tablet)->Enroll(address_, EnrollmentCode(admin_channel_, user, role), device));
    if (team_role != v1::TEAM_ROLE_UNSPECIFIED) PutOnTeam(admin_channel_, visit, user, team_role);
    EXPECT_OK((*tablet)->Follow("visits/" + visit));
    return *std::move(tablet);
  }

  testing::TempDir tmp_;
  const std::string data_ = tmp_.Sub("data");
  std::unique_ptr<testing::Vigild> first_;
  int port_ = 0;
  client::ServerAddress address_;
  std::shared_ptr<grpc::Channel> admin_channel_;
};

TEST_F(VigildRestartTest, SyncFinishesAfterTheServerIsKilledMidPush) {
  const std::string visit = "0190a000-0000-7000-8000-00000000beef";
  const std::string scope = "visits/" + visit;
  auto tablet =
      Tablet("tablet", "lena", v1::ROLE_TEAM_LEAD, "tablet 1", visit, v1::TEAM_ROLE_TEAM_LEAD);
  ASSERT_NE(tablet, nullptr);

  // A day of work, offline: the visit record, then findings.
  constexpr int kRecords = 1500;
  v1::RecordBody visit_body;
  visit_body.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
  ASSERT_OK(tablet->Create(scope, visit_body, visit).status());
  for (int i = 1; i < kRecords; ++i) {
    ASSERT_OK(tablet->Create(scope, Finding(absl::StrCat("Finding ", i), std::string(900, 'n')))
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
  auto sync = std::async(std::launch::async, [&] { return tablet->Sync(options, progress); });

  midway.get_future().wait();
  first_->Stop(SIGKILL);
  first_.reset();
  // Down for a moment; the tablet keeps retrying.
  absl::SleepFor(absl::Milliseconds(300));
  testing::Vigild second(VIGIL_VIGILD, tmp_, data_, {"--plaintext-loopback"},
                         "127.0.0.1:" + std::to_string(port_));
  ASSERT_EQ(second.port(), port_) << second.process().Output();

  auto report = sync.get();
  ASSERT_OK(report.status());
  EXPECT_GT(report->retries, 0u);
  EXPECT_EQ(tablet->OutboxSize().value_or(~0ull), 0u);
  EXPECT_TRUE(report->parked.empty());

  // The tablet's view: every record, each applied exactly once (revision 1).
  auto views = tablet->List(scope);
  ASSERT_OK(views.status());
  ASSERT_EQ(views->size(), static_cast<std::size_t>(kRecords));
  for (const auto& v : *views) {
    EXPECT_EQ(v.server_revision, 1u) << v.id;
    EXPECT_FALSE(v.pending) << v.id;
  }

  // A fresh replica of the NPM unit sees the same: no record lost, none twice.
  auto reviewer =
      Tablet("reviewer", "rita", v1::ROLE_NPM_REVIEWER, "office", visit, v1::TEAM_ROLE_UNSPECIFIED);
  ASSERT_NE(reviewer, nullptr);
  ASSERT_OK(reviewer->Sync().status());
  auto pulled = reviewer->List(scope);
  ASSERT_OK(pulled.status());
  std::set<std::string> titles;
  for (const auto& v : *pulled) titles.insert(v.body.finding().title());
  EXPECT_EQ(pulled->size(), static_cast<std::size_t>(kRecords));
  EXPECT_EQ(titles.size(), static_cast<std::size_t>(kRecords));  // the visit record: ""
  // The receipt covers all of it.
  ASSERT_EQ(report->receipts.size(), 1u);
  EXPECT_EQ(report->receipts[0].records_size(), kRecords);

  // The review indexes were written in the same commits as the records, so
  // the kill left them equal to a full scan.
  ASSERT_EQ(second.Stop(), 0);
  testing::Subprocess check({VIGIL_VIGILD, "reindex", "--data-dir", data_, "--check"},
                            tmp_.Sub("reindex-check.log"));
  EXPECT_EQ(check.Wait(), 0) << check.Output();
  EXPECT_NE(check.Output().find("agree with the records"), std::string::npos) << check.Output();
}

TEST_F(VigildRestartTest, WhatTheServerLostInARestoreIsSentAgainByTheTabletsThatHoldIt) {
  const std::string visit = "0190a000-0000-7000-8000-00000000cafe";
  const std::string scope = "visits/" + visit;
  auto lena = Tablet("lena", "lena", v1::ROLE_TEAM_LEAD, "tablet 1", visit, v1::TEAM_ROLE_TEAM_LEAD);
  // A teammate's tablet pulls everything before the server's disk is lost.
  auto omar = Tablet("omar", "omar", v1::ROLE_FIELD_MONITOR, "tablet 2", visit,
                     v1::TEAM_ROLE_MONITOR);
  auto office = Tablet("office", "rita", v1::ROLE_NPM_REVIEWER, "office", visit,
                       v1::TEAM_ROLE_UNSPECIFIED);
  ASSERT_TRUE(lena && omar && office);

  auto one = lena->Create(scope, Finding("One", "n1"));
  auto four = lena->Create(scope, Finding("Four", "n4"));
  auto five = lena->Create(scope, Finding("Five", "n5"));
  ASSERT_OK(one.status());
  ASSERT_OK(four.status());
  ASSERT_OK(five.status());
  ASSERT_OK(lena->Sync().status());
  const std::string backups = tmp_.Sub("backups");
  testing::CommandResult backup = testing::RunCommand(
      {VIGIL_VIGILD, "backup", "--data-dir", data_, "--to", backups}, tmp_.Sub("backup.log"));
  ASSERT_EQ(backup.exit_code, 0) << backup.output;

  // Acknowledged after the backup, then lost with the disk.
  auto two = lena->Create(scope, Finding("Two", "n2"));
  auto three = lena->Create(scope, Finding("Three", "n3"));
  ASSERT_OK(two.status());
  ASSERT_OK(three.status());
  ASSERT_OK(lena->Edit(*one, Finding("One, checked", "n1")));
  ASSERT_OK(lena->Edit(*four, Finding("Four", "n4, cell 3 seen")));
  ASSERT_OK(lena->Edit(*five, Finding("Five, checked", "n5")));
  ASSERT_OK(lena->Sync().status());
  ASSERT_OK(lena->Delete(*three));
  auto acked = lena->Sync();
  ASSERT_OK(acked.status());
  ASSERT_EQ(lena->OutboxSize().value_or(~0ull), 0u);
  ASSERT_OK(omar->Sync().status());
  // Acknowledged, but the pull after it failed: the tablet never saw it
  // come back before the server lost it.
  auto six = lena->Create(scope, Finding("Six", "n6"));
  ASSERT_OK(six.status());
  {
    SyncOptions no_pull_replies;
    no_pull_replies.retry_for = absl::Milliseconds(200);
    no_pull_replies.initial_backoff = absl::Milliseconds(20);
    auto calls = std::make_shared<std::atomic<int>>(0);
    no_pull_replies.interceptors = [calls] {
      client::Interceptors extra;
      extra.push_back(std::make_unique<testing::DropRepliesFactory>(
          "/vigil.v1.SyncService/Pull", calls, 0, 1, 1));
      return extra;
    };
    auto half = lena->Sync(no_pull_replies);
    ASSERT_OK(half.status());
    ASSERT_EQ(half->pushed, 1u);
    ASSERT_EQ(half->scope_errors.size(), 1u);
    ASSERT_TRUE(lena->Get(*six)->pending);
  }
  // Made offline on a revision the server is about to lose, sent only
  // after the restore.
  ASSERT_OK(lena->Edit(*two, Finding("Two", "n2, cell 5 too")));
  ASSERT_OK(lena->Edit(*four, Finding("Four", "n4, cell 3 seen, again")));
  ASSERT_OK(lena->Edit(*one, Finding("One, checked", "n1, door broken")));
  first_->Stop();
  first_.reset();

  const std::string restored = tmp_.Sub("restored");
  testing::CommandResult restore = testing::RunCommand(
      {VIGIL_VIGILD, "restore", "--from", backups, "--data-dir", restored, "--key-file",
       data_ + "/keys/data.key"},
      tmp_.Sub("restore.log"));
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  testing::Vigild second(VIGIL_VIGILD, tmp_, restored, {"--plaintext-loopback"},
                         "127.0.0.1:" + std::to_string(port_));
  ASSERT_EQ(second.port(), port_) << second.process().Output();

  // The office works on the restored server first: it knows only the backup.
  auto before = office->Sync();
  ASSERT_OK(before.status());
  ASSERT_EQ(office->List(scope)->size(), 3u);
  ASSERT_OK(office->Edit(*four, Finding("Four (reviewed)", "n4")));
  // Deleted by the office, not knowing of the tablet's lost edit.
  ASSERT_OK(office->Delete(*five));
  ASSERT_OK(office->Sync().status());

  // Lena's tablet finds its cursor void in a sync that only pulls, with
  // its offline edits still queued; the next sync sends back what only it
  // still holds.
  SyncOptions pull_only;
  pull_only.push = false;
  auto pulled_first = lena->Sync(pull_only);
  ASSERT_OK(pulled_first.status());
  EXPECT_TRUE(pulled_first->scope_errors.empty());
  auto report = lena->Sync();
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->scope_errors.empty());
  // The offline edits were refused (one's record was gone; the other's
  // base revision number now names the office's edit, which taking it as
  // made on that revision would have undone), then sent again once what
  // they were made on was back.
  std::set<std::string> reasons;
  for (const auto& p : report->parked) reasons.insert(p.reason());
  EXPECT_EQ(reasons, (std::set<std::string>{"MUTATION_TARGET_NOT_FOUND", "BASE_REVISION_UNKNOWN",
                                            "BASE_REVISION_IN_FUTURE"}));
  EXPECT_TRUE(lena->Parked()->empty());
  EXPECT_EQ(report->requeued.size(), 3u);
  std::set<std::string> recovered(report->recovered.begin(), report->recovered.end());
  recovered.insert(pulled_first->recovered.begin(), pulled_first->recovered.end());
  EXPECT_EQ(recovered, (std::set<std::string>{*one, *two, *four, *five, *six}));
  EXPECT_EQ(lena->OutboxSize().value_or(~0ull), 0u);
  // Nothing is left to recover on the next sync.
  auto again = lena->Sync();
  ASSERT_OK(again.status());
  EXPECT_TRUE(again->recovered.empty());

  // The teammate's tablet held the same revisions: the server has them
  // again, so it sends nothing twice.
  auto teammate = omar->Sync();
  ASSERT_OK(teammate.status());
  EXPECT_TRUE(teammate->recovered.empty());
  EXPECT_EQ(teammate->pushed, 0u);

  // The server holds every value again; the office's edit made after the
  // restore is merged, not undone.
  ASSERT_OK(office->Sync().status());
  for (Replica* r : {lena.get(), omar.get(), office.get()}) {
    auto views = r->List(scope);
    ASSERT_OK(views.status());
    std::map<std::string, std::pair<std::string, std::string>> seen;
    for (const auto& v : *views) {
      EXPECT_FALSE(v.pending) << v.id;
      if (v.id == *five) {
        // The lost edit is back, flagged against the office's delete as a
        // delete/edit conflict for the NPM unit to settle.
        EXPECT_FALSE(v.deleted);
        EXPECT_EQ(v.body.finding().title(), "Five, checked");
        ASSERT_EQ(v.conflicts.size(), 1u);
        EXPECT_EQ(v.conflicts[0].kind(), v1::CONFLICT_KIND_DELETE_EDIT);
        continue;
      }
      seen[v.id] = {v.body.finding().title(), v.body.finding().narrative()};
    }
    EXPECT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[*six], std::make_pair(std::string("Six"), std::string("n6")));
    EXPECT_EQ(seen[*one], std::make_pair(std::string("One, checked"), std::string("n1, door broken")));
    EXPECT_EQ(seen[*two], std::make_pair(std::string("Two"), std::string("n2, cell 5 too")));
    EXPECT_EQ(seen[*four], std::make_pair(std::string("Four (reviewed)"),
                                          std::string("n4, cell 3 seen, again")));
    EXPECT_EQ(seen.count(*three), 0u);
  }

  // Long after the restore, a cursor refused for another reason (here: it
  // was altered) still names the old restore point. What the device holds
  // now, even a revision older than the server's head, is on the server:
  // nothing is sent.
  ASSERT_OK(office->Edit(*one, Finding("One, checked twice", "n1")));
  ASSERT_OK(office->Sync().status());
  lena.reset();
  {
    storage::StorageOptions options;
    options.create_if_missing = false;
    auto db = storage::Storage::Open(tmp_.Sub("lena") + "/db", options);
    ASSERT_OK(db.status());
    ASSERT_OK((*db)
                  ->Commit([&](storage::CommitContext& ctx) {
                    ctx.Put(storage::ColumnFamily::kMeta, "t/cursor/" + scope, "altered");
                    return absl::OkStatus();
                  })
                  .status());
  }
  auto reopened = Replica::Open(tmp_.Sub("lena"));
  ASSERT_OK(reopened.status());
  auto later = (*reopened)->Sync();
  ASSERT_OK(later.status());
  EXPECT_TRUE(later->scope_errors.empty());
  EXPECT_TRUE(later->recovered.empty());
  EXPECT_EQ(later->pushed, 0u);
  EXPECT_EQ((*reopened)->Get(*one)->body.finding().title(), "One, checked twice");
}

}  // namespace
}  // namespace vigil
