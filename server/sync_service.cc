#include "server/sync_service.h"

#include <deque>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "server/grpc_status.h"

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

// Reads a header, then chunks; each is durable before the next is read.
class UploadReactor final : public grpc::ServerReadReactor<UploadAttachmentRequest> {
 public:
  UploadReactor(AttachmentStore* store, Caller caller, AttachmentStatus* response)
      : store_(store), caller_(std::move(caller)), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending (or went away)
      if (!state_.has_value()) {
        Finish(ToGrpcStatus(WithReason(
            absl::InvalidArgumentError("an upload starts with a header message"),
            "UPLOAD_HEADER_MISSING")));
        return;
      }
      // Incomplete uploads answer OK with `received`: where to resume.
      FillStatus(*state_, response_);
      Finish(grpc::Status::OK);
      return;
    }
    auto stored = [this](absl::StatusOr<AttachmentState> s) { OnStored(std::move(s)); };
    if (!state_.has_value()) {
      if (!request_.has_header()) {
        Finish(ToGrpcStatus(WithReason(
            absl::InvalidArgumentError("an upload starts with a header message"),
            "UPLOAD_HEADER_MISSING")));
        return;
      }
      store_->Begin(caller_, request_.header().sha256(), request_.header().size(), stored);
      return;
    }
    if (!request_.has_chunk()) {
      Finish(ToGrpcStatus(WithReason(
          absl::InvalidArgumentError("only chunks may follow the header"), "UPLOAD_HEADER_REPEATED")));
      return;
    }
    AttachmentChunk* chunk = request_.mutable_chunk();
    store_->Append(caller_, state_->sha256, chunk->offset(), std::move(*chunk->mutable_data()),
                   chunk->sha256(), stored);
  }

  void OnDone() override { delete this; }

 private:
  void OnStored(absl::StatusOr<AttachmentState> state) {
    if (!state.ok()) {
      Finish(ToGrpcStatus(state.status()));
      return;
    }
    state_ = std::move(*state);
    if (state_->complete) {
      FillStatus(*state_, response_);
      Finish(grpc::Status::OK);
      return;
    }
    StartRead(&request_);
  }

  AttachmentStore* store_;
  const Caller caller_;
  AttachmentStatus* response_;
  UploadAttachmentRequest request_;
  std::optional<AttachmentState> state_;
};

// Streams pieces of at most ~1 MiB a batch, one write in flight at a time.
class DownloadReactor final : public grpc::ServerWriteReactor<AttachmentChunk> {
 public:
  DownloadReactor(AttachmentStore* store, const vigil::v1::DownloadAttachmentRequest& request)
      : store_(store), sha256_(request.sha256()), offset_(request.offset()) {
    absl::StatusOr<AttachmentState> state = store_->GetState(sha256_);
    if (!state.ok()) {
      Finish(ToGrpcStatus(state.status()));
      return;
    }
    end_ = request.length() == 0 ? state->size : request.offset() + request.length();
    if (request.length() != 0 && end_ < request.offset()) end_ = ~0ull;  // overflow
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "download cancelled"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (pending_.empty()) {
      if (offset_ >= end_ && started_) {
        Finish(grpc::Status::OK);
        return;
      }
      absl::StatusOr<std::vector<AttachmentPiece>> pieces =
          store_->Read(sha256_, offset_, end_, store_->options().max_chunk_bytes);
      if (!pieces.ok()) {
        Finish(ToGrpcStatus(pieces.status()));
        return;
      }
      started_ = true;
      for (auto& piece : *pieces) {
        offset_ = piece.offset + piece.data.size();
        AttachmentChunk chunk;
        chunk.set_offset(piece.offset);
        chunk.set_sha256(AttachmentStore::Sha256Hex(piece.data));
        chunk.set_data(std::move(piece.data));
        pending_.push_back(std::move(chunk));
      }
      if (pending_.empty()) {
        Finish(ToGrpcStatus(absl::DataLossError("attachment bytes are missing")));
        return;
      }
    }
    current_ = std::move(pending_.front());
    pending_.pop_front();
    StartWrite(&current_);
  }

