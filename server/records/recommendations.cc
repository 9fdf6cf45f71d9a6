// Recommendations written from the desk (ReportService): a Recommendation
// record of the registry scope, created or changed through the push's own
// steps (history, change feed, status history, audit), so that tablets pull
// it like any record. Every link it holds is checked against the records of
// this commit.
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "server/records/etag.h"
#include "server/records/record_store.h"
#include "server/records/request_ids.h"
#include "sync/ids.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::Recommendation;
using vigil::v1::Record;
using Write = RecordStore::RecommendationWrite;

absl::Status Invalid(std::string_view field, std::string_view why) {
  return WithReason(
      absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(why))),
      "RECOMMENDATION_INVALID", {{"field", std::string(field)}});
}

// A real day of the calendar (an unset date is valid where it is optional).
bool ValidDate(const vigil::v1::CivilDate& d) {
  if (d.year() < 1 || d.year() > 9999) return false;
  const absl::CivilDay day(d.year(), d.month(), d.day());
  return day.year() == d.year() && day.month() == d.month() && day.day() == d.day();
}

absl::Status CheckDate(std::string_view field, const vigil::v1::CivilDate& d) {
  if (ValidDate(d)) return absl::OkStatus();
  return WithReason(
      absl::InvalidArgumentError(absl::StrCat(std::string(field), " is not a calendar date")),
      "DATE_INVALID", {{"field", std::string(field)}});
}

