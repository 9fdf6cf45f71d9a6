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

}  // namespace vigil::server
