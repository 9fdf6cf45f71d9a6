// Attachments over SyncService: chunked upload with per-chunk and whole-content
// verification, resumption after an interrupted upload, deduplication, ranged
// download, and the errors of bad input (nothing stored by any of them).
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "absl/synchronization/notification.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "server/auth/access_policy.h"
#include "server/auth/identity_store.h"
#include "server/records/attachment_store.h"
#include "storage/key_codec.h"
#include "tests/testing/temp_dir.h"
#include "vigil/internal/storage_values.pb.h"
#include "client/channel.h"
#include "server/api/grpc_status.h"
#include "datadir/operator_commands.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil {
namespace {

using server::AttachmentStore;
using v1::AttachmentStatus;
using v1::UploadAttachmentRequest;

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

constexpr char kScope[] = "visits/01900000-0000-7000-8000-0000000000a1";

class AttachmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerConfig config;
    config.max_attachment_bytes = 8 << 20;
    server_ = std::make_unique<testing::TestServer>(config);
    ASSERT_OK(server_->status());
    stub_ = v1::SyncService::NewStub(server_->NewChannel());
  }

  // Sends a header and the chunks of `content` in [from, to) of `chunk` bytes
  // each; `corrupt` breaks the chunk hash of the chunk at that offset.
  grpc::Status Upload(const std::string& sha, std::uint64_t size, const std::string& content,
                      std::size_t from, std::size_t to, std::size_t chunk,
                      AttachmentStatus* status, std::optional<std::size_t> corrupt = {},
                      const std::string& scope = kScope) {
    grpc::ClientContext context;
    auto writer = stub_->UploadAttachment(&context, status);
    UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(sha);
    header.mutable_header()->set_size(size);
    header.mutable_header()->set_scope(scope);
    writer->Write(header);
    for (std::size_t off = from; off < to; off += chunk) {
      UploadAttachmentRequest request;
      auto* c = request.mutable_chunk();
      c->set_offset(off);
      c->set_data(content.substr(off, std::min(chunk, to - off)));
      c->set_sha256(Sha256::HexOf(c->data()));
      if (corrupt && *corrupt == off) c->set_sha256(Sha256::HexOf("other"));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  std::string Download(const std::string& sha, std::uint64_t offset, std::uint64_t length,
                       grpc::Status* status, const std::string& scope = kScope) {
    grpc::ClientContext context;
    v1::DownloadAttachmentRequest request;
    request.set_sha256(sha);
    request.set_scope(scope);
    request.set_offset(offset);
    request.set_length(length);
    auto reader = stub_->DownloadAttachment(&context, request);
    std::string out;
    v1::AttachmentChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), offset + out.size());
      EXPECT_EQ(chunk.sha256(), Sha256::HexOf(chunk.data()));
      out += chunk.data();
    }
    *status = reader->Finish();
    return out;
  }

  grpc::Status StatusOf(const std::string& sha, AttachmentStatus* out) {
    grpc::ClientContext context;
    v1::GetAttachmentStatusRequest request;
    request.set_sha256(sha);
    request.set_scope(kScope);
    return stub_->GetAttachmentStatus(&context, request, out);
  }

  static std::string Reason(const grpc::Status& s) {
    auto info = client::ErrorInfoOf(s);
    return info.ok() ? info->reason() : "<none>";
  }

  std::unique_ptr<testing::TestServer> server_;
  std::unique_ptr<v1::SyncService::Stub> stub_;
};

TEST_F(AttachmentTest, UploadInChunksThenDownloadWholeAndRanges) {
  const std::string content = RandomBytes(3 * 1024 * 1024 + 123, 1);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 512 * 1024, &status).ok());
  EXPECT_TRUE(status.complete());
  EXPECT_EQ(status.received(), content.size());

  grpc::Status s;
  EXPECT_EQ(Download(sha, 0, 0, &s), content);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Ranges inside one piece, across pieces, and up to the end.
  EXPECT_EQ(Download(sha, 10, 100, &s), content.substr(10, 100));
  EXPECT_EQ(Download(sha, 512 * 1024 - 5, 10, &s), content.substr(512 * 1024 - 5, 10));
  EXPECT_EQ(Download(sha, 1000000, 0, &s), content.substr(1000000));
  EXPECT_TRUE(s.ok());
  Download(sha, content.size(), 0, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  Download(sha, 0, content.size() + 1, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Reason(s), "RANGE_INVALID");
}

