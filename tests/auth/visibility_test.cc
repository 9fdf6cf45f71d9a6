// Field visibility as the schema declares it ((vigil.v1.visible_to)): the
// schema rules, deny by default, and, generated from the annotations, every
// field of every sensitive kind hidden from each caller who may not see it
// and shown to each who may. The expectations come from the table below (who
// belongs to which audience), not from the code under test.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "gtest/gtest.h"
#include "server/auth/access_policy.h"
#include "server/auth/field_visibility.h"
#include "server/auth/identity_store.h"
#include "storage/storage.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using vigil::v1::Audience;
using vigil::v1::Record;
using vigil::v1::RecordBody;

const FieldDescriptor* KindOneofField(const Descriptor* kind) {
  const auto* oneof = RecordBody::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < oneof->field_count(); ++i) {
    if (oneof->field(i)->message_type() == kind) return oneof->field(i);
  }
  return nullptr;
}

std::vector<const Descriptor*> AllKinds() {
  std::vector<const Descriptor*> kinds;
  const auto* oneof = RecordBody::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < oneof->field_count(); ++i) kinds.push_back(oneof->field(i)->message_type());
  return kinds;
}

TEST(VisibilitySchemaTest, EveryKindFollowsTheRules) {
  for (const Descriptor* kind : AllKinds()) {
    EXPECT_OK(ValidateVisibilitySchema(kind)) << kind->full_name();
  }
}

// The kinds sealed at rest and audited on read; a kind losing its
// `sensitive` option would be stored in the clear.
TEST(VisibilitySchemaTest, TheSensitiveKindsAreMarked) {
  std::set<std::string> sensitive;
  for (const Descriptor* kind : AllKinds()) {
    if (IsSensitiveKind(kind)) sensitive.insert(kind->name());
  }
  EXPECT_EQ(sensitive, (std::set<std::string>{"Allegation", "IdentityRecord", "Interview",
                                               "MedicalFinding"}));
}

