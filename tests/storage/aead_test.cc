// The one authenticated cipher (storage/aead.h).
#include "storage/aead.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::storage {
namespace {

const unsigned char kKey[kAeadKeyBytes] = {1, 2, 3};
const unsigned char kOtherKey[kAeadKeyBytes] = {9};

TEST(AeadTest, ABoxOpensOnlyWithItsKeyAndName) {
  const std::string sealed = SealBox(kKey, "interview notes", "t/rec/1");
  EXPECT_EQ(sealed.size(), kAeadNonceBytes + 15 + kAeadTagBytes);
  EXPECT_EQ(sealed.find("interview"), std::string::npos);
  EXPECT_EQ(*OpenBox(kKey, sealed, "t/rec/1"), "interview notes");
  EXPECT_NE(SealBox(kKey, "interview notes", "t/rec/1"), sealed);  // a fresh nonce each time
  EXPECT_THAT(OpenBox(kKey, sealed, "t/rec/2"), testing::StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(OpenBox(kOtherKey, sealed, "t/rec/1"),
              testing::StatusIs(absl::StatusCode::kDataLoss));
  std::string tampered = sealed;
  tampered[kAeadNonceBytes] ^= 1;
  EXPECT_THAT(OpenBox(kKey, tampered, "t/rec/1"), testing::StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(OpenBox(kKey, "short", "t/rec/1"), testing::StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, AChunkOpensOnlyWithItsNonce) {
  unsigned char nonce[kAeadNonceBytes] = {7};
  unsigned char other[kAeadNonceBytes] = {8};
  const std::string sealed = SealWithNonce(kKey, nonce, "photo bytes");
  std::string plain;
  ASSERT_TRUE(OpenWithNonce(kKey, nonce, sealed, &plain));
  EXPECT_EQ(plain, "photo bytes");
  EXPECT_FALSE(OpenWithNonce(kKey, other, sealed, &plain));
  EXPECT_FALSE(OpenWithNonce(kOtherKey, nonce, sealed, &plain));
}

}  // namespace
}  // namespace vigil::storage