TEST_F(AttachmentTest, InterruptedUploadResumesAtTheDurableOffset) {
  const std::string content = RandomBytes(1000000, 2);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  // The tablet sends 3 chunks of 100 000 bytes, then the connection ends.
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, 300000, 100000, &status).ok());
  EXPECT_FALSE(status.complete());
  EXPECT_EQ(status.received(), 300000u);
  ASSERT_TRUE(StatusOf(sha, &status).ok());
  EXPECT_EQ(status.received(), 300000u);

  // Resending from the wrong place is refused and says where to resume.
  grpc::Status wrong = Upload(sha, content.size(), content, 200000, 400000, 100000, &status);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(wrong), "CHUNK_OFFSET_MISMATCH");
  EXPECT_EQ(client::ErrorInfoOf(wrong)->metadata().at("expected_offset"), "300000");

  ASSERT_TRUE(Upload(sha, content.size(), content, 300000, content.size(), 100000, &status).ok());
  EXPECT_TRUE(status.complete());
  grpc::Status s;
  EXPECT_EQ(Download(sha, 0, 0, &s), content);
}

TEST_F(AttachmentTest, CorruptedChunkIsRefusedAndNothingOfItStored) {
  const std::string content = RandomBytes(300000, 3);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  grpc::Status s = Upload(sha, content.size(), content, 0, content.size(), 100000, &status,
                          /*corrupt=*/100000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(Reason(s), "CHUNK_CORRUPT");
  ASSERT_TRUE(StatusOf(sha, &status).ok());
  EXPECT_EQ(status.received(), 100000u);  // the good chunk before it only
  ASSERT_TRUE(Upload(sha, content.size(), content, 100000, content.size(), 100000, &status).ok());
  EXPECT_TRUE(status.complete());
}

TEST_F(AttachmentTest, ContentNotMatchingItsHashIsDiscarded) {
  const std::string content = RandomBytes(200000, 4);
  const std::string claimed = Sha256::HexOf("something else");
  AttachmentStatus status;
  grpc::Status s = Upload(claimed, content.size(), content, 0, content.size(), 100000, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(Reason(s), "ATTACHMENT_HASH_MISMATCH");
  EXPECT_EQ(StatusOf(claimed, &status).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AttachmentTest, SameContentTwiceIsStoredOnce) {
  const std::string content = RandomBytes(250000, 5);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 100000, &status).ok());
  // A second device sends the same photo: the header alone completes it.
  AttachmentStatus second;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, 0, 100000, &second).ok());
  EXPECT_TRUE(second.complete());
  EXPECT_EQ(second.received(), content.size());
  // And sending the bytes anyway changes nothing.
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 100000, &second).ok());
  grpc::Status s;
  EXPECT_EQ(Download(sha, 0, 0, &s), content);
}

TEST_F(AttachmentTest, AnotherScopeGetsTheContentOnlyByProvingItHasTheBytes) {
  const std::string content = RandomBytes(250000, 9);
  const std::string sha = Sha256::HexOf(content);
  const std::string other = "visits/01900000-0000-7000-8000-0000000000b2";
  AttachmentStatus status;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 100000, &status).ok());
  ASSERT_TRUE(status.complete());
  // Knowing the hash and size is not enough: nothing is linked.
  AttachmentStatus claimed;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, 0, 100000, &claimed, {}, other).ok());
  EXPECT_FALSE(claimed.complete());
  EXPECT_EQ(claimed.received(), 0u);
  grpc::Status s;
  EXPECT_EQ(Download(sha, 0, 0, &s, other), "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // Bytes that are not the content are refused, and still nothing is linked.
  std::string forged = content;
  forged[1000] ^= 1;
  s = Upload(sha, content.size(), forged, 0, forged.size(), 100000, &claimed, {}, other);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(Reason(s), "ATTACHMENT_HASH_MISMATCH");
  Download(sha, 0, 0, &s, other);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // Skipping ahead is refused.
  s = Upload(sha, content.size(), content, 100000, content.size(), 100000, &claimed, {}, other);
  EXPECT_EQ(Reason(s), "CHUNK_OFFSET_MISMATCH");
  // All of the bytes: linked, and still stored once.
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 100000, &claimed, {}, other)
                  .ok());
  EXPECT_TRUE(claimed.complete());
  EXPECT_EQ(Download(sha, 0, 0, &s, other), content);
  EXPECT_TRUE(s.ok());
}

