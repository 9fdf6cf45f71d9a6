// Publishing a visit (ReportService.PublishVisitReport): its report, read
// as the publishing reviewer may see it with the protection rules applied
// (ReviewQueries::ReadVisitReport), is rendered in every format; each
// document's bytes are signed with the server's Ed25519 key
// (ReceiptSigner::Sign) and stored, with their SHA-256, in the commit that
// moves the visit to PUBLISHED (RecordStore::MoveVisit). That commit is
// refused (ABORTED, ETAG_MISMATCH) when a record of the visit changed after
// the snapshot the report was read from, so what is stored is exactly what
// that snapshot held. Thread-safe.
#ifndef VIGIL_SERVER_RECORDS_PUBLICATION_H_
#define VIGIL_SERVER_RECORDS_PUBLICATION_H_

#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "base/background_worker.h"
#include "server/records/receipts.h"
#include "server/records/record_store.h"
#include "server/records/review_queries.h"
#include "vigil/v1/report.pb.h"

namespace vigil::server {

class Publisher {
 public:
  // Everything is borrowed and must outlive the publisher.
  Publisher(storage::Storage* storage, const storage::KeyRing* keys, const AccessPolicy* policy,
            RecordStore* records, ReviewQueries* queries, const ReceiptSigner* signer)
      : storage_(storage),
        keys_(keys),
        policy_(policy),
        records_(records),
        queries_(queries),
        signer_(signer) {}

  struct PublishRequest {
    std::string visit_id;
    std::string etag;  // optional: the Visit record's
    std::string request_id;
    std::string note;
  };
  using PublishDoneFn = absl::AnyInvocable<void(absl::StatusOr<vigil::v1::PublishedReport>)>;
  // Errors: those of ReadVisitReport and of MoveVisit to PUBLISHED (the
  // lifecycle's: PERMISSION_DENIED, VISIT_TRANSITION_NOT_PERMITTED, for a
  // caller who is no reviewer; FAILED_PRECONDITION,
  // VISIT_TRANSITION_NOT_ALLOWED, for a visit that is not approved);
  // ABORTED (ETAG_MISMATCH). A retry with the same request id gets the
  // first publication.
  void Publish(const Caller& caller, PublishRequest request, PublishDoneFn done);

  // The visit's published report, for a caller who may read the visit;
  // NOT_FOUND (REPORT_NOT_PUBLISHED) when it was not published.
  absl::StatusOr<vigil::v1::PublishedReport> Get(const Caller& caller, std::string_view visit_id);

 private:
  // Renders, signs and commits on the worker (never on the commit thread).
  void Commit(const Caller& caller, PublishRequest request, ReviewQueries::ReportRead read,
              PublishDoneFn done);

  storage::Storage* storage_;
  const storage::KeyRing* keys_;
  const AccessPolicy* policy_;
  RecordStore* records_;
  ReviewQueries* queries_;
  const ReceiptSigner* signer_;
  BackgroundWorker worker_;  // last member: joined first
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_PUBLICATION_H_
