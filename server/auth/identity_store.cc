#include "server/auth/identity_store.h"

#include <sodium.h>

#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/audit_log.h"
#include "storage/key_codec.h"
#include "sync/ids.h"
#include "sync/scope.h"
#include "vigil/internal/storage_values.pb.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::KeyBuilder;
using vigil::internal::PurgeMarker;
using vigil::internal::StoredDevice;
using vigil::internal::StoredEnrollment;
using vigil::v1::Device;
using vigil::v1::TeamMembership;
using vigil::v1::User;

constexpr std::string_view kAdminUserId = "admin";
constexpr std::uint32_t kDefaultCodeTtlSeconds = 900;
constexpr std::uint32_t kMaxCodeTtlSeconds = 86400;
constexpr char kCodeAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";  // no 0/O, 1/I

std::string UserKey(std::string_view id) { return KeyBuilder().AddString("user").AddString(id).key(); }
std::string DeviceKey(std::string_view id) {
  return KeyBuilder().AddString("device").AddString(id).key();
}
std::string TokenKey(std::string_view hash) {
  return KeyBuilder().AddString("token").AddString(hash).key();
}
std::string EnrollKey(std::string_view hash) {
  return KeyBuilder().AddString("enroll").AddString(hash).key();
}
std::string TeamPrefix(std::string_view visit) {
  return KeyBuilder().AddString("team").AddString(visit).key();
}
std::string TeamKey(std::string_view visit, std::string_view user) {
  return KeyBuilder().AddString("team").AddString(visit).AddString(user).key();
}
std::string PurgeKey(std::string_view user, std::string_view scope) {
  return KeyBuilder().AddString("purge").AddString(user).AddString(scope).key();
}
// The scope of a visit whose id was validated (team changes check it first).
std::string VisitScope(std::string_view visit) { return sync::Scope::Visit(visit)->str(); }

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const std::int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<std::int32_t>(micros % 1000000) * 1000);
}

template <typename T>
absl::StatusOr<T> ParseStored(std::string_view bytes) {
  T message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", T::descriptor()->name(), " is corrupt"));
  }
  return message;
}

template <typename T>
absl::StatusOr<std::optional<T>> GetStored(storage::ReadView& view, const std::string& key) {
  ASSIGN_OR_RETURN(auto raw, view.Get(ColumnFamily::kMeta, key));
  if (!raw.has_value()) return std::optional<T>();
  ASSIGN_OR_RETURN(T value, ParseStored<T>(*raw));
  return std::optional<T>(std::move(value));
}

template <typename T>
absl::StatusOr<std::optional<T>> GetStored(storage::Storage& storage, const std::string& key) {
  storage::StorageView latest(storage);
  return GetStored<T>(latest, key);
}

absl::Status UserNotFound(std::string_view user_id) {
  return WithReason(absl::NotFoundError("no user '" + std::string(user_id) + "'"),
                    "USER_NOT_FOUND", {{"user_id", std::string(user_id)}});
}

absl::StatusOr<std::string> NewDeviceId() {
  sync::UuidRandomBytes random;
  randombytes_buf(random.data(), random.size());
  return sync::NewUuidV7(absl::Now(), random);
}

std::string NewEnrollmentCode() {
  std::string code;
  for (int i = 0; i < 16; ++i) {
    if (i > 0 && i % 4 == 0) code += '-';
    code += kCodeAlphabet[randombytes_uniform(sizeof(kCodeAlphabet) - 1)];
  }
  return code;  // 80 bits
}

// Codes are typed by people: case and separators do not matter.
std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  return out;
}

absl::Status ValidateRole(vigil::v1::Role role) {
  if (role == vigil::v1::ROLE_UNSPECIFIED || !vigil::v1::Role_IsValid(role)) {
    return WithReason(absl::InvalidArgumentError("a user needs a role"), "ROLE_INVALID");
  }
  return absl::OkStatus();
}

}  // namespace

