#include "server/api/grpc_status.h"

#include <string>

#include "absl/strings/ascii.h"
#include "base/error_reason.h"
#include "google/rpc/status.pb.h"

namespace vigil::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::ErrorInfo info;
  info.set_domain(std::string(kErrorDomain));
  auto reason = ReasonOf(status);
  info.set_reason(reason.has_value()
                      ? *reason
                      : absl::AsciiStrToUpper(absl::StatusCodeToString(status.code())));
  for (const auto& [key, value] : MetadataOf(status)) {
    (*info.mutable_metadata())[key] = value;
  }
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));
  rich.add_details()->PackFrom(info);
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()), rich.SerializeAsString());
}

absl::StatusOr<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (status.error_details().empty() || !rich.ParseFromString(status.error_details())) {
    return absl::NotFoundError("status carries no google.rpc.Status details");
  }
  for (const auto& any : rich.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return absl::NotFoundError("status carries no google.rpc.ErrorInfo");
}

}  // namespace vigil::server
