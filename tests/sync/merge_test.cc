#include "sync/merge.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/sync/test_util.h"
#include "tests/testing/status_matchers.h"
#include "vigil/v1/record.pb.h"

namespace vigil::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;
using ::vigil::sync::testing::Edit;
using ::vigil::sync::testing::Parse;
using ::vigil::testing::StatusIs;
using vigil::v1::Conflict;
using vigil::v1::RecordBody;

std::string Text(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(m, &s);
  return s;
}

struct Case {
  std::string name;
  std::string base, theirs, ours;  // RecordBody text; base "-" = no base
  std::string want;                // merged RecordBody text
  std::vector<std::string> conflict_paths;
  bool ours_later = true;
};

class MergeTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(MergeTableTest, MergesAsSpecified) {
  const Case& c = GetParam();
  const RecordBody base = Parse<RecordBody>(c.base == "-" ? "" : c.base);
  const RecordBody theirs = Parse<RecordBody>(c.theirs);
  const RecordBody ours = Parse<RecordBody>(c.ours);
  MergeInput in;
  in.record_id = "rec-1";
  in.base = c.base == "-" ? nullptr : &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Edit("m-ours", c.ours_later ? 200 : 50, "device-b", "bob");
  in.theirs_default_edit = Edit("m-theirs", 100, "device-a", "alice");
  auto result = ThreeWayMerge(in);
  ASSERT_OK(result);
  const RecordBody want = Parse<RecordBody>(c.want);
  EXPECT_EQ(Text(*result->merged), Text(want));
  std::vector<std::string> paths;
  for (const Conflict& conflict : result->open_conflicts) {
    paths.push_back(conflict.field_path());
    EXPECT_EQ(conflict.record_id(), "rec-1");
    EXPECT_EQ(conflict.id(), ConflictId(conflict));
    EXPECT_GE(conflict.versions_size(), 2) << conflict.DebugString();
  }
  EXPECT_THAT(paths, ElementsAreArray(c.conflict_paths));
  EXPECT_EQ(result->clean(), c.conflict_paths.empty());
}

const char kNarrative[] = "l1\\nl2\\nl3\\nl4\\nl5\\n";

