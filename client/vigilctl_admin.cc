// vigilctl's admin commands: users, enrollment codes, devices, visit teams,
// data keys and the audit log, through AdminService with the home's admin
// credential.
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_values.h"

namespace vigil::vigilctl {
namespace {

using vigil::v1::AdminService;

JsonObject UserJson(const vigil::v1::User& u) {
  JsonObject o;
  o.Str("user_id", u.user_id())
      .Str("display_name", u.display_name())
      .Str("role", EnumWord(u.role()))
      .Bool("disabled", u.disabled())
      .Str("created_at", TimestampRfc3339(u.created_at()));
  return o;
}

std::string UserLine(const vigil::v1::User& u) {
  return absl::StrCat(
      Pad(u.user_id(), 16), " ", Pad(EnumWord(u.role()), 15), " ",
      u.disabled() ? absl::StrCat(Pad(u.display_name(), 24), " DISABLED") : u.display_name());
}

JsonObject DeviceJson(const vigil::v1::Device& d) {
  JsonObject o;
  o.Str("device_id", d.device_id())
      .Str("user_id", d.user_id())
      .Str("name", d.name())
      .Bool("revoked", d.revoked())
      .Str("enrolled_at", TimestampRfc3339(d.enrolled_at()));
  return o;
}

std::string DeviceLine(const vigil::v1::Device& d) {
  return absl::StrCat(d.device_id(), "  ", Pad(d.user_id(), 14), " ", Pad(d.name(), 24), " ",
                      FormatTimestamp(d.enrolled_at()), d.revoked() ? "  REVOKED" : "");
}

JsonObject MemberJson(const vigil::v1::TeamMembership& m) {
  JsonObject o;
  o.Str("visit_id", m.visit_id()).Str("user_id", m.user_id()).Str("role", EnumWord(m.team_role()));
  return o;
}

// Opens the home and makes an admin stub; nullptr after printing why.
struct AdminSession {
  std::unique_ptr<client::Replica> replica;
  std::unique_ptr<AdminService::Stub> stub;
};

bool Start(const Globals& g, AdminSession& s, int* code) {
  s.replica = OpenHome(g, code);
  if (!s.replica) return false;
  s.stub = AdminStub(g, *s.replica, code);
  return s.stub != nullptr;
}

}  // namespace

int UserCreate(const Globals& g, const std::string& user_id, const std::string& role,
               const std::string& display_name) {
  absl::StatusOr<vigil::v1::Role> parsed = ParseEnumAs<vigil::v1::Role>(role);
  if (!parsed.ok()) return Usage(absl::StrCat("--role: ", parsed.status().message()));
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::CreateUserRequest request;
  request.mutable_user()->set_user_id(user_id);
  request.mutable_user()->set_role(*parsed);
  request.mutable_user()->set_display_name(display_name);
  vigil::v1::User user;
  auto context = CallContext();
  if (grpc::Status st = s.stub->CreateUser(context.get(), request, &user); !st.ok()) {
    return Fail(absl::StrCat("creating user ", user_id), st);
  }
  g.out().Result(
      UserJson(user),
      absl::StrCat("created user ", user.user_id(), " (", EnumWord(user.role()),
                   ")\nnext: vigilctl code create ", user.user_id(), " to enroll a device"));
  return kExitOk;
}

int UserList(const Globals& g) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::ListUsersRequest request;
  request.set_page_size(1000);
  do {
    vigil::v1::ListUsersResponse page;
    auto context = CallContext();
    if (grpc::Status st = s.stub->ListUsers(context.get(), request, &page); !st.ok()) {
      return Fail("listing users", st);
    }
    for (const auto& u : page.users()) g.out().Result(UserJson(u), UserLine(u));
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return kExitOk;
}

int UserSetDisabled(const Globals& g, const std::string& user_id, bool disabled) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::SetUserDisabledRequest request;
  request.set_user_id(user_id);
  request.set_disabled(disabled);
  vigil::v1::User user;
  auto context = CallContext();
  if (grpc::Status st = s.stub->SetUserDisabled(context.get(), request, &user); !st.ok()) {
    return Fail(absl::StrCat(disabled ? "disabling " : "enabling ", user_id), st);
  }
  g.out().Result(UserJson(user),
                 absl::StrCat(user_id, disabled ? " is disabled: every device of theirs is refused "
                                                  "from its next call"
                                                : " is enabled again"));
  return kExitOk;
}