std::string IdentityStore::NewToken() {
  unsigned char secret[32];
  randombytes_buf(secret, sizeof(secret));
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret, sizeof(secret));
  return absl::StrCat("vgl_", b64);
}

std::string IdentityStore::TokenHash(std::string_view token) {
  return Sha256::Of(token);
}

absl::Status IdentityStore::ValidateUserId(std::string_view user_id) {
  bool ok = user_id.size() >= 2 && user_id.size() <= 64;
  for (char c : user_id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == '-');
  }
  // Names the audit log uses for vigild itself and the host's operator.
  ok = ok && user_id != "system" && user_id != "operator" && user_id.substr(0, 9) != "anonymous";
  if (!ok) {
    return WithReason(
        absl::InvalidArgumentError("a user id is 2..64 characters of a-z, 0-9, '.', '_', '-' "
                                   "(not 'system', 'operator' or 'anonymous…')"),
        "USER_ID_INVALID", {{"user_id", std::string(user_id.substr(0, 80))}});
  }
  return absl::OkStatus();
}

template <typename T>
void IdentityStore::Run(std::function<absl::StatusOr<T>(storage::CommitContext&)> prepare,
                        DoneFn<T> done) {
  auto result = std::make_shared<absl::StatusOr<T>>(absl::UnknownError("not run"));
  storage_->Submit(
      [prepare = std::move(prepare), result](storage::CommitContext& ctx) -> absl::Status {
        *result = prepare(ctx);
        return result->status();
      },
      [result, done = std::move(done)](absl::StatusOr<storage::CommitResult> commit) mutable {
        if (!commit.ok()) {
          done(commit.status());
          return;
        }
        done(std::move(*result));
      });
}

absl::Status IdentityStore::BootstrapAdmin(storage::CommitContext& ctx,
                                           const std::string& token_sha256, absl::Time now) {
  User admin;
  admin.set_user_id(std::string(kAdminUserId));
  admin.set_display_name("Administrator");
  admin.set_role(vigil::v1::ROLE_ADMIN);
  SetTime(now, admin.mutable_created_at());
  ctx.Put(ColumnFamily::kMeta, UserKey(kAdminUserId), admin.SerializeAsString());
  ASSIGN_OR_RETURN(std::string device_id, NewDeviceId());
  StoredDevice device;
  device.mutable_device()->set_device_id(device_id);
  device.mutable_device()->set_user_id(std::string(kAdminUserId));
  device.mutable_device()->set_name("initial admin token");
  SetTime(now, device.mutable_device()->mutable_enrolled_at());
  device.set_token_sha256(token_sha256);
  ctx.Put(ColumnFamily::kMeta, DeviceKey(device_id), device.SerializeAsString());
  ctx.Put(ColumnFamily::kMeta, TokenKey(token_sha256), device_id);
  return absl::OkStatus();
}

absl::StatusOr<Caller> IdentityStore::Authenticate(std::string_view token) const {
  auto refuse = [](std::string message, std::string reason) {
    return WithReason(absl::UnauthenticatedError(std::move(message)), std::move(reason));
  };
  ASSIGN_OR_RETURN(auto device_id, storage_->Get(ColumnFamily::kMeta, TokenKey(TokenHash(token))));
  if (!device_id.has_value()) {
    return refuse("the token is not valid on this server (unknown, or replaced by a rotation)",
                  "TOKEN_UNKNOWN");
  }
  ASSIGN_OR_RETURN(auto device, GetStored<StoredDevice>(*storage_, DeviceKey(*device_id)));
  if (!device.has_value() || device->device().revoked()) {
    return refuse("this device has been revoked; enroll it again", "DEVICE_REVOKED");
  }
  ASSIGN_OR_RETURN(auto user, GetStored<User>(*storage_, UserKey(device->device().user_id())));
  if (!user.has_value() || user->disabled()) {
    return refuse("this user account is disabled", "USER_DISABLED");
  }
  return Caller{user->user_id(), *device_id, user->role()};
}