std::vector<Case> Cases() {
  auto narrative = [](const std::string& text) {
    return "finding { narrative: \"" + text + "\" }";
  };
  return {
      {"ours_only_register",
       "finding { severity: SEVERITY_LOW }",
       "finding { severity: SEVERITY_LOW }",
       "finding { severity: SEVERITY_HIGH }",
       "finding { severity: SEVERITY_HIGH }",
       {}},
      {"theirs_only_register",
       "finding { severity: SEVERITY_LOW }",
       "finding { severity: SEVERITY_HIGH }",
       "finding { severity: SEVERITY_LOW }",
       "finding { severity: SEVERITY_HIGH }",
       {}},
      {"both_same_register",
       "finding { title: \"a\" }",
       "finding { title: \"b\" }",
       "finding { title: \"b\" }",
       "finding { title: \"b\" }",
       {}},
      {"different_fields_merge",
       "finding { title: \"a\" }",
       "finding { title: \"a\" severity: SEVERITY_HIGH }",
       "finding { title: \"b\" }",
       "finding { title: \"b\" severity: SEVERITY_HIGH }",
       {}},
      {"register_conflict_ours_later",
       "finding { title: \"a\" }",
       "finding { title: \"t\" }",
       "finding { title: \"o\" }",
       "finding { title: \"o\" }",
       {"finding.title"}},
      {"register_conflict_theirs_later",
       "finding { title: \"a\" }",
       "finding { title: \"t\" }",
       "finding { title: \"o\" }",
       "finding { title: \"t\" }",
       {"finding.title"},
       false},
      {"register_clear_vs_change",
       "finding { good_practice: true }",
       "finding { }",
       "finding { good_practice: true title: \"x\" }",
       "finding { title: \"x\" }",
       {}},
      {"register_cleared_vs_changed_conflicts",
       "finding { title: \"a\" }",
       "finding { }",
       "finding { title: \"o\" }",
       "finding { title: \"o\" }",
       {"finding.title"}},
      {"text_disjoint_lines_merge",
       narrative(kNarrative),
       narrative("L1\\nl2\\nl3\\nl4\\nl5\\n"),
       narrative("l1\\nl2\\nl3\\nl4\\nL5\\n"),
       narrative("L1\\nl2\\nl3\\nl4\\nL5\\n"),
       {}},
      {"text_adjacent_lines_merge",
       narrative(kNarrative),
       narrative("l1\\nL2\\nl3\\nl4\\nl5\\n"),
       narrative("l1\\nl2\\nL3\\nl4\\nl5\\n"),
       narrative("l1\\nL2\\nL3\\nl4\\nl5\\n"),
       {}},
      {"text_overlap_conflicts_ours_wins",
       narrative(kNarrative),
       narrative("l1\\nT\\nl3\\nl4\\nl5\\n"),
       narrative("l1\\nO\\nl3\\nl4\\nL5\\n"),
       narrative("l1\\nO\\nl3\\nl4\\nL5\\n"),
       {"finding.narrative"}},
      {"text_overlap_conflicts_theirs_wins",
       narrative(kNarrative),
       narrative("l1\\nT\\nl3\\nl4\\nl5\\n"),
       narrative("l1\\nO\\nl3\\nl4\\nL5\\n"),
       narrative("l1\\nT\\nl3\\nl4\\nL5\\n"),
       {"finding.narrative"},
       false},
      {"set_union_and_removals",
       "finding { tags: \"c\" tags: \"d\" }",
       "finding { tags: \"c\" tags: \"d\" tags: \"a\" }",
       "finding { tags: \"d\" tags: \"b\" }",
       "finding { tags: \"a\" tags: \"b\" tags: \"d\" }",
       {}},
      {"set_same_addition_once",
       "finding { }",
       "finding { tags: \"x\" }",
       "finding { tags: \"x\" tags: \"y\" }",
       "finding { tags: \"x\" tags: \"y\" }",
       {}},
      {"set_enum_values",
       "interview { vulnerability_tags: VULNERABILITY_TAG_WOMAN }",
       "interview { vulnerability_tags: VULNERABILITY_TAG_WOMAN "
       "vulnerability_tags: VULNERABILITY_TAG_JUVENILE }",
       "interview { }",
       "interview { vulnerability_tags: VULNERABILITY_TAG_JUVENILE }",
       {}},
      {"keyed_list_both_add",
       "finding { }",
       "finding { sources { id: \"s2\" note: \"t\" } }",
       "finding { sources { id: \"s1\" note: \"o\" } }",
       "finding { sources { id: \"s1\" note: \"o\" } sources { id: \"s2\" "
       "note: \"t\" } }",
       {}},
      {"keyed_list_same_element_other_fields",
       "finding { sources { id: \"s1\" note: \"n\" } }",
       "finding { sources { id: \"s1\" note: \"n\" type: SOURCE_TYPE_PHOTO } }",
       "finding { sources { id: \"s1\" note: \"m\" } }",
       "finding { sources { id: \"s1\" type: SOURCE_TYPE_PHOTO note: \"m\" } }",
       {}},
      {"keyed_list_same_field_conflicts",
       "finding { sources { id: \"s1\" note: \"n\" } }",
       "finding { sources { id: \"s1\" note: \"t\" } }",
       "finding { sources { id: \"s1\" note: \"o\" } }",
       "finding { sources { id: \"s1\" note: \"o\" } }",
       {"finding.sources[id=s1].note"}},
      {"keyed_list_ours_removes_untouched",
       "finding { sources { id: \"s1\" } sources { id: \"s2\" } }",
       "finding { sources { id: \"s1\" } sources { id: \"s2\" } tags: \"x\" }",
       "finding { sources { id: \"s2\" } }",
       "finding { sources { id: \"s2\" } tags: \"x\" }",
       {}},
      {"keyed_list_ours_removes_theirs_edited",
       "finding { sources { id: \"s1\" note: \"n\" } }",
       "finding { sources { id: \"s1\" note: \"edited\" } }",
       "finding { }",
       "finding { sources { id: \"s1\" note: \"edited\" } }",
       {"finding.sources[id=s1]"}},
      {"keyed_list_theirs_removed_ours_edited",
       "finding { sources { id: \"s1\" note: \"n\" } }",
       "finding { }",
       "finding { sources { id: \"s1\" note: \"edited\" } }",
       "finding { sources { id: \"s1\" note: \"edited\" } }",
       {"finding.sources[id=s1]"}},
      {"keyed_list_both_removed",
       "finding { sources { id: \"s1\" } }",
       "finding { }",
       "finding { title: \"x\" }",
       "finding { title: \"x\" }",
       {}},
      {"keyed_list_ours_order_kept_when_only_ours_changed",
       "finding { sources { id: \"a\" } sources { id: \"b\" } }",
       "finding { sources { id: \"a\" } sources { id: \"b\" } }",
       "finding { sources { id: \"b\" } sources { id: \"c\" } sources { id: "
       "\"a\" } }",
       "finding { sources { id: \"b\" } sources { id: \"c\" } sources { id: "
       "\"a\" } }",
       {}},
      {"nested_keyed_list_set",
       "visit { team { id: \"m1\" } }",
       "visit { team { id: \"m1\" focus_areas: \"health\" } }",
       "visit { team { id: \"m1\" focus_areas: \"food\" role: "
       "TEAM_ROLE_MONITOR } }",
       "visit { team { id: \"m1\" role: TEAM_ROLE_MONITOR focus_areas: "
       "\"food\" focus_areas: \"health\" } }",
       {}},
      {"sub_message_fields_merge",
       "interview { consent { } }",
       "interview { consent { record: true } }",
       "interview { consent { quote: true } }",
       "interview { consent { record: true quote: true } }",
       {}},
      {"sub_message_same_field_conflicts",
       "facility { address { locality: \"A\" } }",
       "facility { address { locality: \"X\" } }",
       "facility { address { locality: \"Y\" street: \"S\" } }",
       "facility { address { street: \"S\" locality: \"X\" } }",
       {"facility.address.locality"},
       false},
      {"atomic_message_is_a_register",
       "recommendation { deadline { year: 2026 month: 5 day: 1 } }",
       "recommendation { deadline { year: 2027 month: 5 day: 1 } }",
       "recommendation { deadline { year: 2026 month: 5 day: 9 } }",
       "recommendation { deadline { year: 2026 month: 5 day: 9 } }",
       {"recommendation.deadline"}},
      {"well_known_type_is_a_register",
       "visit { actual_start { seconds: 10 } }",
       "visit { actual_start { seconds: 20 } }",
       "visit { actual_start { seconds: 10 nanos: 5 } }",
       "visit { actual_start { seconds: 10 nanos: 5 } }",
       {"visit.actual_start"}},
      {"create_vs_create_merges_with_empty_base",
       "-",
       "finding { title: \"t\" severity: SEVERITY_HIGH tags: \"a\" }",
       "finding { title: \"o\" location: \"wing B\" tags: \"b\" }",
       "finding { location: \"wing B\" severity: SEVERITY_HIGH title: \"o\" "
       "tags: \"a\" tags: \"b\" }",
       {"finding.title"}},
      {"oneof_case_differs_conflicts",
       "-",
       "finding { title: \"t\" }",
       "visit { summary: \"o\" }",
       "visit { summary: \"o\" }",
       {"kind"}},
      {"oneof_case_differs_theirs_wins",
       "-",
       "finding { title: \"t\" }",
       "visit { summary: \"o\" }",
       "finding { title: \"t\" }",
       {"kind"},
       false},
  };
}