// A schema of a sensitive kind with a field that declares no audience, and
// a plain kind with a medical field: the schema test refuses both, and the
// unannotated field is seen by the full view only.
TEST(VisibilitySchemaTest, AFieldOfASensitiveKindWithoutAnAudienceIsDeniedByDefault) {
  google::protobuf::FileDescriptorProto file;
  file.set_name("vigil/test/undeclared.proto");
  file.set_package("vigil.test");
  file.set_syntax("proto3");
  file.add_dependency("vigil/v1/visibility.proto");
  google::protobuf::DescriptorProto* secret = file.add_message_type();
  secret->set_name("Secret");
  secret->mutable_options()->SetExtension(vigil::v1::sensitive, true);
  auto* undeclared = secret->add_field();
  undeclared->set_name("undeclared");
  undeclared->set_number(1);
  undeclared->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
  undeclared->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  google::protobuf::DescriptorProto* plain = file.add_message_type();
  plain->set_name("Plain");
  auto* medical = plain->add_field();
  *medical = *undeclared;
  medical->set_name("medical");
  medical->mutable_options()->SetExtension(vigil::v1::visible_to, vigil::v1::AUDIENCE_MEDICAL);
  google::protobuf::DescriptorPool pool(google::protobuf::DescriptorPool::generated_pool());
  ASSERT_NE(pool.BuildFile(file), nullptr);
  const Descriptor* s = pool.FindMessageTypeByName("vigil.test.Secret");
  const Descriptor* p = pool.FindMessageTypeByName("vigil.test.Plain");
  ASSERT_TRUE(IsSensitiveKind(s));
  EXPECT_EQ(AudienceOf(s->field(0)), vigil::v1::AUDIENCE_FULL_VIEW);
  EXPECT_THAT(ValidateVisibilitySchema(s), testing::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateVisibilitySchema(p), testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

// The callers, as the roles and team roles make them.
struct Profile {
  std::string user;
  vigil::v1::Role role;
  vigil::v1::TeamRole team;
};
const std::vector<Profile>& Profiles() {
  static const auto* profiles = new std::vector<Profile>{
      {"rita", vigil::v1::ROLE_NPM_REVIEWER, vigil::v1::TEAM_ROLE_UNSPECIFIED},
      {"lena", vigil::v1::ROLE_TEAM_LEAD, vigil::v1::TEAM_ROLE_TEAM_LEAD},
      {"omar", vigil::v1::ROLE_MEDICAL_EXPERT, vigil::v1::TEAM_ROLE_MEDICAL_EXPERT},
      {"ivan", vigil::v1::ROLE_FIELD_MONITOR, vigil::v1::TEAM_ROLE_MONITOR},  // interviewer
      {"mona", vigil::v1::ROLE_FIELD_MONITOR, vigil::v1::TEAM_ROLE_MONITOR},
      {"otto", vigil::v1::ROLE_FIELD_MONITOR, vigil::v1::TEAM_ROLE_OBSERVER},
      {"stats", vigil::v1::ROLE_SERVICE_ACCOUNT, vigil::v1::TEAM_ROLE_UNSPECIFIED},
  };
  return *profiles;
}
constexpr char kInterviewer[] = "ivan";

// Who is in each audience (vigil/v1/visibility.proto), by user.
bool Expected(const std::string& user, Audience audience) {
  static const auto* members = new std::map<Audience, std::set<std::string>>{
      {vigil::v1::AUDIENCE_READERS, {"rita", "lena", "omar", "ivan", "mona", "otto", "stats"}},
      {vigil::v1::AUDIENCE_NPM, {"rita", "lena", "omar", "ivan", "mona", "otto"}},
      {vigil::v1::AUDIENCE_INTERVIEWERS, {"rita", "lena", "ivan"}},
      {vigil::v1::AUDIENCE_MEDICAL, {"rita", "lena", "omar"}},
      {vigil::v1::AUDIENCE_FULL_VIEW, {"rita", "lena"}},
  };
  return members->at(audience).contains(user);
}

// Sets `f` of `m` to a value that is not its default.
void SetSomething(Message* m, const FieldDescriptor* f) {
  const auto* r = m->GetReflection();
  if (f->is_repeated()) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: r->AddString(m, f, "x"); return;
      case FieldDescriptor::CPPTYPE_ENUM: r->AddEnumValue(m, f, 1); return;
      case FieldDescriptor::CPPTYPE_MESSAGE: SetSomething(r->AddMessage(m, f), f->message_type()->field(0)); return;
      default: FAIL() << "no value for " << f->full_name();
    }
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: r->SetString(m, f, "x"); return;
    case FieldDescriptor::CPPTYPE_BOOL: r->SetBool(m, f, true); return;
    case FieldDescriptor::CPPTYPE_ENUM: r->SetEnumValue(m, f, 1); return;
    case FieldDescriptor::CPPTYPE_INT32: r->SetInt32(m, f, 1); return;
    case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(m, f, 1); return;
    case FieldDescriptor::CPPTYPE_UINT32: r->SetUInt32(m, f, 1); return;
    case FieldDescriptor::CPPTYPE_UINT64: r->SetUInt64(m, f, 1); return;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = r->MutableMessage(m, f);
      SetSomething(sub, sub->GetDescriptor()->field(0));
      return;
    }
    default: FAIL() << "no value for " << f->full_name();
  }
}

class RedactionTest : public ::testing::Test {
 protected:
  static constexpr char kVisit[] = "01900000-0000-7000-8000-000000000001";
  static constexpr char kInterview[] = "01900000-0000-7000-8000-0000000000b1";

  void SetUp() override {
    auto storage = storage::Storage::Open(dir_.Sub("db"), storage::StorageOptions());
    ASSERT_OK(storage.status());
    storage_ = std::move(*storage);
    identities_ = std::make_unique<IdentityStore>(storage_.get());
    policy_ = std::make_unique<AccessPolicy>(identities_.get());
    for (const Profile& p : Profiles()) {
      vigil::v1::User user;
      user.set_user_id(p.user);
      user.set_role(p.role);
      ASSERT_OK(Wait<vigil::v1::User>(
          [&](auto done) { identities_->CreateUser(SystemCaller(), user, std::move(done)); }));
      if (p.team == vigil::v1::TEAM_ROLE_UNSPECIFIED) continue;
      vigil::v1::TeamMembership m;
      m.set_visit_id(kVisit);
      m.set_user_id(p.user);
      m.set_team_role(p.team);
      ASSERT_OK(Wait<vigil::v1::TeamMembership>(
          [&](auto done) { identities_->SetTeamMember(SystemCaller(), m, std::move(done)); }));
    }
    interview_.set_id(kInterview);
    interview_.set_scope(std::string("visits/") + kVisit);
    interview_.mutable_body()->mutable_interview()->add_interviewer_user_ids(kInterviewer);
  }

