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
#include "server/records/tables.h"
#include "server/records/visit_index.h"
#include "server/records/visit_lifecycle.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using google::protobuf::util::TimeUtil;
using vigil::internal::VisitSummary;
using vigil::v1::Record;

absl::Status TokenInvalid() {
  return WithReason(absl::InvalidArgumentError(
                        "page_token is malformed, was altered, or belongs to another query or "
                        "caller: start again without it"),
                    "PAGE_TOKEN_INVALID");
}

absl::Status FilterInvalid(std::string_view field, std::string_view why) {
  return WithReason(absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ",
                                                            std::string(why))),
                    "FILTER_INVALID", {{"field", std::string(field)}});
}

// What a page token is bound to: the method, the caller and the query with
// its paging fields cleared.
template <typename Request>
std::string Binding(std::string_view method, const Caller& caller, Request request) {
  request.clear_page_token();
  request.clear_page_size();
  return absl::StrCat(std::string(method), "\n", caller.principal, "\n",
                      sync::SerializeDeterministic(request));
}

std::tuple<int, int, int> DayOf(const vigil::v1::CivilDate& d) {
  return {d.year(), d.month(), d.day()};
}

bool Overlaps(const vigil::v1::DateRange& a, const vigil::v1::DateRange& b) {
  return DayOf(a.start()) <= DayOf(b.end()) && DayOf(b.start()) <= DayOf(a.end());
}

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

vigil::v1::VisitCounts CountsOf(const VisitSummary& s) {
  vigil::v1::VisitCounts counts;
  counts.set_records(s.records());
  counts.set_open_conflicts(s.open_conflicts());
  counts.set_pending_late_submissions(s.pending_late());
  return counts;
}

// The fields of `held`'s kind whose value differs from `head`'s (every
// field it sets when there is no head).
std::vector<std::string> ChangedFields(const vigil::v1::Mutation& held,
                                       const std::optional<Record>& head) {
  if (held.delete_()) return {"(deleted)"};
  using google::protobuf::FieldDescriptor;
  using google::protobuf::Message;
  const FieldDescriptor* kind = sync::BodyKindField(held.body());
  if (kind == nullptr) return {};
  const Message& ours = held.body().GetReflection()->GetMessage(held.body(), kind);
  std::unique_ptr<Message> nothing(ours.New());
  const Message& theirs =
      head.has_value() && sync::BodyKindField(head->body()) == kind
          ? head->body().GetReflection()->GetMessage(head->body(), kind)
          : *nothing;
  // `message` with only `f` kept.
  auto only = [](const Message& message, const FieldDescriptor* f) {
    std::unique_ptr<Message> copy(message.New());
    copy->CopyFrom(message);
    std::unique_ptr<Message> kept(message.New());
    message.GetReflection()->SwapFields(copy.get(), kept.get(), {f});
    return sync::SerializeDeterministic(*kept);
  };
  std::vector<std::string> changed;
  const google::protobuf::Descriptor* type = kind->message_type();
  for (int i = 0; i < type->field_count(); ++i) {
    if (only(ours, type->field(i)) != only(theirs, type->field(i))) {
      changed.push_back(type->field(i)->name());
    }
  }
  return changed;
}

// The reads of one answer, at one snapshot.
class Reading {
 public:
  Reading(storage::Storage& storage, const storage::KeyRing& keys, const AccessPolicy& policy,
          const Caller& caller)
      : snapshot_(storage.GetSnapshot()),
        tables_(storage, snapshot_, keys),
        index_(storage, snapshot_),
        policy_(policy),
        caller_(caller) {}

  VisitIndexReader& index() { return index_; }
  SnapshotTables& tables() { return tables_; }

  // The caller's rights in the visit's scope (read once per scope).
  absl::StatusOr<const ScopeGrant*> GrantFor(const std::string& scope) {
    auto it = grants_.find(scope);
    if (it == grants_.end()) {
      ASSIGN_OR_RETURN(ScopeGrant grant, policy_.Grant(caller_, scope, tables_.view()));
      it = grants_.emplace(scope, std::move(grant)).first;
    }
    return &it->second;
  }