INSTANTIATE_TEST_SUITE_P(Rules, MergeTableTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MergeTest, ConflictHoldsBaseEveryValueAndTheirAuthors) {
  const auto base = Parse<RecordBody>("finding { title: \"a\" }");
  const auto theirs = Parse<RecordBody>("finding { title: \"t\" }");
  const auto ours = Parse<RecordBody>("finding { title: \"o\" }");
  MergeInput in;
  in.record_id = "rec-1";
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Edit("m-o", 200, "dev-o", "bob");
  in.theirs_default_edit = Edit("m-t", 100, "dev-t", "alice");
  auto result = ThreeWayMerge(in);
  ASSERT_OK(result);
  ASSERT_THAT(result->open_conflicts, SizeIs(1));
  const Conflict& c = result->open_conflicts[0];
  EXPECT_EQ(c.kind(), vigil::v1::CONFLICT_KIND_FIELD);
  EXPECT_EQ(c.field_path(), "finding.title");
  auto decode = [](const vigil::v1::FieldValue& v) {
    // The carrier is the message holding the field, with only it set.
    EXPECT_EQ(v.carrier_type(), "vigil.v1.Finding");
    vigil::v1::Finding finding;
    EXPECT_TRUE(finding.ParseFromString(v.carrier()));
    return finding.title();
  };
  EXPECT_EQ(decode(c.base()), "a");
  ASSERT_THAT(c.versions(), SizeIs(2));
  EXPECT_EQ(decode(c.versions(0).value()), "t");
  EXPECT_EQ(c.versions(0).edit().author(), "alice");
  EXPECT_EQ(c.versions(0).edit().device_id(), "dev-t");
  EXPECT_EQ(c.versions(0).edit().mutation_id(), "m-t");
  EXPECT_EQ(decode(c.versions(1).value()), "o");
  EXPECT_EQ(c.versions(1).edit().author(), "bob");
  EXPECT_EQ(c.versions(1).edit().hlc().wall_time_micros(), 200);
  EXPECT_EQ(c.winner_mutation_id(), "m-o");
  EXPECT_THAT(result->touched_conflict_ids, ElementsAre(c.id()));
}

