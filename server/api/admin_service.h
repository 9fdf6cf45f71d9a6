// vigil.v1.AdminService on the gRPC callback API: accounts, devices, teams,
// the audit log. Every method authenticates its caller; all but
// EnrollDevice, WhoAmI and RotateToken need the admin role.
#ifndef VIGIL_SERVER_API_ADMIN_SERVICE_H_
#define VIGIL_SERVER_API_ADMIN_SERVICE_H_

#include <string>
#include <utility>

#include "server/auth/authenticator.h"
#include "base/background_worker.h"
#include "server/api/change_hub.h"
#include "server/auth/identity_store.h"
#include "server/ops/key_rotation.h"
#include "storage/storage.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::server {

class AdminService final : public vigil::v1::AdminService::CallbackService {
 public:
  // Everything is borrowed and must outlive the service.
  // `receipt_public_key` is handed to each enrolled device to pin.
  // Streams in `hub` are ended when their rights change.
  AdminService(Authenticator* auth, IdentityStore* identities, KeyRotator* rotator,
               storage::Storage* storage, ChangeHub* hub, std::string receipt_public_key)
      : auth_(auth),
        identities_(identities),
        rotator_(rotator),
        storage_(storage),
        hub_(hub),
        receipt_public_key_(std::move(receipt_public_key)) {}

  using Context = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* CreateUser(Context* context, const vigil::v1::CreateUserRequest* request,
                      vigil::v1::User* response) override;
  Reactor* GetUser(Context* context, const vigil::v1::GetUserRequest* request,
                   vigil::v1::User* response) override;
  Reactor* ListUsers(Context* context, const vigil::v1::ListUsersRequest* request,
                     vigil::v1::ListUsersResponse* response) override;
  Reactor* SetUserDisabled(Context* context, const vigil::v1::SetUserDisabledRequest* request,
                           vigil::v1::User* response) override;
  Reactor* CreateEnrollmentCode(Context* context,
                                const vigil::v1::CreateEnrollmentCodeRequest* request,
                                vigil::v1::EnrollmentCode* response) override;
  Reactor* EnrollDevice(Context* context, const vigil::v1::EnrollDeviceRequest* request,
                        vigil::v1::EnrollDeviceResponse* response) override;
  Reactor* ListDevices(Context* context, const vigil::v1::ListDevicesRequest* request,
                       vigil::v1::ListDevicesResponse* response) override;
  Reactor* RevokeDevice(Context* context, const vigil::v1::RevokeDeviceRequest* request,
                        vigil::v1::Device* response) override;
  Reactor* RotateToken(Context* context, const vigil::v1::RotateTokenRequest* request,
                       vigil::v1::RotateTokenResponse* response) override;
  Reactor* WhoAmI(Context* context, const vigil::v1::WhoAmIRequest* request,
                  vigil::v1::WhoAmIResponse* response) override;
  Reactor* SetTeamMember(Context* context, const vigil::v1::SetTeamMemberRequest* request,
                         vigil::v1::TeamMembership* response) override;
  Reactor* RemoveTeamMember(Context* context, const vigil::v1::RemoveTeamMemberRequest* request,
                            vigil::v1::RemoveTeamMemberResponse* response) override;
  Reactor* ListTeam(Context* context, const vigil::v1::ListTeamRequest* request,
                    vigil::v1::ListTeamResponse* response) override;
  Reactor* RotateDataKey(Context* context, const vigil::v1::RotateDataKeyRequest* request,
                         vigil::v1::RotateDataKeyResponse* response) override;
  Reactor* VerifyAuditLog(Context* context, const vigil::v1::VerifyAuditLogRequest* request,
                          vigil::v1::VerifyAuditLogResponse* response) override;
  Reactor* ExportAuditLog(Context* context, const vigil::v1::ExportAuditLogRequest* request,
                          vigil::v1::ExportAuditLogResponse* response) override;

 private:
  // The authenticated admin calling, or nullopt with `reactor` finished
  // (UNAUTHENTICATED, or PERMISSION_DENIED for a caller who is not admin).
  std::optional<Caller> AdminOf(Context* context, Reactor* reactor);
  // Tells the visit's subscribers that its team (and Visit record) changed.
  void NotifyTeamChanged(const std::string& visit_id);

  Authenticator* auth_;
  IdentityStore* identities_;
  KeyRotator* rotator_;
  storage::Storage* storage_;
  ChangeHub* hub_;
  const std::string receipt_public_key_;
  BackgroundWorker worker_;  // audit log walks and rotations, off the gRPC threads
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_ADMIN_SERVICE_H_
