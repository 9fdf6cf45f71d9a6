// Minimal generic gRPC calls for tests that check standard services (health,
// reflection) whose C++ stubs Debian does not ship: raw protobuf bytes in,
// raw bytes out.
#ifndef VIGIL_TESTS_TESTING_GRPC_PROBE_H_
#define VIGIL_TESTS_TESTING_GRPC_PROBE_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace vigil::testing {

inline std::string BufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// A unary call of `method` ("/pkg.Service/Method") with serialized request.
inline grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& method, const std::string& request,
                                 std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  auto call = stub.PrepareUnaryCall(&context, method, request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  *response = BufferToString(response_buffer);
  return status;
}

// grpc.health.v1.Health/Check for the whole server ("" service): the
// response's status field, 1 = SERVING, 2 = NOT_SERVING.
inline absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  std::string response;
  grpc::Status s = RawUnaryCall(channel, "/grpc.health.v1.Health/Check", "", &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  if (response.empty()) return 0;  // proto3 default: UNKNOWN
  if (response.size() != 2 || response[0] != 0x08) {
    return absl::DataLossError("unexpected health response");
  }
  return static_cast<int>(response[1]);
}

// Sends one list_services request on the reflection stream and returns the
// raw response (service names appear in it as strings).
inline absl::StatusOr<std::string> ReflectionListServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context,
                               "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                               &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](int id) {
    cq.Next(&tag, &ok);
    return ok && tag == reinterpret_cast<void*>(static_cast<intptr_t>(id));
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(1)) return absl::UnavailableError("reflection call did not start");
  const std::string request("\x3a\x01*", 3);  // field 7 list_services = "*"
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  call->Write(request_buffer, reinterpret_cast<void*>(2));
  if (!step(2)) return absl::UnavailableError("reflection write failed");
  grpc::ByteBuffer response_buffer;
  call->Read(&response_buffer, reinterpret_cast<void*>(3));
  if (!step(3)) return absl::UnavailableError("reflection read failed");
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  return BufferToString(response_buffer);
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_GRPC_PROBE_H_
