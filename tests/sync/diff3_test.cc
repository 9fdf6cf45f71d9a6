#include "sync/diff3.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

struct Diff3Case {
  std::string name;
  std::string base, theirs, ours;
  std::string want;  // merged text, winner = ours
  size_t conflicts;
};

class Diff3TableTest : public ::testing::TestWithParam<Diff3Case> {};

TEST_P(Diff3TableTest, Merges) {
  const Diff3Case& c = GetParam();
  TextMergeResult r = MergeText(c.base, c.theirs, c.ours, TextSide::kOurs);
  EXPECT_EQ(r.merged, c.want);
  EXPECT_THAT(r.conflicts, SizeIs(c.conflicts));
}

// The n-way merge of two versions is the two-way merge with the second as
// the winner.
TEST_P(Diff3TableTest, MergeTextsOfTwoIsMergeText) {
  const Diff3Case& c = GetParam();
  TextMergeAllResult r = MergeTexts(c.base, {c.theirs, c.ours});
  EXPECT_EQ(r.merged, c.want);
  EXPECT_THAT(r.conflicts, SizeIs(c.conflicts));
}

std::vector<Diff3Case> Diff3Cases() {
  const std::string b = "1\n2\n3\n4\n5\n6\n";
  return {
      {"nobody_changed", b, b, b, b, 0},
      {"ours_only", b, b, "1\n2\nX\n4\n5\n6\n", "1\n2\nX\n4\n5\n6\n", 0},
      {"theirs_only", b, "0\n" + b, b, "0\n" + b, 0},
      {"same_change_both", b, "1\nX\n3\n4\n5\n6\n", "1\nX\n3\n4\n5\n6\n",
       "1\nX\n3\n4\n5\n6\n", 0},
      {"distant_edits", b, "A\n2\n3\n4\n5\n6\n", "1\n2\n3\n4\n5\nF\n",
       "A\n2\n3\n4\n5\nF\n", 0},
      {"adjacent_replacements", b, "1\nB\n3\n4\n5\n6\n", "1\n2\nC\n4\n5\n6\n",
       "1\nB\nC\n4\n5\n6\n", 0},
      {"insert_and_delete_elsewhere", b, "1\n2\n3\nnew\n4\n5\n6\n",
       "2\n3\n4\n5\n6\n", "2\n3\nnew\n4\n5\n6\n", 0},
      {"both_append_differently", b, b + "t\n", b + "o\n", b + "o\n", 1},
      {"both_insert_same_place", b, "1\nt\n2\n3\n4\n5\n6\n",
       "1\no\n2\n3\n4\n5\n6\n", "1\no\n2\n3\n4\n5\n6\n", 1},
      {"same_line_different_edits", b, "1\n2\nT\n4\n5\n6\n",
       "1\n2\nO\n4\n5\n6\n", "1\n2\nO\n4\n5\n6\n", 1},
      {"delete_vs_edit_same_line", b, "1\n2\n4\n5\n6\n", "1\n2\nO\n4\n5\n6\n",
       "1\n2\nO\n4\n5\n6\n", 1},
      {"two_separate_conflicts", b, "T\n2\n3\n4\n5\nT\n", "O\n2\n3\n4\n5\nO\n",
       "O\n2\n3\n4\n5\nO\n", 2},
      {"conflict_and_clean_hunk", b, "T\n2\n3\n4\n5\n6\n", "O\n2\n3\n4\nE\n6\n",
       "O\n2\n3\n4\nE\n6\n", 1},
      {"missing_final_newline", "a\nb", "a\nb\n", "A\nb", "A\nb\n", 0},
      {"empty_base", "", "t\n", "o\n", "o\n", 1},
      {"empty_base_same", "", "x\n", "x\n", "x\n", 0},
      {"crlf_lines", "a\r\nb\r\n", "A\r\nb\r\n", "a\r\nB\r\n", "A\r\nB\r\n", 0},
      {"everything_deleted_by_theirs_edited_by_ours", b, "",
       "1\n2\n3\n4\n5\nX\n", "1\n2\n3\n4\n5\nX\n", 1},
  };
}

