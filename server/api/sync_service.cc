#include "server/api/sync_service.h"

#include <sodium.h>

#include <deque>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "server/api/grpc_status.h"
#include "server/api/reactors.h"
#include "server/records/attachment_upload.h"

namespace vigil::server {
namespace {

using vigil::v1::AttachmentChunk;
using vigil::v1::AttachmentStatus;
using vigil::v1::UploadAttachmentRequest;

void FillStatus(const AttachmentState& state, AttachmentStatus* out) {
  out->set_sha256(state.sha256);
  out->set_size(state.size);
  out->set_received(state.received);
  out->set_complete(state.complete);
}

// Reads a header, then chunks, into an AttachmentUpload; each is durable
// before the next is read.
class UploadReactor final : public grpc::ServerReadReactor<UploadAttachmentRequest> {
 public:
  UploadReactor(AttachmentStore* store, Authenticator* auth, Caller caller,
                AttachmentStatus* response)
      : auth_(auth), caller_(caller), upload_(*store, std::move(caller)), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending (or went away)
      if (!upload_.state().has_value()) {
        Finish(ToGrpcStatus(AttachmentUpload::HeaderMissing()));
        return;
      }
      // Incomplete uploads answer OK with `received`: where to resume.
      FillStatus(*upload_.state(), response_);
      Finish(grpc::Status::OK);
      return;
    }
    auto stored = [this](absl::StatusOr<AttachmentState> s) { OnStored(std::move(s)); };
    if (request_.has_header()) {
      vigil::v1::AttachmentHeader& header = *request_.mutable_header();
      upload_.Begin(std::move(*header.mutable_scope()), std::move(*header.mutable_sha256()),
                    header.size(), stored);
      return;
    }
    if (!request_.has_chunk()) {
      Finish(ToGrpcStatus(upload_.state().has_value() ? AttachmentUpload::HeaderRepeated()
                                                      : AttachmentUpload::HeaderMissing()));
      return;
    }
    AttachmentChunk* chunk = request_.mutable_chunk();
    if (absl::Status charged = auth_->ChargeBytes(caller_, chunk->data().size()); !charged.ok()) {
      Finish(ToGrpcStatus(charged));
      return;
    }
    upload_.Chunk(chunk->offset(), std::move(*chunk->mutable_data()),
                  std::move(*chunk->mutable_sha256()), stored);
  }

  void OnDone() override { delete this; }

 private:
  void OnStored(absl::StatusOr<AttachmentState> state) {
    if (!state.ok()) {
      Finish(ToGrpcStatus(state.status()));
      return;
    }
    if (state->complete) {
      FillStatus(*state, response_);
      Finish(grpc::Status::OK);
      return;
    }
    StartRead(&request_);
  }

  Authenticator* auth_;
  const Caller caller_;
  AttachmentUpload upload_;
  AttachmentStatus* response_;
  UploadAttachmentRequest request_;
};

// Streams pieces of at most ~1 MiB a batch, one write in flight at a time,
// once the store has audited the read.
class DownloadReactor final : public grpc::ServerWriteReactor<AttachmentChunk> {
 public:
  DownloadReactor(AttachmentStore* store, const vigil::v1::DownloadAttachmentRequest& request)
      : store_(store), sha256_(request.sha256()), offset_(request.offset()),
        length_(request.length()) {}

  // Attachment bytes (photos, scans) leave the server only once the read is
  // in the audit log; the first pieces are read on the commit callback.
  void Start(const Caller& caller, std::string scope) {
    store_->OpenForDownload(caller, std::move(scope), sha256_,
                            [this](absl::StatusOr<AttachmentState> state) {
                              if (!state.ok()) {
                                Finish(ToGrpcStatus(state.status()));
                                return;
                              }
                              end_ = length_ == 0 ? state->size : offset_ + length_;
                              if (length_ != 0 && end_ < offset_) end_ = ~0ull;  // overflow
                              if (Fill()) SendNext();
                            });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "download cancelled"));
      return;
    }
    if (pending_.empty()) {
      if (offset_ >= end_) {
        Finish(grpc::Status::OK);
        return;
      }
      if (!Fill()) return;
    }
    SendNext();
  }

  void OnDone() override { delete this; }

 private:
  // Reads the next pieces into pending_; false (and finished) on an error.
  bool Fill() {
    absl::StatusOr<std::vector<AttachmentPiece>> pieces =
        store_->Read(sha256_, offset_, end_, store_->options().max_chunk_bytes);
    if (!pieces.ok()) {
      Finish(ToGrpcStatus(pieces.status()));
      return false;
    }
    for (auto& piece : *pieces) {
      offset_ = piece.offset + piece.data.size();
      AttachmentChunk chunk;
      chunk.set_offset(piece.offset);
      chunk.set_sha256(Sha256::HexOf(piece.data));
      chunk.set_data(std::move(piece.data));
      pending_.push_back(std::move(chunk));
    }
    if (pending_.empty()) {
      Finish(ToGrpcStatus(absl::DataLossError("attachment bytes are missing")));
      return false;
    }
    return true;
  }

  void SendNext() {
    current_ = std::move(pending_.front());
    pending_.pop_front();
    StartWrite(&current_);
  }

  AttachmentStore* store_;
  const std::string sha256_;
  std::uint64_t offset_;
  const std::uint64_t length_;
  std::uint64_t end_ = 0;
  std::deque<AttachmentChunk> pending_;
  AttachmentChunk current_;
};