int CodeCreate(const Globals& g, const std::string& user_id, std::uint32_t ttl_seconds) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::CreateEnrollmentCodeRequest request;
  request.set_user_id(user_id);
  request.set_ttl_seconds(ttl_seconds);
  vigil::v1::EnrollmentCode created;
  auto context = CallContext();
  if (grpc::Status st = s.stub->CreateEnrollmentCode(context.get(), request, &created); !st.ok()) {
    return Fail(absl::StrCat("creating an enrollment code for ", user_id), st);
  }
  g.out().Result(
      JsonObject()
          .Str("code", created.code())
          .Str("user_id", created.user_id())
          .Str("expires_at", TimestampRfc3339(created.expires_at())),
      absl::StrCat(created.code(), "\none device of ", created.user_id(),
                   " can enroll with it, once, until ", FormatTimestamp(created.expires_at()),
                   ":\n  vigilctl enroll --code ", created.code(), " --name \"DEVICE NAME\""));
  return kExitOk;
}

int DeviceList(const Globals& g, const std::string& user_id) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::ListDevicesRequest request;
  request.set_user_id(user_id);
  vigil::v1::ListDevicesResponse response;
  auto context = CallContext();
  if (grpc::Status st = s.stub->ListDevices(context.get(), request, &response); !st.ok()) {
    return Fail("listing devices", st);
  }
  for (const auto& d : response.devices()) g.out().Result(DeviceJson(d), DeviceLine(d));
  return kExitOk;
}

int DeviceRevoke(const Globals& g, const std::string& device_id) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::RevokeDeviceRequest request;
  request.set_device_id(device_id);
  vigil::v1::Device device;
  auto context = CallContext();
  if (grpc::Status st = s.stub->RevokeDevice(context.get(), request, &device); !st.ok()) {
    return Fail(absl::StrCat("revoking device ", device_id), st);
  }
  g.out().Result(DeviceJson(device),
                 absl::StrCat("revoked ", device.device_id(), " (", device.name(), " of ",
                              device.user_id(), "): refused from its next call"));
  return kExitOk;
}

int TeamAdd(const Globals& g, const std::string& visit, const std::string& user_id,
            const std::string& role) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  absl::StatusOr<vigil::v1::TeamRole> parsed = ParseEnumAs<vigil::v1::TeamRole>(role);
  if (!parsed.ok()) return Usage(absl::StrCat("--role: ", parsed.status().message()));
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::SetTeamMemberRequest request;
  request.mutable_membership()->set_visit_id(*visit_id);
  request.mutable_membership()->set_user_id(user_id);
  request.mutable_membership()->set_team_role(*parsed);
  vigil::v1::TeamMembership member;
  auto context = CallContext();
  if (grpc::Status st = s.stub->SetTeamMember(context.get(), request, &member); !st.ok()) {
    return Fail(absl::StrCat("adding ", user_id, " to the team of visit ", *visit_id), st);
  }
  g.out().Result(MemberJson(member), absl::StrCat(user_id, " is on the team of visit ", *visit_id,
                                                  " as ", EnumWord(member.team_role())));
  return kExitOk;
}

int TeamRemove(const Globals& g, const std::string& visit, const std::string& user_id) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::RemoveTeamMemberRequest request;
  request.set_visit_id(*visit_id);
  request.set_user_id(user_id);
  vigil::v1::RemoveTeamMemberResponse response;
  auto context = CallContext();
  if (grpc::Status st = s.stub->RemoveTeamMember(context.get(), request, &response); !st.ok()) {
    return Fail(absl::StrCat("taking ", user_id, " off the team of visit ", *visit_id), st);
  }
  g.out().Result(
      JsonObject().Str("visit_id", *visit_id).Str("user_id", user_id).Bool("removed", true),
      absl::StrCat(user_id, " is off the team of visit ", *visit_id,
                   "; their devices delete its data at their next sync"));
  return kExitOk;
}

