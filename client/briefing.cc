// The briefing pack a team takes into a facility: downloaded before the
// visit and kept in the local store, sealed like every value, so that the
// tablet shows it offline; forgotten with the visit (scope_lifecycle.cc).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/local_store.h"
#include "client/replica.h"
#include "client/replica_impl.h"
#include "sync/scope.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil::client {

using namespace detail;  // NOLINT: the store's own helpers

absl::StatusOr<vigil::v1::Briefing> Replica::FetchBriefing(const std::string& visit_id) {
  ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, impl_->Channel());
  auto stub = vigil::v1::ReportService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  vigil::v1::GetBriefingRequest request;
  request.set_name(std::string(scope.str()));
  vigil::v1::Briefing briefing;
  RETURN_IF_ERROR(ToAbsl(stub->GetBriefing(&ctx, request, &briefing)));
  RETURN_IF_ERROR(impl_->db_
                      ->Commit([&](storage::CommitContext& c) {
                        Store(impl_->sealer_, c, BriefingKey(std::string(scope.str())), briefing);
                        return absl::OkStatus();
                      })
                      .status());
  return briefing;
}

absl::StatusOr<std::optional<vigil::v1::Briefing>> Replica::StoredBriefing(
    const std::string& visit_id) const {
  ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
  return LoadFrom<vigil::v1::Briefing>(impl_->sealer_, *impl_->db_,
                                       BriefingKey(std::string(scope.str())));
}

}  // namespace vigil::client
