// An in-process vigild on 127.0.0.1:0 (plaintext, loopback only) over a
// fresh data directory, for service tests, with helpers to enroll users'
// devices through the AdminService as the initial admin.
#ifndef VIGIL_TESTS_TESTING_TEST_SERVER_H_
#define VIGIL_TESTS_TESTING_TEST_SERVER_H_

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/api/grpc_status.h"
#include "server/api/vigil_server.h"
#include "tests/testing/bearer_channel.h"
#include "tests/testing/enroll.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::testing {

class TestServer {
 public:
  explicit TestServer(server::ServerConfig config = {}) {
    config.data_dir = dir_.Sub("data");
    config.listen = "127.0.0.1:0";
    config.plaintext_loopback = true;
    config.log_level = "warn";
    auto started = server::VigilServer::Start(config);
    if (started.ok()) server_ = std::move(*started);
    status_ = started.status();
  }

  const absl::Status& status() const { return status_; }
  // Stops the server (its data directory stays, for offline commands).
  void Stop() { server_.reset(); }
  std::string data_dir() const { return dir_.Sub("data"); }
  server::VigilServer& server() { return *server_; }
  const TempDir& dir() const { return dir_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // A channel whose calls carry `token` (none when empty). A fresh
  // connection each.
  std::shared_ptr<grpc::Channel> ChannelWithToken(const std::string& token) const {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return BearerChannel(target(), token, args);
  }

  // A channel of an NPM reviewer's device (every scope, nothing redacted),
  // enrolled on first use: for tests about sync rather than access.
  std::shared_ptr<grpc::Channel> NewChannel() { return ChannelWithToken(ReviewerToken()); }

  // The token of that reviewer device (user "reviewer").
  const std::string& ReviewerToken() {
    if (reviewer_token_.empty()) {
      absl::StatusOr<std::string> token = EnrollUser("reviewer", vigil::v1::ROLE_NPM_REVIEWER);
      if (token.ok()) reviewer_token_ = *token;
    }
    return reviewer_token_;
  }

  std::string AdminToken() const {
    std::ifstream in(dir_.Sub("data") + "/initial-admin-token");
    std::string token;
    in >> token;
    return token;
  }

  std::unique_ptr<vigil::v1::AdminService::Stub> Admin() const {
    return vigil::v1::AdminService::NewStub(ChannelWithToken(AdminToken()));
  }

  // Creates the user (unless it exists) and enrolls a new device of theirs;
  // returns the device token.
  absl::StatusOr<std::string> EnrollUser(const std::string& user_id, vigil::v1::Role role,
                                         const std::string& device_name = "test device") {
    return testing::EnrollUser(target(), AdminToken(), user_id, role, device_name);
  }

  absl::Status AddToTeam(const std::string& visit_id, const std::string& user_id,
                         vigil::v1::TeamRole role) {
    return testing::AddToTeam(target(), AdminToken(), visit_id, user_id, role);
  }

 private:
  TempDir dir_;
  absl::Status status_;
  std::unique_ptr<server::VigilServer> server_;
  std::string reviewer_token_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TEST_SERVER_H_
