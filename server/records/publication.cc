#include "server/records/publication.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/records/report_render.h"
#include "server/records/tables.h"
#include "sync/scope.h"

namespace vigil::server {

void Publisher::Publish(const Caller& caller, PublishRequest request, PublishDoneFn done) {
  const std::string visit_id = request.visit_id;
  queries_->ReadVisitReport(
      caller, visit_id, absl::Now(),
      [this, caller, request = std::move(request),
       done = std::move(done)](absl::StatusOr<ReviewQueries::ReportRead> read) mutable {
        if (!read.ok()) return done(read.status());
        // The audit of the read may answer on the commit thread, which must
        // not wait for the commit below.
        worker_.Post([this, caller = std::move(caller), request = std::move(request),
                      read = *std::move(read), done = std::move(done)]() mutable {
          Commit(caller, std::move(request), std::move(read), std::move(done));
        });
      });
}

void Publisher::Commit(const Caller& caller, PublishRequest request, ReviewQueries::ReportRead read,
                       PublishDoneFn done) {
  vigil::v1::PublishedReport published;
  published.set_visit(read.report.visit());
  *published.mutable_published_at() = read.report.generated_at();
  published.set_published_by(caller.principal);
  published.set_public_key(signer_->public_key());
  published.set_seq(read.seq);
  for (const vigil::v1::ReportFormat format :
       {vigil::v1::REPORT_FORMAT_JSON, vigil::v1::REPORT_FORMAT_MARKDOWN,
        vigil::v1::REPORT_FORMAT_HTML}) {
    absl::StatusOr<vigil::v1::ReportDocument> doc = RenderReport(read.report, format);
    if (!doc.ok()) return done(doc.status());
    doc->set_signature(signer_->Sign(doc->content()));
    *published.add_documents() = *std::move(doc);
  }
  RecordStore::VisitMoveRequest move;
  move.visit_id = request.visit_id;
  move.to = vigil::v1::VISIT_STATE_PUBLISHED;
  move.intent.set_note(request.note);
  // The caller's etag, else the one the report was read at: either way the
  // Visit record is the one rendered (and a retry is answered before any
  // etag is compared, with its first result).
  move.etag = request.etag.empty() ? read.visit_etag : request.etag;
  move.request_id = request.request_id;
  move.publication = std::move(published);
  records_->MoveVisit(caller, std::move(move),
                      [this, caller, visit_id = request.visit_id, done = std::move(done)](
                          absl::StatusOr<vigil::v1::MutationResult> moved) mutable {
                        if (!moved.ok()) return done(moved.status());
                        // The stored publication: this one, or the first one for a retry.
                        done(Get(caller, visit_id));
                      });
}

absl::StatusOr<vigil::v1::PublishedReport> Publisher::Get(const Caller& caller,
                                                          std::string_view visit_id) {
  ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  SnapshotTables tables(*storage_, snapshot, *keys_);
  RETURN_IF_ERROR(policy_->RequireRead(caller, scope.str(), tables.view()).status());
  ASSIGN_OR_RETURN(std::optional<vigil::v1::PublishedReport> published,
                   tables.Publication(visit_id));
  if (!published.has_value()) {
    return WithReason(absl::NotFoundError("the visit's report has not been published"),
                      "REPORT_NOT_PUBLISHED", {{"name", std::string(scope.str())}});
  }
  return *std::move(published);
}

}  // namespace vigil::server