void IdentityStore::CreateUser(const Caller& by, User user, DoneFn<User> done) {
  if (absl::Status s = ValidateUserId(user.user_id()); !s.ok()) return done(s);
  if (absl::Status s = ValidateRole(user.role()); !s.ok()) return done(s);
  if (user.display_name().size() > 200) {
    return done(WithReason(absl::InvalidArgumentError("display_name is over 200 bytes"),
                           "DISPLAY_NAME_TOO_LONG"));
  }
  user.set_disabled(false);
  SetTime(absl::Now(), user.mutable_created_at());
  Run<User>(
      [by, user](storage::CommitContext& ctx) -> absl::StatusOr<User> {
        ASSIGN_OR_RETURN(auto existing, ctx.Get(ColumnFamily::kMeta, UserKey(user.user_id())));
        if (existing.has_value()) {
          return WithReason(absl::AlreadyExistsError(
                                absl::StrCat("user '", user.user_id(), "' already exists")),
                            "USER_EXISTS", {{"user_id", user.user_id()}});
        }
        ctx.Put(ColumnFamily::kMeta, UserKey(user.user_id()), user.SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(by, absl::StrCat("user.created role=", vigil::v1::Role_Name(user.role())),
                         "users/" + user.user_id())));
        return user;
      },
      std::move(done));
}

absl::StatusOr<User> IdentityStore::GetUser(std::string_view user_id) const {
  RETURN_IF_ERROR(ValidateUserId(user_id));
  ASSIGN_OR_RETURN(auto user, GetStored<User>(*storage_, UserKey(user_id)));
  if (!user.has_value()) return UserNotFound(user_id);
  return *user;
}

absl::StatusOr<vigil::v1::ListUsersResponse> IdentityStore::ListUsers(
    const vigil::v1::ListUsersRequest& request) const {
  const std::uint32_t page =
      request.page_size() == 0 ? 100 : std::min<std::uint32_t>(request.page_size(), 1000);
  const std::string prefix = KeyBuilder().AddString("user").key();
  std::string begin = prefix;
  if (!request.page_token().empty()) {
    RETURN_IF_ERROR(ValidateUserId(request.page_token()));
    begin = UserKey(request.page_token());
  }
  vigil::v1::ListUsersResponse response;
  absl::Status parsed;
  RETURN_IF_ERROR(storage_->Scan(
      ColumnFamily::kMeta, storage::KeyRange{begin, storage::PrefixSuccessor(prefix)}, nullptr,
      [&](std::string_view, std::string_view value) {
        if (static_cast<std::uint32_t>(response.users_size()) == page) {
          absl::StatusOr<User> next = ParseStored<User>(value);
          if (next.ok()) response.set_next_page_token(next->user_id());
          return false;
        }
        absl::StatusOr<User> user = ParseStored<User>(value);
        if (!user.ok()) {
          parsed = user.status();
          return false;
        }
        *response.add_users() = std::move(*user);
        return true;
      }));
  RETURN_IF_ERROR(parsed);
  return response;
}

void IdentityStore::SetUserDisabled(const Caller& by, std::string user_id, bool disabled,
                                    DoneFn<User> done) {
  if (absl::Status s = ValidateUserId(user_id); !s.ok()) return done(s);
  if (disabled && user_id == by.principal) {
    return done(WithReason(absl::FailedPreconditionError("an admin cannot disable themselves"),
                           "SELF_DISABLE"));
  }
  Run<User>(
      [by, user_id, disabled](storage::CommitContext& ctx) -> absl::StatusOr<User> {
        ASSIGN_OR_RETURN(auto user, GetStored<User>(ctx, UserKey(user_id)));
        if (!user.has_value()) return UserNotFound(user_id);
        user->set_disabled(disabled);
        ctx.Put(ColumnFamily::kMeta, UserKey(user_id), user->SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(by, disabled ? "user.disabled" : "user.enabled", "users/" + user_id)));
        return *user;
      },
      std::move(done));
}

