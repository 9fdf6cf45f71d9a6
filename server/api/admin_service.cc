#include "server/api/admin_service.h"

#include "sync/scope.h"

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "server/api/audit_verification.h"
#include "server/api/reactors.h"
#include "server/ops/logging.h"
#include "storage/audit_log.h"

namespace vigil::server {
namespace {

using vigil::v1::Role;

// Finishes `reactor` with the outcome of an asynchronous store call.
template <typename T>
DoneFn<T> Finisher(grpc::ServerUnaryReactor* reactor, T* response) {
  return [reactor, response](absl::StatusOr<T> result) {
    FinishUnary(reactor, std::move(result), response);
  };
}

}  // namespace

std::optional<Caller> AdminService::AdminOf(Context* context, Reactor* reactor) {
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (caller && caller->role != Role::ROLE_ADMIN) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::PermissionDeniedError("only an admin manages accounts, devices, teams and keys"),
        "ADMIN_ONLY")));
    return std::nullopt;
  }
  return caller;
}

AdminService::Reactor* AdminService::CreateUser(Context* context,
                                                const vigil::v1::CreateUserRequest* request,
                                                vigil::v1::User* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->CreateUser(*admin, request->user(), Finisher(reactor, response));
  }
  return reactor;
}

AdminService::Reactor* AdminService::GetUser(Context* context,
                                             const vigil::v1::GetUserRequest* request,
                                             vigil::v1::User* response) {
  Reactor* reactor = context->DefaultReactor();
  if (AdminOf(context, reactor)) {
    FinishUnary(reactor, identities_->GetUser(request->user_id()), response);
  }
  return reactor;
}

AdminService::Reactor* AdminService::ListUsers(Context* context,
                                               const vigil::v1::ListUsersRequest* request,
                                               vigil::v1::ListUsersResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (AdminOf(context, reactor)) {
    FinishUnary(reactor, identities_->ListUsers(*request), response);
  }
  return reactor;
}

AdminService::Reactor* AdminService::SetUserDisabled(
    Context* context, const vigil::v1::SetUserDisabledRequest* request,
    vigil::v1::User* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->SetUserDisabled(
        *admin, request->user_id(), request->disabled(),
        [this, reactor, response](absl::StatusOr<vigil::v1::User> user) {
          if (user.ok() && user->disabled()) {
            hub_->CloseFor(user->user_id(), "",
                           ToGrpcStatus(WithReason(absl::UnauthenticatedError("the user is disabled"), "USER_DISABLED")));
          }
          FinishUnary(reactor, std::move(user), response);
        });
  }
  return reactor;
}

AdminService::Reactor* AdminService::CreateEnrollmentCode(
    Context* context, const vigil::v1::CreateEnrollmentCodeRequest* request,
    vigil::v1::EnrollmentCode* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->CreateEnrollmentCode(*admin, request->user_id(), request->ttl_seconds(),
                                      Finisher(reactor, response));
  }
  return reactor;
}

AdminService::Reactor* AdminService::EnrollDevice(Context* context,
                                                  const vigil::v1::EnrollDeviceRequest* request,
                                                  vigil::v1::EnrollDeviceResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  // The one-time code is the credential here. Guessing codes counts as
  // failed authentication and is rate-limited like any other.
  const std::string source = Authenticator::SourceOf(context->peer());
  if (absl::Status limited = auth_->CheckSource(source); !limited.ok()) {
    reactor->Finish(ToGrpcStatus(limited));
    return reactor;
  }
  identities_->EnrollDevice(
      request->enrollment_code(), request->device_name(),
      [this, reactor, response, source](absl::StatusOr<vigil::v1::EnrollDeviceResponse> result) {
        if (!result.ok() && result.status().code() == absl::StatusCode::kUnauthenticated) {
          result = auth_->CountFailure(source, result.status());
        }
        if (result.ok()) result->set_receipt_public_key(receipt_public_key_);
        FinishUnary(reactor, std::move(result), response);
      });
  return reactor;
}

AdminService::Reactor* AdminService::ListDevices(Context* context,
                                                 const vigil::v1::ListDevicesRequest* request,
                                                 vigil::v1::ListDevicesResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (AdminOf(context, reactor)) {
    FinishUnary(reactor, identities_->ListDevices(request->user_id()), response);
  }
  return reactor;
}

AdminService::Reactor* AdminService::RevokeDevice(Context* context,
                                                  const vigil::v1::RevokeDeviceRequest* request,
                                                  vigil::v1::Device* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->RevokeDevice(
        *admin, request->device_id(),
        [this, reactor, response](absl::StatusOr<vigil::v1::Device> device) {
          if (device.ok()) {
            hub_->CloseFor("", device->device_id(),
                           ToGrpcStatus(WithReason(absl::UnauthenticatedError("the device is revoked"), "DEVICE_REVOKED")));
          }
          FinishUnary(reactor, std::move(device), response);
        });
  }
  return reactor;
}

AdminService::Reactor* AdminService::RotateToken(Context* context,
                                                 const vigil::v1::RotateTokenRequest*,
                                                 vigil::v1::RotateTokenResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> caller = Admit(*auth_, *context, reactor)) {
    identities_->RotateToken(*caller, [this, reactor, response, device = caller->device](
                                          absl::StatusOr<std::string> token) {
      if (token.ok()) {
        response->set_token(std::move(*token));
        hub_->CloseFor("", device,
                       ToGrpcStatus(WithReason(absl::UnauthenticatedError("the token was rotated"), "TOKEN_ROTATED")));
      }
      reactor->Finish(ToGrpcStatus(token.status()));
    });
  }
  return reactor;
}

