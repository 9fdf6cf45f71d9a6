// The tablet sync core against an in-process server: enrolled tablets of
// field monitors on one visit team, each with its own local store.
//
// The multi-tablet sync tests of the SyncService live here, so that the
// protocol is proven with the client that tablets embed: three tablets edit
// one visit offline and sync concurrently, with replies lost and resent; all
// end with identical records and open conflicts, equal to the server's, and
// every value any of them wrote is in a record or a conflict.
#include "client/replica.h"
#include "client/channel.h"

#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "gtest/gtest.h"
#include "storage/storage.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "tests/testing/drop_replies.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/review.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil {
namespace {

using client::Replica;
using client::SyncOptions;
using testing::DropRepliesFactory;
using v1::RecordBody;

std::string NewId(std::mt19937_64& rng) {
  sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  return *sync::NewUuidV7(absl::Now(), random);
}

// A link too slow for large pushes: a Push of more than `max` mutations
// reaches the server (which applies it) but its reply misses the deadline.
class SlowLinkForLargePushes final : public grpc::experimental::Interceptor {
 public:
  SlowLinkForLargePushes(int max, std::shared_ptr<std::vector<int>> sizes)
      : max_(max), sizes_(std::move(sizes)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (sizes_ != nullptr &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const auto* request = static_cast<const v1::PushRequest*>(methods->GetSendMessage());
      if (request != nullptr) {
        mutations_ = request->mutations_size();
        sizes_->push_back(mutations_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS) &&
        mutations_ > max_) {
      *methods->GetRecvStatus() =
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the link is too slow");
    }
    methods->Proceed();
  }

 private:
  int max_;
  std::shared_ptr<std::vector<int>> sizes_;
  int mutations_ = 0;
};

class SlowLinkFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  SlowLinkFactory(int max, std::shared_ptr<std::vector<int>> sizes)
      : max_(max), sizes_(std::move(sizes)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    if (std::string(info->method()) != "/vigil.v1.SyncService/Push") {
      return new SlowLinkForLargePushes(std::numeric_limits<int>::max(), nullptr);  // passes
    }
    return new SlowLinkForLargePushes(max_, sizes_);
  }

 private:
  int max_;
  std::shared_ptr<std::vector<int>> sizes_;
};

class ReplicaTest : public ::testing::Test {
 protected:
  ReplicaTest() : rng_(42) {
    visit_id_ = NewId(rng_);
    scope_ = "visits/" + visit_id_;
  }

  client::ServerAddress Address() const {
    return client::PlaintextAddress(server_.target());
  }

  // A tablet of `user` (a field monitor on the visit's team unless told
  // otherwise), enrolled with a one-time code, following the visit.
  std::unique_ptr<Replica> Tablet(const std::string& user,
                                  v1::Role role = v1::ROLE_FIELD_MONITOR,
                                  v1::TeamRole team = v1::TEAM_ROLE_MONITOR) {
    auto admin = server_.Admin();
    {
      grpc::ClientContext ctx;
      v1::CreateUserRequest request;
      request.mutable_user()->set_user_id(user);
      request.mutable_user()->set_role(role);
      v1::User created;
      grpc::Status s = admin->CreateUser(&ctx, request, &created);
      EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS)
          << s.error_message();
    }
    if (team != v1::TEAM_ROLE_UNSPECIFIED) {
      EXPECT_OK(server_.AddToTeam(visit_id_, user, team));
    }
    grpc::ClientContext ctx;
    v1::CreateEnrollmentCodeRequest request;
    request.set_user_id(user);
    v1::EnrollmentCode code;
    EXPECT_TRUE(admin->CreateEnrollmentCode(&ctx, request, &code).ok());
    auto replica = Replica::Open(dir_.Sub(user + "-" + std::to_string(++tablets_)));
    EXPECT_OK(replica.status());
    if (!replica.ok()) return nullptr;
    EXPECT_OK((*replica)->Enroll(Address(), code.code(), "tablet of " + user));
    EXPECT_OK((*replica)->Follow(scope_));
    return std::move(*replica);
  }

  // `reviewer`'s tablet creates the visit record and moves it to approved.
  void Approve(Replica& reviewer) {
    RecordBody visit;
    visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
    ASSERT_OK(reviewer.Create(scope_, visit, visit_id_).status());
    ASSERT_OK(reviewer.Sync(Fast()).status());
    for (v1::VisitState state :
         {v1::VISIT_STATE_SUBMITTED, v1::VISIT_STATE_IN_REVIEW, v1::VISIT_STATE_APPROVED}) {
      visit.mutable_visit()->set_state(state);
      ASSERT_OK(reviewer.Edit(visit_id_, visit));
      ASSERT_OK(reviewer.Sync(Fast()).status());
    }
  }

  static SyncOptions Fast() {
    SyncOptions options;
    options.initial_backoff = absl::Milliseconds(1);
    options.max_backoff = absl::Milliseconds(20);
    options.retry_for = absl::Seconds(30);
    return options;
  }

  static RecordBody Finding(const std::string& title, int lines) {
    RecordBody body;
    body.mutable_finding()->set_title(title);
    std::vector<std::string> text;
    for (int i = 0; i < lines; ++i) text.push_back(absl::StrCat("line ", i, " of ", title));
    body.mutable_finding()->set_narrative(absl::StrJoin(text, "\n") + "\n");
    return body;
  }

  static RecordBody Interview(const std::string& pseudonym, const std::string& notes,
                              const std::string& interviewer) {
    RecordBody body;
    body.mutable_interview()->set_pseudonym(pseudonym);
    body.mutable_interview()->set_notes(notes);
    body.mutable_interview()->add_interviewer_user_ids(interviewer);
    return body;
  }

  testing::TestServer server_;
  testing::TempDir dir_;
  std::mt19937_64 rng_;
  std::string visit_id_;
  std::string scope_;
  int tablets_ = 0;
};

// --- Three tablets, one visit, offline edits, concurrent syncs. ---

struct Written {
  // The last value each tablet wrote to each (record, field).
  std::map<std::pair<std::string, std::string>, std::string> values;
};

void EditOffline(Replica& t, const std::string& name, std::mt19937& rng,
                 const std::string& scope, int actions, Written& written) {
  std::set<std::string> touched;
  for (int n = 0; n < actions; ++n) {
    std::vector<std::string> ids;
    auto views = t.List(scope);
    ASSERT_OK(views.status());
    for (const auto& v : *views) {
      if (!v.deleted && v.body.has_finding()) ids.push_back(v.id);
    }
    const int roll = static_cast<int>(rng() % 100);
    const std::string tag = absl::StrCat(name, "-", n);
    if (ids.empty() || roll < 10) {
      RecordBody body;
      body.mutable_finding()->set_title("New finding " + tag);
      body.mutable_finding()->set_narrative("a\nb\nc\nd\n");
      auto id = t.Create(scope, body);
      ASSERT_OK(id.status());
      written.values[{*id, "title"}] = "New finding " + tag;
      continue;
    }
    const std::string id = ids[rng() % ids.size()];
    if (roll < 15 && !touched.count(id)) {
      ASSERT_OK(t.Delete(id));  // only records this tablet has not edited offline
      continue;
    }
    touched.insert(id);
    RecordBody body = t.Get(id)->body;
    v1::Finding& f = *body.mutable_finding();
    if (roll < 55) {
      f.set_title("Title " + tag);
      written.values[{id, "title"}] = f.title();
    } else if (roll < 80) {
      const std::string line = "Narrative " + tag;
      const int index = static_cast<int>(rng() % 4);
      std::vector<std::string> lines = absl::StrSplit(f.narrative(), '\n');
      if (index < static_cast<int>(lines.size())) lines[index] = line;
      f.set_narrative(absl::StrJoin(lines, "\n"));
      written.values[{id, "line" + std::to_string(index)}] = line;
    } else if (roll < 92) {
      f.add_tags("tag " + tag);
      written.values[{id, "tag " + tag}] = "tag " + tag;
    } else {
      f.set_severity(static_cast<v1::Severity>(1 + rng() % 4));
    }
    ASSERT_OK(t.Edit(id, body));
  }
}

std::map<std::string, client::LocalView> ViewsOf(Replica& t, const std::string& scope) {
  std::map<std::string, client::LocalView> out;
  auto views = t.List(scope);
  EXPECT_OK(views.status());
  for (auto& v : *views) out[v.id] = std::move(v);
  return out;
}

std::string Canonical(const client::LocalView& v) {
  std::string out = sync::SerializeDeterministic(v.body);
  out += v.deleted ? "|deleted|" : "|live|";
  for (const auto& c : v.conflicts) out += sync::SerializeDeterministic(c);
  return out;
}

class ThreeTablets : public ReplicaTest, public ::testing::WithParamInterface<unsigned> {};

