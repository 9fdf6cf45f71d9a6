// What the review desk's reads share (review_queries.cc and its siblings):
// page-token bindings, the errors of a List call, and Reading, the reads of
// one answer at one snapshot with the caller's rights per scope. Internal to
// server/records.
#ifndef VIGIL_SERVER_RECORDS_REVIEW_READING_H_
#define VIGIL_SERVER_RECORDS_REVIEW_READING_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/auth/access_policy.h"
#include "server/auth/caller.h"
#include "server/records/conflict_index.h"
#include "server/records/etag.h"
#include "server/records/parallel_updates.h"
#include "server/records/read_audit.h"
#include "server/records/record_index.h"
#include "server/records/tables.h"
#include "server/records/visit_index.h"
#include "server/records/visit_lifecycle.h"
#include "sync/merge.h"
#include "sync/scope.h"
#include "vigil/v1/review.pb.h"

namespace vigil::server::review {

using vigil::internal::VisitSummary;
using vigil::v1::Record;

inline absl::Status TokenInvalid() {
  return WithReason(absl::InvalidArgumentError(
                        "page_token is malformed, was altered, or belongs to another query or "
                        "caller: start again without it"),
                    "PAGE_TOKEN_INVALID");
}

inline absl::Status FilterInvalid(std::string_view field, std::string_view why) {
  return WithReason(
      absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(why))),
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

inline std::tuple<int, int, int> DayOf(const vigil::v1::CivilDate& d) {
  return {d.year(), d.month(), d.day()};
}

inline bool Overlaps(const vigil::v1::DateRange& a, const vigil::v1::DateRange& b) {
  return DayOf(a.start()) <= DayOf(b.end()) && DayOf(b.start()) <= DayOf(a.end());
}

// A record_kind filter: nullptr when `name` is empty, the RecordBody field
// it names, or FILTER_INVALID.
inline absl::StatusOr<const google::protobuf::FieldDescriptor*> RecordKindFilter(
    std::string_view name) {
  if (name.empty()) return nullptr;
  const google::protobuf::FieldDescriptor* kind =
      vigil::v1::RecordBody::descriptor()->FindFieldByName(std::string(name));
  if (kind == nullptr) return FilterInvalid("record_kind", "not a record kind");
  return kind;
}

// A filter's period: FILTER_INVALID when it ends before it starts.
inline absl::Status CheckPeriod(const vigil::v1::DateRange& period) {
  if (DayOf(period.end()) < DayOf(period.start())) {
    return FilterInvalid("period", "ends before it starts");
  }
  return absl::OkStatus();
}

inline vigil::v1::VisitCounts CountsOf(const VisitSummary& s) {
  vigil::v1::VisitCounts counts;
  counts.set_records(s.records());
  counts.set_open_conflicts(s.open_conflicts());
  counts.set_pending_late_submissions(s.pending_late());
  counts.set_unreviewed_records(s.unreviewed());
  counts.set_unchecked_parallel_updates(s.unchecked_parallel());
  return counts;
}

// One page of a List call over an index scan. `scan(visit)` visits the
// index entries in order, each with its position; `take(entry)` adds it to
// the page (true) or refuses it (false). The page ends when `taken()`
// reaches `page_size`, or after `max_examined` entries (the bound of a
// filter no index serves). Returns where the next page resumes (the
// position of the last entry seen), or "" when every entry was seen.
template <typename Entry>
absl::StatusOr<std::string> ScanPage(
    absl::FunctionRef<
        absl::Status(absl::FunctionRef<bool(std::string_view position, const Entry& entry)>)>
        scan,
    std::uint32_t page_size, std::uint32_t max_examined, absl::FunctionRef<std::uint32_t()> taken,
    absl::FunctionRef<absl::StatusOr<bool>(const Entry&)> take) {
  std::string last;
  std::uint32_t examined = 0;
  bool full = false;
  absl::Status failed;
  RETURN_IF_ERROR(scan([&](std::string_view position, const Entry& entry) {
    if (taken() == page_size || ++examined > max_examined) {
      full = true;  // resume after the last one seen
      return false;
    }
    absl::StatusOr<bool> took = take(entry);
    failed = took.status();
    last = std::string(position);
    return failed.ok();
  }));
  RETURN_IF_ERROR(failed);
  return full ? last : std::string();
}

// The reads of one answer, at one snapshot.
class Reading {
 public:
  Reading(storage::Storage& storage, const storage::KeyRing& keys, const AccessPolicy& policy,
          const Caller& caller)
      : snapshot_(storage.GetSnapshot()),
        tables_(storage, snapshot_, keys),
        index_(storage, snapshot_),
        conflicts_(storage, snapshot_),
        parallel_(storage, snapshot_),
        records_(storage, snapshot_),
        policy_(policy),
        caller_(caller) {}

