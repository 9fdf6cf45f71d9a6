// absl::Status -> grpc::Status: the one place where it happens. Every error
// leaves the server with a google.rpc.Status in the grpc-status-details-bin
// trailer holding a google.rpc.ErrorInfo (domain "vigil.npm", a stable reason
// and the metadata attached with WithReason()).
#ifndef VIGIL_SERVER_API_GRPC_STATUS_H_
#define VIGIL_SERVER_API_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/support/status.h"

namespace vigil::server {

// Reason used when a status carries none: the canonical code name,
// e.g. "INVALID_ARGUMENT".
grpc::Status ToGrpcStatus(const absl::Status& status);

// Clients (and tests) decode it with client::ErrorInfoOf (client/channel.h).

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_GRPC_STATUS_H_