AdminService::Reactor* AdminService::WhoAmI(Context* context, const vigil::v1::WhoAmIRequest*,
                                            vigil::v1::WhoAmIResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  std::optional<Caller> caller = Admit(*auth_, *context, reactor);
  if (!caller) return reactor;
  absl::StatusOr<vigil::v1::User> user = identities_->GetUser(caller->principal);
  absl::StatusOr<vigil::v1::Device> device = identities_->GetDevice(caller->device);
  absl::Status status = user.ok() ? device.status() : user.status();
  if (status.ok()) {
    *response->mutable_user() = std::move(*user);
    *response->mutable_device() = std::move(*device);
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

AdminService::Reactor* AdminService::SetTeamMember(Context* context,
                                                   const vigil::v1::SetTeamMemberRequest* request,
                                                   vigil::v1::TeamMembership* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->SetTeamMember(
        *admin, request->membership(),
        [this, reactor, response](absl::StatusOr<vigil::v1::TeamMembership> member) {
          // The Visit record's team changed in the same commit: followers
          // of the visit pull it.
          if (member.ok()) NotifyTeamChanged(member->visit_id());
          FinishUnary(reactor, std::move(member), response);
        });
  }
  return reactor;
}

AdminService::Reactor* AdminService::RemoveTeamMember(
    Context* context, const vigil::v1::RemoveTeamMemberRequest* request,
    vigil::v1::RemoveTeamMemberResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (std::optional<Caller> admin = AdminOf(context, reactor)) {
    identities_->RemoveTeamMember(
        *admin, request->visit_id(), request->user_id(),
        [this, reactor, user = request->user_id(),
         visit = request->visit_id()](absl::StatusOr<bool> removed) {
          // Every stream of the user ends; a new subscription is checked
          // against the rights left.
          if (removed.ok()) {
            hub_->CloseFor(user, "",
                           ToGrpcStatus(WithReason(absl::PermissionDeniedError("taken off a visit team: subscribe again"), "TEAM_CHANGED")));
            // The others who follow the visit pull its new team (after the
            // removed user's streams ended, so they hear nothing more).
            NotifyTeamChanged(visit);
          }
          reactor->Finish(ToGrpcStatus(removed.status()));
        });
  }
  (void)response;
  return reactor;
}

void AdminService::NotifyTeamChanged(const std::string& visit_id) {
  absl::StatusOr<sync::Scope> scope = sync::Scope::Visit(visit_id);
  if (scope.ok()) hub_->Notify({{scope->str(), storage_->LastCommittedSeq()}});
}

AdminService::Reactor* AdminService::ListTeam(Context* context,
                                              const vigil::v1::ListTeamRequest* request,
                                              vigil::v1::ListTeamResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (AdminOf(context, reactor)) {
    FinishUnary(reactor, identities_->ListTeam(request->visit_id()), response);
  }
  return reactor;
}

AdminService::Reactor* AdminService::RotateDataKey(Context* context,
                                                   const vigil::v1::RotateDataKeyRequest*,
                                                   vigil::v1::RotateDataKeyResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  std::optional<Caller> admin = AdminOf(context, reactor);
  if (!admin) return reactor;
  worker_.Post([this, reactor, response, admin = *admin] {
    absl::StatusOr<std::uint32_t> id = rotator_->Rotate(admin);
    if (id.ok()) response->set_key_id(*id);
    reactor->Finish(ToGrpcStatus(id.status()));
  });
  return reactor;
}

AdminService::Reactor* AdminService::VerifyAuditLog(Context* context,
                                                    const vigil::v1::VerifyAuditLogRequest*,
                                                    vigil::v1::VerifyAuditLogResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (!AdminOf(context, reactor)) return reactor;
  VerifyAuditLogLater(worker_, *storage_, reactor, response);
  return reactor;
}

AdminService::Reactor* AdminService::ExportAuditLog(
    Context* context, const vigil::v1::ExportAuditLogRequest* request,
    vigil::v1::ExportAuditLogResponse* response) {
  Reactor* reactor = context->DefaultReactor();
  if (!AdminOf(context, reactor)) return reactor;
  if (request->page_size() > 10000) {
    reactor->Finish(ToGrpcStatus(WithReason(
        absl::InvalidArgumentError("page_size is at most 10000"), "PAGE_SIZE_INVALID")));
    return reactor;
  }
  const std::uint32_t page = request->page_size() == 0 ? 1000 : request->page_size();
  const std::uint64_t from = std::max<std::uint64_t>(1, request->from_index());
  worker_.Post([this, reactor, response, page, from] {
    std::uint64_t next = 0;
    absl::Status status = storage::ForEachAuditEntry(
        *storage_, nullptr, from, [&](const vigil::internal::AuditEntry& entry) {
          if (static_cast<std::uint32_t>(response->json_lines_size()) == page) {
            next = entry.index();
            return false;
          }
          response->add_json_lines(storage::AuditEntryToJson(entry));
          return true;
        });
    response->set_next_index(next);
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

}  // namespace vigil::server
