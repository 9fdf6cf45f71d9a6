// Authorization: who may read and write which scope, and which parts of a
// record each caller may see. The one place where these rules live; the
// record store, attachment store and receipts ask it for every request.
//
// Scopes (by the caller's role):
//                     registry, facilities/*   visits/{v}
//   admin             -                        -          (accounts, not content)
//   service account   read                     read       (redacted, see below)
//   NPM reviewer      read, write              read, write (everything)
//   field roles       read                     read, write if on v's team
//                                              (observers: read), else
//                                              purge if taken off it, else -
//
// Fields (inside a readable visit scope): who may see each field of a record
// kind is declared next to it in the schema ((vigil.v1.visible_to),
// vigil/v1/visibility.proto, read by server/auth/field_visibility.h), deny by
// default on the sensitive kinds. Today:
//   Interview.notes       the interviewers it names, the team lead, reviewers
//   IdentityRecord        the interviewers of its interview, the team lead,
//                         reviewers; withheld from everyone else (a record of
//                         which a caller may see no field is withheld)
//   MedicalFinding        clinical detail only for the team's medical expert,
//                         the team lead and reviewers; others see a summary
//   Allegation            withheld from service accounts
//   Comment               withheld from whoever may not see its subject
//                         record, or the field of it the comment is about
// and, by the record's state rather than its fields:
//   Visit                 service accounts never see an unannounced visit
//                         before it starts (withheld while planned)
//   Attachment            service accounts: identifiable ones withheld, and
//                         no attachment bytes at all
// A caller may only change a record it sees in full.
#ifndef VIGIL_SERVER_AUTH_ACCESS_POLICY_H_
#define VIGIL_SERVER_AUTH_ACCESS_POLICY_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "server/auth/caller.h"
#include "server/auth/field_visibility.h"
#include "server/auth/identity_store.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

// What one caller may do in one scope; decided once per request.
struct ScopeGrant {
  std::string user_id;
  bool read = false;
  bool write = false;
  // Taken off the visit's team: pulls answer with a purge instruction.
  bool purge = false;
  // No field is hidden (reviewers; the visit's team lead).
  bool full_view = false;
  // The NPM unit: moves visits through review.
  bool reviewer = false;
  // Sees medical detail (the visit's medical expert).
  bool medical = false;
  // A service account: identities, interview notes and plans of unannounced
  // visits are never shown.
  bool service = false;
};

enum class Visibility { kFull, kRedacted, kWithheld };

// Looks up a record of the same scope by id (for an IdentityRecord, its
// interview). nullopt when there is none.
using RecordLookup =
    absl::FunctionRef<absl::StatusOr<std::optional<vigil::v1::Record>>(std::string_view id)>;

class AccessPolicy {
 public:
  // `identities` is borrowed and must outlive the policy.
  explicit AccessPolicy(const IdentityStore* identities) : identities_(identities) {}

  // The caller's rights in `scope` (validated by the caller of this) as
  // `view` holds them: a write takes the view of its own commit, so that a
  // change of rights ahead of it in the same write group applies to it; a
  // read, the snapshot it reads.
  absl::StatusOr<ScopeGrant> Grant(const Caller& caller, std::string_view scope,
                                   storage::ReadView& view) const;
  // The same from the latest committed state, for a call that writes nothing
  // and reads no snapshot (a subscription, an upload's header).
  absl::StatusOr<ScopeGrant> Grant(const Caller& caller, std::string_view scope) const;

  // Grant(), then PERMISSION_DENIED (reason SCOPE_NOT_PERMITTED) unless the
  // caller may read (resp. write) the scope. The error is the same whether or
  // not anything exists there.
  absl::StatusOr<ScopeGrant> RequireRead(const Caller& caller, std::string_view scope,
                                         storage::ReadView& view) const;
  absl::StatusOr<ScopeGrant> RequireRead(const Caller& caller, std::string_view scope) const;
  absl::StatusOr<ScopeGrant> RequireWrite(const Caller& caller, std::string_view scope) const;

  // RequireRead(), and never for service accounts: attachment bytes (photos
  // and scans) may show faces, injuries, names.
  absl::StatusOr<ScopeGrant> RequireAttachmentBytes(const Caller& caller,
                                                    std::string_view scope) const;
  // RequireWrite() through `view` (the commit that writes).
  absl::StatusOr<ScopeGrant> RequireWrite(const Caller& caller, std::string_view scope,
                                          storage::ReadView& view) const;

  // Whether telling the caller that a record does not exist tells them
  // nothing they could not learn anyway: NPM reviewers read every scope in
  // full. Everyone else gets the same PERMISSION_DENIED whether or not it
  // exists.
  static bool MayLearnOfAbsence(const Caller& caller);

  // PERMISSION_DENIED, reason REVIEWER_ONLY, unless the caller is an NPM
  // reviewer (the review queue, decisions on late submissions).
  static absl::Status RequireReviewer(const Caller& caller);

  // The same PERMISSION_DENIED for every refusal.
  static absl::Status Denied();

 private:
  const IdentityStore* identities_;
};

// Removes from `record` (body and open conflicts) what `grant` may not see,
// and names the fields it removed in record.withheld_fields.
absl::StatusOr<Visibility> Redact(const ScopeGrant& grant, vigil::v1::Record& record,
                                  RecordLookup lookup);

// Whether a record of kind `kind` (a RecordBody field number) can look
// different to `grant` than as stored: false lets a pull send a stored
// record without parsing it. True for service accounts, sensitive kinds and
// comments (which follow their subject), unless the grant sees everything.
bool MayRedact(const ScopeGrant& grant, int kind);

// How `grant` would see `record`, without changing it.
absl::StatusOr<Visibility> VisibilityOf(const ScopeGrant& grant, const vigil::v1::Record& record,
                                        RecordLookup lookup);


}  // namespace vigil::server

#endif  // VIGIL_SERVER_AUTH_ACCESS_POLICY_H_
