#include "server/records/review_queries.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/auth/identity_store.h"
#include "server/auth/field_visibility.h"
#include "server/records/etag.h"
#include "server/records/read_audit.h"
#include "server/records/review_reading.h"
#include "server/records/tables.h"
#include "server/records/visit_index.h"
#include "server/records/visit_lifecycle.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using review::AuditedAnswer;
using review::Binding;
using review::CountsOf;
using review::FilterInvalid;
using review::Overlaps;
using review::Reading;
using review::TokenInvalid;

using google::protobuf::util::TimeUtil;
using vigil::internal::VisitSummary;
using vigil::v1::Record;

bool Matches(const vigil::v1::ListVisitsRequest& r, const VisitSummary& s) {
  if (!r.facility_id().empty() && s.facility_id() != r.facility_id()) return false;
  if (r.facility_type() != vigil::v1::FACILITY_TYPE_UNSPECIFIED &&
      s.facility_type() != r.facility_type()) {
    return false;
  }
  if (r.visit_type() != vigil::v1::VISIT_TYPE_UNSPECIFIED && s.visit_type() != r.visit_type()) {
    return false;
  }
  if (r.state() != vigil::v1::VISIT_STATE_UNSPECIFIED && s.state() != r.state()) return false;
  if (r.has_announced() && s.announced() != r.announced()) return false;
  if (r.has_period() && (!s.has_period() || !Overlaps(r.period(), s.period()))) return false;
  if (!r.team_member_user_id().empty() &&
      std::find(s.team_user_ids().begin(), s.team_user_ids().end(), r.team_member_user_id()) ==
          s.team_user_ids().end()) {
    return false;
  }
  if (!r.reviewer_user_id().empty() && s.reviewer_user_id() != r.reviewer_user_id()) {
    return false;
  }
  return true;
}


}  // namespace

absl::StatusOr<std::unique_ptr<ReviewQueries>> ReviewQueries::Create(
    storage::Storage* storage, const storage::KeyRing* keys, const AccessPolicy* policy,
    ReviewQueryOptions options) {
  ASSIGN_OR_RETURN(CursorCodec tokens, CursorCodec::Load(*storage, *keys));
  return std::unique_ptr<ReviewQueries>(
      new ReviewQueries(storage, keys, policy, options, std::move(tokens)));
}

absl::StatusOr<std::uint32_t> ReviewQueries::PageSize(std::uint32_t asked) const {
  if (asked > options_.max_page_size) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "page_size is at most ", options_.max_page_size)),
                      "PAGE_SIZE_INVALID");
  }
  return asked == 0 ? options_.default_page_size : asked;
}

absl::StatusOr<std::string> ReviewQueries::ResumeAt(std::string_view binding,
                                                    std::string_view token) const {
  if (token.empty()) return std::string();
  std::optional<std::string> payload = tokens_.OpenPageToken(binding, token);
  if (!payload.has_value() || payload->empty()) return TokenInvalid();
  return *std::move(payload);
}

absl::StatusOr<vigil::v1::VisitView> ReviewQueries::GetVisit(
    const Caller& caller, std::string_view visit_id, std::optional<std::uint64_t> revision) {
  Reading reading(*storage_, *keys_, *policy_, caller);
  ASSIGN_OR_RETURN(std::optional<VisitSummary> summary, reading.index().Summary(visit_id));
  ASSIGN_OR_RETURN(std::optional<vigil::v1::VisitView> view,
                   reading.View(visit_id, summary.value_or(VisitSummary()), revision));
  if (view.has_value()) return *std::move(view);
  return Absent(caller, "visit", absl::StrCat("visits/", std::string(visit_id)));
}

