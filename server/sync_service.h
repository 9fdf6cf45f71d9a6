// vigil.v1.SyncService on the gRPC callback API. Handlers validate, convert,
// call the layer below and finish; they never block a reactor.
#ifndef VIGIL_SERVER_SYNC_SERVICE_H_
#define VIGIL_SERVER_SYNC_SERVICE_H_

#include "server/attachment_store.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::server {

class SyncService final : public vigil::v1::SyncService::CallbackService {
 public:
  // `attachments` is borrowed and must outlive the service.
  explicit SyncService(AttachmentStore* attachments) : attachments_(attachments) {}

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
  AttachmentStore* attachments_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_SYNC_SERVICE_H_
