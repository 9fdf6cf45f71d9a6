// Enrolling users' devices through the AdminService, as an admin would with
// vigilctl: for tests and benchmarks.
#ifndef VIGIL_TESTS_TESTING_ENROLL_H_
#define VIGIL_TESTS_TESTING_ENROLL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/bearer_channel.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::testing {

// grpc::Status -> absl::Status (code and message), for test helpers.
inline absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// Creates the user (unless it exists) and enrolls a new device of theirs with
// the admin's token; returns the device token.
inline absl::StatusOr<std::string> EnrollUser(const std::string& target,
                                              const std::string& admin_token,
                                              const std::string& user_id, vigil::v1::Role role,
                                              const std::string& device_name = "test device") {
  auto admin = vigil::v1::AdminService::NewStub(BearerChannel(target, admin_token));
  {
    grpc::ClientContext ctx;
    vigil::v1::CreateUserRequest request;
    request.mutable_user()->set_user_id(user_id);
    request.mutable_user()->set_display_name(user_id);
    request.mutable_user()->set_role(role);
    vigil::v1::User user;
    grpc::Status s = admin->CreateUser(&ctx, request, &user);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) return FromGrpc(s);
  }
  vigil::v1::EnrollmentCode code;
  {
    grpc::ClientContext ctx;
    vigil::v1::CreateEnrollmentCodeRequest request;
    request.set_user_id(user_id);
    grpc::Status s = admin->CreateEnrollmentCode(&ctx, request, &code);
    if (!s.ok()) return FromGrpc(s);
  }
  grpc::ClientContext ctx;
  vigil::v1::EnrollDeviceRequest request;
  request.set_enrollment_code(code.code());
  request.set_device_name(device_name);
  vigil::v1::EnrollDeviceResponse enrolled;
  grpc::Status s = vigil::v1::AdminService::NewStub(BearerChannel(target, ""))
                       ->EnrollDevice(&ctx, request, &enrolled);
  if (!s.ok()) return FromGrpc(s);
  return enrolled.token();
}

inline absl::Status AddToTeam(const std::string& target, const std::string& admin_token,
                              const std::string& visit_id, const std::string& user_id,
                              vigil::v1::TeamRole role) {
  grpc::ClientContext ctx;
  vigil::v1::SetTeamMemberRequest request;
  request.mutable_membership()->set_visit_id(visit_id);
  request.mutable_membership()->set_user_id(user_id);
  request.mutable_membership()->set_team_role(role);
  vigil::v1::TeamMembership membership;
  return FromGrpc(vigil::v1::AdminService::NewStub(BearerChannel(target, admin_token))
                      ->SetTeamMember(&ctx, request, &membership));
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_ENROLL_H_