  AttachmentStore* store_;
  const std::string sha256_;
  std::uint64_t offset_;
  std::uint64_t end_ = 0;
  bool started_ = false;
  std::deque<AttachmentChunk> pending_;
  AttachmentChunk current_;
};

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

// A server stream that ends at once with an error (bad request).
template <typename T>
class RefusedWriteReactor final : public grpc::ServerWriteReactor<T> {
 public:
  explicit RefusedWriteReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// Finishes a unary call with `result`'s status, moving its value into
// `response` on success.
template <typename T>
void FinishUnary(grpc::ServerUnaryReactor* reactor, absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(ToGrpcStatus(result.status()));
}

}  // namespace

grpc::ServerUnaryReactor* SyncService::Push(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigil::v1::PushRequest> parsed = records_->ParsePush(BytesOf(*request));
  if (!parsed.ok()) {
    reactor->Finish(ToGrpcStatus(parsed.status()));
    return reactor;
  }
  records_->Push(CallerOf(*context), std::move(*parsed),
                 [reactor, response](absl::StatusOr<vigil::v1::PushResponse> result) {
                   if (result.ok()) {
                     grpc::Slice slice(result->SerializeAsString());
                     *response = grpc::ByteBuffer(&slice, 1);
                   }
                   reactor->Finish(ToGrpcStatus(result.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::Pull(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  vigil::v1::PullRequest parsed;
  const std::string wire = BytesOf(*request);
  if (!parsed.ParseFromString(wire)) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::InvalidArgumentError("the pull request cannot be parsed (invalid UTF-8?)"),
        "REQUEST_MALFORMED")));
    return reactor;
  }
  absl::StatusOr<std::string> result = records_->Pull(parsed);
  if (result.ok()) {
    grpc::Slice slice(std::move(*result));
    *response = grpc::ByteBuffer(&slice, 1);
  }
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::GetHistory(grpc::CallbackServerContext* context,
                                                  const vigil::v1::GetHistoryRequest* request,
                                                  vigil::v1::GetHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishUnary(reactor, records_->History(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* SyncService::GetReceipt(grpc::CallbackServerContext* context,
                                                  const vigil::v1::GetReceiptRequest* request,
                                                  vigil::v1::Receipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishUnary(reactor, signer_->Issue(*records_, *attachments_, request->scope()), response);
  return reactor;
}

grpc::ServerWriteReactor<vigil::v1::ChangeNotice>* SyncService::Subscribe(
    grpc::CallbackServerContext* /*context*/, const vigil::v1::SubscribeRequest* request) {
  constexpr int kMaxScopes = 1000;
  if (request->scopes_size() == 0 || request->scopes_size() > kMaxScopes) {
    return new RefusedWriteReactor<vigil::v1::ChangeNotice>(WithReason(
        absl::InvalidArgumentError("subscribe to 1..1000 scopes"), "SCOPES_INVALID"));
  }
  std::set<std::string> scopes;
  for (const auto& scope : request->scopes()) {
    if (absl::Status s = RecordStore::ValidateScope(scope); !s.ok()) {
      return new RefusedWriteReactor<vigil::v1::ChangeNotice>(s);
    }
    scopes.insert(scope);
  }
  return new SubscribeReactor(hub_, std::move(scopes), storage_->LastCommittedSeq());
}

grpc::ServerReadReactor<UploadAttachmentRequest>* SyncService::UploadAttachment(
    grpc::CallbackServerContext* context, AttachmentStatus* response) {
  return new UploadReactor(attachments_, CallerOf(*context), response);
}

grpc::ServerUnaryReactor* SyncService::GetAttachmentStatus(
    grpc::CallbackServerContext* context, const vigil::v1::GetAttachmentStatusRequest* request,
    AttachmentStatus* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<AttachmentState> state = attachments_->GetState(request->sha256());
  if (state.ok()) FillStatus(*state, response);
  reactor->Finish(ToGrpcStatus(state.status()));
  return reactor;
}

grpc::ServerWriteReactor<AttachmentChunk>* SyncService::DownloadAttachment(
    grpc::CallbackServerContext* /*context*/,
    const vigil::v1::DownloadAttachmentRequest* request) {
  return new DownloadReactor(attachments_, *request);
}

}  // namespace vigil::server
