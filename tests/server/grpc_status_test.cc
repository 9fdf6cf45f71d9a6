#include "client/channel.h"
#include "server/api/grpc_status.h"

#include "base/error_reason.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::server {
namespace {

TEST(GrpcStatusTest, CarriesCodeMessageAndErrorInfo) {
  absl::Status s = WithReason(absl::InvalidArgumentError("bad body"), "BODY_WRONG_KIND",
                              {{"mutation_id", "m-1"}, {"field", "body"}});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "bad body");
  auto info = client::ErrorInfoOf(g);
  ASSERT_OK(info);
  EXPECT_EQ(info->domain(), "vigil.npm");
  EXPECT_EQ(info->reason(), "BODY_WRONG_KIND");
  EXPECT_EQ(info->metadata().at("mutation_id"), "m-1");
  EXPECT_EQ(info->metadata().at("field"), "body");
}

TEST(GrpcStatusTest, ReasonDefaultsToCodeName) {
  grpc::Status g = ToGrpcStatus(absl::FailedPreconditionError("locked"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto info = client::ErrorInfoOf(g);
  ASSERT_OK(info);
  EXPECT_EQ(info->reason(), "FAILED_PRECONDITION");
}

TEST(GrpcStatusTest, OkStaysOkWithoutDetails) {
  grpc::Status g = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(g.ok());
  EXPECT_THAT(client::ErrorInfoOf(g), testing::StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vigil::server