INSTANTIATE_TEST_SUITE_P(Rules, Diff3TableTest,
                         ::testing::ValuesIn(Diff3Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Diff3Test, ConflictHunkHoldsBaseAndBothSides) {
  TextMergeResult r =
      MergeText("a\nb\nc\n", "a\nT\nc\n", "a\nO1\nO2\nc\n", TextSide::kTheirs);
  EXPECT_EQ(r.merged, "a\nT\nc\n");
  ASSERT_THAT(r.conflicts, SizeIs(1));
  EXPECT_EQ(r.conflicts[0].base_first_line, 1u);
  EXPECT_EQ(r.conflicts[0].base, "b\n");
  EXPECT_EQ(r.conflicts[0].theirs, "T\n");
  EXPECT_EQ(r.conflicts[0].ours, "O1\nO2\n");
}

TEST(Diff3Test, WinnerChoosesConflictingRegionOnly) {
  const std::string b = "1\n2\n3\n4\n";
  const std::string t = "T\n2\n3\n4\n";
  const std::string o = "O\n2\n3\nE\n";
  EXPECT_EQ(MergeText(b, t, o, TextSide::kTheirs).merged, "T\n2\n3\nE\n");
  EXPECT_EQ(MergeText(b, t, o, TextSide::kOurs).merged, "O\n2\n3\nE\n");
}

TEST(Diff3Test, MergeTextsJoinsOverlappingRegionsOfAllVersions) {
  const std::string b = "1\n2\n3\n4\n5\n6\n";
  // v0 (lines 1-2) and v2 (line 3) overlap only through v1 (lines 2-3), so
  // the three form one region; v3 changes line 6 alone.
  TextMergeAllResult r =
      MergeTexts(b, {"A\nA\n3\n4\n5\n6\n", "1\nB\nB\n4\n5\n6\n",
                     "1\n2\nC\n4\n5\n6\n", "1\n2\n3\n4\n5\nD\n"});
  // The region goes to its last changer (v2); line 6 to v3.
  EXPECT_EQ(r.merged, "1\n2\nC\n4\n5\nD\n");
  ASSERT_THAT(r.conflicts, SizeIs(1));
  EXPECT_EQ(r.conflicts[0].base_first_line, 0u);
  EXPECT_EQ(r.conflicts[0].base, "1\n2\n3\n");
  ASSERT_THAT(r.conflicts[0].texts, SizeIs(3));
  EXPECT_EQ(r.conflicts[0].texts[0],
            std::make_pair(size_t{0}, std::string("A\nA\n3\n")));
  EXPECT_EQ(r.conflicts[0].texts[1],
            std::make_pair(size_t{1}, std::string("1\nB\nB\n")));
  EXPECT_EQ(r.conflicts[0].texts[2],
            std::make_pair(size_t{2}, std::string("1\n2\nC\n")));
  // Adjacent replacements by different versions still merge.
  r = MergeTexts(b, {"A\n2\n3\n4\n5\n6\n", "1\nB\n3\n4\n5\n6\n"});
  EXPECT_EQ(r.merged, "A\nB\n3\n4\n5\n6\n");
  EXPECT_TRUE(r.clean());
  // Versions that agree on a region merge cleanly there.
  r = MergeTexts(b, {"X\n2\n3\n4\n5\n6\n", "X\n2\n3\n4\n5\n6\n", b});
  EXPECT_EQ(r.merged, "X\n2\n3\n4\n5\n6\n");
  EXPECT_TRUE(r.clean());
}

TEST(Diff3Test, SplitLinesKeepsLineEnds) {
  EXPECT_THAT(SplitLines("a\nb"), ElementsAre("a\n", "b"));
  EXPECT_THAT(SplitLines(""), IsEmpty());
  EXPECT_THAT(SplitLines("\n\n"), ElementsAre("\n", "\n"));
}

TEST(Diff3Test, LargeDissimilarInputsStayCorrect) {
  // Past the edit-distance cap the diff is coarse but the merge still keeps
  // every side's text: a one-sided change is taken whole.
  std::string base, theirs;
  for (int i = 0; i < 6000; ++i) {
    base += "b" + std::to_string(i) + "\n";
    theirs += "t" + std::to_string(i) + "\n";
  }
  TextMergeResult r = MergeText(base, theirs, base, TextSide::kOurs);
  EXPECT_EQ(r.merged, theirs);
  std::string ours = base + "tail\n";
  r = MergeText(base, theirs, ours, TextSide::kOurs);
  EXPECT_FALSE(r.clean());
  EXPECT_NE(r.merged.find("tail\n"), std::string::npos);
}

}  // namespace
}  // namespace vigil::sync