TEST(MergeTest, EqualHlcFallsBackToDeviceId) {
  const auto base = Parse<RecordBody>("finding { title: \"a\" }");
  const auto theirs = Parse<RecordBody>("finding { title: \"t\" }");
  const auto ours = Parse<RecordBody>("finding { title: \"o\" }");
  for (const auto& [their_device, want] :
       std::vector<std::pair<std::string, std::string>>{{"dev-z", "t"},
                                                        {"dev-a", "o"}}) {
    MergeInput in;
    in.base = &base;
    in.theirs = &theirs;
    in.ours = &ours;
    in.ours_edit = Edit("m-o", 100, "dev-m");
    in.theirs_default_edit = Edit("m-t", 100, their_device);
    auto result = ThreeWayMerge(in);
    ASSERT_OK(result);
    EXPECT_EQ(static_cast<const RecordBody&>(*result->merged).finding().title(),
              want)
        << their_device;
  }
}

TEST(MergeTest, TextConflictHoldsHunksAndBothVersions) {
  const auto base = Parse<RecordBody>(R"(finding { narrative: "a\nb\nc\n" })");
  const auto theirs =
      Parse<RecordBody>(R"(finding { narrative: "a\nT\nc\n" })");
  const auto ours = Parse<RecordBody>(R"(finding { narrative: "a\nO\nc\n" })");
  MergeInput in;
  in.record_id = "r";
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Edit("m-o", 200);
  in.theirs_default_edit = Edit("m-t", 100);
  auto result = ThreeWayMerge(in);
  ASSERT_OK(result);
  ASSERT_THAT(result->open_conflicts, SizeIs(1));
  const Conflict& c = result->open_conflicts[0];
  EXPECT_EQ(c.kind(), vigil::v1::CONFLICT_KIND_TEXT);
  ASSERT_THAT(c.hunks(), SizeIs(1));
  EXPECT_EQ(c.hunks(0).base_first_line(), 1u);
  EXPECT_EQ(c.hunks(0).base_text(), "b\n");
  ASSERT_THAT(c.hunks(0).versions(), SizeIs(2));
  EXPECT_EQ(c.hunks(0).versions(0).mutation_id(), "m-t");
  EXPECT_EQ(c.hunks(0).versions(0).text(), "T\n");
  EXPECT_EQ(c.hunks(0).versions(1).text(), "O\n");
  EXPECT_THAT(c.versions(), SizeIs(2));
}