TEST_P(ThreeTablets, ConvergeAndLoseNothing) {
  const unsigned seed = GetParam();
  std::mt19937 rng(seed);
  std::vector<std::unique_ptr<Replica>> tablets;
  for (const char* user : {"anna", "ben", "carla"}) tablets.push_back(Tablet(user));
  for (auto& t : tablets) ASSERT_NE(t, nullptr);

  // Before the visit: anna drafts findings, everyone syncs.
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(tablets[0]->Create(scope_, Finding("Finding " + std::to_string(i), 4)).status());
  }
  for (auto& t : tablets) ASSERT_OK(t->Sync(Fast()).status());
  ASSERT_EQ(tablets[2]->List(scope_)->size(), 4u);

  // Offline for the visit, each tablet on its own.
  std::vector<Written> written(3);
  const char* names[] = {"anna", "ben", "carla"};
  for (int i = 0; i < 3; ++i) {
    EditOffline(*tablets[i], names[i], rng, scope_, 10, written[i]);
  }

  // Back in range: all three sync at once, in small batches, with a quarter
  // of the push replies lost (the tablet resends; the server answers with the
  // first result).
  std::atomic<std::uint64_t> duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      SyncOptions options = Fast();
      options.push_batch = 1 + static_cast<int>((seed + i) % 3);
      options.pull_page = 3;
      auto calls = std::make_shared<std::atomic<int>>(0);
      const unsigned s = seed * 10 + static_cast<unsigned>(i);
      options.interceptors = [calls, s] {
        client::Interceptors extra;
        extra.push_back(std::make_unique<DropRepliesFactory>("/vigil.v1.SyncService/Push",
                                                             calls, 4, 0, s));
        return extra;
      };
      auto report = tablets[i]->Sync(options);
      EXPECT_OK(report.status());
      if (report.ok()) {
        duplicates += report->duplicates;
        EXPECT_TRUE(report->parked.empty());
        EXPECT_TRUE(report->scope_errors.empty());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& t : tablets) {
    EXPECT_EQ(t->OutboxSize().value_or(~0ull), 0u);
    ASSERT_OK(t->Sync(Fast()).status());
  }

  // Identical records and open conflicts everywhere, equal to what a fresh
  // replica of the NPM unit pulls from the server.
  auto reviewer = Replica::Open(dir_.Sub("reviewer"));
  ASSERT_OK(reviewer.status());
  ASSERT_OK((*reviewer)->SetCredentials(Address(), server_.ReviewerToken()));
  ASSERT_OK((*reviewer)->Follow(scope_));
  ASSERT_OK((*reviewer)->Sync(Fast()).status());
  const auto server_view = ViewsOf(**reviewer, scope_);
  int conflicts = 0;
  for (const auto& [id, v] : server_view) conflicts += static_cast<int>(v.conflicts.size());
  for (int i = 0; i < 3; ++i) {
    const auto views = ViewsOf(*tablets[i], scope_);
    ASSERT_EQ(views.size(), server_view.size()) << names[i];
    for (const auto& [id, v] : server_view) {
      ASSERT_TRUE(views.count(id)) << names[i] << " lacks " << id;
      EXPECT_FALSE(views.at(id).pending) << names[i] << " " << id;
      EXPECT_EQ(Canonical(views.at(id)), Canonical(v)) << names[i] << " differs on " << id;
    }
  }

  // No loss: every value any tablet wrote is in a record body or a conflict.
  std::string everything;
  for (const auto& [id, v] : server_view) everything += Canonical(v);
  for (int i = 0; i < 3; ++i) {
    for (const auto& [where, value] : written[i].values) {
      EXPECT_NE(everything.find(value), std::string::npos)
          << "lost '" << value << "' written by " << names[i] << " (seed " << seed << ")";
    }
  }
  RecordProperty("conflicts", conflicts);
  RecordProperty("duplicates", static_cast<int>(duplicates.load()));
}

INSTANTIATE_TEST_SUITE_P(Seeds, ThreeTablets, ::testing::Values(1u, 2u, 3u, 4u));

// --- Rebase, conflicts, resolution. ---

TEST_F(ReplicaTest, LocalEditsAreRebasedOnThePulledHead) {
  auto anna = Tablet("anna");
  auto ben = Tablet("ben");
  auto id = anna->Create(scope_, Finding("Cell 4", 4));
  ASSERT_OK(id.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(ben->Sync(Fast()).status());

  RecordBody mine = anna->Get(*id)->body;
  mine.mutable_finding()->set_title("Cell 4, east wing");
  ASSERT_OK(anna->Edit(*id, mine));
  RecordBody theirs = ben->Get(*id)->body;
  theirs.mutable_finding()->set_narrative("No mattress.\n" + theirs.finding().narrative());
  ASSERT_OK(ben->Edit(*id, theirs));
  ASSERT_OK(ben->Sync(Fast()).status());

  // Anna pulls without pushing: her view is the new head plus her edit.
  SyncOptions pull_only = Fast();
  pull_only.push = false;
  ASSERT_OK(anna->Sync(pull_only).status());
  auto view = anna->Get(*id);
  ASSERT_OK(view.status());
  EXPECT_TRUE(view->pending);
  EXPECT_EQ(view->body.finding().title(), "Cell 4, east wing");
  EXPECT_EQ(view->body.finding().narrative().rfind("No mattress.\n", 0), 0u);
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 1u);

  ASSERT_OK(anna->Sync(Fast()).status());
  view = anna->Get(*id);
  EXPECT_FALSE(view->pending);
  EXPECT_EQ(view->server_revision, 3u);
  EXPECT_EQ(view->body.finding().title(), "Cell 4, east wing");
  EXPECT_EQ(view->body.finding().narrative().rfind("No mattress.\n", 0), 0u);
}