TEST_F(AttachmentTest, UploadsAreAudited) {
  const std::string content = RandomBytes(1000, 9);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 1000, &status).ok());
  std::ostringstream log;
  ASSERT_OK(datadir::RunAuditExport(server_->dir().Sub("data"), log));
  EXPECT_NE(log.str().find("\"action\":\"attachment.upload_started\",\"target\":\"attachments/" +
                           sha),
            std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find("\"action\":\"attachment.stored\""), std::string::npos);
  // By the authenticated user, not by whoever the client says it is.
  EXPECT_NE(log.str().find("\"principal\":\"reviewer\""), std::string::npos);
  auto verified = datadir::RunAuditVerify(server_->dir().Sub("data"));
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->intact());
  EXPECT_GE(verified->entries, 3u);  // admin credential, upload started, stored
}

TEST_F(AttachmentTest, AttachmentBytesAreEncryptedAtRest) {
  const std::string sentence = "Officer K. struck the detainee in cell block C at 02:10.";
  std::string content;
  while (content.size() < 300000) content += sentence + "\n";
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  ASSERT_TRUE(Upload(sha, content.size(), content, 0, content.size(), 100000, &status).ok());
  ASSERT_TRUE(status.complete());
  grpc::Status s;
  EXPECT_EQ(Download(sha, 0, 0, &s), content);
  // Written to the WAL now, and to table and blob files after a clean stop.
  auto scan = [&] {
    for (const auto& [path, bytes] : testing::DirectoryContents(server_->dir().path())) {
      EXPECT_EQ(bytes.find("struck the detainee"), std::string::npos) << path;
    }
  };
  scan();
  server_->server().Shutdown();
  scan();
}

