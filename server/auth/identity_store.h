// Users, enrolled devices and their tokens, one-time enrollment codes, visit
// teams and purge markers, kept in the meta column family:
//   ("user", user_id)            -> vigil.v1.User
//   ("device", device_id)        -> StoredDevice (device + SHA-256 of its token)
//   ("token", sha256(token))     -> device_id
//   ("enroll", sha256(code))     -> StoredEnrollment
//   ("team", visit_id, user_id)  -> vigil.v1.TeamMembership
//   ("purge", user_id, scope)    -> PurgeMarker
// Every change commits with its audit entry in the same batch. Reads are
// point lookups against the latest commit (team rights: against the view
// the caller passes, a commit in progress for a push), so a revocation or a
// disabled user is refused from the very next call. Thread-safe.
#ifndef VIGIL_SERVER_AUTH_IDENTITY_STORE_H_
#define VIGIL_SERVER_AUTH_IDENTITY_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/caller.h"
#include "storage/storage.h"
#include "vigil/v1/admin.pb.h"

namespace vigil::server {

template <typename T>
using DoneFn = absl::AnyInvocable<void(absl::StatusOr<T>)>;

class IdentityStore {
 public:
  // `storage` is borrowed and must outlive the store.
  explicit IdentityStore(storage::Storage* storage) : storage_(storage) {}

  // A new random bearer token ("vgl_" + 256 bits, URL-safe base64).
  static std::string NewToken();
  static std::string TokenHash(std::string_view token);

  // Writes the first admin user ("admin") and a device holding the token
  // whose SHA-256 is `token_sha256`, inside the caller's commit.
  static absl::Status BootstrapAdmin(storage::CommitContext& ctx,
                                     const std::string& token_sha256, absl::Time now);

  // The user and device a token belongs to. UNAUTHENTICATED, reason
  // TOKEN_UNKNOWN (never issued here, or replaced by a rotation),
  // DEVICE_REVOKED or USER_DISABLED.
  absl::StatusOr<Caller> Authenticate(std::string_view token) const;

  void CreateUser(const Caller& by, vigil::v1::User user, DoneFn<vigil::v1::User> done);
  // NOT_FOUND (USER_NOT_FOUND) for an unknown user.
  absl::StatusOr<vigil::v1::User> GetUser(std::string_view user_id) const;
  absl::StatusOr<vigil::v1::ListUsersResponse> ListUsers(
      const vigil::v1::ListUsersRequest& request) const;
  void SetUserDisabled(const Caller& by, std::string user_id, bool disabled,
                       DoneFn<vigil::v1::User> done);

  void CreateEnrollmentCode(const Caller& by, std::string user_id, std::uint32_t ttl_seconds,
                            DoneFn<vigil::v1::EnrollmentCode> done);
  // UNAUTHENTICATED (ENROLLMENT_CODE_INVALID) for a code that is unknown,
  // used or expired, or whose user is disabled; nothing is written then.
  void EnrollDevice(std::string code, std::string device_name,
                    DoneFn<vigil::v1::EnrollDeviceResponse> done);
  absl::StatusOr<vigil::v1::ListDevicesResponse> ListDevices(std::string_view user_id) const;
  void RevokeDevice(const Caller& by, std::string device_id, DoneFn<vigil::v1::Device> done);
  // Replaces the calling device's token.
  void RotateToken(const Caller& device, DoneFn<std::string> done);
  absl::StatusOr<vigil::v1::Device> GetDevice(std::string_view device_id) const;

  // Runs inside the commit of every change of a visit's team, after the
  // team table is written: the record engine derives the Visit record's
  // team and its index from the table there (server/records/visit_team.h).
  // An error fails the change. Set once, before serving.
  using TeamChangedFn = absl::AnyInvocable<absl::Status(
      storage::CommitContext& ctx, const Caller& by, std::string_view visit_id)>;
  void SetTeamChangedHook(TeamChangedFn hook) { team_changed_ = std::move(hook); }

  void SetTeamMember(const Caller& by, vigil::v1::TeamMembership membership,
                     DoneFn<vigil::v1::TeamMembership> done);
  void RemoveTeamMember(const Caller& by, std::string visit_id, std::string user_id,
                        DoneFn<bool> done);
  absl::StatusOr<vigil::v1::ListTeamResponse> ListTeam(std::string_view visit_id) const;
  // The team of `visit_id` as the commit `ctx` holds it, by user id.
  static absl::StatusOr<std::vector<vigil::v1::TeamMembership>> TeamIn(
      storage::CommitContext& ctx, std::string_view visit_id);
  // Every membership of every team through `scan` (index rebuilds).
  static absl::Status ScanTeamTable(
      storage::RangeScanFn scan,
      absl::FunctionRef<absl::Status(const vigil::v1::TeamMembership&)> visit);
  // The user as `view` holds it, nullopt when there is none.
  static absl::StatusOr<std::optional<vigil::v1::User>> UserIn(storage::ReadView& view,
                                                               std::string_view user_id);
  // The user's role on the visit's team as `view` holds it;
  // TEAM_ROLE_UNSPECIFIED when the user is not on it.
  static absl::StatusOr<vigil::v1::TeamRole> TeamRoleOf(storage::ReadView& view,
                                                        std::string_view user_id,
                                                        std::string_view visit_id);
  // True when `view` holds that the user was taken off the team of the visit
  // owning `scope` (and not put back).
  static absl::StatusOr<bool> IsPurged(storage::ReadView& view, std::string_view user_id,
                                       std::string_view scope);

  // The storage these records live in (for a view of its latest state).
  storage::Storage& storage() const { return *storage_; }

  // "[a-z0-9._-]{2,64}".
  static absl::Status ValidateUserId(std::string_view user_id);

 private:
  template <typename T>
  void Run(std::function<absl::StatusOr<T>(storage::CommitContext&)> prepare, DoneFn<T> done);

  storage::Storage* storage_;
  TeamChangedFn team_changed_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_AUTH_IDENTITY_STORE_H_