  template <typename T, typename Call>
  absl::Status Wait(Call call) {
    absl::Notification done;
    absl::Status status;
    call([&](absl::StatusOr<T> r) {
      status = r.status();
      done.Notify();
    });
    done.WaitForNotification();
    return status;
  }

  ScopeGrant GrantOf(const Profile& p) {
    auto grant = policy_->RequireRead(Caller{p.user, "device", p.role},
                                      std::string("visits/") + kVisit);
    EXPECT_OK(grant.status()) << p.user;
    return grant.value_or(ScopeGrant());
  }

  // A record of `kind` naming the interview (with Ivan as interviewer), with
  // `field` set.
  Record RecordWith(const Descriptor* kind, const FieldDescriptor* field) {
    Record record;
    record.set_id("01900000-0000-7000-8000-0000000000c1");
    record.set_scope(std::string("visits/") + kVisit);
    Message* body = record.mutable_body()->GetReflection()->MutableMessage(
        record.mutable_body(), KindOneofField(kind));
    if (kind == vigil::v1::IdentityRecord::descriptor()) {
      record.mutable_body()->mutable_identity()->set_interview_id(kInterview);
    }
    if (kind == vigil::v1::Interview::descriptor() && field->name() != "interviewer_user_ids") {
      record.mutable_body()->mutable_interview()->add_interviewer_user_ids(kInterviewer);
    }
    if (!field->is_repeated() && field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
        body->GetReflection()->HasField(*body, field)) {
      return record;  // already set (the interview id)
    }
    SetSomething(body, field);
    if (field->name() == "interviewer_user_ids") {
      record.mutable_body()->mutable_interview()->add_interviewer_user_ids(kInterviewer);
    }
    return record;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<AccessPolicy> policy_;
  Record interview_;
};

TEST_F(RedactionTest, EveryFieldOfEverySensitiveKindIsShownExactlyToItsAudience) {
  int checked = 0;
  for (const Descriptor* kind : AllKinds()) {
    if (!IsSensitiveKind(kind)) continue;
    for (int i = 0; i < kind->field_count(); ++i) {
      const FieldDescriptor* field = kind->field(i);
      const Audience audience = AudienceOf(field);
      for (const Profile& p : Profiles()) {
        SCOPED_TRACE(absl::StrCat(field->full_name(), " (", vigil::v1::Audience_Name(audience),
                                  ") for ", p.user));
        Record record = RecordWith(kind, field);
        auto lookup = [&](std::string_view id) -> absl::StatusOr<std::optional<Record>> {
          if (id == kInterview) return std::optional<Record>(interview_);
          return std::optional<Record>();
        };
        auto shown = Redact(GrantOf(p), record, lookup);
        ASSERT_OK(shown.status());
        bool sees_any = false;
        for (int j = 0; j < kind->field_count(); ++j) {
          sees_any = sees_any || Expected(p.user, AudienceOf(kind->field(j)));
        }
        if (!sees_any) {
          EXPECT_EQ(*shown, Visibility::kWithheld);
          ++checked;
          continue;
        }
        const Message& body = record.body().GetReflection()->GetMessage(
            record.body(), KindOneofField(kind));
        const bool present = field->is_repeated()
                                 ? body.GetReflection()->FieldSize(body, field) > 0
                                 : body.GetReflection()->HasField(body, field);
        const bool listed =
            std::find(record.withheld_fields().begin(), record.withheld_fields().end(),
                      field->name()) != record.withheld_fields().end();
        if (Expected(p.user, audience)) {
          EXPECT_TRUE(present);
          EXPECT_FALSE(listed);
        } else {
          EXPECT_FALSE(present);
          EXPECT_TRUE(listed);
          EXPECT_EQ(*shown, Visibility::kRedacted);
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100);
}

// A hidden field is named whether or not it held a value, so that an empty
// one tells nothing either.
TEST_F(RedactionTest, AHiddenFieldIsNamedEvenWhenEmpty) {
  Record record = interview_;
  record.mutable_body()->mutable_interview()->set_pseudonym("Detainee A");
  auto lookup = [](std::string_view) -> absl::StatusOr<std::optional<Record>> {
    return std::optional<Record>();
  };
  const Profile& mona = Profiles()[4];
  ASSERT_OK(Redact(GrantOf(mona), record, lookup).status());
  EXPECT_EQ(std::vector<std::string>(record.withheld_fields().begin(),
                                     record.withheld_fields().end()),
            std::vector<std::string>{"notes"});
  EXPECT_EQ(record.body().interview().pseudonym(), "Detainee A");
}

}  // namespace
}  // namespace vigil::server