int TeamList(const Globals& g, const std::string& visit) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::ListTeamRequest request;
  request.set_visit_id(*visit_id);
  vigil::v1::ListTeamResponse response;
  auto context = CallContext();
  if (grpc::Status st = s.stub->ListTeam(context.get(), request, &response); !st.ok()) {
    return Fail(absl::StrCat("listing the team of visit ", *visit_id), st);
  }
  for (const auto& m : response.members()) {
    g.out().Result(MemberJson(m), absl::StrCat(Pad(m.user_id(), 16), " ", EnumWord(m.team_role())));
  }
  return kExitOk;
}

int KeyRotate(const Globals& g) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::RotateDataKeyResponse response;
  auto context = CallContext();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
  if (grpc::Status st =
          s.stub->RotateDataKey(context.get(), vigil::v1::RotateDataKeyRequest(), &response);
      !st.ok()) {
    return Fail("rotating the data key", st);
  }
  g.out().Result(JsonObject().Uint("key_id", response.key_id()),
                 absl::StrCat("data key ", response.key_id(),
                              " is now current; older values are re-encrypted in the background."
                              "\nkeep the older keys in the key file: backups taken before need "
                              "them"));
  return kExitOk;
}

int AuditVerify(const Globals& g) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  vigil::v1::VerifyAuditLogResponse v;
  auto context = CallContext();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
  if (grpc::Status st =
          s.stub->VerifyAuditLog(context.get(), vigil::v1::VerifyAuditLogRequest(), &v);
      !st.ok()) {
    return Fail("verifying the audit log", st);
  }
  const bool intact = v.first_broken() == 0;
  JsonObject result;
  result.Bool("intact", intact)
      .Uint("entries", v.entries())
      .Str("head_hash_hex", v.head_hash_hex())
      .Uint("first_broken", v.first_broken())
      .Str("problem", v.problem());
  g.out().Result(
      result,
      intact ? absl::StrCat("audit log intact: ", v.entries(), " entries, head ", v.head_hash_hex(),
                            "\nrecord the head hash outside the server to anchor "
                            "the chain")
             : absl::StrCat("audit log BROKEN at entry ", v.first_broken(), ": ", v.problem(),
                            "\n(", v.entries(), " entries before it verified)"));
  return intact ? kExitOk : kExitAttention;
}

int AuditExport(const Globals& g, const std::string& out_file) {
  int code = kExitOk;
  AdminSession s;
  if (!Start(g, s, &code)) return code;
  std::ofstream file;
  if (!out_file.empty()) {
    file.open(out_file, std::ios::binary | std::ios::trunc);
    if (!file)
      return Fail("audit export",
                  absl::PermissionDeniedError(absl::StrCat("cannot write ", out_file)));
  }
  std::ostream& out = out_file.empty() ? std::cout : file;
  vigil::v1::ExportAuditLogRequest request;
  request.set_page_size(1000);
  std::uint64_t entries = 0;
  while (true) {
    vigil::v1::ExportAuditLogResponse page;
    auto context = CallContext();
    if (grpc::Status st = s.stub->ExportAuditLog(context.get(), request, &page); !st.ok()) {
      return Fail("exporting the audit log", st);
    }
    for (const auto& line : page.json_lines()) out << line << "\n";
    entries += static_cast<std::uint64_t>(page.json_lines_size());
    if (page.next_index() == 0 || page.json_lines_size() == 0) break;
    request.set_from_index(page.next_index());
  }
  out.flush();
  if (!out) return Fail("audit export", absl::DataLossError("writing the entries failed"));
  if (!out_file.empty()) {
    g.out().Result(JsonObject().Str("file", out_file).Uint("entries", entries),
                   absl::StrCat(entries, " audit entries written to ", out_file));
  }
  return kExitOk;
}

}  // namespace vigil::vigilctl