void IdentityStore::CreateEnrollmentCode(const Caller& by, std::string user_id,
                                         std::uint32_t ttl_seconds,
                                         DoneFn<vigil::v1::EnrollmentCode> done) {
  if (absl::Status s = ValidateUserId(user_id); !s.ok()) return done(s);
  if (ttl_seconds > kMaxCodeTtlSeconds) {
    return done(WithReason(absl::InvalidArgumentError("ttl_seconds is at most 86400 (a day)"),
                           "TTL_TOO_LONG"));
  }
  const absl::Time expires =
      absl::Now() + absl::Seconds(ttl_seconds == 0 ? kDefaultCodeTtlSeconds : ttl_seconds);
  const std::string code = NewEnrollmentCode();
  Run<vigil::v1::EnrollmentCode>(
      [by, user_id, expires, code](
          storage::CommitContext& ctx) -> absl::StatusOr<vigil::v1::EnrollmentCode> {
        ASSIGN_OR_RETURN(auto user, GetStored<User>(ctx, UserKey(user_id)));
        if (!user.has_value()) return UserNotFound(user_id);
        if (user->disabled()) {
          return WithReason(absl::FailedPreconditionError("the user is disabled"),
                            "USER_DISABLED", {{"user_id", user_id}});
        }
        StoredEnrollment stored;
        stored.set_user_id(user_id);
        stored.set_expires_unix_micros(absl::ToUnixMicros(expires));
        ctx.Put(ColumnFamily::kMeta, EnrollKey(TokenHash(NormalizeCode(code))),
                stored.SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(by, "device.enrollment_code_created", "users/" + user_id)));
        vigil::v1::EnrollmentCode out;
        out.set_code(code);
        out.set_user_id(user_id);
        SetTime(expires, out.mutable_expires_at());
        return out;
      },
      std::move(done));
}

void IdentityStore::EnrollDevice(std::string code, std::string device_name,
                                 DoneFn<vigil::v1::EnrollDeviceResponse> done) {
  if (NormalizeCode(code).empty()) {
    return done(WithReason(absl::UnauthenticatedError("an enrollment code is required"),
                           "ENROLLMENT_CODE_INVALID"));
  }
  // Checked before the code is looked at, so that a code cannot be probed
  // without being used up.
  if (device_name.empty() || device_name.size() > 100) {
    return done(WithReason(absl::InvalidArgumentError("device_name must be 1..100 bytes"),
                           "DEVICE_NAME_INVALID"));
  }
  absl::StatusOr<std::string> device_id = NewDeviceId();
  if (!device_id.ok()) return done(device_id.status());
  const std::string token = NewToken();
  const std::string code_key = EnrollKey(TokenHash(NormalizeCode(code)));
  const absl::Time now = absl::Now();
  Run<vigil::v1::EnrollDeviceResponse>(
      [=](storage::CommitContext& ctx) -> absl::StatusOr<vigil::v1::EnrollDeviceResponse> {
        ASSIGN_OR_RETURN(auto stored, GetStored<StoredEnrollment>(ctx, code_key));
        std::optional<User> user;
        if (stored.has_value()) {
          ASSIGN_OR_RETURN(user, GetStored<User>(ctx, UserKey(stored->user_id())));
        }
        // One answer for every refusal, so that codes cannot be probed.
        if (!stored.has_value() || !stored->used_by_device().empty() ||
            absl::ToUnixMicros(now) > stored->expires_unix_micros() || !user.has_value() ||
            user->disabled()) {
          return WithReason(
              absl::UnauthenticatedError(
                  "the enrollment code is not valid (unknown, already used or expired)"),
              "ENROLLMENT_CODE_INVALID");
        }
        stored->set_used_by_device(*device_id);
        ctx.Put(ColumnFamily::kMeta, code_key, stored->SerializeAsString());
        StoredDevice device;
        device.mutable_device()->set_device_id(*device_id);
        device.mutable_device()->set_user_id(user->user_id());
        device.mutable_device()->set_name(device_name);
        SetTime(now, device.mutable_device()->mutable_enrolled_at());
        device.set_token_sha256(TokenHash(token));
        ctx.Put(ColumnFamily::kMeta, DeviceKey(*device_id), device.SerializeAsString());
        ctx.Put(ColumnFamily::kMeta, TokenKey(device.token_sha256()), *device_id);
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(Caller{user->user_id(), *device_id, user->role()}, "device.enrolled",
                         "devices/" + *device_id)));
        vigil::v1::EnrollDeviceResponse out;
        *out.mutable_device() = device.device();
        out.set_token(token);
        return out;
      },
      std::move(done));
}

