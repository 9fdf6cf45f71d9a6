// What `vigilctl resolve` builds, unit by unit: enum words as people type
// them, taking a side of a conflict, and a new value parsed by the field's
// type.
#include <string>
#include <vector>

#include "client/vigilctl_values.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "vigil/v1/admin.pb.h"
#include "vigil/v1/finding.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil {
namespace {

template <typename M>
M Parse(const std::string& text) {
  M message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

template <typename M>
v1::FieldValue Side(const M& carrier) {
  v1::FieldValue v;
  v.set_present(true);
  v.set_carrier(carrier.SerializeAsString());
  v.set_carrier_type(M::descriptor()->full_name());
  return v;
}

v1::FieldValue Absent(const std::string& type) {
  v1::FieldValue v;
  v.set_carrier_type(type);
  return v;
}

v1::Conflict ConflictOf(const std::string& path, v1::ConflictKind kind, v1::FieldValue base,
                        std::vector<v1::FieldValue> versions) {
  v1::Conflict c;
  c.set_id("cf-test");
  c.set_field_path(path);
  c.set_kind(kind);
  *c.mutable_base() = std::move(base);
  for (std::size_t i = 0; i < versions.size(); ++i) {
    auto* v = c.add_versions();
    *v->mutable_value() = std::move(versions[i]);
    v->mutable_edit()->set_author(i == 0 ? "anna" : "ben");
  }
  return c;
}

const v1::RecordBody kBody = Parse<v1::RecordBody>(R"pb(
  finding {
    title: "Head title"
    severity: SEVERITY_LOW
    sources { id: "s1" note: "register" }
    sources { id: "s2" note: "interview" }
    tags: "x"
  }
)pb");

TEST(VigilctlValuesTest, EnumWordsAsPeopleTypeThem) {
  using vigilctl::ParseEnumAs;
  EXPECT_EQ(ParseEnumAs<v1::Severity>("urgent").value(), v1::SEVERITY_URGENT);
  EXPECT_EQ(ParseEnumAs<v1::Severity>("SEVERITY_HIGH").value(), v1::SEVERITY_HIGH);
  EXPECT_EQ(ParseEnumAs<v1::FindingCategory>("material-conditions").value(),
            v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
  EXPECT_EQ(ParseEnumAs<v1::Role>("monitor").value(), v1::ROLE_FIELD_MONITOR);
  EXPECT_EQ(ParseEnumAs<v1::Role>("reviewer").value(), v1::ROLE_NPM_REVIEWER);
  EXPECT_EQ(ParseEnumAs<v1::Role>("Service").value(), v1::ROLE_SERVICE_ACCOUNT);
  EXPECT_EQ(ParseEnumAs<v1::TeamRole>("lead").value(), v1::TEAM_ROLE_TEAM_LEAD);
  EXPECT_EQ(ParseEnumAs<v1::TeamRole>("medical").value(), v1::TEAM_ROLE_MEDICAL_EXPERT);
  // Never _UNSPECIFIED; an ambiguous word names nothing.
  EXPECT_EQ(ParseEnumAs<v1::Severity>("unspecified").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEnumAs<v1::TeamRole>("expert").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vigilctl::EnumWord(v1::ROLE_FIELD_MONITOR), "field-monitor");
}

TEST(VigilctlValuesTest, TakeSideOfAFieldConflict) {
  const v1::Conflict c = ConflictOf(
      "title", v1::CONFLICT_KIND_FIELD, Side(Parse<v1::Finding>(R"pb(title: "Base")pb")),
      {Side(Parse<v1::Finding>(R"pb(title: "Anna's")pb")),
       Side(Parse<v1::Finding>(R"pb(title: "Ben's")pb"))});
  EXPECT_EQ(vigilctl::RenderValue(c, c.versions(0).value()), "Anna's");
  bool deletes = true;
  auto taken = vigilctl::TakeSide(kBody, c, 1, &deletes);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_FALSE(deletes);
  v1::RecordBody want = kBody;
  want.mutable_finding()->set_title("Anna's");
  EXPECT_EQ(taken->SerializeAsString(), want.SerializeAsString()) << taken->DebugString();
  EXPECT_EQ(vigilctl::TakeSide(kBody, c, 0, &deletes)->finding().title(), "Base");
  EXPECT_EQ(vigilctl::TakeSide(kBody, c, 3, &deletes).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VigilctlValuesTest, TakeSideInsideAndOfAKeyedListElement) {
  bool deletes = false;
  // A field inside one element: the other element is untouched.
  const v1::Conflict note = ConflictOf(
      "sources[id=s1].note", v1::CONFLICT_KIND_FIELD,
      Side(Parse<v1::FindingSource>(R"pb(note: "register")pb")),
      {Side(Parse<v1::FindingSource>(R"pb(note: "register of 2025")pb")),
       Side(Parse<v1::FindingSource>(R"pb(note: "admissions register")pb"))});
  auto taken = vigilctl::TakeSide(kBody, note, 2, &deletes);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->finding().sources_size(), 2);
  EXPECT_EQ(taken->finding().sources(0).note(), "admissions register");
  EXPECT_EQ(taken->finding().sources(1).note(), "interview");

  // An element removed on one side, edited on the other.
  const v1::Conflict element = ConflictOf(
      "sources[id=s2]", v1::CONFLICT_KIND_ELEMENT_DELETE_EDIT,
      Side(Parse<v1::Finding>(R"pb(sources { id: "s2" note: "interview" })pb")),
      {Side(Parse<v1::Finding>(R"pb(sources { id: "s2" note: "interview, P-17" })pb")),
       Absent("vigil.v1.Finding")});
  EXPECT_EQ(vigilctl::RenderValue(element, element.versions(1).value()), "(removed)");
  taken = vigilctl::TakeSide(kBody, element, 2, &deletes);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->finding().sources_size(), 1);
  EXPECT_EQ(taken->finding().sources(0).id(), "s1");
  taken = vigilctl::TakeSide(kBody, element, 1, &deletes);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->finding().sources_size(), 2);
  EXPECT_EQ(taken->finding().sources(1).note(), "interview, P-17");
}

TEST(VigilctlValuesTest, TakingAWholeRecordDeletionDeletes) {
  const v1::Conflict c =
      ConflictOf("", v1::CONFLICT_KIND_DELETE_EDIT, Side(kBody.finding()),
                 {Absent("vigil.v1.Finding"), Side(kBody.finding())});
  EXPECT_EQ(vigilctl::RenderValue(c, c.versions(0).value()), "(deleted)");
  bool deletes = false;
  ASSERT_TRUE(vigilctl::TakeSide(kBody, c, 1, &deletes).ok());
  EXPECT_TRUE(deletes);
  ASSERT_TRUE(vigilctl::TakeSide(kBody, c, 2, &deletes).ok());
  EXPECT_FALSE(deletes);
}

TEST(VigilctlValuesTest, SetValueParsesTheFieldsType) {
  auto conflict_on = [](const std::string& path) {
    return ConflictOf(path, v1::CONFLICT_KIND_FIELD, Absent("vigil.v1.Finding"), {});
  };
  auto set = vigilctl::SetValue(kBody, conflict_on("severity"), "urgent");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->finding().severity(), v1::SEVERITY_URGENT);
  set = vigilctl::SetValue(kBody, conflict_on("tags"), "cells, ventilation");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(std::vector<std::string>(set->finding().tags().begin(), set->finding().tags().end()),
            (std::vector<std::string>{"cells", "ventilation"}));
  set = vigilctl::SetValue(kBody, conflict_on("good_practice"), "yes");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->finding().good_practice());
  set = vigilctl::SetValue(kBody, conflict_on("sources[id=s2]"), R"(note: "rewritten")");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->finding().sources(1).id(), "s2");
  EXPECT_EQ(set->finding().sources(1).note(), "rewritten");
  EXPECT_EQ(vigilctl::SetValue(kBody, conflict_on("severity"), "extreme").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vigilctl::SetValue(kBody, conflict_on("sources"), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil
