// Replays the merge/diff3 fuzz entry (fuzz/merge_fuzz.cc) over a seeded
// corpus and a bounded number of deterministic random mutations of it, so the
// normal (gcc) build exercises what the libFuzzer binary explores.
#include "fuzz/merge_fuzz.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fuzz/narrative_history.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "vigil/v1/record.pb.h"

namespace vigil::fuzz {
namespace {

std::string Body(const std::string& text) {
  v1::RecordBody body;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &body));
  return body.SerializeAsString();
}

const std::string kIssue15History = std::string(
    "\x04"                          // mode: narrative history, disjoint
    "\x00"                          // 3 slots
    "\x01\x00\x02"                  // E1: device 1, revision 1, slot 2
    "\x02\x00\x01"                  // E2: device 2, revision 1, slot 1
    "\x06\x00\x01"                  // E3: device 2, chained, slot 1
    "\x13\x02\x00",                 // E4: device 3 at 2, revision 3, slot 0
    14);

std::vector<std::string> Seeds() {
  const std::string b = Body(
      "finding { title: \"a\" narrative: \"1\\n2\\n3\\n\" tags: \"x\" "
      "sources { id: \"s1\" note: \"n\" } }");
  const std::string t = Body(
      "finding { title: \"t\" narrative: \"1\\nT\\n3\\n\" tags: \"y\" "
      "sources { id: \"s1\" note: \"t\" } sources { id: \"s2\" } }");
  const std::string o = Body(
      "finding { title: \"o\" narrative: \"1\\nO\\n3\\n4\\n\" "
      "sources { id: \"s1\" note: \"o\" type: SOURCE_TYPE_PHOTO } }");
  const std::string v = Body(
      "visit { team { id: \"m1\" role: TEAM_ROLE_MONITOR } "
      "actual_start { seconds: 5 } }");
  const std::string r = Body(
      "recommendation { deadline { year: 2026 } responses { id: \"r1\" "
      "text: \"ok\\n\" } }");
  return {
      EncodeInput(kDiff3, "a\nb\nc\n", "a\nB\nc\n", "a\nb\nC\n"),
      EncodeInput(kDiff3, "a\nb\nc\n", "a\nT\nc\n", "a\nO\nc\n"),
      EncodeInput(kDiff3, "", "x", "y\n"),
      EncodeInput(kBodyMerge, b, t, o),
      EncodeInput(kBodyMerge, "", v, r),
      EncodeInput(kBodyMerge, v, v, Body("visit { team { id: \"m2\" } }")),
      EncodeInput(kRecord, b, t, o),
      EncodeInput(static_cast<Mode>(kRecord | 0x10), b, o, t),
      EncodeInput(kIdsAndClock, "01901234-5678-7abc-8def-0123456789ab",
                  "0123456789", "\x01\x90\x12\x34\x56\x78"),
      EncodeInput(kIdsAndClock, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "",
                  "\xff\xff\xff\xff\xff\xff\xff\xff"),
      // Issue 15's history: 3 slots; E1 (device 1) and E2 (device 2) on
      // revision 1, E3 chained on E2, E4 (device 3) on revision 3.
      kIssue15History,
      // The same with overlaps allowed (mode bit 0x80).
      std::string(1, static_cast<char>(kNarrativeHistory | 0x80)) +
          kIssue15History.substr(1),
  };
}

std::string RunOne(const std::string& input) {
  google::protobuf::LogSilencer quiet;  // hostile bodies are invalid UTF-8
  return RunInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(MergeFuzzTest, SeedCorpus) {
  for (const std::string& seed : Seeds()) EXPECT_EQ(RunOne(seed), "");
}

// The seed decodes to the sequence issue 15 reported.
TEST(MergeFuzzTest, Issue15SeedIsTheReportedHistory) {
  const NarrativePlan plan =
      PlanFromBytes(kIssue15History.substr(1), /*disjoint=*/true);
  EXPECT_EQ(DescribePlan(plan),
            "3 slots\n"
            "m-1 dev-1 at 1: made on revision 1, rewrites slots 2 with 1 line(s)\n"
            "m-2 dev-2 at 1: made on revision 1, rewrites slots 1 with 1 line(s)\n"
            "m-3 dev-2 at 2: chained on m-2, rewrites slots 1 with 1 line(s)\n"
            "m-4 dev-3 at 2: made on revision 3, rewrites slots 0 with 1 line(s)\n");
}

TEST(MergeFuzzTest, RandomMutationsOfTheCorpus) {
  const std::vector<std::string> seeds = Seeds();
  std::mt19937 rng(20260501);  // fixed: the same inputs on every run
  constexpr int kInputs = 5000;
  for (int n = 0; n < kInputs; ++n) {
    std::string input = seeds[rng() % seeds.size()];
    const int edits = 1 + rng() % 8;
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const size_t at = rng() % input.size();
      switch (rng() % 5) {
        case 0:  // flip a bit (never the mode byte's low bits)
          if (at > 0) input[at] ^= static_cast<char>(1 << (rng() % 8));
          break;
        case 1:
          input.insert(at, 1, static_cast<char>(rng()));
          break;
        case 2:
          input.erase(at, 1 + rng() % 4);
          break;
        case 3: {  // splice a piece of another seed
          const std::string& other = seeds[rng() % seeds.size()];
          const size_t from = rng() % other.size();
          input.insert(at, other.substr(from, 1 + rng() % 16));
          break;
        }
        default:
          input[at] = "\n\x08\x12\x1a\"*2\xff\x00"[rng() % 9];
          break;
      }
    }
    ASSERT_EQ(RunOne(input), "") << "input " << n;
  }
}

TEST(MergeFuzzTest, RandomBytes) {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    std::string input(rng() % 300, '\0');
    for (char& c : input) c = static_cast<char>(rng());
    ASSERT_EQ(RunOne(input), "") << "input " << n;
  }
}

}  // namespace
}  // namespace vigil::fuzz
