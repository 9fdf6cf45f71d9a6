#include "storage/key_codec.h"

#include <algorithm>
#include <random>
#include <tuple>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::StatusIs;

TEST(KeyCodecTest, RoundTripsMixedComponents) {
  const std::vector<std::string> strings = {
      "", "a", std::string("\0", 1), std::string("a\0b", 3),
      std::string("\xFF\0\xFF", 3), "visit/0192f7a0-7c1e-7000-8000-000000000001"};
  const std::vector<std::uint64_t> numbers = {0, 1, 255, 256, 1ull << 40,
                                              ~0ull};
  for (const auto& s : strings) {
    for (std::uint64_t n : numbers) {
      std::string key = KeyBuilder().AddString(s).AddUint64(n).AddString(s).key();
      auto reader = KeyReader::Create(key);
      ASSERT_OK(reader);
      auto s1 = reader->ReadString();
      auto n1 = reader->ReadUint64();
      auto s2 = reader->ReadString();
      ASSERT_OK(s1);
      ASSERT_OK(n1);
      ASSERT_OK(s2);
      EXPECT_EQ(*s1, s);
      EXPECT_EQ(*n1, n);
      EXPECT_EQ(*s2, s);
      EXPECT_TRUE(reader->done());
    }
  }
}

TEST(KeyCodecTest, FirstByteIsFormatVersion) {
  EXPECT_EQ(static_cast<std::uint8_t>(KeyBuilder().key()[0]), kKeyFormatVersion);
  std::string other = KeyBuilder().AddUint64(7).key();
  other[0] = static_cast<char>(kKeyFormatVersion + 1);
  EXPECT_THAT(KeyReader::Create(other), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(KeyCodecTest, MalformedKeysAreDataLoss) {
  std::string key = KeyBuilder().AddUint64(5).key();
  auto truncated = KeyReader::Create(key.substr(0, 5));
  ASSERT_OK(truncated);
  EXPECT_THAT(truncated->ReadUint64(), StatusIs(absl::StatusCode::kDataLoss));

  auto unterminated = KeyReader::Create(KeyBuilder().key() + "abc");
  ASSERT_OK(unterminated);
  EXPECT_THAT(unterminated->ReadString(), StatusIs(absl::StatusCode::kDataLoss));

  auto bad_escape = KeyReader::Create(KeyBuilder().key() + std::string("a\0\x02", 3));
  ASSERT_OK(bad_escape);
  EXPECT_THAT(bad_escape->ReadString(), StatusIs(absl::StatusCode::kDataLoss));

  EXPECT_THAT(KeyReader::Create(""), StatusIs(absl::StatusCode::kDataLoss));
}

// Byte order of encoded keys equals the tuple order of their components.
TEST(KeyCodecTest, EncodingPreservesTupleOrder) {
  std::mt19937_64 rng(42);
  auto random_string = [&] {
    std::string s(rng() % 5, '\0');
    for (char& c : s) c = "\0\1a\xFE\xFF"[rng() % 5];
    return s;
  };
  struct Tuple {
    std::string a;
    std::uint64_t n;
    std::string b;
  };
  std::vector<Tuple> tuples;
  for (int i = 0; i < 2000; ++i) {
    tuples.push_back({random_string(), rng() % 4 == 0 ? rng() : rng() % 300,
                      random_string()});
  }
  for (std::size_t i = 0; i + 1 < tuples.size(); ++i) {
    const Tuple& x = tuples[i];
    const Tuple& y = tuples[i + 1];
    std::string kx = KeyBuilder().AddString(x.a).AddUint64(x.n).AddString(x.b).key();
    std::string ky = KeyBuilder().AddString(y.a).AddUint64(y.n).AddString(y.b).key();
    bool tuple_less =
        std::tie(x.a, x.n, x.b) < std::tie(y.a, y.n, y.b);
    bool key_less = kx < ky;
    ASSERT_EQ(tuple_less, key_less) << i;
    ASSERT_EQ(kx == ky, std::tie(x.a, x.n, x.b) == std::tie(y.a, y.n, y.b));
  }
}

TEST(KeyCodecTest, LeadingComponentsArePrefixes) {
  std::string scope = KeyBuilder().AddString("visit-1").key();
  std::string key = KeyBuilder().AddString("visit-1").AddUint64(9).key();
  std::string other = KeyBuilder().AddString("visit-10").AddUint64(1).key();
  EXPECT_EQ(key.rfind(scope, 0), 0u);
  EXPECT_NE(other.rfind(scope, 0), 0u);  // "visit-1" is not a prefix of "visit-10"
}

TEST(KeyCodecTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xFF", 2)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xFF\xFF", 2)), "");
  std::string p = KeyBuilder().AddString("x").key();
  std::string inside = KeyBuilder().AddString("x").AddUint64(~0ull).key();
  EXPECT_LT(inside, PrefixSuccessor(p));
}

}  // namespace
}  // namespace vigil::storage