absl::StatusOr<vigil::v1::ListReviewQueueResponse> ReviewQueries::ListReviewQueue(
    const Caller& caller, const vigil::v1::ListReviewQueueRequest& request, absl::Time now) {
  RETURN_IF_ERROR(AccessPolicy::RequireReviewer(caller));
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  if (request.state() != vigil::v1::VISIT_STATE_UNSPECIFIED && !InReviewQueue(request.state())) {
    return FilterInvalid("state", "the queue holds submitted, in review and sent-back visits");
  }
  if (!request.reviewer_user_id().empty() &&
      !IdentityStore::ValidateUserId(request.reviewer_user_id()).ok()) {
    return FilterInvalid("reviewer_user_id", "not a user id");
  }
  const std::string binding = Binding("ListReviewQueue", caller, request);
  ASSIGN_OR_RETURN(const std::string resume, ResumeAt(binding, request.page_token()));
  std::int64_t after_micros = 0;
  std::string after_id;
  if (!resume.empty()) {
    if (resume.size() < 9) return TokenInvalid();
    after_micros = static_cast<std::int64_t>(ReadBigEndian64(resume));
    after_id = resume.substr(8);
  }
  Reading reading(*storage_, *keys_, *policy_, caller);
  vigil::v1::ListReviewQueueResponse response;
  absl::Status failed;
  std::int64_t last_micros = 0;
  std::string last_id;
  RETURN_IF_ERROR(reading.index().ScanQueue(
      after_micros, after_id,
      [&](std::int64_t micros, std::string_view id, const VisitSummary& s) {
        if ((request.state() != vigil::v1::VISIT_STATE_UNSPECIFIED && s.state() != request.state()) ||
            (!request.reviewer_user_id().empty() &&
             s.reviewer_user_id() != request.reviewer_user_id())) {
          return true;
        }
        if (static_cast<std::uint32_t>(response.entries_size()) == page_size) {
          std::string payload;
          AppendBigEndian64(payload, static_cast<std::uint64_t>(last_micros));
          payload += last_id;
          response.set_next_page_token(tokens_.SealPageToken(binding, payload));
          return false;
        }
        absl::StatusOr<std::optional<vigil::v1::VisitView>> view = reading.View(id, s);
        if (!view.ok()) {
          failed = view.status();
          return false;
        }
        last_micros = micros;
        last_id = std::string(id);
        if (!view->has_value()) return true;
        vigil::v1::ReviewQueueEntry& entry = *response.add_entries();
        entry.set_name((*view)->name());
        entry.set_state(s.state());
        entry.set_facility_id(s.facility_id());
        entry.set_facility_type(s.facility_type());
        entry.set_visit_type(s.visit_type());
        entry.set_team_lead_user_id(s.team_lead_user_id());
        entry.set_reviewer_user_id(s.reviewer_user_id());
        *entry.mutable_submitted_at() = TimeUtil::MicrosecondsToTimestamp(micros);
        const absl::Duration waiting = now - absl::FromUnixMicros(micros);
        entry.set_days_since_submission(
            waiting > absl::ZeroDuration()
                ? static_cast<std::uint32_t>(absl::ToInt64Hours(waiting) / 24)
                : 0);
        *entry.mutable_counts() = CountsOf(s);
        entry.set_etag((*view)->etag());
        entry.set_facility_name(s.facility_name());
        return true;
      }));
  RETURN_IF_ERROR(failed);
  return response;
}