TEST(MergeTest, ThirdCompetingEditJoinsTheOpenConflict) {
  const auto base = Parse<RecordBody>("finding { title: \"a\" }");
  const auto t = Parse<RecordBody>("finding { title: \"t\" }");
  const auto o = Parse<RecordBody>("finding { title: \"o\" }");
  const auto x = Parse<RecordBody>("finding { title: \"x\" }");
  MergeInput in;
  in.record_id = "r";
  in.base = &base;
  in.theirs = &t;
  in.ours = &o;
  in.ours_edit = Edit("m-o", 300);
  in.theirs_default_edit = Edit("m-t", 100);
  auto first = ThreeWayMerge(in);
  ASSERT_OK(first);
  google::protobuf::RepeatedPtrField<Conflict> open(
      first->open_conflicts.begin(), first->open_conflicts.end());
  google::protobuf::RepeatedPtrField<vigil::v1::FieldStamp> stamps(
      first->stamps.begin(), first->stamps.end());

  MergeInput in2;
  in2.record_id = "r";
  in2.base = &base;
  in2.theirs = first->merged.get();
  in2.ours = &x;
  in2.ours_edit = Edit("m-x", 200);
  in2.theirs_default_edit = Edit("m-t", 100);
  in2.theirs_stamps = &stamps;
  in2.open_conflicts = &open;
  auto second = ThreeWayMerge(in2);
  ASSERT_OK(second);
  ASSERT_THAT(second->open_conflicts, SizeIs(1));
  const Conflict& c = second->open_conflicts[0];
  ASSERT_THAT(c.versions(), SizeIs(3));
  EXPECT_EQ(c.versions(0).edit().mutation_id(), "m-t");
  EXPECT_EQ(c.versions(1).edit().mutation_id(), "m-x");
  EXPECT_EQ(c.versions(2).edit().mutation_id(), "m-o");
  EXPECT_EQ(c.winner_mutation_id(), "m-o");
  EXPECT_NE(c.id(), first->open_conflicts[0].id());
  EXPECT_EQ(static_cast<const RecordBody&>(*second->merged).finding().title(),
            "o");
}

TEST(MergeTest, ConflictNamesTheRealWriterFromFieldStamps) {
  const auto base = Parse<RecordBody>("finding { title: \"a\" }");
  const auto theirs = Parse<RecordBody>("finding { title: \"t\" }");
  const auto ours = Parse<RecordBody>("finding { title: \"o\" }");
  google::protobuf::RepeatedPtrField<vigil::v1::FieldStamp> stamps;
  auto* s = stamps.Add();
  s->set_field_path("finding.title");
  *s->mutable_edit() = Edit("m-writer", 500, "dev-w", "carol");
  MergeInput in;
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Edit("m-o", 200);
  in.theirs_default_edit = Edit("m-creator", 100);
  in.theirs_stamps = &stamps;
  auto result = ThreeWayMerge(in);
  ASSERT_OK(result);
  ASSERT_THAT(result->open_conflicts, SizeIs(1));
  EXPECT_EQ(result->open_conflicts[0].versions(1).edit().author(), "carol");
  EXPECT_EQ(result->open_conflicts[0].winner_mutation_id(), "m-writer");
  EXPECT_EQ(static_cast<const RecordBody&>(*result->merged).finding().title(),
            "t");
}