  // The visit as the caller sees it, nullopt when it may not (or there is
  // no Visit record).
  absl::StatusOr<std::optional<vigil::v1::VisitView>> View(
      std::string_view visit_id, const VisitSummary& summary,
      std::optional<std::uint64_t> revision = std::nullopt) {
    ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
    ASSIGN_OR_RETURN(const ScopeGrant* grant, GrantFor(scope.str()));
    if (!grant->read) return std::nullopt;
    // The index keeps the Visit record as last written, in the same commit.
    std::optional<Record> record;
    if (summary.has_record()) {
      record = summary.visit_record();
    } else {
      ASSIGN_OR_RETURN(record, tables_.HeadInScope(visit_id, scope.str()));
    }
    if (!record.has_value() || !record->body().has_visit()) return std::nullopt;
    if (revision.has_value() && *revision < record->revision()) {
      absl::Status read = absl::NotFoundError("no such revision");
      RETURN_IF_ERROR(tables_.ScanHistory(visit_id, *revision, *revision + 1,
                                          [&](absl::StatusOr<Record> r, std::size_t) {
                                            read = r.status();
                                            if (r.ok()) record = *std::move(r);
                                            return false;
                                          }));
      RETURN_IF_ERROR(read);
    }
    auto same_scope = [&](std::string_view id) { return tables_.HeadInScope(id, scope.str()); };
    ASSIGN_OR_RETURN(Visibility visibility, Redact(*grant, *record, same_scope));
    if (visibility == Visibility::kWithheld) return std::nullopt;
    vigil::v1::VisitView view;
    view.set_name(scope.str());
    view.set_etag(RecordEtag(*record));
    for (vigil::v1::VisitState to : AllowedVisitMoves(*grant, record->body().visit().state())) {
      view.add_allowed_transitions(to);
    }
    *view.mutable_counts() = CountsOf(summary);
    *view.mutable_record() = std::move(*record);
    return view;
  }

 private:
  const storage::Snapshot snapshot_;
  SnapshotTables tables_;
  VisitIndexReader index_;
  const AccessPolicy& policy_;
  const Caller& caller_;
  std::map<std::string, ScopeGrant> grants_;
};

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
  if (!AccessPolicy::MayLearnOfAbsence(caller)) return AccessPolicy::Denied();
  return WithReason(absl::NotFoundError("there is no such visit"), "RESOURCE_NOT_FOUND",
                    {{"name", absl::StrCat("visits/", std::string(visit_id))}});
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
  if (request.has_period() && DayOf(request.period().end()) < DayOf(request.period().start())) {
    return FilterInvalid("period", "ends before it starts");
  }
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

void ReviewQueries::ListLateSubmissions(const Caller& caller, std::string_view visit_id,
                                        const vigil::v1::ListLateSubmissionsRequest& request,
                                        LateDoneFn done) {
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<vigil::v1::ListLateSubmissionsResponse> page =
      ReadLate(caller, visit_id, request, sensitive_ids);
  if (!page.ok()) return done(page.status());
  AuditReads(*storage_, caller, std::move(sensitive_ids),
             [page = *std::move(page), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(page));
             });
}

absl::StatusOr<vigil::v1::ListLateSubmissionsResponse> ReviewQueries::ReadLate(
    const Caller& caller, std::string_view visit_id,
    const vigil::v1::ListLateSubmissionsRequest& request,
    std::vector<std::string>& sensitive_ids) {
  RETURN_IF_ERROR(AccessPolicy::RequireReviewer(caller));
  ASSIGN_OR_RETURN(const std::uint32_t page_size, PageSize(request.page_size()));
  std::string scope;
  if (!visit_id.empty()) {
    ASSIGN_OR_RETURN(const sync::Scope visit, sync::Scope::Visit(visit_id));
    scope = visit.str();
  }
  const std::string binding = Binding("ListLateSubmissions", caller, request);
  ASSIGN_OR_RETURN(const std::string after, ResumeAt(binding, request.page_token()));
  Reading reading(*storage_, *keys_, *policy_, caller);
  SnapshotTables& tables = reading.tables();
  vigil::v1::ListLateSubmissionsResponse response;
  absl::Status failed;
  std::string last;
  RETURN_IF_ERROR(tables.ScanLate(
      scope, after,
      [&](std::string_view position, std::string_view held_scope, const vigil::v1::Mutation& m) {
        if (static_cast<std::uint32_t>(response.late_submissions_size()) == page_size) {
          response.set_next_page_token(tokens_.SealPageToken(binding, last));
          return false;
        }
        last = std::string(position);
        absl::Status read = [&]() -> absl::Status {
          vigil::v1::LateSubmission& late = *response.add_late_submissions();
          late.set_name("lateSubmissions/" + m.mutation_id());
          late.set_visit(std::string(held_scope));
          *late.mutable_mutation() = m;
          ASSIGN_OR_RETURN(std::optional<Record> head, tables.Head(m.record_id()));
          for (std::string& f : ChangedFields(m, head)) late.add_changed_fields(std::move(f));
          if (head.has_value()) {
            ASSIGN_OR_RETURN(const ScopeGrant* grant, reading.GrantFor(head->scope()));
            auto same_scope = [&](std::string_view id) {
              return tables.HeadInScope(id, head->scope());
            };
            ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *head, same_scope));
            if (shown != Visibility::kWithheld) *late.mutable_head() = *std::move(head);
          }
          if (IsSensitive(m.body()) || IsSensitive(late.head().body())) {
            sensitive_ids.push_back(m.record_id());
          }
          return absl::OkStatus();
        }();
        failed = read;
        return read.ok();
      }));
  RETURN_IF_ERROR(failed);
  return response;
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