absl::StatusOr<Device> IdentityStore::GetDevice(std::string_view device_id) const {
  ASSIGN_OR_RETURN(auto device, GetStored<StoredDevice>(*storage_, DeviceKey(device_id)));
  if (!device.has_value()) {
    return WithReason(absl::NotFoundError("no such device"), "DEVICE_NOT_FOUND",
                      {{"device_id", std::string(device_id.substr(0, 80))}});
  }
  return device->device();
}

absl::StatusOr<vigil::v1::ListDevicesResponse> IdentityStore::ListDevices(
    std::string_view user_id) const {
  if (!user_id.empty()) RETURN_IF_ERROR(GetUser(user_id).status());
  vigil::v1::ListDevicesResponse response;
  absl::Status parsed;
  RETURN_IF_ERROR(storage_->Scan(
      ColumnFamily::kMeta, storage::KeyRange::Prefix(KeyBuilder().AddString("device").key()),
      nullptr, [&](std::string_view, std::string_view value) {
        absl::StatusOr<StoredDevice> device = ParseStored<StoredDevice>(value);
        if (!device.ok()) {
          parsed = device.status();
          return false;
        }
        if (user_id.empty() || device->device().user_id() == user_id) {
          *response.add_devices() = device->device();
        }
        return true;
      }));
  RETURN_IF_ERROR(parsed);
  return response;
}

void IdentityStore::RevokeDevice(const Caller& by, std::string device_id, DoneFn<Device> done) {
  if (absl::Status s = sync::ValidateRecordId(device_id); !s.ok()) {
    return done(WithReason(absl::InvalidArgumentError("device_id is not a device id"),
                           "DEVICE_ID_INVALID"));
  }
  if (device_id == by.device) {
    return done(WithReason(
        absl::FailedPreconditionError("a device cannot revoke itself; use another admin device"),
        "SELF_REVOKE"));
  }
  Run<Device>(
      [by, device_id](storage::CommitContext& ctx) -> absl::StatusOr<Device> {
        ASSIGN_OR_RETURN(auto device, GetStored<StoredDevice>(ctx, DeviceKey(device_id)));
        if (!device.has_value()) {
          return WithReason(absl::NotFoundError("no such device"), "DEVICE_NOT_FOUND",
                            {{"device_id", device_id}});
        }
        if (!device->device().revoked()) {
          // The token stays mapped to the device, so that it is refused as
          // revoked (the device's owner learns why) rather than unknown.
          device->mutable_device()->set_revoked(true);
          ctx.Put(ColumnFamily::kMeta, DeviceKey(device_id), device->SerializeAsString());
          RETURN_IF_ERROR(
              storage::AppendAudit(ctx, AuditOf(by, "device.revoked", "devices/" + device_id)));
        }
        return device->device();
      },
      std::move(done));
}