vigil::v1::CivilDate Today(absl::Time now) {
  const absl::CivilDay day = absl::ToCivilDay(now, absl::UTCTimeZone());
  vigil::v1::CivilDate date;
  date.set_year(static_cast<int>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// The fields UpdateRecommendation may change: the NPM's own, never the
// lists the server or the other methods keep.
const std::set<std::string>& UpdatableFields() {
  static const auto* fields = new std::set<std::string>{"addressee_authority_id",
                                                        "facility_id",
                                                        "visit_id",
                                                        "theme",
                                                        "priority",
                                                        "repeats_recommendation_ids",
                                                        "deadline",
                                                        "status",
                                                        "status_note",
                                                        "text",
                                                        "rationale",
                                                        "finding_ids",
                                                        "issued_on"};
  return *fields;
}

// The checks of one write against the records of its commit.
class RecommendationRules {
 public:
  explicit RecommendationRules(CommitTables& tables) : tables_(tables) {}

  // `r` as it will be written (`id` its record's): complete and every link
  // naming a live record of its kind; visit and facility taken from the
  // findings when not given.
  absl::Status Complete(std::string_view id, Recommendation& r) {
    if (r.text().empty()) {
      return WithReason(absl::InvalidArgumentError("a recommendation needs its text"),
                        "TEXT_REQUIRED");
    }
    if (r.addressee_authority_id().empty()) {
      return WithReason(absl::InvalidArgumentError("name the authority it is addressed to "
                                                   "(addressee_authority_id)"),
                        "ADDRESSEE_REQUIRED");
    }
    if (!vigil::v1::Priority_IsValid(r.priority())) return Invalid("priority", "unknown value");
    if (!vigil::v1::RecommendationStatus_IsValid(r.status()) ||
        r.status() == vigil::v1::RECOMMENDATION_STATUS_UNSPECIFIED) {
      return Invalid("status", "unknown value");
    }
    if (r.has_deadline()) RETURN_IF_ERROR(CheckDate("deadline", r.deadline()));
    RETURN_IF_ERROR(CheckDate("issued_on", r.issued_on()));
    RETURN_IF_ERROR(Live("addressee_authority_id", r.addressee_authority_id(),
                         vigil::v1::RecordBody::kAuthority)
                        .status());
    std::set<std::string> facilities;
    for (const std::string& finding_id : r.finding_ids()) {
      ASSIGN_OR_RETURN(const Record finding,
                       Live("finding_ids", finding_id, vigil::v1::RecordBody::kFinding));
      const std::string visit_id(sync::VisitIdOf(finding.scope()));
      if (r.visit_id().empty()) r.set_visit_id(visit_id);
      ASSIGN_OR_RETURN(const Record visit, VisitRecord("finding_ids", visit_id));
      facilities.insert(visit.body().visit().facility_id());
    }
    if (!r.visit_id().empty()) {
      ASSIGN_OR_RETURN(const Record visit, VisitRecord("visit_id", r.visit_id()));
      if (r.facility_id().empty()) r.set_facility_id(visit.body().visit().facility_id());
      facilities.insert(visit.body().visit().facility_id());
    }
    if (!r.facility_id().empty()) {
      RETURN_IF_ERROR(
          Live("facility_id", r.facility_id(), vigil::v1::RecordBody::kFacility).status());
      facilities.insert(r.facility_id());
    }
    facilities.erase("");
    if (facilities.size() > 1) {
      return Invalid("finding_ids", "its findings and visit are of different facilities");
    }
    for (const std::string& earlier : r.repeats_recommendation_ids()) {
      if (earlier == id) return Invalid("repeats_recommendation_ids", "it cannot repeat itself");
      RETURN_IF_ERROR(
          Live("repeats_recommendation_ids", earlier, vigil::v1::RecordBody::kRecommendation)
              .status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Record> VisitRecord(std::string_view field, const std::string& visit_id) {
    absl::StatusOr<sync::Scope> scope = sync::Scope::Visit(visit_id);
    if (!scope.ok()) return Invalid(field, "not a visit id");
    ASSIGN_OR_RETURN(std::optional<Record> visit, tables_.HeadInScope(visit_id, scope->str()));
    if (!visit.has_value() || visit->deleted() || !visit->body().has_visit()) {
      return Invalid(field, absl::StrCat("there is no visit ", visit_id));
    }
    return *std::move(visit);
  }

 private:
  absl::StatusOr<Record> Live(std::string_view field, const std::string& id, int kind) {
    if (!sync::ValidateRecordId(id).ok()) return Invalid(field, "not a record id");
    ASSIGN_OR_RETURN(std::optional<Record> head, tables_.Head(id));
    if (!head.has_value() || head->deleted() || head->body().kind_case() != kind) {
      const auto* expected = vigil::v1::RecordBody::descriptor()->FindFieldByNumber(kind);
      return Invalid(field, absl::StrCat(id, " is no live ", expected->name(), " record"));
    }
    return *std::move(head);
  }

  CommitTables& tables_;
};

absl::Status CheckWrite(const Write& write) {
  RETURN_IF_ERROR(CheckRequestId(write.request_id));
  if (write.kind != Write::Kind::kCreate && !sync::ValidateRecordId(write.record_id).ok()) {
    return WithReason(absl::InvalidArgumentError("not a recommendation's name"), "NAME_INVALID");
  }
  if (write.kind == Write::Kind::kUpdate) {
    if (write.update_paths.empty()) {
      return WithReason(absl::InvalidArgumentError("update_mask names no field"),
                        "FIELD_MASK_INVALID");
    }
    for (const std::string& path : write.update_paths) {
      if (!UpdatableFields().contains(path)) {
        return WithReason(
            absl::InvalidArgumentError(absl::StrCat("update_mask: ", path, " is not updatable")),
            "FIELD_MASK_INVALID", {{"field", path}});
      }
    }
  }
  return absl::OkStatus();
}

// The head to change: refused when there is none, it is deleted or not a
// recommendation (NOT_FOUND), or it changed since the caller read it.
absl::StatusOr<Record> Changeable(CommitTables& tables, const Write& write) {
  ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(write.record_id));
  if (!head.has_value() || head->deleted() || !head->body().has_recommendation()) {
    return WithReason(absl::NotFoundError("there is no such recommendation"), "RESOURCE_NOT_FOUND",
                      {{"name", absl::StrCat("recommendations/", write.record_id)}});
  }
  if (!write.etag.empty() && write.etag != RecordEtag(*head)) {
    return WithReason(absl::AbortedError("the recommendation changed since you read it: read it "
                                         "again, then change it"),
                      "ETAG_MISMATCH", {{"etag", RecordEtag(*head)}});
  }
  return *std::move(head);
}

absl::Status ResponseInvalid(std::string_view why) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("response: ", std::string(why))),
                    "RESPONSE_INVALID");
}

absl::Status FollowUpInvalid(std::string_view why) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat("check: ", std::string(why))),
                    "FOLLOW_UP_INVALID");
}