// A ByteBuffer that takes `bytes` over without copying them (pull pages are
// megabytes).
grpc::ByteBuffer BufferOf(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(owned->data(), owned->size(),
                    [](void* p) { delete static_cast<std::string*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

std::string BytesOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& slice : slices) {
      out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return out;
}

}  // namespace

grpc::ServerUnaryReactor* SyncService::Push(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor, request->Length());
  if (!caller) return reactor;
  absl::StatusOr<vigil::v1::PushRequest> parsed = records_->ParsePush(BytesOf(*request));
  if (!parsed.ok()) {
    reactor->Finish(ToGrpcStatus(parsed.status()));
    return reactor;
  }
  records_->Push(*caller, std::move(*parsed),
                 [reactor, response](absl::StatusOr<vigil::v1::PushResponse> result) {
                   if (result.ok()) *response = BufferOf(result->SerializeAsString());
                   reactor->Finish(ToGrpcStatus(result.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::Pull(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  vigil::v1::PullRequest parsed;
  const std::string wire = BytesOf(*request);
  if (!parsed.ParseFromString(wire)) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::InvalidArgumentError("the pull request cannot be parsed (invalid UTF-8?)"),
        "REQUEST_MALFORMED")));
    return reactor;
  }
  records_->Pull(*caller, parsed, [reactor, response](absl::StatusOr<std::string> result) {
    if (result.ok()) *response = BufferOf(std::move(*result));
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::GetHistory(grpc::CallbackServerContext* context,
                                                  const vigil::v1::GetHistoryRequest* request,
                                                  vigil::v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  records_->History(*caller, *request,
                    [reactor, response](absl::StatusOr<vigil::v1::GetHistoryResponse> result) {
                      FinishUnary(reactor, std::move(result), response);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::GetReceipt(grpc::CallbackServerContext* context,
                                                  const vigil::v1::GetReceiptRequest* request,
                                                  vigil::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  absl::StatusOr<sync::Scope> scope = sync::Scope::Parse(request->scope());
  if (!scope.ok()) {
    reactor->Finish(ToGrpcStatus(scope.status()));
    return reactor;
  }
  // The whole scope is walked and signed on the signer's thread, not this one.
  signer_->IssueLater(std::move(*caller), *records_, *attachments_, std::move(*scope),
                      [reactor, response](absl::StatusOr<vigil::v1::Receipt> receipt) {
                        FinishUnary(reactor, std::move(receipt), response);
                      });
  return reactor;
}

grpc::ServerWriteReactor<vigil::v1::ChangeNotice>* SyncService::Subscribe(
    grpc::CallbackServerContext* context, const vigil::v1::SubscribeRequest* request) {
  using Refused = RefusedWriteReactor<vigil::v1::ChangeNotice>;
  absl::StatusOr<Caller> caller = AuthenticateCall(*auth_, *context);
  if (!caller.ok()) return new Refused(caller.status());
  constexpr int kMaxScopes = 1000;
  if (request->scopes_size() == 0 || request->scopes_size() > kMaxScopes) {
    return new Refused(
        WithReason(absl::InvalidArgumentError("subscribe to 1..1000 scopes"), "SCOPES_INVALID"));
  }
  std::set<std::string> scopes;
  for (const auto& scope : request->scopes()) {
    absl::Status allowed = sync::Scope::Parse(scope).status();
    if (allowed.ok()) allowed = policy_->RequireRead(*caller, scope).status();
    if (!allowed.ok()) return new Refused(allowed);
    scopes.insert(scope);
  }
  auto* reactor = new SubscribeReactor(hub_, std::move(scopes), records_->LastCommittedSeq(),
                                       caller->principal, caller->device);
  // Rights are checked again now that the stream is registered: a removal
  // from the team whose closing of streams ran between the first check and
  // the registration did not see this one.
  for (const std::string& scope : reactor->scopes()) {
    absl::Status allowed = policy_->RequireRead(*caller, scope).status();
    if (!allowed.ok()) {
      reactor->Close(ToGrpcStatus(allowed));
      break;
    }
  }
  return reactor;
}

grpc::ServerReadReactor<UploadAttachmentRequest>* SyncService::UploadAttachment(
    grpc::CallbackServerContext* context, AttachmentStatus* response) {
  absl::StatusOr<Caller> caller = AuthenticateCall(*auth_, *context);
  if (!caller.ok()) return new RefusedReadReactor<UploadAttachmentRequest>(caller.status());
  return new UploadReactor(attachments_, auth_, std::move(*caller), response);
}

grpc::ServerUnaryReactor* SyncService::GetAttachmentStatus(
    grpc::CallbackServerContext* context, const vigil::v1::GetAttachmentStatusRequest* request,
    AttachmentStatus* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  absl::StatusOr<AttachmentState> state =
      attachments_->StateFor(*caller, request->scope(), request->sha256());
  if (state.ok()) FillStatus(*state, response);
  reactor->Finish(ToGrpcStatus(state.status()));
  return reactor;
}

grpc::ServerWriteReactor<AttachmentChunk>* SyncService::DownloadAttachment(
    grpc::CallbackServerContext* context, const vigil::v1::DownloadAttachmentRequest* request) {
  absl::StatusOr<Caller> caller = AuthenticateCall(*auth_, *context);
  if (!caller.ok()) return new RefusedWriteReactor<AttachmentChunk>(caller.status());
  auto* reactor = new DownloadReactor(attachments_, *request);
  reactor->Start(*caller, request->scope());
  return reactor;
}

}  // namespace vigil::server