TEST_F(ReplicaTest, ConflictIsSurfacedAndResolvedByTheLead) {
  auto anna = Tablet("anna");
  auto ben = Tablet("ben");
  auto lena = Tablet("lena", v1::ROLE_TEAM_LEAD, v1::TEAM_ROLE_TEAM_LEAD);
  auto id = anna->Create(scope_, Finding("Cell 4", 2));
  ASSERT_OK(id.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(ben->Sync(Fast()).status());
  RecordBody a = anna->Get(*id)->body;
  a.mutable_finding()->set_title("Cell 4: overcrowded");
  ASSERT_OK(anna->Edit(*id, a));
  RecordBody b = ben->Get(*id)->body;
  b.mutable_finding()->set_title("Cell 4: no ventilation");
  ASSERT_OK(ben->Edit(*id, b));
  ASSERT_OK(anna->Sync(Fast()).status());
  auto report = ben->Sync(Fast());
  ASSERT_OK(report.status());
  ASSERT_EQ(report->new_conflict_ids.size(), 1u);
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(lena->Sync(Fast()).status());

  auto conflicts = lena->Conflicts(scope_);
  ASSERT_OK(conflicts.status());
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ((*conflicts)[0].field_path(), "title");
  EXPECT_EQ((*conflicts)[0].versions_size(), 2);
  EXPECT_EQ(anna->Conflicts(scope_)->size(), 1u);

  RecordBody settled = lena->Get(*id)->body;
  settled.mutable_finding()->set_title("Cell 4: overcrowded, no ventilation");
  ASSERT_OK(lena->Resolve(*id, {(*conflicts)[0].id()}, settled));
  // A second resolution on top of a pending one is refused until synced.
  EXPECT_EQ(lena->Resolve(*id, {(*conflicts)[0].id()}, settled).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(lena->Sync(Fast()).status());
  for (Replica* t : {anna.get(), ben.get(), lena.get()}) {
    ASSERT_OK(t->Sync(Fast()).status());
    EXPECT_TRUE(t->Conflicts(scope_)->empty());
    EXPECT_EQ(t->Get(*id)->body.finding().title(), "Cell 4: overcrowded, no ventilation");
  }
}

TEST_F(ReplicaTest, AWiderViewPullsTheScopeAgainInTheNewShape) {
  auto anna = Tablet("anna");
  auto ben = Tablet("ben");
  auto id = anna->Create(scope_, Interview("D-17", "He was beaten on arrival.\n", "anna"));
  ASSERT_OK(id.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(ben->Sync(Fast()).status());
  // Ben is not the interviewer: the notes never reach his tablet.
  EXPECT_EQ(ben->Get(*id)->body.interview().notes(), "");

  // Ben becomes the team lead: his next sync starts the scope again and
  // brings what a lead sees.
  ASSERT_OK(server_.AddToTeam(visit_id_, "ben", v1::TEAM_ROLE_TEAM_LEAD));
  auto report = ben->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_EQ(report->pulled, 1u);
  EXPECT_EQ(ben->Get(*id)->body.interview().notes(), "He was beaten on arrival.\n");

  // And back: the notes leave his tablet at the next sync.
  ASSERT_OK(server_.AddToTeam(visit_id_, "ben", v1::TEAM_ROLE_MONITOR));
  ASSERT_OK(ben->Sync(Fast()).status());
  EXPECT_EQ(ben->Get(*id)->body.interview().notes(), "");
  EXPECT_EQ(ben->List(scope_)->size(), 1u);
}

// --- Interruptions. ---

TEST_F(ReplicaTest, InterruptedPullResumesWithoutGapOrDuplicate) {
  auto anna = Tablet("anna");
  auto ben = Tablet("ben");
  for (int i = 0; i < 25; ++i) {
    ASSERT_OK(anna->Create(scope_, Finding("F" + std::to_string(i), 1)).status());
  }
  ASSERT_OK(anna->Sync(Fast()).status());

  // Pages of 4; the fourth page's reply and every later one is lost, and
  // the retry window is closed: the sync fails part-way.
  SyncOptions broken = Fast();
  broken.pull_page = 4;
  broken.retry_for = absl::ZeroDuration();
  auto calls = std::make_shared<std::atomic<int>>(0);
  broken.interceptors = [calls] {
    client::Interceptors extra;
    extra.push_back(
        std::make_unique<DropRepliesFactory>("/vigil.v1.SyncService/Pull", calls, 0, 4, 1));
    return extra;
  };
  auto first = ben->Sync(broken);
  ASSERT_OK(first.status());
  ASSERT_EQ(first->scope_errors.size(), 1u);
  EXPECT_EQ(first->scope_errors[0].second.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first->pulled, 12u);
  EXPECT_EQ(ben->List(scope_)->size(), 12u);

  SyncOptions pages = Fast();
  pages.pull_page = 4;
  auto second = ben->Sync(pages);
  ASSERT_OK(second.status());
  EXPECT_EQ(second->pulled, 13u);  // the rest, nothing twice
  EXPECT_EQ(ben->List(scope_)->size(), 25u);
}

TEST_F(ReplicaTest, ACursorTheServerNoLongerAcceptsStartsTheScopeAgain) {
  // As after the server was restored from a backup: its cursors are void.
  const std::string dir = dir_.Sub("restored");
  std::string kept;
  {
    auto t = Replica::Open(dir);
    ASSERT_OK(t.status());
    ASSERT_OK((*t)->SetCredentials(Address(), server_.ReviewerToken()));
    ASSERT_OK((*t)->Follow(scope_));
    auto id = (*t)->Create(scope_, Finding("Before", 1));
    ASSERT_OK(id.status());
    kept = *id;
    ASSERT_OK((*t)->Sync(Fast()).status());
  }
  {
    storage::StorageOptions options;
    options.create_if_missing = false;
    auto db = storage::Storage::Open(dir + "/db", options);
    ASSERT_OK(db.status());
    ASSERT_OK((*db)
                  ->Commit([&](storage::CommitContext& ctx) {
                    ctx.Put(storage::ColumnFamily::kMeta, "t/cursor/" + scope_,
                            "a-cursor-of-the-server-before-its-restore");
                    return absl::OkStatus();
                  })
                  .status());
  }
  auto anna = Tablet("anna");
  ASSERT_OK(anna->Create(scope_, Finding("After", 1)).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  auto t = Replica::Open(dir);
  ASSERT_OK(t.status());
  auto report = (*t)->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->scope_errors.empty());
  EXPECT_EQ(report->pulled, 2u);
  EXPECT_EQ((*t)->List(scope_)->size(), 2u);
  EXPECT_EQ((*t)->Get(kept)->body.finding().title(), "Before");
}

TEST_F(ReplicaTest, LostPushRepliesAreResentAndAnsweredAsDuplicates) {
  auto anna = Tablet("anna");
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(anna->Create(scope_, Finding("F" + std::to_string(i), 1)).status());
  }
  SyncOptions options = Fast();
  options.push_batch = 2;
  auto calls = std::make_shared<std::atomic<int>>(0);
  // Every first attempt of a batch loses its reply.
  options.interceptors = [calls] {
    client::Interceptors extra;
    extra.push_back(
        std::make_unique<DropRepliesFactory>("/vigil.v1.SyncService/Push", calls, 2, 0, 7));
    return extra;
  };
  auto report = anna->Sync(options);
  ASSERT_OK(report.status());
  EXPECT_EQ(report->pushed, 6u);
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 0u);
  auto views = anna->List(scope_);
  ASSERT_EQ(views->size(), 6u);
  for (const auto& v : *views) {
    EXPECT_EQ(v.server_revision, 1u);  // each applied once
    EXPECT_FALSE(v.pending);
  }
}

// --- Attachments and receipts. ---

TEST_F(ReplicaTest, AttachmentUploadResumesAndAReceiptFreesTheLocalCopy) {
  auto anna = Tablet("anna");
  std::string photo(700 * 1024 + 13, '\0');
  std::mt19937 bytes(3);
  for (char& c : photo) c = static_cast<char>(bytes());
  const std::string path = dir_.Sub("photo.jpg");
  std::ofstream(path, std::ios::binary) << photo;
  v1::Attachment meta;
  meta.set_media_type("image/jpeg");
  meta.set_caption("Cell 4, window");
  auto id = anna->Attach(scope_, path, meta);
  ASSERT_OK(id.status());
  auto uploads = anna->Uploads();
  ASSERT_EQ(uploads->size(), 1u);
  const std::string sha = (*uploads)[0].sha256();

  // A first upload that got 256 KiB through before the link dropped.
  {
    auto stub = v1::SyncService::NewStub(*anna->Channel());
    grpc::ClientContext ctx;
    v1::AttachmentStatus status;
    auto writer = stub->UploadAttachment(&ctx, &status);
    v1::UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(sha);
    header.mutable_header()->set_size(photo.size());
    header.mutable_header()->set_scope(scope_);
    ASSERT_TRUE(writer->Write(header));
    v1::UploadAttachmentRequest chunk;
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data(photo.substr(0, 256 * 1024));
    unsigned char digest[32];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(photo.data()), 256 * 1024);
    std::string hex;
    for (unsigned char d : digest) hex += absl::StrFormat("%02x", d);
    chunk.mutable_chunk()->set_sha256(hex);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_FALSE(status.complete());
    EXPECT_EQ(status.received(), 256u * 1024);
  }

  std::vector<client::Progress> seen;
  auto report = anna->Sync(Fast(), [&](const client::Progress& p) { seen.push_back(p); });
  ASSERT_OK(report.status());
  EXPECT_EQ(report->attachments_uploaded, 1u);
  EXPECT_EQ(report->uploaded_bytes, photo.size() - 256 * 1024);  // resumed, not restarted
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().phase, client::Progress::Phase::kDone);
  EXPECT_EQ(seen.back().bytes_left, 0u);

  ASSERT_EQ(report->receipts.size(), 1u);
  const auto& manifest = report->receipts[0];
  EXPECT_EQ(manifest.scope(), scope_);
  ASSERT_EQ(manifest.attachment_sha256_size(), 1);
  EXPECT_EQ(manifest.attachment_sha256(0), sha);
  ASSERT_EQ(manifest.records_size(), 1);
  EXPECT_EQ(manifest.records(0).record_id(), *id);
  EXPECT_TRUE((*anna->Uploads())[0].confirmed());

  struct stat st{};
  const std::string blob = dir_.Sub("anna-1") + "/blobs/" + sha;
  ASSERT_EQ(::stat(blob.c_str(), &st), 0);
  auto freed = anna->FreeConfirmedAttachments();
  ASSERT_OK(freed.status());
  EXPECT_EQ(*freed, photo.size());
  EXPECT_NE(::stat(blob.c_str(), &st), 0);
  EXPECT_TRUE((*anna->Uploads())[0].freed());
}