// The body `write` makes of `r` (the head's, or empty for a create).
absl::Status Edit(CommitTables& tables, const Write& write, std::string_view id, Recommendation& r,
                  absl::Time now) {
  RecommendationRules rules(tables);
  switch (write.kind) {
    case Write::Kind::kCreate:
      r = write.recommendation;
      r.clear_responses();
      r.clear_follow_ups();
      if (r.status() == vigil::v1::RECOMMENDATION_STATUS_UNSPECIFIED) {
        r.set_status(vigil::v1::RECOMMENDATION_STATUS_OPEN);
      }
      if (!r.has_issued_on()) *r.mutable_issued_on() = Today(now);
      return rules.Complete(id, r);
    case Write::Kind::kUpdate: {
      google::protobuf::FieldMask mask;
      for (const std::string& path : write.update_paths) mask.add_paths(path);
      google::protobuf::util::FieldMaskUtil::MergeOptions options;
      options.set_replace_message_fields(true);
      options.set_replace_repeated_fields(true);
      google::protobuf::util::FieldMaskUtil::MergeMessageTo(write.recommendation, mask, options,
                                                            &r);
      return rules.Complete(id, r);
    }
    case Write::Kind::kResponse: {
      vigil::v1::AuthorityResponse response = write.response;
      if (!response.has_received_on()) return ResponseInvalid("received_on is required");
      RETURN_IF_ERROR(CheckDate("response.received_on", response.received_on()));
      if (!vigil::v1::RecommendationStatus_IsValid(response.claimed_status())) {
        return ResponseInvalid("claimed_status: unknown value");
      }
      if (response.text().empty() &&
          response.claimed_status() == vigil::v1::RECOMMENDATION_STATUS_UNSPECIFIED) {
        return ResponseInvalid("give the text of the response or the status it claims");
      }
      if (response.authority_id().empty()) {
        response.set_authority_id(r.addressee_authority_id());
      }
      ASSIGN_OR_RETURN(*response.mutable_id(), sync::DerivedId(write.request_id, "response"));
      *r.add_responses() = std::move(response);
      return absl::OkStatus();
    }
    case Write::Kind::kFollowUp: {
      vigil::v1::FollowUpCheck check = write.check;
      if (!check.has_checked_on()) return FollowUpInvalid("checked_on is required");
      RETURN_IF_ERROR(CheckDate("check.checked_on", check.checked_on()));
      if (!vigil::v1::RecommendationStatus_IsValid(check.observed_status()) ||
          check.observed_status() == vigil::v1::RECOMMENDATION_STATUS_UNSPECIFIED) {
        return FollowUpInvalid("observed_status is required");
      }
      if (check.visit_id().empty()) return FollowUpInvalid("visit_id is required");
      RETURN_IF_ERROR(rules.VisitRecord("check.visit_id", check.visit_id()).status());
      ASSIGN_OR_RETURN(*check.mutable_id(), sync::DerivedId(write.request_id, "follow_up"));
      *r.add_follow_ups() = std::move(check);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown recommendation write");
}

}  // namespace

void RecordStore::WriteRecommendation(const Caller& caller, RecommendationWrite write,
                                      RecommendationDoneFn done) {
  if (absl::Status s = AccessPolicy::RequireReviewer(caller); !s.ok()) return done(s);
  if (absl::Status s = CheckWrite(write); !s.ok()) return done(s);
  if (write.kind == Write::Kind::kCreate) {
    absl::StatusOr<std::string> id = sync::DerivedId(write.request_id, "recommendation");
    if (!id.ok()) return done(id.status());
    write.record_id = *id;
  }
  auto written = std::make_shared<RecommendationWritten>();
  written->record_id = write.record_id;
  CommitPush(
      caller,
      [this, caller, write = std::move(write), written](CommitTables& tables,
                                                        PushBatch& batch) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<vigil::internal::StoredMutation> stored,
                         tables.Mutation(write.request_id));
        if (stored.has_value()) {
          if (stored->device_id() != caller.device ||
              stored->result().record_id() != write.record_id) {
            return RequestIdReused(write.request_id);
          }
          written->revision = stored->result().revision();
          return absl::OkStatus();  // a retry: its first result
        }
        const absl::Time now = absl::Now();
        vigil::v1::PushRequest push;
        vigil::v1::Mutation& m = *push.add_mutations();
        Recommendation body;
        if (write.kind == Write::Kind::kCreate) {
          m.set_scope(std::string(sync::Scope::Registry().str()));
        } else {
          ASSIGN_OR_RETURN(const Record head, Changeable(tables, write));
          m.set_base_revision(head.revision());
          body = head.body().recommendation();
        }
        RETURN_IF_ERROR(Edit(tables, write, write.record_id, body, now));
        m.set_mutation_id(write.request_id);
        m.set_record_id(write.record_id);
        *m.mutable_body()->mutable_recommendation() = std::move(body);
        m.set_author(caller.principal);
        m.set_device_id(caller.device);
        *m.mutable_hlc() = clock_.Now(now);
        vigil::v1::PushResponse response;
        RETURN_IF_ERROR(batch.Apply(push, response));
        written->revision = response.results(0).revision();
        return absl::OkStatus();
      },
      [written, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(*written);
      });
}

}  // namespace vigil::server