  VisitIndexReader& index() { return index_; }
  ConflictIndexReader& conflicts() { return conflicts_; }
  ParallelUpdateReader& parallel() { return parallel_; }
  RecordIndexReader& records() { return records_; }
  SnapshotTables& tables() { return tables_; }

  // OK for no parent (`visit_id` empty), or a visit the caller may read;
  // PERMISSION_DENIED (SCOPE_NOT_PERMITTED) else.
  absl::Status RequireParent(std::string_view visit_id) {
    if (visit_id.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(const sync::Scope scope, sync::Scope::Visit(visit_id));
    return policy_.RequireRead(caller_, scope.str(), tables_.view()).status();
  }

  // The caller's rights in the visit's scope (read once per scope).
  absl::StatusOr<const ScopeGrant*> GrantFor(const std::string& scope) {
    auto it = grants_.find(scope);
    if (it == grants_.end()) {
      ASSIGN_OR_RETURN(ScopeGrant grant, policy_.Grant(caller_, scope, tables_.view()));
      it = grants_.emplace(scope, std::move(grant)).first;
    }
    return &it->second;
  }

  // The live record `id` as the caller sees it (redacted), nullopt when
  // there is none or it may not see it.
  absl::StatusOr<std::optional<Record>> Shown(std::string_view id) {
    ASSIGN_OR_RETURN(std::optional<Record> head, tables_.Head(id));
    if (!head.has_value() || head->deleted()) return std::nullopt;
    ASSIGN_OR_RETURN(const ScopeGrant* grant, GrantFor(head->scope()));
    if (!grant->read) return std::nullopt;
    auto same_scope = [&](std::string_view other) {
      return tables_.HeadInScope(other, head->scope());
    };
    ASSIGN_OR_RETURN(Visibility shown, Redact(*grant, *head, same_scope));
    if (shown == Visibility::kWithheld) return std::nullopt;
    return head;
  }

  // The record ids of the records index entries of `key`, in id order.
  absl::StatusOr<std::vector<std::string>> IndexedIds(const RecordIndexKey& key) {
    std::vector<std::string> ids;
    RETURN_IF_ERROR(records_.Scan(key, "", [&](std::string_view, std::string_view id) {
      ids.emplace_back(id);
      return true;
    }));
    return ids;
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
  ConflictIndexReader conflicts_;
  ParallelUpdateReader parallel_;
  RecordIndexReader records_;
  const AccessPolicy& policy_;
  const Caller& caller_;
  std::map<std::string, ScopeGrant> grants_;
};

// Runs `read` (collecting the sensitive records it shows), then audits
// those reads before `done` gets the answer.
template <typename Response, typename Done>
inline void AuditedAnswer(
    storage::Storage& storage, const Caller& caller,
    absl::FunctionRef<absl::StatusOr<Response>(std::vector<std::string>&)> read, Done done) {
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<Response> answer = read(sensitive_ids);
  if (!answer.ok()) return done(answer.status());
  AuditReads(storage, caller, std::move(sensitive_ids),
             [answer = *std::move(answer), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(answer));
             });
}

}  // namespace vigil::server::review

#endif  // VIGIL_SERVER_RECORDS_REVIEW_READING_H_
