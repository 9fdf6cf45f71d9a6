// An in-process vigild on 127.0.0.1:0 (plaintext, loopback only) over a
// fresh data directory, for service tests.
#ifndef VIGIL_TESTS_TESTING_TEST_SERVER_H_
#define VIGIL_TESTS_TESTING_TEST_SERVER_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "server/vigil_server.h"
#include "tests/testing/temp_dir.h"

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
  server::VigilServer& server() { return *server_; }
  const TempDir& dir() const { return dir_; }

  std::shared_ptr<grpc::Channel> NewChannel() const {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a fresh connection each
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

 private:
  TempDir dir_;
  absl::Status status_;
  std::unique_ptr<server::VigilServer> server_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TEST_SERVER_H_