// One photo attached in two visits is uploaded into each (the second proves
// it), and its copy stays until both visits' receipts list it.
TEST_F(ReplicaTest, AnAttachmentInTwoVisitsIsHeldForEach) {
  auto anna = Tablet("anna");
  const std::string second_visit = NewId(rng_);
  const std::string second = "visits/" + second_visit;
  ASSERT_OK(server_.AddToTeam(second_visit, "anna", v1::TEAM_ROLE_MONITOR));
  ASSERT_OK(anna->Follow(second));
  const std::string path = dir_.Sub("corridor.jpg");
  std::ofstream(path, std::ios::binary) << std::string(64 * 1024, 'c');
  ASSERT_OK(anna->Attach(scope_, path, v1::Attachment()).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(anna->Attach(second, path, v1::Attachment()).status());
  ASSERT_EQ(anna->Uploads()->size(), 2u);
  const std::string sha = (*anna->Uploads())[0].sha256();
  const std::string blob = dir_.Sub("anna-1") + "/blobs/" + sha;
  struct stat st{};
  EXPECT_EQ(*anna->FreeConfirmedAttachments(), 0u) << "the second visit does not hold it yet";
  ASSERT_EQ(::stat(blob.c_str(), &st), 0);

  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_EQ(report->attachments_uploaded, 1u);
  for (const auto& manifest : report->receipts) {
    EXPECT_EQ(manifest.attachment_sha256_size(), 1) << manifest.scope();
  }
  // Forgetting one visit keeps the copy the other still lists.
  ASSERT_OK(anna->Forget(scope_).status());
  ASSERT_EQ(::stat(blob.c_str(), &st), 0);
  EXPECT_EQ(*anna->FreeConfirmedAttachments(), 64u * 1024);
  EXPECT_NE(::stat(blob.c_str(), &st), 0);
}

// A copy that an interrupted attach, purge or free left behind is removed
// when the store is next opened; the copies uploads still need stay.
TEST_F(ReplicaTest, OrphanAttachmentCopiesAreRemovedAtOpen) {
  auto anna = Tablet("anna");
  const std::string path = dir_.Sub("yard.jpg");
  std::ofstream(path, std::ios::binary) << std::string(10 * 1024, 'y');
  ASSERT_OK(anna->Attach(scope_, path, v1::Attachment()).status());
  const std::string blobs = dir_.Sub("anna-1") + "/blobs/";
  const std::string needed = blobs + (*anna->Uploads())[0].sha256();
  const std::string stray = blobs + std::string(64, 'a');
  const std::string partial = blobs + ".tmp-interrupted";
  std::ofstream(stray) << "sealed bytes of a purged photo";
  std::ofstream(partial) << "half a copy";
  anna.reset();
  auto reopened = Replica::Open(dir_.Sub("anna-1"));
  ASSERT_OK(reopened.status());
  struct stat st{};
  EXPECT_EQ(::stat(needed.c_str(), &st), 0);
  EXPECT_NE(::stat(stray.c_str(), &st), 0);
  EXPECT_NE(::stat(partial.c_str(), &st), 0);
  EXPECT_EQ((*reopened)->Uploads()->size(), 1u);
}

// A photo the link cannot carry now does not hold back the edits: they are
// pushed, and the upload stays queued for the next sync.
TEST_F(ReplicaTest, AnUploadTheLinkCannotCarryDoesNotHoldBackTheEdits) {
  auto anna = Tablet("anna");
  const std::string path = dir_.Sub("cell.jpg");
  std::ofstream(path, std::ios::binary) << std::string(32 * 1024, 'p');
  ASSERT_OK(anna->Attach(scope_, path, v1::Attachment()).status());
  auto finding = anna->Create(scope_, Finding("Cell 2", 1));
  ASSERT_OK(finding.status());
  SyncOptions options = Fast();
  options.retry_for = absl::Milliseconds(200);
  // No answer about the upload ever gets back.
  auto uploads = std::make_shared<std::atomic<int>>(0);
  auto asks = std::make_shared<std::atomic<int>>(0);
  options.interceptors = [uploads, asks] {
    client::Interceptors extra;
    extra.push_back(std::make_unique<DropRepliesFactory>(
        "/vigil.v1.SyncService/UploadAttachment", uploads, 0, 1, 1));
    extra.push_back(std::make_unique<DropRepliesFactory>(
        "/vigil.v1.SyncService/GetAttachmentStatus", asks, 0, 1, 1));
    return extra;
  };
  auto report = anna->Sync(options);
  ASSERT_OK(report.status());
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 0u);
  ASSERT_EQ(report->scope_errors.size(), 1u);
  EXPECT_EQ(report->scope_errors[0].first, scope_);
  EXPECT_FALSE((*anna->Uploads())[0].uploaded());
  EXPECT_EQ(anna->Get(*finding)->server_revision, 1u);
  report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_EQ(report->attachments_uploaded, 1u);
  EXPECT_TRUE(report->scope_errors.empty());
  EXPECT_TRUE((*anna->Uploads())[0].confirmed());
}

