// Authentication and authorization over real gRPC: every vigil.v1 method
// needs a token; the role x RPC x scope matrix; field redaction checked on
// the bytes that leave the server; token theft; purge on leaving a team;
// rate limits; audit entries for reads, failures, enrollment, revocation.
#include <cctype>
#include <fstream>
#include <iterator>
#include <future>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "absl/time/clock.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "client/channel.h"
#include "server/api/grpc_status.h"
#include "datadir/operator_commands.h"
#include "server/ops/tls_bootstrap.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "sync/ids.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil {
namespace {

using grpc::StatusCode;
using v1::Mutation;
using v1::PullResponse;
using v1::PushRequest;
using v1::PushResponse;

std::string NewId() {
  static std::mt19937_64 rng(11);
  static int counter = 0;
  sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  return *sync::NewUuidV7(absl::Now() + absl::Milliseconds(++counter), random);
}

Mutation Create(const std::string& scope, const v1::RecordBody& body,
                const std::string& id = NewId()) {
  static std::int64_t hlc = 1'700'000'000'000'000;
  Mutation m;
  m.set_mutation_id(NewId());
  m.set_record_id(id);
  *m.mutable_body() = body;
  m.mutable_hlc()->set_wall_time_micros(++hlc);
  m.set_scope(scope);
  return m;
}

v1::RecordBody Finding(const std::string& title) {
  v1::RecordBody body;
  body.mutable_finding()->set_title(title);
  return body;
}

v1::RecordBody Facility(const std::string& name) {
  v1::RecordBody body;
  body.mutable_facility()->set_name(name);
  return body;
}

std::string Reason(const grpc::Status& s) {
  auto info = client::ErrorInfoOf(s);
  return info.ok() ? info->reason() : "<none>";
}

// One user's view of the server.
class Client {
 public:
  Client(testing::TestServer& server, const std::string& token)
      : token_(token),
        channel_(server.ChannelWithToken(token)),
        sync_(v1::SyncService::NewStub(channel_)),
        admin_(v1::AdminService::NewStub(channel_)) {}

  grpc::Status Push(const std::vector<Mutation>& mutations, PushResponse* out = nullptr) {
    grpc::ClientContext ctx;
    PushRequest request;
    for (const auto& m : mutations) *request.add_mutations() = m;
    PushResponse ignored;
    return sync_->Push(&ctx, request, out ? out : &ignored);
  }

  grpc::Status Pull(const std::string& scope, PullResponse* out, std::string* bytes = nullptr,
                    const std::string& cursor = "") {
    // Through the generic stub too, to see the exact bytes that left the
    // server.
    grpc::ClientContext ctx;
    v1::PullRequest request;
    request.set_scope(scope);
    request.set_cursor(cursor);
    grpc::Status s = sync_->Pull(&ctx, request, out);
    if (bytes != nullptr) *bytes = out->SerializeAsString();
    return s;
  }

  grpc::Status History(const std::string& record_id, v1::GetHistoryResponse* out) {
    grpc::ClientContext ctx;
    v1::GetHistoryRequest request;
    request.set_record_id(record_id);
    return sync_->GetHistory(&ctx, request, out);
  }

  grpc::Status Receipt(const std::string& scope, v1::Receipt* out) {
    grpc::ClientContext ctx;
    v1::GetReceiptRequest request;
    request.set_scope(scope);
    return sync_->GetReceipt(&ctx, request, out);
  }

  // An allowed subscription stays open: it ends at the short deadline.
  grpc::Status Subscribe(const std::string& scope) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    v1::SubscribeRequest request;
    request.add_scopes(scope);
    auto reader = sync_->Subscribe(&ctx, request);
    v1::ChangeNotice notice;
    while (reader->Read(&notice)) {
    }
    return reader->Finish();
  }