absl::StatusOr<vigil::v1::ListVisitsResponse> ReviewQueries::ListVisits(
    const Caller& caller, const vigil::v1::ListVisitsRequest& request) {
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  if (!request.facility_id().empty() && !sync::ValidateRecordId(request.facility_id()).ok()) {
    return FilterInvalid("facility_id", "not a record id");
  }
  for (const auto& [field, user] :
       {std::pair<std::string_view, const std::string*>{"team_member_user_id",
                                                        &request.team_member_user_id()},
        {"reviewer_user_id", &request.reviewer_user_id()}}) {
    if (!user->empty() && !IdentityStore::ValidateUserId(*user).ok()) {
      return FilterInvalid(field, "not a user id");
    }
  }
  if (!vigil::v1::FacilityType_IsValid(request.facility_type()) ||
      !vigil::v1::VisitType_IsValid(request.visit_type()) ||
      !vigil::v1::VisitState_IsValid(request.state())) {
    return FilterInvalid("type", "unknown enum value");
  }
  if (request.has_period()) RETURN_IF_ERROR(review::CheckPeriod(request.period()));
  const std::string binding = Binding("ListVisits", caller, request);
  ASSIGN_OR_RETURN(const std::string after_id, ResumeAt(binding, request.page_token()));
  // The most selective index the filters name; field users only ever see
  // the visits whose team they are on.
  VisitIndexKey key{"all", ""};
  const bool sees_all = caller.role == vigil::v1::ROLE_NPM_REVIEWER ||
                        caller.role == vigil::v1::ROLE_SERVICE_ACCOUNT;
  if (!sees_all) {
    key = {"member", caller.principal};
  } else if (!request.facility_id().empty()) {
    key = {"facility", request.facility_id()};
  } else if (!request.team_member_user_id().empty()) {
    key = {"member", request.team_member_user_id()};
  } else if (!request.reviewer_user_id().empty()) {
    key = {"reviewer", request.reviewer_user_id()};
  } else if (request.state() != vigil::v1::VISIT_STATE_UNSPECIFIED) {
    key = {"state", std::to_string(request.state())};
  } else if (request.visit_type() != vigil::v1::VISIT_TYPE_UNSPECIFIED) {
    key = {"type", std::to_string(request.visit_type())};
  } else if (request.facility_type() != vigil::v1::FACILITY_TYPE_UNSPECIFIED) {
    key = {"ftype", std::to_string(request.facility_type())};
  }
  Reading reading(*storage_, *keys_, *policy_, caller);
  vigil::v1::ListVisitsResponse response;
  absl::Status failed;
  std::uint32_t examined = 0;
  std::string last_id;
  RETURN_IF_ERROR(reading.index().Scan(
      key, after_id, [&](std::string_view id, const VisitSummary& s) {
        if (static_cast<std::uint32_t>(response.visits_size()) == page_size) {
          // A next page only if something matches after this one (looked
          // for within the same bound).
          if (!Matches(request, s) && examined < options_.max_examined_per_page) {
            ++examined;
            return true;
          }
          response.set_next_page_token(tokens_.SealPageToken(binding, last_id));
          return false;
        }
        if (examined >= options_.max_examined_per_page) {
          response.set_next_page_token(tokens_.SealPageToken(binding, last_id));
          return false;
        }
        ++examined;
        last_id = std::string(id);
        if (!Matches(request, s)) return true;
        absl::StatusOr<std::optional<vigil::v1::VisitView>> view = reading.View(id, s);
        if (!view.ok()) {
          failed = view.status();
          return false;
        }
        if (view->has_value()) *response.add_visits() = std::move(**view);
        return true;
      }));
  RETURN_IF_ERROR(failed);
  return response;
}

void ReviewQueries::GetRecord(const Caller& caller, std::string_view record_id,
                              std::optional<std::uint64_t> revision, GetRecordDoneFn done) {
  AuditedAnswer<vigil::v1::GetRecordResponse>(
      *storage_, caller,
      [&](std::vector<std::string>& sensitive_ids)
          -> absl::StatusOr<vigil::v1::GetRecordResponse> {
        Reading reading(*storage_, *keys_, *policy_, caller);
        SnapshotTables& tables = reading.tables();
        auto absent = [&]() {
          return Absent(caller, "record", absl::StrCat("records/", std::string(record_id)));
        };
        ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(record_id));
        if (!head.has_value()) return absent();
        ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(head->scope()));
        if (!grant->read) return AccessPolicy::Denied();
        vigil::v1::GetRecordResponse response;
        Record& record = *response.mutable_record();
        record = *head;
        if (revision.has_value() && *revision < head->revision()) {
          absl::Status read = absent();
          RETURN_IF_ERROR(tables.ScanHistory(record_id, *revision, *revision + 1,
                                             [&](absl::StatusOr<Record> r, std::size_t) {
                                               read = r.status();
                                               if (r.ok()) record = *std::move(r);
                                               return false;
                                             }));
          RETURN_IF_ERROR(read);
        }
        response.set_etag(RecordEtag(record));
        const std::string scope = head->scope();
        auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, scope); };
        ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, record, same_scope));
        if (shown == Visibility::kWithheld) return AccessPolicy::Denied();
        if (IsSensitive(record.body())) sensitive_ids.push_back(record.id());
        return response;
      },
      std::move(done));
}