TEST_F(ReplicaTest, ReceiptsAreCheckedAgainstThePinnedKey) {
  auto anna = Tablet("anna");
  ASSERT_OK(anna->Create(scope_, Finding("F", 1)).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  const std::string pinned = anna->Profile()->receipt_public_key();
  ASSERT_EQ(pinned.size(), 32u);
  auto stub = v1::SyncService::NewStub(*anna->Channel());
  grpc::ClientContext ctx;
  v1::GetReceiptRequest request;
  request.set_scope(scope_);
  v1::Receipt receipt;
  ASSERT_TRUE(stub->GetReceipt(&ctx, request, &receipt).ok());
  ASSERT_OK(client::VerifyReceipt(receipt, pinned).status());
  v1::Receipt tampered = receipt;
  tampered.mutable_manifest()->back() ^= 1;
  EXPECT_EQ(client::VerifyReceipt(tampered, pinned).status().code(),
            absl::StatusCode::kDataLoss);
  std::string other = pinned;
  other[0] ^= 1;
  EXPECT_EQ(client::VerifyReceipt(receipt, other).status().code(), absl::StatusCode::kDataLoss);
}

// --- Forgetting a visit that is over. ---

TEST_F(ReplicaTest, AScopeIsForgottenOnlyOnceTheServerVerifiablyHoldsIt) {
  auto anna = Tablet("anna");
  auto id = anna->Create(scope_, Finding("Cell 4", 2));
  ASSERT_OK(id.status());
  const std::string photo = dir_.Sub("cell4.jpg");
  std::ofstream(photo, std::ios::binary) << std::string(100 * 1024, 'p');
  ASSERT_OK(anna->Attach(scope_, photo, v1::Attachment()).status());
  auto refused = [&](absl::string_view why) {
    auto forgotten = anna->Forget(scope_);
    EXPECT_EQ(forgotten.status().code(), absl::StatusCode::kFailedPrecondition) << why;
    EXPECT_EQ(anna->List(scope_)->size(), 2u) << why;
    EXPECT_EQ(anna->Followed()->size(), 1u) << why;
  };
  refused("the edits wait in the outbox");

  // Pushed, but the server's receipt not fetched: its signature is what
  // proves the server holds the edits.
  SyncOptions no_receipt = Fast();
  no_receipt.fetch_receipts = false;
  ASSERT_OK(anna->Sync(no_receipt).status());
  refused("no receipt, and the attachment not confirmed");

  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(anna->Edit(*id, Finding("Cell 4, window broken", 2)));
  refused("a local edit not yet pushed");
  ASSERT_OK(anna->Sync(no_receipt).status());
  refused("the receipt predates the edit's revision");

  ASSERT_OK(anna->Sync(Fast()).status());
  const std::string blob = dir_.Sub("anna-1") + "/blobs/" + (*anna->Uploads())[0].sha256();
  struct stat st{};
  ASSERT_EQ(::stat(blob.c_str(), &st), 0);
  auto forgotten = anna->Forget(scope_);
  ASSERT_OK(forgotten.status());
  EXPECT_EQ(*forgotten, 2u);  // the finding and the photo's record
  EXPECT_TRUE(anna->List(scope_)->empty());
  EXPECT_TRUE(anna->Followed()->empty());
  EXPECT_TRUE(anna->Uploads()->empty());
  EXPECT_NE(::stat(blob.c_str(), &st), 0);
  EXPECT_FALSE(anna->LastReceipt(scope_)->has_value());
  EXPECT_EQ(anna->Get(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(anna->Forget(scope_).status().code(), absl::StatusCode::kNotFound);

  // Following it again brings it back from the server.
  ASSERT_OK(anna->Follow(scope_));
  ASSERT_OK(anna->Sync(Fast()).status());
  EXPECT_EQ(anna->List(scope_)->size(), 2u);
  EXPECT_EQ(anna->Get(*id)->body.finding().title(), "Cell 4, window broken");
}

// Edits made offline to a visit the NPM unit has since approved are held by
// the server, not applied: the device says so, shows the server's records
// again (a held create leaves the view), and can forget the visit, since
// the server holds those edits.
TEST_F(ReplicaTest, EditsToALockedVisitAreHeldAndTheVisitCanBeForgotten) {
  auto anna = Tablet("anna");
  auto rita = Tablet("rita", v1::ROLE_NPM_REVIEWER, v1::TEAM_ROLE_UNSPECIFIED);
  auto finding = anna->Create(scope_, Finding("Cell 4", 2));
  ASSERT_OK(finding.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  Approve(*rita);

  // Offline, after the approval: an edit, and a new finding edited twice.
  ASSERT_OK(anna->Edit(*finding, Finding("Cell 4, window broken", 2)));
  auto late = anna->Create(scope_, Finding("Cell 9", 1));
  ASSERT_OK(late.status());
  ASSERT_OK(anna->Edit(*late, Finding("Cell 9, no light", 1)));
  ASSERT_OK(anna->Edit(*late, Finding("Cell 9, no light, no water", 1)));
  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  auto parked = anna->Parked();
  ASSERT_OK(parked.status());
  ASSERT_EQ(parked->size(), 4u);
  for (const auto& p : *parked) EXPECT_EQ(p.kind(), "late_submission") << p.message();
  auto shown = anna->Get(*finding);
  ASSERT_OK(shown.status());
  EXPECT_FALSE(shown->pending);
  EXPECT_EQ(shown->body.finding().title(), "Cell 4");
  EXPECT_EQ(anna->Get(*late).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(anna->Sync(Fast()).status());
  EXPECT_EQ(anna->Parked()->size(), 4u) << "nothing more is sent, nothing refused";
  ASSERT_OK(anna->Forget(scope_).status());
  EXPECT_TRUE(anna->Parked()->empty());
}

// The NPM unit decides on the held edits: accepting applies one as an
// ordinary merge (in the order the device made them), rejecting keeps it
// with a reason; the tablet learns each outcome at its next sync, once.
TEST_F(ReplicaTest, TheTabletLearnsTheNpmUnitsDecisionsOnLateEdits) {
  auto anna = Tablet("anna");
  auto rita = Tablet("rita", v1::ROLE_NPM_REVIEWER, v1::TEAM_ROLE_UNSPECIFIED);
  auto finding = anna->Create(scope_, Finding("Cell 4", 2));
  ASSERT_OK(finding.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  Approve(*rita);
  ASSERT_OK(anna->Edit(*finding, Finding("Cell 4, window broken", 2)));
  auto late = anna->Create(scope_, Finding("Cell 9", 1));
  ASSERT_OK(late.status());
  ASSERT_OK(anna->Edit(*late, Finding("Cell 9, no light", 1)));
  ASSERT_OK(anna->Sync(Fast()).status());
  auto held_parked = anna->Parked();
  ASSERT_OK(held_parked.status());
  ASSERT_EQ(held_parked->size(), 3u);
  // Anna's mutations, in the order she made them.
  std::vector<std::string> held;
  for (const auto& p : *held_parked) held.push_back(p.mutation().mutation_id());
  const std::string edit = held[0], create = held[1], chained = held[2];

  auto review = v1::ReviewService::NewStub(server_.ChannelWithToken(server_.ReviewerToken()));
  auto name = [&](const std::string& mid) { return scope_ + "/lateSubmissions/" + mid; };
  auto get = [&](const std::string& mid) {
    grpc::ClientContext ctx;
    v1::GetLateSubmissionRequest request;
    request.set_name(name(mid));
    v1::LateSubmission out;
    grpc::Status s = review->GetLateSubmission(&ctx, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  auto decide = [&](const std::string& mid, v1::LateOutcome outcome, const std::string& reason,
                    const std::string& etag = "", std::string request_id = "",
                    v1::LateSubmission* out = nullptr) {
    grpc::ClientContext ctx;
    v1::DecideLateSubmissionRequest request;
    request.set_name(name(mid));
    request.set_outcome(outcome);
    request.set_reason(reason);
    request.set_etag(etag);
    request.set_request_id(request_id.empty() ? NewId(rng_) : request_id);
    v1::LateSubmission ignored;
    return review->DecideLateSubmission(&ctx, request, out ? out : &ignored);
  };
  auto reason = [](const grpc::Status& s) {
    auto info = client::ErrorInfoOf(s);
    return info.ok() ? info->reason() : "<none>";
  };

  // The edit made on the held create waits for it.
  grpc::Status s = decide(chained, v1::LATE_OUTCOME_ACCEPTED, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(reason(s), "LATE_BASE_NOT_ACCEPTED");
  const std::string chained_etag = get(chained).etag();
  v1::LateSubmission accepted;
  ASSERT_TRUE(decide(create, v1::LATE_OUTCOME_ACCEPTED, "seen on the visit", "", "", &accepted).ok());
  EXPECT_EQ(accepted.result().late_decision().outcome(), v1::LATE_OUTCOME_ACCEPTED);
  EXPECT_EQ(accepted.result().late_decision().user_id(), "reviewer") << accepted.DebugString();
  EXPECT_EQ(accepted.result().revision(), 1u);
  EXPECT_EQ(accepted.head().body().finding().title(), "Cell 9");
  // Accepting the create changed the record the chained edit would change.
  s = decide(chained, v1::LATE_OUTCOME_ACCEPTED, "", chained_etag);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(reason(s), "ETAG_MISMATCH");
  ASSERT_TRUE(decide(chained, v1::LATE_OUTCOME_ACCEPTED, "", get(chained).etag()).ok());

  s = decide(edit, v1::LATE_OUTCOME_REJECTED, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reason(s), "REASON_REQUIRED");
  const std::string request_id = NewId(rng_);
  v1::LateSubmission rejected, again;
  ASSERT_TRUE(decide(edit, v1::LATE_OUTCOME_REJECTED, "the window was mended before approval",
                     "", request_id, &rejected)
                  .ok());
  ASSERT_TRUE(decide(edit, v1::LATE_OUTCOME_REJECTED, "the window was mended before approval",
                     "", request_id, &again)
                  .ok());
  EXPECT_EQ(again.result().late_decision().at().seconds(),
            rejected.result().late_decision().at().seconds())
      << "a retry gets the first result";
  s = decide(edit, v1::LATE_OUTCOME_ACCEPTED, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(reason(s), "LATE_SUBMISSION_DECIDED");
  EXPECT_EQ(rejected.head().body().finding().title(), "Cell 4") << "a rejected edit is not applied";

  // Nothing is pending; all three are kept, decided.
  auto list = [&](bool decided) {
    grpc::ClientContext ctx;
    v1::ListLateSubmissionsRequest request;
    request.set_parent(scope_);
    request.set_decided(decided);
    v1::ListLateSubmissionsResponse out;
    EXPECT_TRUE(review->ListLateSubmissions(&ctx, request, &out).ok());
    return out.late_submissions_size();
  };
  EXPECT_EQ(list(false), 0);
  EXPECT_EQ(list(true), 3);

  // Anna's next sync learns the three outcomes, and brings what was applied.
  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  ASSERT_EQ(report->late_decided.size(), 3u);
  auto decided_parked = anna->Parked();
  ASSERT_OK(decided_parked.status());
  std::map<std::string, vigil::internal::ParkedMutation> parked;
  for (const auto& p : *decided_parked) parked[p.mutation().mutation_id()] = p;
  EXPECT_EQ(parked.at(edit).kind(), "late_rejected");
  EXPECT_EQ(parked.at(edit).decision().reason(), "the window was mended before approval");
  EXPECT_NE(parked.at(edit).message().find("the window was mended"), std::string::npos);
  EXPECT_EQ(parked.at(create).kind(), "late_accepted");
  EXPECT_EQ(parked.at(chained).kind(), "late_accepted");
  EXPECT_EQ(anna->Get(*late)->body.finding().title(), "Cell 9, no light");
  EXPECT_EQ(anna->Get(*finding)->body.finding().title(), "Cell 4");
  EXPECT_EQ(anna->Requeue(edit).code(), absl::StatusCode::kFailedPrecondition);
  report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->late_decided.empty()) << "told once";
}

// A reviewer's marks reach the team's tablets at their next sync; a reply
// (a Comment about the record) answers a question, an edit answers any
// mark, and the visit's count of unreviewed records follows.
TEST_F(ReplicaTest, ReviewMarksReachTheTabletAndTheTeamAnswersThem) {
  auto anna = Tablet("anna");
  auto rita = Tablet("rita", v1::ROLE_NPM_REVIEWER, v1::TEAM_ROLE_UNSPECIFIED);
  auto asked = anna->Create(scope_, Finding("Cell 4", 2));
  auto accepted = anna->Create(scope_, Finding("Yard", 1));
  ASSERT_OK(asked.status());
  ASSERT_OK(accepted.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  RecordBody visit;
  visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
  ASSERT_OK(rita->Create(scope_, visit, visit_id_).status());
  ASSERT_OK(rita->Sync(Fast()).status());

  auto review = v1::ReviewService::NewStub(server_.ChannelWithToken(server_.ReviewerToken()));
  auto reason = [](const grpc::Status& s) {
    auto info = client::ErrorInfoOf(s);
    return info.ok() ? info->reason() : "<none>";
  };
  auto unreviewed = [&] {
    grpc::ClientContext ctx;
    v1::GetVisitRequest request;
    request.set_name(scope_);
    v1::VisitView view;
    EXPECT_TRUE(review->GetVisit(&ctx, request, &view).ok());
    return view.counts().unreviewed_records();
  };
  auto mark = [&](const std::string& id, v1::ReviewMarkState state, const std::string& question,
                  const std::string& etag = "", std::string request_id = "",
                  v1::GetRecordResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::MarkRecordRequest request;
    request.set_name("records/" + id);
    request.set_state(state);
    request.set_question(question);
    request.set_etag(etag);
    request.set_request_id(request_id.empty() ? NewId(rng_) : request_id);
    v1::GetRecordResponse ignored;
    return review->MarkRecord(&ctx, request, out ? out : &ignored);
  };
  EXPECT_EQ(unreviewed(), 2u);

  grpc::Status s = mark(*asked, v1::REVIEW_MARK_STATE_QUESTION, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reason(s), "QUESTION_REQUIRED");
  s = mark(*asked, v1::REVIEW_MARK_STATE_ANSWERED, "");
  EXPECT_EQ(reason(s), "REVIEW_MARK_INVALID");
  s = mark(*asked, v1::REVIEW_MARK_STATE_ACCEPTED, "", "\"stale\"");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(reason(s), "ETAG_MISMATCH");
  auto lena = v1::ReviewService::NewStub(server_.ChannelWithToken(*server_.EnrollUser(
      "lena", v1::ROLE_TEAM_LEAD)));
  {
    grpc::ClientContext ctx;
    v1::MarkRecordRequest request;
    request.set_name("records/" + *accepted);
    request.set_state(v1::REVIEW_MARK_STATE_ACCEPTED);
    request.set_request_id(NewId(rng_));
    v1::GetRecordResponse out;
    s = lena->MarkRecord(&ctx, request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(reason(s), "REVIEWER_ONLY");
  }
  const std::string request_id = NewId(rng_);
  v1::GetRecordResponse first, retry;
  ASSERT_TRUE(
      mark(*asked, v1::REVIEW_MARK_STATE_QUESTION, "Which cell block?", "", request_id, &first)
          .ok());
  EXPECT_EQ(first.record().review().state(), v1::REVIEW_MARK_STATE_QUESTION);
  EXPECT_EQ(first.record().review().reviewer_user_id(), "reviewer");
  EXPECT_EQ(first.record().review().marked_revision(), 1u);
  EXPECT_EQ(first.record().revision(), 2u);
  EXPECT_EQ(first.record().body().finding().title(), "Cell 4") << "the body is unchanged";
  ASSERT_TRUE(
      mark(*asked, v1::REVIEW_MARK_STATE_QUESTION, "Which cell block?", "", request_id, &retry)
          .ok());
  EXPECT_EQ(retry.record().revision(), 2u) << "a retry gets the first result";
  s = mark(*accepted, v1::REVIEW_MARK_STATE_ACCEPTED, "", "", request_id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(reason(s), "MUTATION_ID_REUSED");
  ASSERT_TRUE(mark(*accepted, v1::REVIEW_MARK_STATE_ACCEPTED, "").ok());
  EXPECT_EQ(unreviewed(), 0u);

  // The tablet shows both marks after its next sync.
  ASSERT_OK(anna->Sync(Fast()).status());
  EXPECT_EQ(anna->Get(*asked)->review.state(), v1::REVIEW_MARK_STATE_QUESTION);
  EXPECT_EQ(anna->Get(*asked)->review.question(), "Which cell block?");
  EXPECT_EQ(anna->Get(*accepted)->review.state(), v1::REVIEW_MARK_STATE_ACCEPTED);

  // Anna replies to the question and edits the accepted finding: both wait
  // for review again, and say how they were answered.
  RecordBody reply;
  reply.mutable_comment()->set_subject_record_id(*asked);
  reply.mutable_comment()->set_text("Block C, ground floor");
  auto reply_id = anna->Create(scope_, reply);
  ASSERT_OK(reply_id.status());
  ASSERT_OK(anna->Edit(*accepted, Finding("Yard, no shade", 1)));
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  const v1::ReviewMark answered = anna->Get(*asked)->review;
  EXPECT_EQ(answered.state(), v1::REVIEW_MARK_STATE_ANSWERED);
  EXPECT_EQ(answered.question(), "Which cell block?");
  EXPECT_EQ(answered.answered_by_user_id(), "anna");
  EXPECT_EQ(answered.answer_comment_id(), *reply_id);
  const v1::ReviewMark edited = anna->Get(*accepted)->review;
  EXPECT_EQ(edited.state(), v1::REVIEW_MARK_STATE_ANSWERED);
  EXPECT_FALSE(edited.answer_mutation_id().empty());
  EXPECT_EQ(unreviewed(), 2u);

  // The mark is server-written: a push cannot set it, and the reviewer's
  // own edit leaves it alone.
  ASSERT_TRUE(mark(*accepted, v1::REVIEW_MARK_STATE_ACCEPTED, "").ok());
  ASSERT_OK(rita->Sync(Fast()).status());
  ASSERT_OK(rita->Edit(*accepted, Finding("Yard, no shade at all", 1)));
  ASSERT_OK(rita->Sync(Fast()).status());
  EXPECT_EQ(rita->Get(*accepted)->review.state(), v1::REVIEW_MARK_STATE_ACCEPTED);
  EXPECT_EQ(unreviewed(), 1u);
}

TEST_F(ReplicaTest, ARefusedEditKeepsItsScopeOnTheDevice) {
  // Not on the team: the edit is refused and parked with its content.
  auto anna = Tablet("anna", v1::ROLE_FIELD_MONITOR, v1::TEAM_ROLE_UNSPECIFIED);
  ASSERT_OK(anna->Create(scope_, Finding("Only here", 1)).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_EQ(anna->Parked()->size(), 1u);
  auto forgotten = anna->Forget(scope_);
  EXPECT_EQ(forgotten.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(forgotten.status().message().find("refused"), std::string::npos);
  ASSERT_OK(anna->DropParked((*anna->Parked())[0].mutation().mutation_id()));
  ASSERT_OK(anna->Forget(scope_).status());
  EXPECT_TRUE(anna->Followed()->empty());
}

// A refused delete carries no body, but it too is an intent only the device
// holds: the visit is not forgotten over it.
TEST_F(ReplicaTest, ARefusedDeleteKeepsItsScopeOnTheDevice) {
  auto lena = Tablet("lena", v1::ROLE_TEAM_LEAD, v1::TEAM_ROLE_TEAM_LEAD);
  auto anna = Tablet("anna");
  auto id = lena->Create(scope_, Interview("Detainee 3", "What was said in cell 3", "lena"));
  ASSERT_OK(id.status());
  ASSERT_OK(lena->Sync(Fast()).status());
  ASSERT_OK(anna->Sync(Fast()).status());
  // Anna sees the interview without its notes, and may not delete it.
  ASSERT_OK(anna->Delete(*id));
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_EQ(anna->Parked()->size(), 1u);
  EXPECT_EQ((*anna->Parked())[0].kind(), "refused");
  auto forgotten = anna->Forget(scope_);
  EXPECT_EQ(forgotten.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(forgotten.status().message().find("refused"), std::string::npos);
}

// --- Purge. ---

TEST_F(ReplicaTest, PurgeRemovesTheScopeAndSaysWhatWasDiscarded) {
  auto anna = Tablet("anna");
  auto id = anna->Create(scope_, Finding("Kept on the server", 1));
  ASSERT_OK(id.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(anna->Create(scope_, Finding("Written after removal", 1)).status());
  const std::string photo = dir_.Sub("late.jpg");
  std::ofstream(photo, std::ios::binary) << "not a real photo";
  ASSERT_OK(anna->Attach(scope_, photo, v1::Attachment()).status());

  // Anna is taken off the team while offline.
  {
    grpc::ClientContext ctx;
    v1::RemoveTeamMemberRequest request;
    request.set_visit_id(visit_id_);
    request.set_user_id("anna");
    v1::RemoveTeamMemberResponse response;
    ASSERT_TRUE(server_.Admin()->RemoveTeamMember(&ctx, request, &response).ok());
  }
  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  ASSERT_EQ(report->purged_scopes, std::vector<std::string>{scope_});
  // Refused: no right to write any more (the finding and the photo's record).
  ASSERT_EQ(report->parked.size(), 2u);
  EXPECT_EQ(report->parked[0].kind(), "refused");
  EXPECT_EQ(report->parked[0].reason(), "SCOPE_NOT_PERMITTED");
  EXPECT_TRUE(anna->List(scope_)->empty());
  EXPECT_TRUE(anna->Followed()->empty());
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 0u);
  // What was discarded is named, without its content.
  auto parked = anna->Parked();
  ASSERT_EQ(parked->size(), 2u);
  for (const auto& p : *parked) EXPECT_FALSE(p.mutation().has_body());
  // The photo's upload was refused too, and its copy is gone with the scope.
  ASSERT_EQ(report->scope_errors.size(), 1u);
  EXPECT_EQ(report->scope_errors[0].second.code(), absl::StatusCode::kPermissionDenied);
  // The server's reason comes as a payload, the message as the server wrote it.
  EXPECT_EQ(ReasonOf(report->scope_errors[0].second).value_or(""), "SCOPE_NOT_PERMITTED");
  EXPECT_FALSE(absl::EndsWith(report->scope_errors[0].second.message(), "]"));
  EXPECT_TRUE(anna->Uploads()->empty());
  EXPECT_EQ(anna->Get(*id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ReplicaTest, ARefusedEditIsKeptAndCanBeSentAgainOnceAllowed) {
  // Anna's tablet is enrolled, but she is not yet on the visit's team.
  auto anna = Tablet("anna", v1::ROLE_FIELD_MONITOR, v1::TEAM_ROLE_UNSPECIFIED);
  auto id = anna->Create(scope_, Finding("Written before joining the team", 1));
  ASSERT_OK(id.status());
  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  ASSERT_EQ(report->parked.size(), 1u);
  const std::string refused = report->parked[0].mutation().mutation_id();
  EXPECT_EQ(report->parked[0].reason(), "SCOPE_NOT_PERMITTED");
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 0u);
  EXPECT_EQ(anna->DropParked("0190a000-0000-7000-8000-000000000000").code(),
            absl::StatusCode::kNotFound);

  ASSERT_OK(server_.AddToTeam(visit_id_, "anna", v1::TEAM_ROLE_MONITOR));
  ASSERT_OK(anna->Requeue(refused));
  EXPECT_TRUE(anna->Parked()->empty());
  report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->parked.empty());
  EXPECT_EQ(anna->Get(*id)->server_revision, 1u);
  EXPECT_EQ(anna->Get(*id)->body.finding().title(), "Written before joining the team");
}

// A refused edit sent again is merged with what others changed since it was
// made, not taken whole over it.
TEST_F(ReplicaTest, ARequeuedEditIsMergedWithWhatChangedSince) {
  auto lena = Tablet("lena", v1::ROLE_TEAM_LEAD, v1::TEAM_ROLE_TEAM_LEAD);
  auto anna = Tablet("anna");
  RecordBody visit;
  visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
  visit.mutable_visit()->set_summary("Summary draft");
  visit.mutable_visit()->set_objectives("Objectives draft");
  ASSERT_OK(lena->Create(scope_, visit, visit_id_).status());
  ASSERT_OK(lena->Sync(Fast()).status());
  ASSERT_OK(anna->Sync(Fast()).status());

  // Anna submits the visit with her summary: only the lead may submit.
  RecordBody submitted = visit;
  submitted.mutable_visit()->set_state(v1::VISIT_STATE_SUBMITTED);
  submitted.mutable_visit()->set_summary("Summary by Anna");
  ASSERT_OK(anna->Edit(visit_id_, submitted));
  auto report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  ASSERT_EQ(report->parked.size(), 1u);
  EXPECT_EQ(report->parked[0].reason(), "VISIT_TRANSITION_NOT_PERMITTED");
  const std::string refused = report->parked[0].mutation().mutation_id();
  // Meanwhile Lena rewrites the objectives.
  RecordBody objectives = visit;
  objectives.mutable_visit()->set_objectives("Objectives by Lena");
  ASSERT_OK(lena->Edit(visit_id_, objectives));
  ASSERT_OK(lena->Sync(Fast()).status());

  // Anna becomes the lead and sends her edit again.
  ASSERT_OK(server_.AddToTeam(visit_id_, "anna", v1::TEAM_ROLE_TEAM_LEAD));
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(anna->Requeue(refused));
  report = anna->Sync(Fast());
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->parked.empty());
  ASSERT_OK(lena->Sync(Fast()).status());
  for (auto* tablet : {anna.get(), lena.get()}) {
    auto head = tablet->Get(visit_id_);
    ASSERT_OK(head.status());
    EXPECT_EQ(head->body.visit().state(), v1::VISIT_STATE_SUBMITTED);
    EXPECT_EQ(head->body.visit().summary(), "Summary by Anna");
    EXPECT_EQ(head->body.visit().objectives(), "Objectives by Lena") << "not undone";
  }
}

// An app that kept a record open while a sync pulled someone else's edit
// names the revision the user edited: the edit is merged with the newer one.
TEST_F(ReplicaTest, AnEditOfAnOlderViewIsMergedNotTakenWhole) {
  auto anna = Tablet("anna");
  auto lena = Tablet("lena");
  auto id = anna->Create(scope_, Finding("Cell 4", 3));
  ASSERT_OK(id.status());
  ASSERT_OK(anna->Sync(Fast()).status());
  ASSERT_OK(lena->Sync(Fast()).status());
  auto open = anna->Get(*id);  // what Anna's screen shows
  ASSERT_OK(open.status());
  RecordBody lenas = lena->Get(*id)->body;
  lenas.mutable_finding()->set_narrative(lenas.finding().narrative() + "Lena's line\n");
  ASSERT_OK(lena->Edit(*id, lenas));
  ASSERT_OK(lena->Sync(Fast()).status());
  ASSERT_OK(anna->Sync(Fast()).status());  // in the background
  RecordBody annas = open->body;
  annas.mutable_finding()->set_title("Cell 4, window broken");
  ASSERT_OK(anna->Edit(*id, annas, open->server_revision));
  ASSERT_OK(anna->Sync(Fast()).status());
  auto head = anna->Get(*id);
  ASSERT_OK(head.status());
  EXPECT_EQ(head->body.finding().title(), "Cell 4, window broken");
  EXPECT_NE(head->body.finding().narrative().find("Lena's line"), std::string::npos);
}

// Issue 15 through the tablets: Anna and Ben edit different lines of one
// narrative; Ben's push is applied but its reply lost, so his next edit is an
// offline chain on the first; Cleo edits a third line on the revision that
// holds Anna's and Ben's first edits. Whichever of Ben's chain and Cleo's
// edit reaches the server first, every line keeps its one editor's text and
// no conflict opens. Regression: chain first, the head went back to Anna's
// and Cleo's old lines under a false conflict.
TEST_F(ReplicaTest, AnOfflineChainAndAnEditMadeBetweenItsEditsMergeCleanlyInBothOrders) {
  auto anna = Tablet("anna");
  auto ben = Tablet("ben");
  auto cleo = Tablet("cleo");
  for (const bool chain_first : {true, false}) {
    SCOPED_TRACE(chain_first ? "Ben's chain first" : "Cleo's edit first");
    RecordBody created;
    created.mutable_finding()->set_title("Cell 4");
    created.mutable_finding()->set_narrative("a\nb\nc\n");
    auto id = anna->Create(scope_, created);
    ASSERT_OK(id.status());
    ASSERT_OK(anna->Sync(Fast()).status());
    ASSERT_OK(ben->Sync(Fast()).status());
    ASSERT_OK(cleo->Sync(Fast()).status());
    auto edit_line = [&id](Replica& t, const std::string& from, const std::string& to) {
      RecordBody body = t.Get(*id)->body;
      std::string text = body.finding().narrative();
      const size_t at = text.find(from + "\n");
      ASSERT_NE(at, std::string::npos) << text;
      text.replace(at, from.size(), to);
      body.mutable_finding()->set_narrative(text);
      ASSERT_OK(t.Edit(*id, body));
    };
    edit_line(*anna, "c", "c1");  // E1
    ASSERT_OK(anna->Sync(Fast()).status());
    edit_line(*ben, "b", "b1");  // E2, made on revision 1
    SyncOptions lost = Fast();
    lost.retry_for = absl::Milliseconds(50);
    lost.interceptors = [] {
      client::Interceptors extra;
      extra.push_back(std::make_unique<DropRepliesFactory>(
          "/vigil.v1.SyncService/Push", std::make_shared<std::atomic<int>>(0), 0, 1, 1));
      return extra;
    };
    EXPECT_FALSE(ben->Sync(lost).ok());  // applied, but Ben never heard
    edit_line(*ben, "b1", "b2");         // E3, chained on E2
    ASSERT_OK(cleo->Sync(Fast()).status());
    ASSERT_EQ(cleo->Get(*id)->body.finding().narrative(), "a\nb1\nc1\n");
    edit_line(*cleo, "a", "a1");  // E4, made on revision 3
    Replica& first = chain_first ? *ben : *cleo;
    Replica& second = chain_first ? *cleo : *ben;
    ASSERT_OK(first.Sync(Fast()).status());
    ASSERT_OK(second.Sync(Fast()).status());
    for (Replica* t : {anna.get(), ben.get(), cleo.get()}) {
      ASSERT_OK(t->Sync(Fast()).status());
      auto view = t->Get(*id);
      ASSERT_OK(view.status());
      EXPECT_EQ(view->body.finding().narrative(), "a1\nb2\nc1\n");
      EXPECT_TRUE(view->conflicts.empty());
      EXPECT_FALSE(view->pending);
    }
  }
}

// On a link too slow for a whole batch within the deadline, the batch is
// halved until it gets through, instead of being resent whole until the
// sync gives up; what the server applied of the larger tries comes back as
// duplicates.
TEST_F(ReplicaTest, PushBatchesShrinkUntilTheyCrossASlowLink) {
  auto anna = Tablet("anna");
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(anna->Create(scope_, Finding(absl::StrCat("F", i), 1)).status());
  }
  auto sizes = std::make_shared<std::vector<int>>();
  SyncOptions options = Fast();
  options.push_batch = 40;
  options.interceptors = [sizes] {
    client::Interceptors extra;
    extra.push_back(std::make_unique<SlowLinkFactory>(10, sizes));
    return extra;
  };
  auto report = anna->Sync(options);
  ASSERT_OK(report.status());
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 0u);
  EXPECT_TRUE(report->parked.empty());
  ASSERT_GE(sizes->size(), 4u);
  EXPECT_EQ(sizes->front(), 40);
  EXPECT_LE(sizes->back(), 10);
  EXPECT_GT(report->duplicates, 0u) << "the larger tries were applied";
  auto lena = Tablet("lena");
  ASSERT_OK(lena->Sync(Fast()).status());
  EXPECT_EQ(lena->List(scope_)->size(), 40u);
}

// --- Local store. ---

TEST_F(ReplicaTest, EditsSurviveReopeningTheStore) {
  const std::string dir = dir_.Sub("reopen");
  std::string id;
  {
    auto t = Replica::Open(dir);
    ASSERT_OK(t.status());
    ASSERT_OK((*t)->SetCredentials(Address(), server_.ReviewerToken()));
    ASSERT_OK((*t)->Follow(scope_));
    auto created = (*t)->Create(scope_, Finding("Offline", 2));
    ASSERT_OK(created.status());
    id = *created;
    // Another process cannot open it meanwhile.
    EXPECT_FALSE(Replica::Open(dir).ok());
  }
  auto t = Replica::Open(dir);
  ASSERT_OK(t.status());
  EXPECT_EQ((*t)->OutboxSize().value_or(~0ull), 1u);
  EXPECT_TRUE((*t)->Get(id)->pending);
  ASSERT_OK((*t)->Sync(Fast()).status());
  EXPECT_EQ((*t)->Get(id)->server_revision, 1u);
  EXPECT_EQ((*t)->Get(id)->body.finding().title(), "Offline");
}

TEST_F(ReplicaTest, TheVisitRecordIsCreatedUnderTheVisitsOwnId) {
  auto lena = Tablet("lena", v1::ROLE_TEAM_LEAD, v1::TEAM_ROLE_TEAM_LEAD);
  RecordBody visit;
  visit.mutable_visit()->set_announced(true);
  auto id = lena->Create(scope_, visit, visit_id_);
  ASSERT_OK(id.status());
  EXPECT_EQ(*id, visit_id_);
  EXPECT_EQ(lena->Create(scope_, visit, visit_id_).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(lena->Create(scope_, visit, "visit-1").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(lena->Sync(Fast()).status());
  EXPECT_EQ(lena->Get(visit_id_)->server_revision, 1u);
}

TEST_F(ReplicaTest, NothingInTheStoreFilesIsReadableWithoutTheKey) {
  const std::string dir = dir_.Sub("sealed");
  const std::string key(32, '\x5a');
  const std::string sentence = "The guard called Omar struck him twice on arrival.";
  const std::string token = server_.ReviewerToken();
  std::string photo;
  for (int i = 0; i < 20000; ++i) photo += "FACE-OF-DETAINEE-";
  std::string id;
  {
    auto t = Replica::Open(dir, key);
    ASSERT_OK(t.status());
    ASSERT_OK((*t)->SetCredentials(Address(), token));
    RecordBody interview;
    interview.mutable_interview()->set_notes(sentence + "\n");
    auto created = (*t)->Create(scope_, interview);
    ASSERT_OK(created.status());
    id = *created;
    std::ofstream(dir_.Sub("photo.jpg"), std::ios::binary) << photo;
    ASSERT_OK((*t)->Attach(scope_, dir_.Sub("photo.jpg"), v1::Attachment()).status());
    ASSERT_OK((*t)->Sync(Fast()).status());  // the sealed copy uploads as the plain bytes
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find("struck him"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("FACE-OF-DETAINEE"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(token), std::string::npos) << entry.path();
  }
  // Another key opens nothing; the right one everything.
  EXPECT_EQ(Replica::Open(dir, std::string(32, '\x11')).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto t = Replica::Open(dir, key);
  ASSERT_OK(t.status());
  EXPECT_EQ((*t)->Get(id)->body.interview().notes(), sentence + "\n");
  EXPECT_TRUE((*t)->Uploads()->at(0).uploaded());
}

TEST_F(ReplicaTest, AStoreSealedByAPassphraseOpensOnlyWithIt) {
  const std::string dir = dir_.Sub("by-passphrase");
  auto key = client::StoreKeyFromPassphrase(dir, "correct horse battery staple");
  ASSERT_OK(key.status());
  ASSERT_EQ(key->size(), 32u);
  EXPECT_TRUE(client::SealedByPassphrase(dir));
  std::string id;
  {
    auto t = Replica::Open(dir, *key);
    ASSERT_OK(t.status());
    ASSERT_OK((*t)->SetCredentials(Address(), server_.ReviewerToken()));
    auto created = (*t)->Create(scope_, Finding("Kept under a passphrase", 1));
    ASSERT_OK(created.status());
    id = *created;
  }
  struct stat st{};
  EXPECT_NE(::stat((dir + "/store.key").c_str(), &st), 0);  // no key beside the store
  // The same passphrase gives the same key; another opens nothing, and
  // neither does opening without one (which must not make a key file).
  auto again = client::StoreKeyFromPassphrase(dir, "correct horse battery staple");
  ASSERT_OK(again.status());
  EXPECT_EQ(*again, *key);
  auto wrong = client::StoreKeyFromPassphrase(dir, "correct horse battery stable");
  ASSERT_OK(wrong.status());
  EXPECT_EQ(Replica::Open(dir, *wrong).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Replica::Open(dir).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(::stat((dir + "/store.key").c_str(), &st), 0);
  auto t = Replica::Open(dir, *key);
  ASSERT_OK(t.status());
  EXPECT_EQ((*t)->Get(id)->body.finding().title(), "Kept under a passphrase");
  // Bad input changes nothing.
  EXPECT_EQ(client::StoreKeyFromPassphrase(dir_.Sub("other"), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto plain = Tablet("anna");
  EXPECT_EQ(client::StoreKeyFromPassphrase(dir_.Sub("anna-1"), "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReplicaTest, BadInputIsRefusedAndChangesNothing) {
  auto anna = Tablet("anna");
  EXPECT_EQ(anna->Follow("visits").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(anna->Create(scope_, RecordBody()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(anna->Edit("0190a000-0000-7000-8000-000000000000", Finding("x", 1)).code(),
            absl::StatusCode::kNotFound);
  auto id = anna->Create(scope_, Finding("F", 1));
  ASSERT_OK(id.status());
  RecordBody comment;
  comment.mutable_comment()->set_text("x");
  EXPECT_EQ(anna->Edit(*id, comment).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 1u);
  // A second enrollment of the same store is refused.
  EXPECT_EQ(anna->Enroll(Address(), "AAAA-BBBB-CCCC-DDDD", "again").code(),
            absl::StatusCode::kFailedPrecondition);
  // Plaintext to another host is refused before any byte is sent.
  auto other = Replica::Open(dir_.Sub("plain"));
  ASSERT_OK(other.status());
  for (const char* target : {"tablets.example.org:7443", "127.example.org:7443",
                             "127.0.0.1.example.org:7443", "[::2]:7443"}) {
    EXPECT_EQ((*other)->Enroll(client::PlaintextAddress(target), "code", "t").code(),
              absl::StatusCode::kInvalidArgument)
        << target;
  }
  for (const char* target : {"127.0.0.2:1", "[::1]:1", "localhost:1"}) {
    EXPECT_OK(client::ValidateAddress(client::PlaintextAddress(target))) << target;
  }
  // A store is one user's: another user's token is refused, the owner's
  // own (renewed) one is taken.
  EXPECT_EQ(anna->SetCredentials(Address(), server_.AdminToken()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(anna->Profile()->user_id(), "anna");
  EXPECT_OK(anna->SetCredentials(Address(), anna->Profile()->token()));
  // A revoked device's sync is refused as unauthenticated, nothing dropped.
  auto me = anna->Profile();
  {
    grpc::ClientContext ctx;
    v1::RevokeDeviceRequest request;
    request.set_device_id(me->device_id());
    v1::Device device;
    ASSERT_TRUE(server_.Admin()->RevokeDevice(&ctx, request, &device).ok());
  }
  EXPECT_EQ(anna->Sync(Fast()).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(anna->OutboxSize().value_or(~0ull), 1u);
}

}  // namespace
}  // namespace vigil