  grpc::Status Upload(const std::string& scope, const std::string& content,
                      v1::AttachmentStatus* out = nullptr) {
    grpc::ClientContext ctx;
    v1::AttachmentStatus ignored;
    auto writer = sync_->UploadAttachment(&ctx, out ? out : &ignored);
    v1::UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(Sha256::HexOf(content));
    header.mutable_header()->set_size(content.size());
    header.mutable_header()->set_scope(scope);
    v1::UploadAttachmentRequest chunk;
    chunk.mutable_chunk()->set_data(content);
    chunk.mutable_chunk()->set_sha256(Sha256::HexOf(content));
    if (writer->Write(header)) writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status AttachmentStatus(const std::string& scope, const std::string& sha) {
    grpc::ClientContext ctx;
    v1::GetAttachmentStatusRequest request;
    request.set_scope(scope);
    request.set_sha256(sha);
    v1::AttachmentStatus out;
    return sync_->GetAttachmentStatus(&ctx, request, &out);
  }

  grpc::Status Download(const std::string& scope, const std::string& sha,
                        std::string* bytes = nullptr) {
    grpc::ClientContext ctx;
    v1::DownloadAttachmentRequest request;
    request.set_scope(scope);
    request.set_sha256(sha);
    auto reader = sync_->DownloadAttachment(&ctx, request);
    v1::AttachmentChunk chunk;
    while (reader->Read(&chunk)) {
      if (bytes != nullptr) *bytes += chunk.data();
    }
    return reader->Finish();
  }

  v1::SyncService::Stub& sync() { return *sync_; }
  v1::AdminService::Stub& admin() { return *admin_; }

 private:
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SyncService::Stub> sync_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(server::ServerConfig config) {
    server_ = std::make_unique<testing::TestServer>(config);
    ASSERT_OK(server_->status());
    visit_a_ = NewId();
    visit_b_ = NewId();
    own_ = "visits/" + visit_a_;
    other_ = "visits/" + visit_b_;
    Enroll("reviewer", v1::ROLE_NPM_REVIEWER);
    Enroll("service", v1::ROLE_SERVICE_ACCOUNT);
    Enroll("lead", v1::ROLE_TEAM_LEAD, v1::TEAM_ROLE_TEAM_LEAD);
    Enroll("monitor", v1::ROLE_FIELD_MONITOR, v1::TEAM_ROLE_MONITOR);
    Enroll("medic", v1::ROLE_MEDICAL_EXPERT, v1::TEAM_ROLE_MEDICAL_EXPERT);
    tokens_["admin"] = server_->AdminToken();
  }

  void Enroll(const std::string& user, v1::Role role,
              v1::TeamRole team_role = v1::TEAM_ROLE_UNSPECIFIED) {
    auto token = server_->EnrollUser(user, role);
    ASSERT_OK(token);
    tokens_[user] = *token;
    if (team_role != v1::TEAM_ROLE_UNSPECIFIED) {
      ASSERT_OK(server_->AddToTeam(visit_a_, user, team_role));
    }
  }

  Client As(const std::string& user) { return Client(*server_, tokens_.at(user)); }

  // An interview in visit A, interviewed by "monitor", and the identity
  // record of the person interviewed (not pushed).
  std::pair<Mutation, Mutation> InterviewWithIdentity(const std::string& notes,
                                                      const std::string& full_name) {
    v1::RecordBody interview;
    interview.mutable_interview()->set_visit_id(visit_a_);
    interview.mutable_interview()->set_pseudonym("Detainee 7");
    if (!notes.empty()) interview.mutable_interview()->set_notes(notes);
    interview.mutable_interview()->add_interviewer_user_ids("monitor");
    Mutation interview_m = Create(own_, interview);
    v1::RecordBody identity;
    identity.mutable_identity()->set_interview_id(interview_m.record_id());
    identity.mutable_identity()->set_full_name(full_name);
    return {interview_m, Create(own_, identity)};
  }

  std::unique_ptr<testing::TestServer> server_;
  std::map<std::string, std::string> tokens_;
  std::string visit_a_, visit_b_, own_, other_;
};

TEST_F(AccessTest, EveryVigilMethodRefusesCallsWithoutAToken) {
  server::ServerConfig config;
  config.auth_failures_per_minute = 1000;  // every method fails once here
  Start(config);
  auto channel = server_->ChannelWithToken("");
  grpc::GenericStub generic(channel);
  std::set<std::string> covered;
  for (const char* service_name :
       {"vigil.v1.SyncService", "vigil.v1.AdminService", "vigil.v1.ReviewService",
        "vigil.v1.ReportService"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* method = service->method(i);
      if (method->client_streaming() || method->server_streaming()) continue;
      const std::string path = "/" + std::string(service_name) + "/" + method->name();
      grpc::ClientContext ctx;
      grpc::ByteBuffer request, response;
      grpc::Slice empty("");
      request = grpc::ByteBuffer(&empty, 1);
      std::promise<grpc::Status> done;
      generic.UnaryCall(&ctx, path, grpc::StubOptions(), &request, &response,
                        [&](grpc::Status s) { done.set_value(s); });
      grpc::Status s = done.get_future().get();
      EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED) << path << ": " << s.error_message();
      covered.insert(path);
    }
  }
  // The streaming methods, through their stubs.
  Client anonymous(*server_, "");
  EXPECT_EQ(anonymous.Subscribe(own_).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(anonymous.Upload(own_, "x").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(anonymous.Download(own_, std::string(64, 'a')).error_code(),
            StatusCode::UNAUTHENTICATED);
  covered.insert({"/vigil.v1.SyncService/Subscribe", "/vigil.v1.SyncService/UploadAttachment",
                  "/vigil.v1.SyncService/DownloadAttachment"});
  int total = 0;
  for (const char* name :
       {"vigil.v1.SyncService", "vigil.v1.AdminService", "vigil.v1.ReviewService",
        "vigil.v1.ReportService"}) {
    total += google::protobuf::DescriptorPool::generated_pool()
                 ->FindServiceByName(name)
                 ->method_count();
  }
  EXPECT_EQ(static_cast<int>(covered.size()), total) << "a method is not covered by this test";
}

TEST_F(AccessTest, MalformedAndForeignTokensAreRefused) {
  Client garbage(*server_, "not-a-token");
  PullResponse page;
  grpc::Status s = garbage.Pull("registry", &page);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "TOKEN_UNKNOWN");
  // A real token of another server means nothing here.
  testing::TestServer elsewhere;
  ASSERT_OK(elsewhere.status());
  Client foreign(*server_, elsewhere.ReviewerToken());
  s = foreign.Pull("registry", &page);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "TOKEN_UNKNOWN");
  // No "Bearer " prefix.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", tokens_["reviewer"]);
  v1::PullRequest request;
  request.set_scope("registry");
  s = v1::SyncService::NewStub(server_->ChannelWithToken(""))->Pull(&ctx, request, &page);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "CREDENTIALS_MALFORMED");
}

// role x RPC x scope: every cell with its exact status.
TEST_F(AccessTest, RoleRpcScopeMatrix) {
  // Seed each scope with a record and an attachment, as a reviewer.
  Client reviewer = As("reviewer");
  std::map<std::string, std::string> record_of, sha_of;
  for (const std::string& scope : {own_, other_, std::string("registry")}) {
    Mutation m = Create(scope, scope == "registry" ? Facility("Prison X") : Finding("seed"));
    ASSERT_TRUE(reviewer.Push({m}).ok());
    record_of[scope] = m.record_id();
    const std::string content = "photo of " + scope;
    ASSERT_TRUE(reviewer.Upload(scope, content).ok());
    sha_of[scope] = Sha256::HexOf(content);
  }
  struct Rights {
    std::set<std::string> read, write;
  };
  const std::string registry = "registry";
  const std::map<std::string, Rights> expected = {
      {"admin", {{}, {}}},
      {"reviewer", {{own_, other_, registry}, {own_, other_, registry}}},
      {"service", {{own_, other_, registry}, {}}},
      {"lead", {{own_, registry}, {own_}}},
      {"monitor", {{own_, registry}, {own_}}},
      {"medic", {{own_, registry}, {own_}}},
  };
  int n = 0;
  for (const auto& [user, rights] : expected) {
    Client client = As(user);
    for (const std::string& scope : {own_, other_, registry}) {
      const StatusCode read =
          rights.read.count(scope) ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
      const StatusCode write =
          rights.write.count(scope) ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
      const std::string cell = user + " @ " + scope;
      PullResponse page;
      EXPECT_EQ(client.Pull(scope, &page).error_code(), read) << "Pull " << cell;
      v1::GetHistoryResponse history;
      EXPECT_EQ(client.History(record_of[scope], &history).error_code(), read)
          << "GetHistory " << cell;
      v1::Receipt receipt;
      EXPECT_EQ(client.Receipt(scope, &receipt).error_code(), read) << "GetReceipt " << cell;
      EXPECT_EQ(client.Subscribe(scope).error_code(),
                read == StatusCode::OK ? StatusCode::DEADLINE_EXCEEDED : read)
          << "Subscribe " << cell;
      // Services never get attachment bytes (photos show people).
      const StatusCode bytes = user == "service" ? StatusCode::PERMISSION_DENIED : read;
      EXPECT_EQ(client.AttachmentStatus(scope, sha_of[scope]).error_code(), bytes)
          << "GetAttachmentStatus " << cell;
      EXPECT_EQ(client.Download(scope, sha_of[scope]).error_code(), bytes)
          << "DownloadAttachment " << cell;
      Mutation m = Create(scope, scope == registry ? Facility("New") : Finding("new"));
      EXPECT_EQ(client.Push({m}).error_code(), write) << "Push " << cell;
      EXPECT_EQ(client.Upload(scope, "new content by " + user).error_code(), write)
          << "UploadAttachment " << cell;
      n += 8;
    }
  }
  EXPECT_EQ(n, 6 * 3 * 8);
}