TEST(MergeTest, IdentityReturnsTheOtherSideExactly) {
  const auto base = Parse<RecordBody>(
      "finding { title: \"a\" tags: \"z\" tags: \"b\" sources { id: \"2\" } "
      "sources { id: \"1\" } }");
  const auto other = Parse<RecordBody>(
      "finding { title: \"c\" tags: \"y\" tags: \"a\" sources { id: \"9\" } "
      "sources { id: \"1\" note: \"n\" } narrative: \"x\\ny\\n\" }");
  for (bool ours_unchanged : {true, false}) {
    MergeInput in;
    in.base = &base;
    in.theirs = ours_unchanged ? &other : &base;
    in.ours = ours_unchanged ? &base : &other;
    in.ours_edit = Edit("m-o", 1);
    in.theirs_default_edit = Edit("m-t", 2);
    auto result = ThreeWayMerge(in);
    ASSERT_OK(result);
    EXPECT_EQ(SerializeDeterministic(*result->merged),
              SerializeDeterministic(other));
    EXPECT_TRUE(result->clean());
  }
}

TEST(MergeTest, UnknownFieldsAreKept) {
  // Field 99 is unknown to this build of vigil.v1.Finding.
  auto with_unknown = [](const std::string& value) {
    vigil::v1::Finding f;
    f.set_title("t");
    std::string bytes = f.SerializeAsString();
    bytes.push_back(static_cast<char>(((99 << 3 | 2) & 0x7f) | 0x80));
    bytes.push_back(static_cast<char>(99 >> 4));
    bytes.push_back(static_cast<char>(value.size()));
    bytes += value;
    RecordBody body;
    EXPECT_TRUE(body.mutable_finding()->ParseFromString(bytes));
    return body;
  };
  const auto base = Parse<RecordBody>("finding { title: \"t\" }");
  const RecordBody theirs = with_unknown("from-theirs");
  const RecordBody ours = with_unknown("from-ours");
  MergeInput in;
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Edit("m-o", 200);
  in.theirs_default_edit = Edit("m-t", 100);
  auto result = ThreeWayMerge(in);
  ASSERT_OK(result);
  const std::string merged = result->merged->SerializeAsString();
  EXPECT_NE(merged.find("from-theirs"), std::string::npos);
  EXPECT_NE(merged.find("from-ours"), std::string::npos);
  ASSERT_THAT(result->open_conflicts, SizeIs(1));
  EXPECT_EQ(result->open_conflicts[0].kind(),
            vigil::v1::CONFLICT_KIND_UNKNOWN_FIELDS);
  EXPECT_EQ(result->open_conflicts[0].field_path(), "finding.(unknown)");

  // Only one side changed them: that side's set, no conflict.
  in.theirs = &base;
  result = ThreeWayMerge(in);
  ASSERT_OK(result);
  EXPECT_NE(result->merged->SerializeAsString().find("from-ours"),
            std::string::npos);
  EXPECT_TRUE(result->clean());
}

TEST(MergeTest, RejectsBadInput) {
  const auto ok = Parse<RecordBody>("finding { }");
  const vigil::v1::Finding other_type;
  const auto dup = Parse<RecordBody>(
      "finding { sources { id: \"a\" } sources { id: \"a\" note: \"x\" } }");
  const auto no_id = Parse<RecordBody>("finding { sources { note: \"x\" } }");
  struct Bad {
    const google::protobuf::Message* theirs;
    const google::protobuf::Message* ours;
  };
  // (A bad list on the head alone is not checked when ours leaves it alone.)
  for (const Bad& bad :
       {Bad{&ok, &other_type}, Bad{&ok, &dup}, Bad{&dup, &no_id},
        Bad{&ok, &no_id}, Bad{&ok, nullptr}}) {
    MergeInput in;
    in.base = &ok;
    in.theirs = bad.theirs;
    in.ours = bad.ours;
    EXPECT_THAT(ThreeWayMerge(in), StatusIs(absl::StatusCode::kInvalidArgument))
        << (bad.ours ? bad.ours->ShortDebugString() : "null");
  }
}

}  // namespace
}  // namespace vigil::sync
