// SyncService push / pull / history / subscribe over real gRPC against an
// in-process server: idempotency, chains, merges and conflicts, bad input
// that writes nothing, paging with resumable cursors, tombstones, locked
// visits, sensitive bodies at rest.
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "gtest/gtest.h"
#include "client/channel.h"
#include "server/api/grpc_status.h"
#include "datadir/operator_commands.h"
#include "client/replica.h"
#include "server/records/receipts.h"
#include "sync/ids.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil {
namespace {

using v1::Mutation;
using v1::PushRequest;
using v1::PushResponse;
using v1::Record;

std::string NewId() {
  static std::mt19937_64 rng(7);
  static int counter = 0;
  sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  return *sync::NewUuidV7(absl::Now() + absl::Milliseconds(++counter), random);
}

v1::RecordBody FindingBody(const std::string& title, const std::string& narrative = "") {
  v1::RecordBody body;
  body.mutable_finding()->set_title(title);
  body.mutable_finding()->set_narrative(narrative);
  body.mutable_finding()->set_category(v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
  return body;
}

Mutation Edit(const std::string& record_id, std::uint64_t base, const v1::RecordBody& body,
              const std::string& device = "tablet-1", const std::string& scope = "") {
  static std::int64_t hlc = 1'700'000'000'000'000;
  Mutation m;
  m.set_mutation_id(NewId());
  m.set_record_id(record_id);
  m.set_base_revision(base);
  *m.mutable_body() = body;
  m.set_author("monitor-" + device);
  m.set_device_id(device);
  m.mutable_hlc()->set_wall_time_micros(++hlc);
  m.set_scope(scope);
  return m;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::TestServer>();
    ASSERT_OK(server_->status());
    stub_ = v1::SyncService::NewStub(server_->NewChannel());
    scope_ = "visits/" + NewId();
  }

  grpc::Status Push(const std::vector<Mutation>& mutations, PushResponse* response) {
    grpc::ClientContext context;
    PushRequest request;
    for (const auto& m : mutations) *request.add_mutations() = m;
    return stub_->Push(&context, request, response);
  }

  PushResponse PushOk(const std::vector<Mutation>& mutations) {
    PushResponse response;
    grpc::Status s = Push(mutations, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // Moves the visit record along `states` (creating it at revision 0) as
  // the NPM unit, each move with `note`; the revision of the last.
  std::uint64_t Walk(const std::string& visit_id, const std::string& scope,
                     std::uint64_t revision, const std::vector<v1::VisitState>& states,
                     const std::string& note = "") {
    for (v1::VisitState state : states) {
      v1::RecordBody visit;
      visit.mutable_visit()->set_state(state);
      Mutation m = Edit(visit_id, revision, visit, "office", revision == 0 ? scope : "");
      m.mutable_visit_transition()->set_note(note);
      revision = PushOk({m}).results(0).revision();
    }
    return revision;
  }

  grpc::Status Pull(const std::string& scope, const std::string& cursor, std::uint32_t limit,
                    v1::PullResponse* response) {
    grpc::ClientContext context;
    v1::PullRequest request;
    request.set_scope(scope);
    request.set_cursor(cursor);
    request.set_limit(limit);
    return stub_->Pull(&context, request, response);
  }

  // Every record of the scope, following cursors.
  std::vector<Record> PullAll(const std::string& scope, std::string* cursor = nullptr,
                              std::uint32_t limit = 0) {
    std::vector<Record> out;
    std::string at = cursor ? *cursor : "";
    while (true) {
      v1::PullResponse page;
      grpc::Status s = Pull(scope, at, limit, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& r : page.records()) out.push_back(r);
      at = page.next_cursor();
      if (!page.has_more()) break;
    }
    if (cursor) *cursor = at;
    return out;
  }

  static std::string Reason(const grpc::Status& s) {
    auto info = client::ErrorInfoOf(s);
    return info.ok() ? info->reason() : "<none>";
  }

  std::unique_ptr<testing::TestServer> server_;
  std::unique_ptr<v1::SyncService::Stub> stub_;
  std::string scope_;
};

TEST_F(SyncTest, CreateEditPullAndHistory) {
  const std::string id = NewId();
  PushResponse created = PushOk({Edit(id, 0, FindingBody("Cells overcrowded"), "t1", scope_)});
  ASSERT_EQ(created.results_size(), 1);
  EXPECT_EQ(created.results(0).revision(), 1u);
  EXPECT_TRUE(created.results(0).clean());
  PushResponse edited = PushOk({Edit(id, 1, FindingBody("Cells severely overcrowded"))});
  EXPECT_EQ(edited.results(0).revision(), 2u);

  std::vector<Record> records = PullAll(scope_);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id(), id);
  EXPECT_EQ(records[0].revision(), 2u);
  EXPECT_EQ(records[0].scope(), scope_);
  EXPECT_EQ(records[0].body().finding().title(), "Cells severely overcrowded");
  EXPECT_GT(records[0].seq(), 0u);

  grpc::ClientContext context;
  v1::GetHistoryRequest request;
  request.set_record_id(id);
  v1::GetHistoryResponse history;
  ASSERT_TRUE(stub_->GetHistory(&context, request, &history).ok());
  ASSERT_EQ(history.revisions_size(), 2);
  EXPECT_EQ(history.revisions(0).body().finding().title(), "Cells overcrowded");
  // The server records the authenticated user and device, not the claimed ones.
  EXPECT_EQ(history.revisions(0).updated().author(), "reviewer");
  EXPECT_NE(history.revisions(0).updated().device_id(), "t1");
  EXPECT_EQ(history.revisions(0).updated().device_id().size(), 36u);
  EXPECT_EQ(history.revisions(1).revision(), 2u);
}

TEST_F(SyncTest, HistoryPagesThroughEveryRevision) {
  const std::string id = NewId();
  PushOk({Edit(id, 0, FindingBody("r1"), "t1", scope_), Edit(id, 1, FindingBody("r2")),
          Edit(id, 2, FindingBody("r3"))});
  for (std::uint32_t page_size : {1u, 2u, 3u, 10u}) {
    std::vector<std::string> titles;
    std::string token;
    do {
      grpc::ClientContext context;
      v1::GetHistoryRequest request;
      request.set_record_id(id);
      request.set_page_size(page_size);
      request.set_page_token(token);
      v1::GetHistoryResponse page;
      ASSERT_TRUE(stub_->GetHistory(&context, request, &page).ok());
      for (const auto& r : page.revisions()) titles.push_back(r.body().finding().title());
      token = page.next_page_token();
    } while (!token.empty());
    EXPECT_EQ(titles, (std::vector<std::string>{"r1", "r2", "r3"})) << "page size " << page_size;
  }
  // Large revisions: pages end at the byte budget, nothing skipped.
  const std::string big = NewId();
  std::vector<Mutation> edits = {Edit(big, 0, FindingBody("b1", std::string(900 << 10, 'x')),
                                      "t1", scope_)};
  for (int r = 2; r <= 5; ++r) {
    edits.push_back(Edit(big, r - 1, FindingBody("b" + std::to_string(r), std::string(900 << 10, 'a' + r))));
  }
  PushOk(edits);
  std::vector<std::string> titles;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::GetHistoryRequest request;
    request.set_record_id(big);
    request.set_page_token(token);
    v1::GetHistoryResponse page;
    grpc::Status s = stub_->GetHistory(&context, request, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ++pages;
    for (const auto& r : page.revisions()) titles.push_back(r.body().finding().title());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(titles, (std::vector<std::string>{"b1", "b2", "b3", "b4", "b5"}));
  EXPECT_GT(pages, 1);

  grpc::ClientContext context;
  v1::GetHistoryRequest unknown;
  unknown.set_record_id(NewId());
  v1::GetHistoryResponse none;
  EXPECT_EQ(stub_->GetHistory(&context, unknown, &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SyncTest, DeviceClockFarAheadIsClampedAndCannotWinForever) {
  const std::string id = NewId();
  PushOk({Edit(id, 0, FindingBody("start"), "t1", scope_)});
  Mutation future = Edit(id, 1, FindingBody("from a tablet whose clock is a year fast"), "tF");
  future.mutable_hlc()->set_wall_time_micros(absl::ToUnixMicros(absl::Now() + absl::Hours(24 * 365)));
  PushOk({future});
  Record head = PullAll(scope_).at(0);
  EXPECT_LE(head.updated().hlc().wall_time_micros(),
            absl::ToUnixMicros(absl::Now() + absl::Minutes(6)))
      << "stored time must be clamped to within the allowed skew";
}

TEST_F(SyncTest, ResentBatchReturnsFirstResultsAndWritesNothing) {
  const std::string id = NewId();
  std::vector<Mutation> batch = {Edit(id, 0, FindingBody("a"), "t1", scope_),
                                 Edit(id, 1, FindingBody("b"))};
  PushResponse first = PushOk(batch);
  std::string cursor;
  PullAll(scope_, &cursor);
  PushResponse again = PushOk(batch);
  ASSERT_EQ(again.results_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(again.results(i).duplicate());
    EXPECT_EQ(again.results(i).revision(), first.results(i).revision());
  }
  EXPECT_TRUE(PullAll(scope_, &cursor).empty()) << "a resend must not create changes";

  // The same id on another edit is refused, naming it, and nothing of its
  // batch is written; in one batch too.
  Mutation other = Edit(NewId(), 0, FindingBody("another finding"), "t1", scope_);
  other.set_mutation_id(batch[1].mutation_id());
  PushResponse refused;
  grpc::Status s = Push({Edit(NewId(), 0, FindingBody("fresh"), "t1", scope_), other}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Reason(s), "MUTATION_ID_REUSED");
  Mutation first_use = Edit(NewId(), 0, FindingBody("one"), "t1", scope_);
  Mutation reuse = Edit(NewId(), 0, FindingBody("two"), "t1", scope_);
  reuse.set_mutation_id(first_use.mutation_id());
  s = Push({first_use, reuse}, &refused);
  EXPECT_EQ(Reason(s), "MUTATION_ID_REUSED");
  EXPECT_TRUE(PullAll(scope_, &cursor).empty()) << "a refused batch writes nothing";
}

TEST_F(SyncTest, OfflineChainAppliesInOrder) {
  const std::string id = NewId();
  PushResponse r = PushOk({Edit(id, 0, FindingBody("v1"), "t1", scope_),
                           Edit(id, 1, FindingBody("v2")), Edit(id, 2, FindingBody("v3"))});
  EXPECT_EQ(r.results(2).revision(), 3u);
  EXPECT_EQ(PullAll(scope_).at(0).body().finding().title(), "v3");
}

TEST_F(SyncTest, ChainedOfflineEditKeepsWhatWasMergedIntoItsBase) {
  const std::string id = NewId();
  PushOk({Edit(id, 0, FindingBody("A", "one\ntwo\nthree\n"), "t1", scope_)});
  // Tablet 2 changes line 3 and syncs first.
  PushOk({Edit(id, 1, FindingBody("A", "one\ntwo\nTHREE by t2\n"), "t2")});
  // Tablet 1, offline on revision 1: edits the title, then line 1 on top of
  // its own unacknowledged edit.
  Mutation m1 = Edit(id, 1, FindingBody("B", "one\ntwo\nthree\n"), "t1");
  Mutation m2 = Edit(id, 0, FindingBody("B", "ONE by t1\ntwo\nthree\n"), "t1");
  m2.set_base_mutation_id(m1.mutation_id());
  PushResponse r = PushOk({m1});
  EXPECT_EQ(r.results(0).revision(), 3u);
  r = PushOk({m2});
  EXPECT_TRUE(r.results(0).clean());
  Record head = PullAll(scope_).at(0);
  EXPECT_EQ(head.body().finding().title(), "B");
  EXPECT_EQ(head.body().finding().narrative(), "ONE by t1\ntwo\nTHREE by t2\n")
      << "tablet 2's line, merged into m1's revision, must not be reverted by m2";

  Mutation orphan = Edit(id, 0, FindingBody("C"), "t1");
  orphan.set_base_mutation_id(NewId());
  PushResponse refused;
  grpc::Status s = Push({orphan}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "BASE_MUTATION_UNKNOWN");
}

TEST_F(SyncTest, ConcurrentEditsMergeOrConflictWithoutLoss) {
  const std::string id = NewId();
  PushOk({Edit(id, 0, FindingBody("Title", "line 1\nline 2\nline 3\n"), "t1", scope_)});
  // Two tablets edit revision 1 offline: different narrative lines (merge)
  // and the title differently (conflict).
  v1::RecordBody a = FindingBody("Title by A", "line 1 (A)\nline 2\nline 3\n");
  v1::RecordBody b = FindingBody("Title by B", "line 1\nline 2\nline 3 (B)\n");
  PushResponse ra = PushOk({Edit(id, 1, a, "tA")});
  PushResponse rb = PushOk({Edit(id, 1, b, "tB")});
  EXPECT_TRUE(ra.results(0).clean());
  EXPECT_FALSE(rb.results(0).clean());
  EXPECT_EQ(rb.results(0).conflict_ids_size(), 1);
  Record head = PullAll(scope_).at(0);
  EXPECT_EQ(head.revision(), 3u);
  EXPECT_EQ(head.body().finding().narrative(), "line 1 (A)\nline 2\nline 3 (B)\n");
  ASSERT_EQ(head.open_conflicts_size(), 1);
  EXPECT_EQ(head.open_conflicts(0).id(), rb.results(0).conflict_ids(0));
  const std::string everything = head.SerializeAsString();
  EXPECT_NE(everything.find("Title by A"), std::string::npos);
  EXPECT_NE(everything.find("Title by B"), std::string::npos);

  // A reviewer resolves it with a new value on the head revision.
  Mutation resolve = Edit(id, 3, FindingBody("Title agreed", head.body().finding().narrative()),
                          "review");
  resolve.add_resolves_conflict_ids(head.open_conflicts(0).id());
  PushResponse resolved = PushOk({resolve});
  EXPECT_EQ(resolved.results(0).revision(), 4u);
  Record after = PullAll(scope_).at(0);
  EXPECT_EQ(after.open_conflicts_size(), 0);
  EXPECT_EQ(after.body().finding().title(), "Title agreed");
}

TEST_F(SyncTest, BadInputRejectsTheWholeBatchNamingTheMutation) {
  const std::string existing = NewId();
  PushOk({Edit(existing, 0, FindingBody("x"), "t1", scope_)});
  std::string cursor;
  PullAll(scope_, &cursor);

  struct Case {
    std::string name;
    Mutation bad;
    grpc::StatusCode code;
    std::string reason;
  };
  Mutation bad_id = Edit(NewId(), 0, FindingBody("y"), "t1", scope_);
  bad_id.set_mutation_id("not-a-uuid");
  Mutation bad_record = Edit("x", 0, FindingBody("y"), "t1", scope_);
  v1::RecordBody interview;
  interview.mutable_interview()->set_pseudonym("P1");
  Mutation bad_scope = Edit(NewId(), 0, FindingBody("y"), "t1", "prisons/1");
  Mutation no_kind = Edit(NewId(), 0, v1::RecordBody(), "t1", scope_);
  Mutation big = Edit(NewId(), 0, FindingBody(std::string(2 << 20, 'x')), "t1", scope_);
  // Made on a revision 1 that is not the server's (as after a restore from
  // an older backup): refused, not merged against the wrong base.
  Mutation other_base = Edit(existing, 1, FindingBody("y"));
  other_base.set_base_edit_id(NewId());
  Mutation bad_base_edit = Edit(existing, 1, FindingBody("y"));
  bad_base_edit.set_base_edit_id("nope");
  std::vector<Case> cases = {
      {"malformed mutation id", bad_id, grpc::StatusCode::INVALID_ARGUMENT, "MUTATION_ID_INVALID"},
      {"malformed record id", bad_record, grpc::StatusCode::INVALID_ARGUMENT, "RECORD_ID_INVALID"},
      {"bad scope", bad_scope, grpc::StatusCode::INVALID_ARGUMENT, "SCOPE_INVALID"},
      {"no kind", no_kind, grpc::StatusCode::INVALID_ARGUMENT, "BODY_KIND_MISSING"},
      {"oversize body", big, grpc::StatusCode::INVALID_ARGUMENT, "BODY_TOO_LARGE"},
      {"future base", Edit(existing, 9, FindingBody("y")), grpc::StatusCode::INVALID_ARGUMENT,
       "BASE_REVISION_IN_FUTURE"},
      {"wrong kind", Edit(existing, 1, interview), grpc::StatusCode::INVALID_ARGUMENT,
       "BODY_WRONG_KIND"},
      {"unknown record", Edit(NewId(), 3, FindingBody("y")), grpc::StatusCode::NOT_FOUND,
       "MUTATION_TARGET_NOT_FOUND"},
      {"another base revision", other_base, grpc::StatusCode::FAILED_PRECONDITION,
       "BASE_REVISION_UNKNOWN"},
      {"malformed base edit", bad_base_edit, grpc::StatusCode::INVALID_ARGUMENT,
       "BASE_EDIT_INVALID"},
  };
  for (const Case& c : cases) {
    // A good mutation first: it must not be written either.
    const std::string fresh = NewId();
    PushResponse response;
    grpc::Status s = Push({Edit(fresh, 0, FindingBody("good"), "t1", scope_), c.bad}, &response);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_EQ(Reason(s), c.reason) << c.name;
    auto info = client::ErrorInfoOf(s);
    ASSERT_TRUE(info.ok()) << c.name;
    EXPECT_EQ(info->metadata().at("index"), "1") << c.name;
    EXPECT_EQ(info->metadata().at("mutation_id"), c.bad.mutation_id()) << c.name;
    EXPECT_TRUE(PullAll(scope_, &cursor).empty()) << c.name << " wrote something";
  }
  PushResponse empty;
  EXPECT_EQ(Reason(Push({}, &empty)), "BATCH_EMPTY");

  // Invalid UTF-8 in a text field cannot even be parsed: named by index.
  PushResponse utf8;
  grpc::Status s = Push({Edit(NewId(), 0, FindingBody("good"), "t1", scope_),
                         Edit(NewId(), 0, FindingBody("bad \xff\xfe text"), "t1", scope_)},
                        &utf8);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(Reason(s), "MUTATION_MALFORMED");
  EXPECT_EQ(client::ErrorInfoOf(s)->metadata().at("index"), "1");
  EXPECT_TRUE(PullAll(scope_, &cursor).empty());

  // Naming the base revision's own edit is accepted.
  std::string from_start;
  const std::vector<Record> held = PullAll(scope_, &from_start);
  ASSERT_EQ(held.size(), 1u);
  Mutation same_base = Edit(existing, 1, FindingBody("z"));
  same_base.set_base_edit_id(held[0].updated().mutation_id());
  PushOk({same_base});
}

TEST_F(SyncTest, PullPagesResumeAndCursorsAreAuthenticated) {
  std::vector<Mutation> batch;
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(NewId());
    batch.push_back(Edit(ids.back(), 0, FindingBody("f" + std::to_string(i)), "t1", scope_));
  }
  PushOk(batch);
  v1::PullResponse page;
  ASSERT_TRUE(Pull(scope_, "", 10, &page).ok());
  EXPECT_EQ(page.records_size(), 10);
  EXPECT_TRUE(page.has_more());
  // Interrupted after the first page: resume from its cursor.
  std::string cursor = page.next_cursor();
  std::vector<Record> rest = PullAll(scope_, &cursor, 10);
  EXPECT_EQ(rest.size(), 15u);
  std::set<std::string> seen;
  for (const auto& r : page.records()) seen.insert(r.id());
  for (const auto& r : rest) seen.insert(r.id());
  EXPECT_EQ(seen.size(), 25u);
  // A record changed later moves to the end of the feed and comes once.
  PushOk({Edit(ids[3], 1, FindingBody("f3 again"))});
  std::vector<Record> changed = PullAll(scope_, &cursor);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].revision(), 2u);
  // Commit order within a page.
  std::vector<Record> all = PullAll(scope_);
  ASSERT_EQ(all.size(), 25u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].seq(), all[i].seq());
  EXPECT_EQ(all.back().id(), ids[3]);

  std::string tampered = cursor;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  v1::PullResponse refused;
  grpc::Status s = Pull(scope_, tampered, 10, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "CURSOR_INVALID");
  s = Pull("visits/" + NewId(), cursor, 10, &refused);  // another scope's cursor
  EXPECT_EQ(Reason(s), "CURSOR_INVALID");
  s = Pull("nowhere", "", 10, &refused);
  EXPECT_EQ(Reason(s), "SCOPE_INVALID");
}

TEST_F(SyncTest, LargeBatchesAndPagesFitTheTransport) {
  // 10 findings of ~900 KiB: one push of ~9 MiB (over gRPC's default 4 MiB
  // receive limit), pulled in pages that each fit a client's 4 MiB limit.
  std::vector<Mutation> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(Edit(NewId(), 0, FindingBody("big", std::string(900 << 10, 'a' + i)), "t1",
                         scope_));
  }
  PushOk(batch);
  std::string cursor;
  int pages = 0;
  std::size_t records = 0;
  while (true) {
    v1::PullResponse page;
    grpc::Status s = Pull(scope_, cursor, 1000, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ++pages;
    records += page.records_size();
    cursor = page.next_cursor();
    if (!page.has_more()) break;
  }
  EXPECT_EQ(records, 10u);
  EXPECT_GT(pages, 2);
}

TEST_F(SyncTest, DeletesAreTombstonesInThePull) {
  const std::string id = NewId();
  PushOk({Edit(id, 0, FindingBody("to delete"), "t1", scope_)});
  Mutation del = Edit(id, 1, v1::RecordBody());
  del.set_delete_(true);
  PushResponse r = PushOk({del});
  EXPECT_EQ(r.results(0).revision(), 2u);
  std::vector<Record> records = PullAll(scope_);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].deleted());
}