TEST_F(AccessTest, DeniedCallersLearnNothingAboutExistence) {
  Client reviewer = As("reviewer");
  Mutation secret = Create(other_, Finding("in visit B"));
  ASSERT_TRUE(reviewer.Push({secret}).ok());
  Client monitor = As("monitor");
  v1::GetHistoryResponse history;
  grpc::Status existing = monitor.History(secret.record_id(), &history);
  grpc::Status missing = monitor.History(NewId(), &history);
  EXPECT_EQ(existing.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(missing.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(existing.error_message(), missing.error_message());
  // An edit of B's record, claiming to be in A, is refused like any other.
  Mutation edit = Create(own_, Finding("overwrite"), secret.record_id());
  edit.set_base_revision(1);
  grpc::Status pushed = monitor.Push({edit});
  EXPECT_EQ(pushed.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(pushed), "SCOPE_NOT_PERMITTED");
  Mutation edit_missing = Create(other_, Finding("x"));
  edit_missing.set_base_revision(1);
  EXPECT_EQ(monitor.Push({edit_missing}).error_code(), StatusCode::PERMISSION_DENIED);
}

// Concurrent edits of a hidden narrative that merge cleanly leave each
// edit's own text on the record (for later merges): it never leaves the
// server for a caller who may not see the field.
TEST_F(AccessTest, CleanNarrativeMergesAreRedactedToo) {
  Client monitor = As("monitor");
  v1::RecordBody interview;
  interview.mutable_interview()->set_visit_id(visit_a_);
  interview.mutable_interview()->set_pseudonym("Detainee 9");
  interview.mutable_interview()->set_notes("first\nsecond\nthird\n");
  interview.mutable_interview()->add_interviewer_user_ids("monitor");
  Mutation created = Create(own_, interview);
  ASSERT_TRUE(monitor.Push({created}).ok());
  Mutation one = Create(own_, interview, created.record_id());
  one.set_base_revision(1);
  one.mutable_body()->mutable_interview()->set_notes("Secret-one\nsecond\nthird\n");
  Mutation two = Create(own_, interview, created.record_id());
  two.set_base_revision(1);
  two.mutable_body()->mutable_interview()->set_notes("first\nsecond\nSecret-two\n");
  ASSERT_TRUE(monitor.Push({one}).ok());
  ASSERT_TRUE(monitor.Push({two}).ok());

  PullResponse page;
  std::string bytes;
  ASSERT_TRUE(As("lead").Pull(own_, &page, &bytes).ok());
  bool merged = false;
  for (const auto& r : page.records()) {
    merged = merged || r.body().interview().notes() == "Secret-one\nsecond\nSecret-two\n";
  }
  EXPECT_TRUE(merged);
  for (const char* user : {"medic", "service"}) {
    ASSERT_TRUE(As(user).Pull(own_, &page, &bytes).ok()) << user;
    EXPECT_EQ(bytes.find("Secret-"), std::string::npos) << user;
    v1::GetHistoryResponse history;
    ASSERT_TRUE(As(user).History(created.record_id(), &history).ok()) << user;
    EXPECT_EQ(history.SerializeAsString().find("Secret-"), std::string::npos) << user;
  }
}

// Who sees an identity record is decided by its interview's interviewers:
// when they change, those who lose it or gain it pull the scope again from
// the start (reset), so the identity leaves the devices of those who may no
// longer see it and reaches those who now may, though it did not change.
TEST_F(AccessTest, IdentitiesFollowTheirInterviewsInterviewers) {
  const std::string kName = "Ivan Detainee-Realname";
  Client monitor = As("monitor");
  const auto [interview_m, identity_m] = InterviewWithIdentity("", kName);
  ASSERT_TRUE(monitor.Push({interview_m, identity_m}).ok());

  std::map<std::string, std::string> cursor;
  auto pull = [&](const std::string& user, PullResponse* page) {
    std::string bytes;
    EXPECT_TRUE(As(user).Pull(own_, page, &bytes, cursor[user]).ok()) << user;
    cursor[user] = page->next_cursor();
    return bytes;
  };
  PullResponse page;
  EXPECT_NE(pull("monitor", &page).find(kName), std::string::npos);
  EXPECT_EQ(pull("medic", &page).find(kName), std::string::npos);
  EXPECT_NE(pull("lead", &page).find(kName), std::string::npos);
  pull("monitor", &page);  // nothing new
  EXPECT_FALSE(page.reset());
  EXPECT_EQ(page.records_size(), 0);

  // The lead hands the interview to the medical expert.
  Mutation handed = interview_m;
  handed.set_mutation_id(NewId());
  handed.set_base_revision(1);
  handed.mutable_body()->mutable_interview()->clear_interviewer_user_ids();
  handed.mutable_body()->mutable_interview()->add_interviewer_user_ids("medic");
  ASSERT_TRUE(As("lead").Push({handed}).ok());

  std::string bytes = pull("monitor", &page);
  EXPECT_TRUE(page.reset());
  EXPECT_EQ(bytes.find(kName), std::string::npos);
  bool has_identity = false;
  for (const auto& r : page.records()) has_identity |= r.id() == identity_m.record_id();
  EXPECT_FALSE(has_identity);
  bytes = pull("medic", &page);
  EXPECT_TRUE(page.reset());
  EXPECT_NE(bytes.find(kName), std::string::npos);
  // The lead's view did not change: only the new revision of the interview.
  pull("lead", &page);
  EXPECT_FALSE(page.reset());
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.records(0).id(), interview_m.record_id());
  // Once reset, the next pull goes on from there.
  pull("monitor", &page);
  EXPECT_FALSE(page.reset());
  EXPECT_EQ(page.records_size(), 0);
}

TEST_F(AccessTest, FieldsAreRedactedInTheBytesThatLeave) {
  const std::string kNotes = "He said the guard named Petrov beat him on 3 May";
  const std::string kName = "Ivan Detainee-Realname";
  const std::string kInjury = "bruising consistent with baton blows";
  Client monitor = As("monitor");
  Client medic = As("medic");

  const auto [interview_m, identity_m] = InterviewWithIdentity(kNotes, kName);
  ASSERT_TRUE(monitor.Push({interview_m, identity_m}).ok());
  v1::RecordBody medical;
  medical.mutable_medical_finding()->set_visit_id(visit_a_);
  medical.mutable_medical_finding()->set_injuries_observed(kInjury);
  medical.mutable_medical_finding()->set_consent_to_examination(true);
  Mutation medical_m = Create(own_, medical);
  ASSERT_TRUE(medic.Push({medical_m}).ok());

  auto pull = [&](const std::string& user) {
    PullResponse page;
    std::string bytes;
    EXPECT_TRUE(As(user).Pull(own_, &page, &bytes).ok()) << user;
    std::map<std::string, v1::Record> by_id;
    for (const auto& r : page.records()) by_id[r.id()] = r;
    return std::make_pair(bytes, by_id);
  };
  auto contains = [](const std::string& bytes, const std::string& what) {
    return bytes.find(what) != std::string::npos;
  };
  // The interviewer sees the notes and the identity, not the clinical detail.
  {
    auto [bytes, records] = pull("monitor");
    EXPECT_TRUE(contains(bytes, kNotes));
    EXPECT_TRUE(contains(bytes, kName));
    EXPECT_FALSE(contains(bytes, kInjury));
    ASSERT_TRUE(records.count(medical_m.record_id()));
    EXPECT_TRUE(records[medical_m.record_id()].body().medical_finding().consent_to_examination());
    EXPECT_EQ(records[medical_m.record_id()].withheld_fields_size(), 5);
    EXPECT_TRUE(records[interview_m.record_id()].withheld_fields().empty());
  }
  // The medical expert sees clinical detail, not notes or identities.
  {
    auto [bytes, records] = pull("medic");
    EXPECT_FALSE(contains(bytes, kNotes));
    EXPECT_FALSE(contains(bytes, kName));
    EXPECT_TRUE(contains(bytes, kInjury));
    EXPECT_TRUE(records.count(interview_m.record_id()));  // without its notes
    EXPECT_EQ(records[interview_m.record_id()].body().interview().pseudonym(), "Detainee 7");
    // ... and says so: the notes are withheld, not empty.
    EXPECT_EQ(std::vector<std::string>(
                  records[interview_m.record_id()].withheld_fields().begin(),
                  records[interview_m.record_id()].withheld_fields().end()),
              std::vector<std::string>{"notes"});
    EXPECT_TRUE(records[medical_m.record_id()].withheld_fields().empty());
    EXPECT_FALSE(records.count(identity_m.record_id()));
  }
  // Team lead and reviewers see everything.
  for (const char* user : {"lead", "reviewer"}) {
    auto [bytes, records] = pull(user);
    EXPECT_TRUE(contains(bytes, kNotes)) << user;
    EXPECT_TRUE(contains(bytes, kName)) << user;
    EXPECT_TRUE(contains(bytes, kInjury)) << user;
  }
  // Service accounts: no notes, no identities, no clinical detail.
  {
    auto [bytes, records] = pull("service");
    EXPECT_FALSE(contains(bytes, kNotes));
    EXPECT_FALSE(contains(bytes, kName));
    EXPECT_FALSE(contains(bytes, kInjury));
  }
  // History and receipts are redacted the same way.
  v1::GetHistoryResponse history;
  ASSERT_TRUE(medic.History(interview_m.record_id(), &history).ok());
  EXPECT_FALSE(contains(history.SerializeAsString(), kNotes));
  EXPECT_EQ(medic.History(identity_m.record_id(), &history).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::Receipt receipt;
  ASSERT_TRUE(medic.Receipt(own_, &receipt).ok());
  EXPECT_FALSE(contains(receipt.manifest(), identity_m.record_id()));
  ASSERT_TRUE(monitor.Receipt(own_, &receipt).ok());
  EXPECT_TRUE(contains(receipt.manifest(), identity_m.record_id()));

  // Nobody changes what they do not see in full.
  Mutation overwrite = Create(own_, interview_m.body(), interview_m.record_id());
  overwrite.set_base_revision(1);
  overwrite.mutable_body()->mutable_interview()->clear_notes();
  EXPECT_EQ(medic.Push({overwrite}).error_code(), StatusCode::PERMISSION_DENIED);
  // ... nor create an identity for someone else's interview.
  Mutation foreign_identity = Create(own_, identity_m.body());
  EXPECT_EQ(medic.Push({foreign_identity}).error_code(), StatusCode::PERMISSION_DENIED);

  // Sensitive reads are in the audit log, by user and record.
  std::ostringstream log;
  ASSERT_OK(datadir::RunAuditExport(server_->dir().Sub("data"), log));
  EXPECT_NE(log.str().find("\"principal\":\"medic\"") , std::string::npos);
  EXPECT_NE(log.str().find("\"action\":\"record.read\",\"target\":\"records/" +
                           interview_m.record_id()),
            std::string::npos);
}

TEST_F(AccessTest, UnannouncedVisitPlansAreWithheldFromServices) {
  v1::RecordBody visit;
  visit.mutable_visit()->set_announced(false);
  visit.mutable_visit()->set_state(v1::VISIT_STATE_PLANNED);
  visit.mutable_visit()->set_objectives("Unannounced night visit to block C");
  Mutation plan = Create(own_, visit, visit_a_);
  Client reviewer = As("reviewer");
  PushResponse pushed;
  ASSERT_TRUE(reviewer.Push({plan}, &pushed).ok());
  PullResponse page;
  ASSERT_TRUE(As("service").Pull(own_, &page).ok());
  EXPECT_EQ(page.records_size(), 0);
  EXPECT_EQ(page.SerializeAsString().find("night visit"), std::string::npos);
  // Once under way it is no longer a secret plan.
  Mutation started = Create(own_, visit, visit_a_);
  started.set_base_revision(pushed.results(0).revision());
  started.mutable_body()->mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
  PushResponse pushed_started;
  ASSERT_TRUE(reviewer.Push({started}, &pushed_started).ok());
  ASSERT_TRUE(As("service").Pull(own_, &page).ok());
  EXPECT_EQ(page.records_size(), 1);
  // Its history does not show the plan either.
  v1::GetHistoryResponse history;
  ASSERT_TRUE(As("service").History(visit_a_, &history).ok());
  ASSERT_EQ(history.revisions_size(), 1);
  EXPECT_EQ(history.revisions(0).revision(), pushed_started.results(0).revision());
  ASSERT_TRUE(As("reviewer").History(visit_a_, &history).ok());
  EXPECT_EQ(history.revisions_size(), 2);
  // Taken back to an unannounced plan: services start the scope again and
  // the plan is no longer in what they receive.
  const std::string cursor = page.next_cursor();
  Mutation replanned = started;
  replanned.set_mutation_id(NewId());
  replanned.set_base_revision(pushed_started.results(0).revision());
  replanned.mutable_body()->mutable_visit()->set_state(v1::VISIT_STATE_PLANNED);
  ASSERT_TRUE(reviewer.Push({replanned}).ok());
  std::string bytes;
  ASSERT_TRUE(As("service").Pull(own_, &page, &bytes, cursor).ok());
  EXPECT_TRUE(page.reset());
  EXPECT_EQ(page.records_size(), 0);
  EXPECT_EQ(bytes.find("night visit"), std::string::npos);
}

// The review workflow's states belong to the NPM unit, and once a visit is
// approved its team changes nothing of it, not even its visit record: what
// they push is held as a late submission, a delete of the visit record too.
TEST_F(AccessTest, ALockedVisitIsTheNpmUnitsToMove) {
  Client monitor = As("monitor"), lead = As("lead"), reviewer = As("reviewer");
  v1::RecordBody visit;
  visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
  visit.mutable_visit()->set_summary("Block C visited");
  std::uint64_t revision = 0;
  auto move = [&](Client& who, v1::VisitState to, PushResponse* out = nullptr,
                  const std::string& note = "") {
    Mutation m = Create(own_, visit, visit_a_);
    m.set_base_revision(revision);
    m.mutable_body()->mutable_visit()->set_state(to);
    m.mutable_visit_transition()->set_note(note);
    PushResponse response;
    grpc::Status s = who.Push({m}, &response);
    if (s.ok() && !response.results(0).late_submission()) {
      revision = response.results(0).revision();
    }
    if (out != nullptr) *out = response;
    return s;
  };
  ASSERT_TRUE(move(monitor, v1::VISIT_STATE_IN_PROGRESS).ok());
  for (Client* who : {&monitor, &lead, &reviewer}) {
    grpc::Status s = move(*who, v1::VISIT_STATE_APPROVED);
    EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(Reason(s), "VISIT_TRANSITION_NOT_ALLOWED");
  }
  grpc::Status by_monitor = move(monitor, v1::VISIT_STATE_SUBMITTED);
  EXPECT_EQ(by_monitor.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(by_monitor), "VISIT_TRANSITION_NOT_PERMITTED");
  ASSERT_TRUE(move(lead, v1::VISIT_STATE_SUBMITTED).ok());
  grpc::Status by_lead = move(lead, v1::VISIT_STATE_IN_REVIEW);
  EXPECT_EQ(by_lead.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(by_lead), "VISIT_TRANSITION_NOT_PERMITTED");
  ASSERT_TRUE(move(reviewer, v1::VISIT_STATE_IN_REVIEW).ok());
  ASSERT_TRUE(move(reviewer, v1::VISIT_STATE_APPROVED).ok());
  const std::uint64_t approved = revision;

  // Locked: an edit of the visit record's other fields, a delete of it and
  // a new finding from the team are all held, none applied.
  Mutation edit = Create(own_, visit, visit_a_);
  edit.set_base_revision(approved);
  edit.mutable_body()->mutable_visit()->set_state(v1::VISIT_STATE_APPROVED);
  edit.mutable_body()->mutable_visit()->set_summary("Block C was fine");
  Mutation del = Create(own_, v1::RecordBody(), visit_a_);
  del.set_base_revision(approved);
  del.set_delete_(true);
  Mutation finding = Create(own_, Finding("after approval"));
  for (Client* who : {&monitor, &lead}) {
    for (const Mutation& m : {edit, del, finding}) {
      Mutation fresh = m;
      fresh.set_mutation_id(NewId());
      PushResponse held;
      ASSERT_TRUE(who->Push({fresh}, &held).ok());
      EXPECT_TRUE(held.results(0).late_submission());
      EXPECT_EQ(held.results(0).revision(), 0u);
    }
  }
  PullResponse page;
  ASSERT_TRUE(reviewer.Pull(own_, &page).ok());
  ASSERT_EQ(page.records_size(), 1) << "only the visit record";
  EXPECT_EQ(page.records(0).revision(), approved);
  EXPECT_FALSE(page.records(0).deleted());
  EXPECT_EQ(page.records(0).body().visit().summary(), "Block C visited");

  // The NPM unit reopens it (with the reason it must give) and sends it
  // back; the team writes again.
  EXPECT_EQ(Reason(move(reviewer, v1::VISIT_STATE_IN_REVIEW)), "NOTE_REQUIRED");
  ASSERT_TRUE(move(reviewer, v1::VISIT_STATE_IN_REVIEW, nullptr, "photos missing").ok());
  ASSERT_TRUE(move(reviewer, v1::VISIT_STATE_CHANGES_REQUESTED, nullptr, "add photos").ok());
  EXPECT_GT(revision, approved);
  PushResponse applied;
  ASSERT_TRUE(monitor.Push({Create(own_, Finding("after changes requested"))}, &applied).ok());
  EXPECT_FALSE(applied.results(0).late_submission());
  EXPECT_EQ(applied.results(0).revision(), 1u);
}

// Knowing a photo's hash is not having it: beginning an upload, or storing
// a guessed first byte, links nothing. The scope that proves every byte
// takes the upload over, and only it may read the content; a receipt lists
// only what its scope may read.
TEST_F(AccessTest, BeginningAnUploadGrantsNothing) {
  auto token = server_->EnrollUser("outsider", v1::ROLE_FIELD_MONITOR);
  ASSERT_OK(token);
  tokens_["outsider"] = *token;
  ASSERT_OK(server_->AddToTeam(visit_b_, "outsider", v1::TEAM_ROLE_MONITOR));
  Client outsider = As("outsider"), monitor = As("monitor");
  const std::string photo = "photo of the injuries, taken in cell 4";
  const std::string sha = Sha256::HexOf(photo);
  auto send = [&](Client& who, const std::string& scope, std::uint64_t offset,
                  const std::string& bytes, v1::AttachmentStatus* out) {
    grpc::ClientContext ctx;
    auto writer = who.sync().UploadAttachment(&ctx, out);
    v1::UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(sha);
    header.mutable_header()->set_size(photo.size());
    header.mutable_header()->set_scope(scope);
    bool open = writer->Write(header);
    if (open && !bytes.empty()) {
      v1::UploadAttachmentRequest chunk;
      chunk.mutable_chunk()->set_offset(offset);
      chunk.mutable_chunk()->set_data(bytes);
      chunk.mutable_chunk()->set_sha256(Sha256::HexOf(bytes));
      writer->Write(chunk);
    }
    writer->WritesDone();
    return writer->Finish();
  };
  // The outsider begins an upload of the hash in their own visit and
  // stores its first byte (a JPEG's is no secret).
  v1::AttachmentStatus status;
  ASSERT_TRUE(send(outsider, other_, 0, photo.substr(0, 1), &status).ok());
  EXPECT_EQ(status.received(), 1u);
  EXPECT_TRUE(outsider.AttachmentStatus(other_, sha).ok()) << "their upload, to resume";
  // The monitor who took the photo proves all of it, takes the upload over
  // and finishes it.
  ASSERT_TRUE(send(monitor, own_, 0, photo, &status).ok());
  EXPECT_FALSE(status.complete());
  // The outsider's resume is now a demand to prove every byte from 0.
  EXPECT_EQ(Reason(send(outsider, other_, 1, photo.substr(1), &status)), "CHUNK_OFFSET_MISMATCH");
  ASSERT_TRUE(send(monitor, own_, status.received(), photo.substr(status.received()), &status)
                  .ok());
  EXPECT_TRUE(status.complete());
  std::string bytes;
  ASSERT_TRUE(monitor.Download(own_, sha, &bytes).ok());
  EXPECT_EQ(bytes, photo);
  // The outsider reads nothing of it, and their visit's receipt does not
  // claim it even where a record there names it.
  EXPECT_EQ(outsider.Download(other_, sha).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(outsider.AttachmentStatus(other_, sha).error_code(), StatusCode::NOT_FOUND);
  v1::RecordBody named;
  named.mutable_attachment()->set_sha256(sha);
  ASSERT_TRUE(outsider.Push({Create(other_, named)}).ok());
  ASSERT_TRUE(monitor.Push({Create(own_, named)}).ok());
  for (auto [who, scope, listed] : {std::tuple{&outsider, other_, false},
                                    std::tuple{&monitor, own_, true}}) {
    v1::Receipt receipt;
    ASSERT_TRUE(who->Receipt(scope, &receipt).ok());
    v1::ReceiptManifest manifest;
    ASSERT_TRUE(manifest.ParseFromString(receipt.manifest()));
    EXPECT_EQ(manifest.attachment_sha256_size(), listed ? 1 : 0) << scope;
  }
}

// Each revision in a history is shown as it itself may be seen: a photo's
// description from while it was marked identifiable never reaches services,
// even once the photo no longer is.
TEST_F(AccessTest, HistoryShowsEachRevisionAsItMayBeSeen) {
  v1::RecordBody photo;
  photo.mutable_attachment()->set_sha256(Sha256::HexOf("photo"));
  photo.mutable_attachment()->set_identifiable(true);
  photo.mutable_attachment()->set_caption("Face of the detainee in cell 4");
  Mutation first = Create(own_, photo);
  PushResponse pushed;
  ASSERT_TRUE(As("monitor").Push({first}, &pushed).ok());
  Mutation blurred = first;
  blurred.set_mutation_id(NewId());
  blurred.set_base_revision(pushed.results(0).revision());
  blurred.mutable_body()->mutable_attachment()->set_identifiable(false);
  blurred.mutable_body()->mutable_attachment()->set_caption("Cell 4, faces blurred");
  ASSERT_TRUE(As("monitor").Push({blurred}).ok());
  v1::GetHistoryResponse history;
  ASSERT_TRUE(As("service").History(first.record_id(), &history).ok());
  ASSERT_EQ(history.revisions_size(), 1);
  EXPECT_EQ(history.revisions(0).body().attachment().caption(), "Cell 4, faces blurred");
  EXPECT_EQ(history.SerializeAsString().find("Face of the detainee"), std::string::npos);
  ASSERT_TRUE(As("monitor").History(first.record_id(), &history).ok());
  EXPECT_EQ(history.revisions_size(), 2);
}

TEST_F(AccessTest, LeavingTheTeamPurgesTheScope) {
  Client monitor = As("monitor");
  ASSERT_TRUE(monitor.Push({Create(own_, Finding("mine"))}).ok());
  grpc::ClientContext ctx;
  v1::RemoveTeamMemberRequest request;
  request.set_visit_id(visit_a_);
  request.set_user_id("monitor");
  v1::RemoveTeamMemberResponse removed;
  ASSERT_TRUE(server_->Admin()->RemoveTeamMember(&ctx, request, &removed).ok());
  PullResponse page;
  ASSERT_TRUE(monitor.Pull(own_, &page).ok());
  EXPECT_TRUE(page.purge());
  EXPECT_EQ(page.records_size(), 0);
  EXPECT_EQ(monitor.Push({Create(own_, Finding("late"))}).error_code(),
            StatusCode::PERMISSION_DENIED);
  // Back on the team: syncing again.
  ASSERT_OK(server_->AddToTeam(visit_a_, "monitor", v1::TEAM_ROLE_MONITOR));
  ASSERT_TRUE(monitor.Pull(own_, &page).ok());
  EXPECT_FALSE(page.purge());
  EXPECT_EQ(page.records_size(), 1);
}

TEST_F(AccessTest, OpenSubscriptionsEndWhenRightsChange) {
  // A stream opened before the change, with its first notice read.
  auto open = [&](Client& client, grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SubscribeRequest request;
    request.add_scopes(own_);
    auto reader = client.sync().Subscribe(&ctx, request);
    v1::ChangeNotice notice;
    EXPECT_TRUE(reader->Read(&notice));
    return reader;
  };
  auto admin = server_->Admin();

  Client monitor = As("monitor");
  grpc::ClientContext team_ctx;
  auto team_stream = open(monitor, team_ctx);
  {
    grpc::ClientContext ctx;
    v1::RemoveTeamMemberRequest request;
    request.set_visit_id(visit_a_);
    request.set_user_id("monitor");
    v1::RemoveTeamMemberResponse removed;
    ASSERT_TRUE(admin->RemoveTeamMember(&ctx, request, &removed).ok());
  }
  v1::ChangeNotice notice;
  EXPECT_FALSE(team_stream->Read(&notice));
  grpc::Status ended = team_stream->Finish();
  EXPECT_EQ(ended.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(ended), "TEAM_CHANGED");

  Client lead = As("lead");
  grpc::ClientContext revoke_ctx;
  auto revoke_stream = open(lead, revoke_ctx);
  v1::WhoAmIResponse me;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(lead.admin().WhoAmI(&ctx, v1::WhoAmIRequest(), &me).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::RevokeDeviceRequest request;
    request.set_device_id(me.device().device_id());
    v1::Device revoked;
    ASSERT_TRUE(admin->RevokeDevice(&ctx, request, &revoked).ok());
  }
  EXPECT_FALSE(revoke_stream->Read(&notice));
  ended = revoke_stream->Finish();
  EXPECT_EQ(ended.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(ended), "DEVICE_REVOKED");
}

TEST_F(AccessTest, RevokedDevicesDisabledUsersUsedCodesAndRotatedTokens) {
  Client monitor = As("monitor");
  v1::WhoAmIResponse me;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(monitor.admin().WhoAmI(&ctx, v1::WhoAmIRequest(), &me).ok());
    EXPECT_EQ(me.user().user_id(), "monitor");
    EXPECT_EQ(me.user().role(), v1::ROLE_FIELD_MONITOR);
  }
  PullResponse page;
  // Revocation takes effect on the very next call.
  {
    grpc::ClientContext ctx;
    v1::RevokeDeviceRequest request;
    request.set_device_id(me.device().device_id());
    v1::Device revoked;
    ASSERT_TRUE(server_->Admin()->RevokeDevice(&ctx, request, &revoked).ok());
    EXPECT_TRUE(revoked.revoked());
  }
  grpc::Status s = monitor.Pull(own_, &page);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "DEVICE_REVOKED");

  // Disabling the user refuses every device of theirs.
  Client medic = As("medic");
  ASSERT_TRUE(medic.Pull(own_, &page).ok());
  {
    grpc::ClientContext ctx;
    v1::SetUserDisabledRequest request;
    request.set_user_id("medic");
    request.set_disabled(true);
    v1::User user;
    ASSERT_TRUE(server_->Admin()->SetUserDisabled(&ctx, request, &user).ok());
  }
  s = medic.Pull(own_, &page);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "USER_DISABLED");

  // An enrollment code works once.
  v1::EnrollmentCode code;
  {
    grpc::ClientContext ctx;
    v1::CreateEnrollmentCodeRequest request;
    request.set_user_id("lead");
    ASSERT_TRUE(server_->Admin()->CreateEnrollmentCode(&ctx, request, &code).ok());
  }
  auto enroll = [&](const std::string& typed) {
    grpc::ClientContext ctx;
    v1::EnrollDeviceRequest request;
    request.set_enrollment_code(typed);
    request.set_device_name("Tablet 9");
    v1::EnrollDeviceResponse out;
    return v1::AdminService::NewStub(server_->ChannelWithToken(""))
        ->EnrollDevice(&ctx, request, &out);
  };
  std::string lowercase = code.code();
  for (char& c : lowercase) c = static_cast<char>(std::tolower(c));
  EXPECT_TRUE(enroll(lowercase).ok());  // typed by a person: case does not matter
  s = enroll(code.code());
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(s), "ENROLLMENT_CODE_INVALID");

  // Rotation: the old token stops working at once, the new one works.
  Client lead = As("lead");
  v1::RotateTokenResponse rotated;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(lead.admin().RotateToken(&ctx, v1::RotateTokenRequest(), &rotated).ok());
  }
  EXPECT_EQ(lead.Pull(own_, &page).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Client(*server_, rotated.token()).Pull(own_, &page).ok());

  // Only admins administer.
  {
    grpc::ClientContext ctx;
    v1::ListUsersResponse users;
    s = As("reviewer").admin().ListUsers(&ctx, v1::ListUsersRequest(), &users);
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(Reason(s), "ADMIN_ONLY");
  }

  std::ostringstream log;
  ASSERT_OK(datadir::RunAuditExport(server_->dir().Sub("data"), log));
  for (const char* action : {"device.enrolled", "device.revoked", "user.disabled",
                             "device.token_rotated", "auth.failed", "team.member_set"}) {
    EXPECT_NE(log.str().find(std::string("\"action\":\"") + action), std::string::npos)
        << action;
  }
  auto verified = datadir::RunAuditVerify(server_->dir().Sub("data"));
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->intact());
}

