// vigil.v1.SyncService on the gRPC callback API. Every handler first
// authenticates its caller (auth.h); the layers below check its rights
// (access_policy.h). Handlers validate, convert, call the layer below and
// finish; they never block a reactor.
#ifndef VIGIL_SERVER_API_SYNC_SERVICE_H_
#define VIGIL_SERVER_API_SYNC_SERVICE_H_

#include "server/auth/access_policy.h"
#include "server/records/attachment_store.h"
#include "server/auth/authenticator.h"
#include "server/api/change_hub.h"
#include "server/records/receipts.h"
#include "server/records/record_store.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::server {

// Push takes its request as raw bytes, so that a batch the generated parser
// refuses (invalid UTF-8 in a text field) still gets a clear error naming the
// mutation rather than gRPC's bare failure.
// Pull answers with bytes assembled from the stored records (no parse and
// re-serialization of every record on the hot path).
class SyncService final
    : public vigil::v1::SyncService::WithRawCallbackMethod_Pull<
          vigil::v1::SyncService::WithRawCallbackMethod_Push<
              vigil::v1::SyncService::CallbackService>> {
 public:
  // Everything is borrowed and must outlive the service.
  SyncService(Authenticator* auth, const AccessPolicy* policy, RecordStore* records,
              AttachmentStore* attachments, ChangeHub* hub, ReceiptSigner* signer)
      : auth_(auth),
        policy_(policy),
        records_(records),
        attachments_(attachments),
        hub_(hub),
        signer_(signer) {}

  grpc::ServerUnaryReactor* GetReceipt(grpc::CallbackServerContext* context,
                                       const vigil::v1::GetReceiptRequest* request,
                                       vigil::v1::Receipt* response) override;

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

  grpc::ServerWriteReactor<vigil::v1::ChangeNotice>* Subscribe(
      grpc::CallbackServerContext* context, const vigil::v1::SubscribeRequest* request) override;

  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* context,
                                       const vigil::v1::GetHistoryRequest* request,
                                       vigil::v1::GetHistoryResponse* response) override;

  grpc::ServerReadReactor<vigil::v1::UploadAttachmentRequest>* UploadAttachment(
      grpc::CallbackServerContext* context, vigil::v1::AttachmentStatus* response) override;

  grpc::ServerUnaryReactor* GetAttachmentStatus(
      grpc::CallbackServerContext* context,
      const vigil::v1::GetAttachmentStatusRequest* request,
      vigil::v1::AttachmentStatus* response) override;

  grpc::ServerWriteReactor<vigil::v1::AttachmentChunk>* DownloadAttachment(
      grpc::CallbackServerContext* context,
      const vigil::v1::DownloadAttachmentRequest* request) override;

 private:
  Authenticator* auth_;
  const AccessPolicy* policy_;
  RecordStore* records_;
  AttachmentStore* attachments_;
  ChangeHub* hub_;
  ReceiptSigner* signer_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_SYNC_SERVICE_H_