TEST_F(SyncTest, LockedVisitQueuesLateSubmissions) {
  const std::string visit_id = NewId();
  const std::string scope = "visits/" + visit_id;
  Walk(visit_id, scope, 0,
       {v1::VISIT_STATE_IN_PROGRESS, v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_IN_REVIEW,
        v1::VISIT_STATE_APPROVED});
  PushResponse r = PushOk({Edit(NewId(), 0, FindingBody("late finding"), "t1", scope)});
  EXPECT_TRUE(r.results(0).late_submission());
  EXPECT_EQ(r.results(0).revision(), 0u);
  // An offline chain on a record created after the lock: held too.
  Mutation create = Edit(NewId(), 0, FindingBody("late create"), "t2", scope);
  Mutation chained = Edit(create.record_id(), 0, FindingBody("late edit"), "t2", scope);
  chained.set_base_mutation_id(create.mutation_id());
  PushResponse held = PushOk({create, chained});
  EXPECT_TRUE(held.results(0).late_submission());
  EXPECT_TRUE(held.results(1).late_submission());
  // Nonsense aimed at a locked visit is refused, not queued.
  PushResponse refused;
  grpc::Status s = Push({Edit(NewId(), 5, FindingBody("x"), "t1", scope)}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(s), "MUTATION_TARGET_NOT_FOUND");

  std::vector<Record> records = PullAll(scope);
  ASSERT_EQ(records.size(), 1u) << "only the visit record";
  EXPECT_TRUE(records[0].body().has_visit());
}