TEST_F(AccessTest, FailedAuthenticationsAreRateLimitedPerSource) {
  server::ServerConfig config;
  config.auth_failures_per_minute = 3;
  Start(config);
  Client garbage(*server_, "vgl_wrong");
  PullResponse page;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(garbage.Pull("registry", &page).error_code(), StatusCode::UNAUTHENTICATED);
  }
  grpc::Status s = garbage.Pull("registry", &page);
  EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Reason(s), "AUTH_RATE_LIMITED");
}

TEST_F(AccessTest, DevicesAreHeldToARequestRate) {
  server::ServerConfig config;
  config.device_requests_per_minute = 20;  // the admin enrolls 5 users in Start()
  Start(config);
  Client monitor = As("monitor");
  PullResponse page;
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(monitor.Pull(own_, &page).ok()) << i;
  grpc::Status s = monitor.Pull(own_, &page);
  EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Reason(s), "RATE_LIMITED");
  // Another device is not affected.
  EXPECT_TRUE(As("lead").Pull(own_, &page).ok());
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST_F(AccessTest, DataKeyRotationKeepsEverythingReadable) {
  v1::RecordBody interview;
  interview.mutable_interview()->set_notes("sealed under key 1");
  interview.mutable_interview()->add_interviewer_user_ids("monitor");
  ASSERT_TRUE(As("monitor").Push({Create(own_, interview)}).ok());
  // Only an admin rotates.
  {
    grpc::ClientContext ctx;
    v1::RotateDataKeyResponse rotated;
    EXPECT_EQ(As("reviewer").admin().RotateDataKey(&ctx, {}, &rotated).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext ctx;
  v1::RotateDataKeyResponse rotated;
  ASSERT_TRUE(server_->Admin()->RotateDataKey(&ctx, {}, &rotated).ok());
  EXPECT_EQ(rotated.key_id(), 2u);
  interview.mutable_interview()->set_notes("sealed under key 2");
  ASSERT_TRUE(As("monitor").Push({Create(own_, interview)}).ok());
  PullResponse page;
  ASSERT_TRUE(As("monitor").Pull(own_, &page).ok());
  ASSERT_EQ(page.records_size(), 2);
  EXPECT_EQ(page.records(0).body().interview().notes(), "sealed under key 1");
  EXPECT_EQ(page.records(1).body().interview().notes(), "sealed under key 2");
  server_->server().Shutdown();

  // Whatever the background job had not reached, the offline run finishes;
  // then nothing is sealed under key 1 any more.
  const std::string data = server_->dir().Sub("data");
  auto storage = storage::Storage::Open(data + "/db", storage::StorageOptions());
  ASSERT_OK(storage);
  auto keys = storage::KeyRing::Load(data + "/keys/data.key");
  ASSERT_OK(keys);
  EXPECT_EQ((*keys)->active_key_id(), 2u);
  ASSERT_OK(storage::ReencryptOldValues(**storage, **keys).status());
  int sealed = 0;
  ASSERT_OK((*storage)->Scan(storage::ColumnFamily::kRecords, storage::KeyRange{}, nullptr,
                             [&](std::string_view, std::string_view value) {
                               if (auto id = storage::KeyRing::SealedKeyId(value)) {
                                 EXPECT_EQ(*id, 2u);
                                 ++sealed;
                               }
                               return true;
                             }));
  EXPECT_EQ(sealed, 2);
  std::ostringstream log;
  storage->reset();
  ASSERT_OK(datadir::RunAuditExport(data, log));
  EXPECT_NE(log.str().find("\"action\":\"keys.rotated\",\"target\":\"keys/2\""),
            std::string::npos);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Client certificates from the server's own CA as a second factor.
TEST(MutualTlsTest, DevicesWithoutAClientCertificateCannotConnect) {
  testing::TempDir dir;
  server::ServerConfig config;
  config.data_dir = dir.Sub("data");
  config.listen = "127.0.0.1:0";
  config.log_level = "warn";
  {
    auto first = server::VigilServer::Start(config);  // generates the CA
    ASSERT_OK(first);
  }
  auto device_cert = server::IssueClientCertificate(dir.Sub("data") + "/tls", "tablet-1");
  ASSERT_OK(device_cert);
  config.tls_client_ca = dir.Sub("data") + "/tls/ca.crt";
  auto started = server::VigilServer::Start(config);
  ASSERT_OK(started);
  std::string ca, token;
  {
    std::ifstream in(dir.Sub("data") + "/tls/ca.crt");
    ca.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ifstream(dir.Sub("data") + "/initial-admin-token") >> token;
  const std::string target = "127.0.0.1:" + std::to_string((*started)->port());
  auto call = [&](const grpc::SslCredentialsOptions& tls) {
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> bearer;
    bearer.push_back(std::make_unique<client::BearerInterceptorFactory>(token));
    auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        target, grpc::SslCredentials(tls), grpc::ChannelArguments(), std::move(bearer));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::WhoAmIResponse me;
    return v1::AdminService::NewStub(channel)->WhoAmI(&ctx, v1::WhoAmIRequest(), &me);
  };
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ca;
  with_cert.pem_cert_chain = device_cert->cert_pem;
  with_cert.pem_private_key = device_cert->key_pem;
  grpc::Status s = call(with_cert);
  EXPECT_TRUE(s.ok()) << s.error_message();
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = ca;
  EXPECT_EQ(call(without_cert).error_code(), StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The AdminService column of the matrix: only the admin administers; every
// other role is refused every admin method, and any device may ask WhoAmI
// and rotate its own token.
TEST_F(AccessTest, OnlyTheAdminAdministers) {
  const std::set<std::string> self_service = {"WhoAmI", "RotateToken", "EnrollDevice"};
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("vigil.v1.AdminService");
  ASSERT_NE(service, nullptr);
  for (const char* user : {"reviewer", "service", "lead", "monitor", "medic"}) {
    grpc::GenericStub generic(server_->ChannelWithToken(tokens_.at(user)));
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string name = service->method(i)->name();
      if (self_service.count(name)) continue;
      grpc::ClientContext ctx;
      grpc::Slice empty("");
      grpc::ByteBuffer request(&empty, 1), response;
      std::promise<grpc::Status> done;
      generic.UnaryCall(&ctx, "/vigil.v1.AdminService/" + name, grpc::StubOptions(), &request,
                        &response, [&](grpc::Status s) { done.set_value(s); });
      grpc::Status s = done.get_future().get();
      EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << user << " " << name;
      EXPECT_EQ(Reason(s), "ADMIN_ONLY") << user << " " << name;
    }
    grpc::ClientContext ctx;
    v1::WhoAmIResponse me;
    EXPECT_TRUE(As(user).admin().WhoAmI(&ctx, v1::WhoAmIRequest(), &me).ok()) << user;
    EXPECT_EQ(me.user().user_id(), user);
  }
  // The admin: listing works (and reading content does not, see the matrix).
  grpc::ClientContext ctx;
  v1::ListUsersResponse users;
  ASSERT_TRUE(server_->Admin()->ListUsers(&ctx, v1::ListUsersRequest(), &users).ok());
  EXPECT_EQ(users.users_size(), 6);  // admin, reviewer, service, lead, monitor, medic
}

TEST_F(AccessTest, DevicesAreHeldToAByteRate) {
  server::ServerConfig config;
  config.device_bytes_per_minute = 64 << 10;
  Start(config);
  Client monitor = As("monitor");
  v1::RecordBody big = Finding("big");
  big.mutable_finding()->set_narrative(std::string(40 << 10, 'x'));
  EXPECT_TRUE(monitor.Push({Create(own_, big)}).ok());
  grpc::Status s = monitor.Push({Create(own_, big)});
  EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Reason(s), "RATE_LIMITED");
  EXPECT_FALSE(client::ErrorInfoOf(s)->metadata().at("retry_after_ms").empty());
}

}  // namespace
}  // namespace vigil