absl::StatusOr<vigil::v1::ListCommentsResponse> ReviewQueries::ListComments(
    const Caller& caller, std::string_view visit_id,
    const vigil::v1::ListCommentsRequest& request) {
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  if (!request.record_id().empty() && !sync::ValidateRecordId(request.record_id()).ok()) {
    return WithReason(absl::InvalidArgumentError("record_id is not a record id"),
                      "RECORD_ID_INVALID");
  }
  const std::string binding = Binding("ListComments", caller, request);
  ASSIGN_OR_RETURN(const std::string resume, ResumeAt(binding, request.page_token()));
  if (!resume.empty() && resume.size() != 8) return TokenInvalid();
  const std::uint64_t offset = resume.empty() ? 0 : ReadBigEndian64(resume);
  ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
  Reading reading(*storage_, *keys_, *policy_, caller);
  SnapshotTables& tables = reading.tables();
  ASSIGN_OR_RETURN(const ScopeGrant grant,
                   policy_->RequireRead(caller, scope.str(), tables.view()));
  std::vector<std::string> ids;
  RETURN_IF_ERROR(tables.ScanChanges(scope.str(), 0, [&](std::uint64_t, std::string_view id) {
    ids.emplace_back(id);
    return true;
  }));
  auto same_scope = [&](std::string_view id) { return tables.HeadInScope(id, scope.str()); };
  std::vector<Record> comments;
  absl::Status failed;
  RETURN_IF_ERROR(tables.HeadValues(ids, [&](std::size_t i, std::optional<std::string_view> raw) {
    if (!raw.has_value()) return true;
    absl::StatusOr<Record> record = tables.DecodeHead(ids[i], *raw);
    if (!record.ok()) {
      failed = record.status();
      return false;
    }
    if (!record->body().has_comment() || record->deleted()) return true;
    absl::StatusOr<Visibility> shown = Redact(grant, *record, same_scope);
    if (!shown.ok()) {
      failed = shown.status();
      return false;
    }
    if (*shown != Visibility::kWithheld) comments.push_back(*std::move(record));
    return true;
  }));
  RETURN_IF_ERROR(failed);
  // Threads: replies under the comment they answer (a reply to one the
  // caller does not see starts a thread of its own), oldest first.
  auto older = [](const Record* a, const Record* b) {
    const auto& ha = a->created().hlc();
    const auto& hb = b->created().hlc();
    return std::make_tuple(ha.wall_time_micros(), ha.logical(), std::string_view(a->id())) <
           std::make_tuple(hb.wall_time_micros(), hb.logical(), std::string_view(b->id()));
  };
  std::map<std::string, const Record*> by_id;
  for (const Record& c : comments) by_id[c.id()] = &c;
  std::map<std::string, std::vector<const Record*>> replies;
  std::vector<const Record*> roots;
  for (const Record& c : comments) {
    const std::string& parent = c.body().comment().reply_to_comment_id();
    if (!parent.empty() && parent != c.id() && by_id.contains(parent)) {
      replies[parent].push_back(&c);
    } else if (request.record_id().empty() ||
               c.body().comment().subject_record_id() == request.record_id()) {
      roots.push_back(&c);
    }
  }
  std::sort(roots.begin(), roots.end(), older);
  for (auto& [id, list] : replies) std::sort(list.begin(), list.end(), older);
  std::vector<std::pair<const Record*, std::uint32_t>> ordered;
  std::set<std::string> placed;  // a reply loop is placed once
  std::function<void(const Record*, std::uint32_t)> place = [&](const Record* c,
                                                              std::uint32_t depth) {
    if (!placed.insert(c->id()).second) return;
    ordered.emplace_back(c, depth);
    for (const Record* r : replies[c->id()]) place(r, depth + 1);
  };
  for (const Record* root : roots) place(root, 0);
  vigil::v1::ListCommentsResponse response;
  for (std::uint64_t i = offset; i < ordered.size() && response.comments_size() < static_cast<int>(page_size); ++i) {
    vigil::v1::ThreadedComment& t = *response.add_comments();
    *t.mutable_comment() = *ordered[i].first;
    t.set_depth(ordered[i].second);
  }
  const std::uint64_t next = offset + static_cast<std::uint64_t>(response.comments_size());
  if (next < ordered.size()) {
    std::string payload;
    AppendBigEndian64(payload, next);
    response.set_next_page_token(tokens_.SealPageToken(binding, payload));
  }
  return response;
}

}  // namespace vigil::server