// What is held for a locked visit is checked as if it were applied, and an
// offline chain on a held create stays held after the visit is reopened
// (its base was never applied), so the device's outbox drains.
TEST_F(SyncTest, LockedVisitChecksWhatItHoldsAndKeepsChainsTogether) {
  const std::string visit_id = NewId();
  const std::string scope = "visits/" + visit_id;
  const std::uint64_t opened = Walk(visit_id, scope, 0, {v1::VISIT_STATE_IN_PROGRESS});
  const std::string finding = NewId();
  PushOk({Edit(finding, 0, FindingBody("before approval"), "t1", scope)});
  const std::uint64_t approved =
      Walk(visit_id, scope, opened,
           {v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_APPROVED});

  PushResponse refused;
  Mutation bad_clock = Edit(finding, 1, FindingBody("edited"), "t1");
  bad_clock.mutable_hlc()->set_wall_time_micros(-1);
  grpc::Status s = Push({bad_clock}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "HLC_INVALID");
  Mutation bogus = Edit(finding, 1, FindingBody("edited"), "t1");
  bogus.add_resolves_conflict_ids(NewId());
  s = Push({bogus}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  Mutation create = Edit(NewId(), 0, FindingBody("late create"), "t2", scope);
  EXPECT_TRUE(PushOk({create}).results(0).late_submission());
  // Reopened by the NPM unit; the device's next edits of its held create
  // are held with it, in order, and not refused.
  Walk(visit_id, scope, approved, {v1::VISIT_STATE_IN_REVIEW}, "a finding is missing");
  Mutation chained = Edit(create.record_id(), 0, FindingBody("late edit"), "t2", scope);
  chained.set_base_mutation_id(create.mutation_id());
  Mutation again = Edit(create.record_id(), 0, FindingBody("later edit"), "t2", scope);
  again.set_base_mutation_id(chained.mutation_id());
  PushResponse held = PushOk({chained, again});
  EXPECT_TRUE(held.results(0).late_submission());
  EXPECT_TRUE(held.results(1).late_submission());
  for (const Record& r : PullAll(scope)) EXPECT_NE(r.id(), create.record_id());
}

TEST_F(SyncTest, SubscribeNotifiesOfNewChanges) {
  grpc::ClientContext context;
  v1::SubscribeRequest request;
  request.add_scopes(scope_);
  auto reader = stub_->Subscribe(&context, request);
  v1::ChangeNotice notice;
  ASSERT_TRUE(reader->Read(&notice));  // the initial notice
  EXPECT_EQ(notice.scope(), scope_);
  PushResponse r = PushOk({Edit(NewId(), 0, FindingBody("new"), "t1", scope_)});
  ASSERT_TRUE(reader->Read(&notice));
  EXPECT_EQ(notice.scope(), scope_);
  EXPECT_GE(notice.seq(), 1u);
  context.TryCancel();
  reader->Finish();

  grpc::ClientContext bad_context;
  v1::SubscribeRequest bad;
  bad.add_scopes("nowhere");
  auto refused = stub_->Subscribe(&bad_context, bad);
  EXPECT_FALSE(refused->Read(&notice));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SyncTest, SignedReceiptCoversWhatTheServerHolds) {
  const std::string photo = "jpeg bytes of the cell";
  const std::string photo_sha = Sha256::HexOf(photo);
  {
    grpc::ClientContext context;
    v1::AttachmentStatus status;
    auto writer = stub_->UploadAttachment(&context, &status);
    v1::UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(photo_sha);
    header.mutable_header()->set_size(photo.size());
    header.mutable_header()->set_scope(scope_);
    writer->Write(header);
    v1::UploadAttachmentRequest chunk;
    chunk.mutable_chunk()->set_data(photo);
    chunk.mutable_chunk()->set_sha256(photo_sha);
    writer->Write(chunk);
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    ASSERT_TRUE(status.complete());
  }
  const std::string finding = NewId(), stored = NewId(), missing = NewId();
  v1::RecordBody stored_body, missing_body;
  stored_body.mutable_attachment()->set_sha256(photo_sha);
  missing_body.mutable_attachment()->set_sha256(Sha256::HexOf("not sent"));
  PushOk({Edit(finding, 0, FindingBody("f"), "t1", scope_), Edit(finding, 1, FindingBody("f2")),
          Edit(stored, 0, stored_body, "t1", scope_), Edit(missing, 0, missing_body, "t1", scope_)});
  PushOk({Edit(NewId(), 0, FindingBody("elsewhere"), "t1", "visits/" + NewId())});

  grpc::ClientContext context;
  v1::GetReceiptRequest request;
  request.set_scope(scope_);
  v1::Receipt receipt;
  ASSERT_TRUE(stub_->GetReceipt(&context, request, &receipt).ok());
  auto manifest = client::VerifyReceipt(receipt, receipt.public_key());
  ASSERT_OK(manifest);
  EXPECT_EQ(manifest->scope(), scope_);
  std::map<std::string, std::uint64_t> revisions;
  for (const auto& e : manifest->records()) revisions[e.record_id()] = e.revision();
  EXPECT_EQ(revisions, (std::map<std::string, std::uint64_t>{
                           {finding, 2}, {stored, 1}, {missing, 1}}));
  ASSERT_EQ(manifest->attachment_sha256_size(), 1) << "only attachments the server holds";
  EXPECT_EQ(manifest->attachment_sha256(0), photo_sha);

  v1::Receipt forged = receipt;
  v1::ReceiptManifest more = *manifest;
  more.add_attachment_sha256(Sha256::HexOf("not sent"));
  forged.set_manifest(more.SerializeAsString());
  EXPECT_THAT(client::VerifyReceipt(forged, receipt.public_key()),
              testing::StatusIs(absl::StatusCode::kDataLoss));
  // The key is the server's own: stable across receipts.
  grpc::ClientContext again_context;
  v1::Receipt again;
  ASSERT_TRUE(stub_->GetReceipt(&again_context, request, &again).ok());
  EXPECT_EQ(again.public_key(), receipt.public_key());
}

TEST_F(SyncTest, CursorsIssuedBeforeARestoreAreRefusedAfterIt) {
  PushOk({Edit(NewId(), 0, FindingBody("before backup"), "t1", scope_)});
  const std::string data = server_->dir().Sub("data");
  const std::string backups = server_->dir().Sub("backups");
  ASSERT_OK(datadir::RunBackup(data, backups).status());
  PushOk({Edit(NewId(), 0, FindingBody("after backup"), "t1", scope_)});
  std::string cursor;
  ASSERT_EQ(PullAll(scope_, &cursor).size(), 2u);
  server_->server().Shutdown();

  const std::string restored = server_->dir().Sub("restored");
  ASSERT_OK(datadir::RunRestore(backups, restored, std::nullopt, data + "/keys/data.key"));
  server::ServerConfig config;
  config.data_dir = restored;
  config.listen = "127.0.0.1:0";
  config.plaintext_loopback = true;
  config.log_level = "warn";
  auto again = server::VigilServer::Start(config);
  ASSERT_OK(again);
  auto stub = v1::SyncService::NewStub(testing::BearerChannel(
      "127.0.0.1:" + std::to_string((*again)->port()), server_->ReviewerToken()));
  // New commits reuse the sequence numbers after the backup point: an old
  // cursor would now skip them, so it must be refused.
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext push_context;
    PushRequest push;
    *push.add_mutations() = Edit(NewId(), 0, FindingBody("after restore"), "t1", scope_);
    PushResponse pushed;
    ASSERT_TRUE(stub->Push(&push_context, push, &pushed).ok());
  }
  grpc::ClientContext context;
  v1::PullRequest request;
  request.set_scope(scope_);
  request.set_cursor(cursor);
  v1::PullResponse page;
  grpc::Status s = stub->Pull(&context, request, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "CURSOR_INVALID");
  auto info = client::ErrorInfoOf(s);
  ASSERT_TRUE(info.ok());
  std::uint64_t restored_at = 0;
  ASSERT_TRUE(absl::SimpleAtoi(info->metadata().at("restored_at_seq"), &restored_at));
  grpc::ClientContext fresh_context;
  request.clear_cursor();
  ASSERT_TRUE(stub->Pull(&fresh_context, request, &page).ok());
  ASSERT_EQ(page.records_size(), 4);
  EXPECT_EQ(page.records(0).body().finding().title(), "before backup");
  // The restore point is where the backup ends: what came after is newer.
  EXPECT_GE(restored_at, page.records(0).seq());
  EXPECT_LT(restored_at, page.records(1).seq());
}

TEST_F(SyncTest, SensitiveBodiesAreEncryptedAtRest) {
  v1::RecordBody interview;
  interview.mutable_interview()->set_pseudonym("D-17");
  interview.mutable_interview()->set_notes("He said the night guard beat him with a baton.");
  PushOk({Edit(NewId(), 0, interview, "t1", scope_)});
  ASSERT_EQ(PullAll(scope_).at(0).body().interview().notes(),
            "He said the night guard beat him with a baton.");
  server_->server().Shutdown();
  for (const auto& [path, bytes] : testing::DirectoryContents(server_->dir().path())) {
    EXPECT_EQ(bytes.find("night guard beat him"), std::string::npos) << path;
  }
}

}  // namespace
}  // namespace vigil
