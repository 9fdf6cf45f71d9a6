#include "sync/merge_policy.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "vigil/v1/merge.pb.h"
#include "vigil/v1/record.pb.h"

namespace vigil::sync {
namespace {

using google::protobuf::FieldDescriptorProto;
using ::vigil::testing::StatusIs;

TEST(MergePolicyTest, EveryRecordKindHasAValidSchema) {
  EXPECT_OK(ValidateMergeSchema(vigil::v1::RecordBody::descriptor()));
}

// Every enum of the record model has an _UNSPECIFIED zero value.
TEST(RecordModelTest, EnumsStartUnspecified) {
  std::vector<const google::protobuf::FileDescriptor*> files = {
      vigil::v1::Record::descriptor()->file()};
  int enums = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const google::protobuf::FileDescriptor* file = files[i];
    for (int d = 0; d < file->dependency_count(); ++d) {
      const auto* dep = file->dependency(d);
      if (dep->package() == "vigil.v1" &&
          std::find(files.begin(), files.end(), dep) == files.end()) {
        files.push_back(dep);
      }
    }
    std::vector<const google::protobuf::EnumDescriptor*> all;
    for (int e = 0; e < file->enum_type_count(); ++e) {
      all.push_back(file->enum_type(e));
    }
    for (int m = 0; m < file->message_type_count(); ++m) {
      const auto* type = file->message_type(m);
      for (int e = 0; e < type->enum_type_count(); ++e) {
        all.push_back(type->enum_type(e));
      }
    }
    for (const auto* e : all) {
      ++enums;
      ASSERT_GT(e->value_count(), 0);
      const auto* zero = e->FindValueByNumber(0);
      ASSERT_NE(zero, nullptr) << e->full_name();
      EXPECT_TRUE(absl::EndsWith(zero->name(), "_UNSPECIFIED"))
          << e->full_name();
    }
  }
  EXPECT_GE(enums, 15);
}

TEST(MergePolicyTest, EffectivePolicies) {
  struct Row {
    const google::protobuf::Descriptor* type;
    std::string field;
    FieldPolicy want;
  };
  const std::vector<Row> rows = {
      {vigil::v1::Finding::descriptor(), "severity", FieldPolicy::kRegister},
      {vigil::v1::Finding::descriptor(), "title", FieldPolicy::kRegister},
      {vigil::v1::Finding::descriptor(), "narrative", FieldPolicy::kText},
      {vigil::v1::Finding::descriptor(), "tags", FieldPolicy::kSet},
      {vigil::v1::Finding::descriptor(), "sources", FieldPolicy::kKeyedList},
      {vigil::v1::Interview::descriptor(), "consent", FieldPolicy::kRecurse},
      {vigil::v1::Facility::descriptor(), "location", FieldPolicy::kRegister},
      {vigil::v1::Visit::descriptor(), "actual_start", FieldPolicy::kRegister},
      {vigil::v1::Visit::descriptor(), "team", FieldPolicy::kKeyedList},
      {vigil::v1::Recommendation::descriptor(), "deadline",
       FieldPolicy::kRegister},
  };
  for (const Row& row : rows) {
    const auto* f = row.type->FindFieldByName(row.field);
    ASSERT_NE(f, nullptr) << row.field;
    EXPECT_EQ(PolicyOf(f), row.want) << f->full_name();
  }
}

// Builds message `Bad` with one field of the given shape and annotation in a
// scratch pool and validates it.
absl::Status ValidateOne(FieldDescriptorProto::Type type,
                         FieldDescriptorProto::Label label,
                         vigil::v1::MergePolicy policy,
                         const std::string& type_name = "") {
  google::protobuf::FileDescriptorProto file;
  file.set_name("bad_" + std::to_string(type) + "_" + std::to_string(label) +
                "_" + std::to_string(policy) + type_name + ".proto");
  static int counter = 0;
  const std::string package = "scratch" + std::to_string(++counter);
  file.set_package(package);
  file.set_syntax("proto3");
  file.add_dependency("vigil/v1/merge.proto");
  auto* elem = file.add_message_type();
  elem->set_name("Elem");
  auto* note = elem->add_field();
  note->set_name("note");
  note->set_number(1);
  note->set_type(FieldDescriptorProto::TYPE_STRING);
  note->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  auto* msg = file.add_message_type();
  msg->set_name("Bad");
  auto* f = msg->add_field();
  f->set_name("f");
  f->set_number(1);
  f->set_type(type);
  f->set_label(label);
  if (!type_name.empty()) f->set_type_name(type_name);
  if (policy != vigil::v1::MERGE_POLICY_UNSPECIFIED) {
    f->mutable_options()->SetExtension(vigil::v1::merge, policy);
  }
  static auto* pool = new google::protobuf::DescriptorPool(
      google::protobuf::DescriptorPool::generated_pool());
  const auto* built = pool->BuildFile(file);
  EXPECT_NE(built, nullptr);
  if (built == nullptr) return absl::InternalError("build failed");
  return ValidateMergeSchema(pool->FindMessageTypeByName(package + ".Bad"));
}

TEST(MergePolicyTest, RejectsMisplacedAnnotations) {
  using F = FieldDescriptorProto;
  EXPECT_THAT(ValidateOne(F::TYPE_INT32, F::LABEL_OPTIONAL,
                          vigil::v1::MERGE_POLICY_TEXT),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateOne(F::TYPE_STRING, F::LABEL_OPTIONAL,
                          vigil::v1::MERGE_POLICY_SET),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateOne(F::TYPE_DOUBLE, F::LABEL_REPEATED,
                          vigil::v1::MERGE_POLICY_SET),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateOne(F::TYPE_MESSAGE, F::LABEL_REPEATED,
                          vigil::v1::MERGE_POLICY_KEYED_LIST, "Elem"),
              StatusIs(absl::StatusCode::kInvalidArgument));  // no `id`
  EXPECT_THAT(ValidateOne(F::TYPE_STRING, F::LABEL_REPEATED,
                          vigil::v1::MERGE_POLICY_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument));  // undeclared
  EXPECT_OK(ValidateOne(F::TYPE_STRING, F::LABEL_REPEATED,
                        vigil::v1::MERGE_POLICY_SET));
  EXPECT_OK(ValidateOne(F::TYPE_STRING, F::LABEL_REPEATED,
                        vigil::v1::MERGE_POLICY_REGISTER));
}

}  // namespace
}  // namespace vigil::sync