TEST_F(AttachmentTest, BadInputGetsSpecificErrors) {
  const std::string content = RandomBytes(1000, 6);
  const std::string sha = Sha256::HexOf(content);
  AttachmentStatus status;
  grpc::Status s = Upload("ABC", content.size(), content, 0, 0, 1000, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "SHA256_INVALID");
  s = Upload(sha, 9 << 20, content, 0, 0, 1000, &status);  // over the 8 MiB limit
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "ATTACHMENT_SIZE_INVALID");
  s = Upload(sha, 0, content, 0, 0, 1000, &status);
  EXPECT_EQ(Reason(s), "ATTACHMENT_SIZE_INVALID");
  // A chunk past the declared size.
  s = Upload(sha, 500, content, 0, 1000, 1000, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "CHUNK_PAST_END");
  // That wrong declaration does not block the hash: the right size restarts
  // the upload, and once stored, another size is refused.
  ASSERT_TRUE(Upload(sha, 1000, content, 0, 1000, 1000, &status).ok());
  EXPECT_TRUE(status.complete());
  s = Upload(sha, 999, content, 0, 0, 1000, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(s), "ATTACHMENT_SIZE_MISMATCH");
  // A chunk over 1 MiB.
  const std::string big = RandomBytes((1 << 20) + 1, 7);
  s = Upload(Sha256::HexOf(big), big.size(), big, 0, big.size(), big.size(), &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(s), "CHUNK_SIZE_INVALID");
  // Chunks before any header.
  {
    grpc::ClientContext context;
    auto writer = stub_->UploadAttachment(&context, &status);
    UploadAttachmentRequest request;
    request.mutable_chunk()->set_data("x");
    writer->Write(request);
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(Reason(s), "UPLOAD_HEADER_MISSING");
  }
  grpc::Status d;
  Download(Sha256::HexOf("never uploaded"), 0, 0, &d);
  EXPECT_EQ(d.error_code(), grpc::StatusCode::NOT_FOUND);
  // An incomplete upload cannot be downloaded.
  const std::string partial = RandomBytes(1000, 8);
  const std::string partial_sha = Sha256::HexOf(partial);
  ASSERT_TRUE(Upload(partial_sha, 1000, partial, 0, 500, 500, &status).ok());
  Download(partial_sha, 0, 0, &d);
  EXPECT_EQ(d.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(d), "ATTACHMENT_INCOMPLETE");
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The last chunk landed but its verification never completed (a crash, or
// an error): the next Begin verifies instead of leaving the upload stuck.
// An attachment store on a real database, called directly.
class AttachmentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(storage::KeyRing::Generate(dir_.Sub("data.key")));
    auto keys = storage::KeyRing::Load(dir_.Sub("data.key"));
    ASSERT_OK(keys);
    keys_ = std::move(*keys);
    auto db = storage::Storage::Open(dir_.Sub("db"), storage::StorageOptions());
    ASSERT_OK(db);
    db_ = std::move(*db);
    identities_ = std::make_unique<server::IdentityStore>(db_.get());
    policy_ = std::make_unique<server::AccessPolicy>(identities_.get());
    store_ = std::make_unique<server::AttachmentStore>(db_.get(), keys_.get(), policy_.get(),
                                                       server::AttachmentOptions{});
  }

  // Runs one asynchronous store call and waits for its result.
  template <typename Call>
  static absl::StatusOr<server::AttachmentState> run(Call call) {
    absl::Notification done;
    absl::StatusOr<server::AttachmentState> result;
    call([&](absl::StatusOr<server::AttachmentState> r) {
      result = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::KeyRing> keys_;
  std::unique_ptr<storage::Storage> db_;
  std::unique_ptr<server::IdentityStore> identities_;
  std::unique_ptr<server::AccessPolicy> policy_;
  std::unique_ptr<server::AttachmentStore> store_;
};

TEST_F(AttachmentStoreTest, InterruptedVerificationIsResumedByBegin) {
  server::AttachmentStore& store = *store_;
  storage::Storage* db = db_.get();
  const std::string content = "register page scan";
  const std::string sha = Sha256::HexOf(content);
  const server::Caller caller{"tester", "dev", v1::ROLE_NPM_REVIEWER};
  ASSERT_OK(run([&](auto cb) { store.Begin(caller, kScope, sha, content.size(), cb); }));
  auto appended = run([&](auto cb) {
    store.Append(caller, kScope, sha, 0, content, Sha256::HexOf(content), cb);
  });
  ASSERT_OK(appended);
  ASSERT_TRUE(appended->complete);
  // Put the metadata back to "every byte received, not verified".
  const std::string meta_key = storage::KeyBuilder().AddString("m").AddString(sha).key();
  vigil::internal::AttachmentMeta meta;
  ASSERT_TRUE(meta.ParseFromString(**db->Get(storage::ColumnFamily::kAttachments, meta_key)));
  meta.set_complete(false);
  ASSERT_OK(db->Commit([&](storage::CommitContext& ctx) {
                   ctx.Put(storage::ColumnFamily::kAttachments, meta_key,
                           meta.SerializeAsString());
                   return absl::OkStatus();
                 })
                .status());
  EXPECT_FALSE(store.GetState(sha)->complete);
  auto resumed = run([&](auto cb) { store.Begin(caller, kScope, sha, content.size(), cb); });
  ASSERT_OK(resumed);
  EXPECT_TRUE(resumed->complete);
  EXPECT_TRUE(store.GetState(sha)->complete);
}

// Chunks count only for the scope that stores the upload (or proved the
// content): another scope's stream that skipped the proof stores nothing.
TEST_F(AttachmentStoreTest, ChunksAreStoredOnlyForTheUploadingScope) {
  server::AttachmentStore& store = *store_;
  const std::string content = "medical report scan";
  const std::string sha = Sha256::HexOf(content);
  const server::Caller caller{"tester", "dev", v1::ROLE_NPM_REVIEWER};
  const std::string elsewhere = "visits/0190a7e0-0000-7000-8000-000000000001";
  ASSERT_OK(run([&](auto cb) { store.Begin(caller, kScope, sha, content.size(), cb); }));
  EXPECT_TRUE(*store.UploadingIn(sha, kScope));
  EXPECT_FALSE(*store.UploadingIn(sha, elsewhere));
  auto foreign = run([&](auto cb) {
    store.Append(caller, elsewhere, sha, 0, content, Sha256::HexOf(content), cb);
  });
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(foreign.status()), "UPLOAD_NOT_BEGUN");
  EXPECT_EQ(store.GetState(sha)->received, 0u);
  EXPECT_FALSE(*store.InScope(sha, kScope)) << "nothing is linked before the bytes are verified";
  auto own = run([&](auto cb) {
    store.Append(caller, kScope, sha, 0, content, Sha256::HexOf(content), cb);
  });
  ASSERT_OK(own);
  EXPECT_TRUE(own->complete);
  EXPECT_TRUE(*store.InScope(sha, kScope));
  EXPECT_FALSE(*store.InScope(sha, elsewhere));
  EXPECT_FALSE(*store.UploadingIn(sha, kScope));
}

}  // namespace
}  // namespace vigil