void IdentityStore::RotateToken(const Caller& caller, DoneFn<std::string> done) {
  const std::string token = NewToken();
  const absl::Time now = absl::Now();
  Run<std::string>(
      [caller, token, now](storage::CommitContext& ctx) -> absl::StatusOr<std::string> {
        ASSIGN_OR_RETURN(auto device, GetStored<StoredDevice>(ctx, DeviceKey(caller.device)));
        if (!device.has_value() || device->device().revoked()) {
          return WithReason(absl::UnauthenticatedError("this device has been revoked"),
                            "DEVICE_REVOKED");
        }
        ctx.Delete(ColumnFamily::kMeta, TokenKey(device->token_sha256()));
        device->set_token_sha256(TokenHash(token));
        SetTime(now, device->mutable_device()->mutable_token_rotated_at());
        ctx.Put(ColumnFamily::kMeta, TokenKey(device->token_sha256()), caller.device);
        ctx.Put(ColumnFamily::kMeta, DeviceKey(caller.device), device->SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(caller, "device.token_rotated", "devices/" + caller.device)));
        return token;
      },
      std::move(done));
}

void IdentityStore::SetTeamMember(const Caller& by, TeamMembership membership,
                                  DoneFn<TeamMembership> done) {
  if (absl::Status s = sync::ValidateRecordId(membership.visit_id()); !s.ok()) {
    return done(WithReason(absl::InvalidArgumentError("visit_id is not a record id"),
                           "VISIT_ID_INVALID"));
  }
  if (absl::Status s = ValidateUserId(membership.user_id()); !s.ok()) return done(s);
  if (membership.team_role() == vigil::v1::TEAM_ROLE_UNSPECIFIED ||
      !vigil::v1::TeamRole_IsValid(membership.team_role())) {
    return done(WithReason(absl::InvalidArgumentError("a team member needs a team role"),
                           "TEAM_ROLE_INVALID"));
  }
  Run<TeamMembership>(
      [this, by, membership](storage::CommitContext& ctx) -> absl::StatusOr<TeamMembership> {
        ASSIGN_OR_RETURN(auto user, GetStored<User>(ctx, UserKey(membership.user_id())));
        if (!user.has_value()) return UserNotFound(membership.user_id());
        using vigil::v1::Role;
        if (user->role() != Role::ROLE_FIELD_MONITOR && user->role() != Role::ROLE_TEAM_LEAD &&
            user->role() != Role::ROLE_MEDICAL_EXPERT) {
          return WithReason(
              absl::FailedPreconditionError(
                  "only field monitors, team leads and medical experts join visit teams "
                  "(reviewers see every visit already)"),
              "ROLE_NOT_FIELD", {{"user_id", membership.user_id()}});
        }
        ctx.Put(ColumnFamily::kMeta, TeamKey(membership.visit_id(), membership.user_id()),
                membership.SerializeAsString());
        ctx.Delete(ColumnFamily::kMeta,
                   PurgeKey(membership.user_id(), VisitScope(membership.visit_id())));
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(by,
                         absl::StrCat("team.member_set role=",
                                      vigil::v1::TeamRole_Name(membership.team_role())),
                         absl::StrCat(VisitScope(membership.visit_id()), "/team/",
                                      membership.user_id()))));
        if (team_changed_) RETURN_IF_ERROR(team_changed_(ctx, by, membership.visit_id()));
        return membership;
      },
      std::move(done));
}

void IdentityStore::RemoveTeamMember(const Caller& by, std::string visit_id, std::string user_id,
                                     DoneFn<bool> done) {
  if (absl::Status s = sync::ValidateRecordId(visit_id); !s.ok()) {
    return done(WithReason(absl::InvalidArgumentError("visit_id is not a record id"),
                           "VISIT_ID_INVALID"));
  }
  if (absl::Status s = ValidateUserId(user_id); !s.ok()) return done(s);
  const absl::Time now = absl::Now();
  Run<bool>(
      [this, by, visit_id, user_id, now](storage::CommitContext& ctx) -> absl::StatusOr<bool> {
        ASSIGN_OR_RETURN(auto existing, ctx.Get(ColumnFamily::kMeta, TeamKey(visit_id, user_id)));
        if (!existing.has_value()) {
          return WithReason(absl::NotFoundError("the user is not on this visit's team"),
                            "TEAM_MEMBER_NOT_FOUND", {{"user_id", user_id}});
        }
        ctx.Delete(ColumnFamily::kMeta, TeamKey(visit_id, user_id));
        PurgeMarker marker;
        marker.set_removed_unix_micros(absl::ToUnixMicros(now));
        ctx.Put(ColumnFamily::kMeta, PurgeKey(user_id, VisitScope(visit_id)),
                marker.SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(by, "team.member_removed",
                         absl::StrCat(VisitScope(visit_id), "/team/", user_id))));
        if (team_changed_) RETURN_IF_ERROR(team_changed_(ctx, by, visit_id));
        return true;
      },
      std::move(done));
}

