// The push step MirrorFollowUp: a follow-up check recorded during a visit
// (a FollowUpCheck record of the visit's scope, written by its team on a
// tablet) is kept in the checked recommendation's follow_ups, under the
// record's id, by a revision the server makes of the recommendation in the
// same commit; a deleted check, or one moved to another recommendation,
// leaves the one it named. Field roles only read the registry: this is how
// their checks reach it.
#include "absl/strings/str_cat.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "server/records/mutation_error.h"
#include "server/records/push_batch.h"
#include "sync/merge.h"
#include "sync/scope.h"

namespace vigil::server {
namespace {

using vigil::v1::FollowUpCheck;
using vigil::v1::Record;

// The check a live FollowUpCheck record holds, nullopt for anything else.
std::optional<FollowUpCheck> CheckOf(const std::optional<Record>& record) {
  if (!record.has_value() || record->deleted() || !record->body().has_follow_up_check()) {
    return std::nullopt;
  }
  return record->body().follow_up_check();
}

}  // namespace

absl::Status PushBatch::MirrorFollowUp(Pending& p) {
  if (!p.outcome->changed) return absl::OkStatus();
  const Record& written = p.outcome->record;
  const std::optional<FollowUpCheck> was = CheckOf(p.head);
  const std::optional<FollowUpCheck> is = CheckOf(written);
  if (!was.has_value() && !is.has_value()) return absl::OkStatus();
  const std::string visit_id(sync::VisitIdOf(written.scope()));
  auto invalid = [&](std::string_view why) {
    return AtMutation(
        WithReason(absl::InvalidArgumentError(absl::StrCat("follow-up check: ", std::string(why))),
                   "FOLLOW_UP_INVALID", {{"field", "recommendation_id"}}),
        p.index, *p.m);
  };
  if (is.has_value() && visit_id.empty()) {
    return invalid("a follow-up check lives in the scope of the visit that made it");
  }
  // Takes the element out of (`check` unset) or puts it into `rec_id`.
  auto apply = [&](const std::string& rec_id,
                   const std::optional<FollowUpCheck>& check) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<Record> head, tables_.Head(rec_id));
    if (!head.has_value() || head->deleted() || !head->body().has_recommendation()) {
      if (!check.has_value()) return absl::OkStatus();  // gone since: nothing to take out
      return invalid("recommendation_id names no live recommendation");
    }
    Record next = *head;
    auto& follow_ups = *next.mutable_body()->mutable_recommendation()->mutable_follow_ups();
    int at = -1;
    for (int i = 0; i < follow_ups.size(); ++i) {
      if (follow_ups[i].id() == written.id()) at = i;
    }
    if (!check.has_value()) {
      if (at < 0) return absl::OkStatus();
      follow_ups.DeleteSubrange(at, 1);
    } else {
      FollowUpCheck element = *check;
      element.set_id(written.id());
      element.set_visit_id(visit_id);
      element.clear_recommendation_id();
      if (at >= 0 &&
          sync::SerializeDeterministic(follow_ups[at]) == sync::SerializeDeterministic(element)) {
        return absl::OkStatus();
      }
      if (at < 0) {
        *follow_ups.Add() = std::move(element);
      } else {
        follow_ups[at] = std::move(element);
      }
    }
    return WriteServerRevision(
        *head, next, absl::StrCat("recommendation.follow_up check=records/", written.id()));
  };
  if (was.has_value() && (!is.has_value() || was->recommendation_id() != is->recommendation_id())) {
    RETURN_IF_ERROR(apply(was->recommendation_id(), std::nullopt));
  }
  if (is.has_value()) {
    if (is->recommendation_id().empty()) return invalid("recommendation_id is required");
    RETURN_IF_ERROR(apply(is->recommendation_id(), is));
  }
  return absl::OkStatus();
}

}  // namespace vigil::server
