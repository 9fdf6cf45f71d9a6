// A record engine over a fresh temporary-directory Storage: identities,
// access policy and record store, no server and no gRPC.
#ifndef VIGIL_TESTS_RECORDS_RECORDS_FIXTURE_H_
#define VIGIL_TESTS_RECORDS_RECORDS_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/auth/access_policy.h"
#include "server/auth/identity_store.h"
#include "server/records/record_store.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vigil::testing {

class RecordsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = storage::Storage::Open(dir_.Sub("db"), storage::StorageOptions());
    ASSERT_OK(storage.status());
    storage_ = std::move(*storage);
    ASSERT_OK(storage::KeyRing::Generate(dir_.Sub("data.key")));
    auto keys = storage::KeyRing::Load(dir_.Sub("data.key"));
    ASSERT_OK(keys.status());
    keys_ = std::move(*keys);
    identities_ = std::make_unique<server::IdentityStore>(storage_.get());
    policy_ = std::make_unique<server::AccessPolicy>(identities_.get());
    auto records = server::RecordStore::Create(storage_.get(), keys_.get(), policy_.get(),
                                               server::RecordStoreOptions());
    ASSERT_OK(records.status());
    records_ = std::move(*records);
  }

  // Waits for an identity-store call that reports through a DoneFn.
  template <typename T, typename Call>
  absl::StatusOr<T> Wait(Call call) {
    absl::Notification done;
    absl::StatusOr<T> result = absl::UnknownError("not done");
    call([&](absl::StatusOr<T> r) {
      result = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  // Creates `user` with `role`; on the team of `visit_id` as `team` unless
  // unspecified.
  server::Caller User(const std::string& user, vigil::v1::Role role, const std::string& visit_id,
                      vigil::v1::TeamRole team) {
    vigil::v1::User u;
    u.set_user_id(user);
    u.set_role(role);
    EXPECT_OK((Wait<vigil::v1::User>(
        [&](auto done) { identities_->CreateUser(server::SystemCaller(), u, std::move(done)); })));
    if (team != vigil::v1::TEAM_ROLE_UNSPECIFIED) {
      vigil::v1::TeamMembership m;
      m.set_visit_id(visit_id);
      m.set_user_id(user);
      m.set_team_role(team);
      EXPECT_OK((Wait<vigil::v1::TeamMembership>([&](auto done) {
        identities_->SetTeamMember(server::SystemCaller(), m, std::move(done));
      })));
    }
    return server::Caller{user, "device-of-" + user, role};
  }

  absl::StatusOr<vigil::v1::PushResponse> Push(const server::Caller& caller,
                                               vigil::v1::PushRequest request) {
    return Wait<vigil::v1::PushResponse>(
        [&](auto done) { records_->Push(caller, std::move(request), std::move(done)); });
  }

  TempDir dir_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::KeyRing> keys_;
  std::unique_ptr<server::IdentityStore> identities_;
  std::unique_ptr<server::AccessPolicy> policy_;
  std::unique_ptr<server::RecordStore> records_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_RECORDS_RECORDS_FIXTURE_H_