absl::StatusOr<vigil::v1::ListTeamResponse> IdentityStore::ListTeam(
    std::string_view visit_id) const {
  if (!sync::ValidateRecordId(visit_id).ok()) {
    return WithReason(absl::InvalidArgumentError("visit_id is not a record id"),
                      "VISIT_ID_INVALID");
  }
  vigil::v1::ListTeamResponse response;
  absl::Status parsed;
  RETURN_IF_ERROR(storage_->Scan(ColumnFamily::kMeta,
                                 storage::KeyRange::Prefix(TeamPrefix(visit_id)), nullptr,
                                 [&](std::string_view, std::string_view value) {
                                   auto member = ParseStored<TeamMembership>(value);
                                   if (!member.ok()) {
                                     parsed = member.status();
                                     return false;
                                   }
                                   *response.add_members() = std::move(*member);
                                   return true;
                                 }));
  RETURN_IF_ERROR(parsed);
  return response;
}

absl::StatusOr<std::vector<TeamMembership>> IdentityStore::TeamIn(storage::CommitContext& ctx,
                                                                  std::string_view visit_id) {
  std::vector<TeamMembership> team;
  absl::Status parsed;
  RETURN_IF_ERROR(ctx.Scan(ColumnFamily::kMeta, storage::KeyRange::Prefix(TeamPrefix(visit_id)),
                           [&](std::string_view, std::string_view value) {
                             auto member = ParseStored<TeamMembership>(value);
                             if (!member.ok()) {
                               parsed = member.status();
                               return false;
                             }
                             team.push_back(std::move(*member));
                             return true;
                           }));
  RETURN_IF_ERROR(parsed);
  return team;
}

absl::Status IdentityStore::ScanTeamTable(
    storage::RangeScanFn scan, absl::FunctionRef<absl::Status(const TeamMembership&)> visit) {
  absl::Status failed;
  RETURN_IF_ERROR(scan(ColumnFamily::kMeta,
                       storage::KeyRange::Prefix(KeyBuilder().AddString("team").key()),
                       [&](std::string_view, std::string_view value) {
                         auto member = ParseStored<TeamMembership>(value);
                         failed = member.ok() ? visit(*member) : member.status();
                         return failed.ok();
                       }));
  return failed;
}

absl::StatusOr<std::optional<User>> IdentityStore::UserIn(storage::ReadView& view,
                                                          std::string_view user_id) {
  return GetStored<User>(view, UserKey(user_id));
}

absl::StatusOr<vigil::v1::TeamRole> IdentityStore::TeamRoleOf(storage::ReadView& view,
                                                              std::string_view user_id,
                                                              std::string_view visit_id) {
  ASSIGN_OR_RETURN(auto member, GetStored<TeamMembership>(view, TeamKey(visit_id, user_id)));
  return member.has_value() ? member->team_role() : vigil::v1::TEAM_ROLE_UNSPECIFIED;
}

absl::StatusOr<bool> IdentityStore::IsPurged(storage::ReadView& view, std::string_view user_id,
                                             std::string_view scope) {
  ASSIGN_OR_RETURN(auto marker, view.Get(ColumnFamily::kMeta, PurgeKey(user_id, scope)));
  return marker.has_value();
}

}  // namespace vigil::server
