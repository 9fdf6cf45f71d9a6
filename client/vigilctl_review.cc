// vigilctl review: the NPM unit's desk (vigil.v1.ReviewService) from the
// command line: the review queue, visits with their filters, one visit with
// its moves and history of transitions, lifecycle moves, marks, late
// submissions and comments (conflicts and parallel updates:
// vigilctl_merges.cc).
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_review_session.h"
#include "client/vigilctl_values.h"
#include "vigil/v1/review.grpc.pb.h"

namespace vigil::vigilctl {
namespace {

std::string Counts(const vigil::v1::VisitCounts& c) {
  return absl::StrCat(c.records(), " records, ", c.unreviewed_records(), " unreviewed, ",
                      c.open_conflicts(), " open conflicts, ", c.unchecked_parallel_updates(),
                      " unchecked parallel updates, ", c.pending_late_submissions(), " late");
}

std::string VisitText(const vigil::v1::VisitView& v) {
  const vigil::v1::Visit& visit = v.record().body().visit();
  std::vector<std::string> moves;
  for (int to : v.allowed_transitions()) {
    moves.push_back(EnumWord(static_cast<vigil::v1::VisitState>(to)));
  }
  std::string text = absl::StrCat(v.name(), "  ", EnumWord(visit.state()), "  ",
                                  EnumWord(visit.type()), visit.announced() ? "" : " unannounced",
                                  "  facility ", visit.facility_id(), "\n  ", Counts(v.counts()),
                                  "\n  etag ", v.etag(), "\n  you may move it to: ",
                                  moves.empty() ? "(nothing)" : absl::StrJoin(moves, ", "));
  for (const auto& m : visit.team()) {
    absl::StrAppend(&text, "\n  team: ", Pad(m.user_id(), 16), " ", EnumWord(m.role()));
  }
  for (const auto& t : visit.transitions()) {
    absl::StrAppend(&text, "\n  ",
                    absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.at().seconds()),
                                     absl::UTCTimeZone()),
                    "  ", Pad(t.user_id(), 12), " ", EnumWord(t.from()), " -> ", EnumWord(t.to()),
                    t.note().empty() ? "" : "  \"" + t.note() + "\"",
                    t.acknowledged_open_conflicts()
                        ? absl::StrCat("  (", t.open_conflicts(), " open conflicts acknowledged)")
                        : "");
  }
  return text;
}

}  // namespace

bool StartReview(const Globals& g, ReviewSession& s, int* code) {
  s.replica = OpenHome(g, code);
  if (!s.replica) return false;
  if (!RequireProfile(g, *s.replica, code)) return false;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = s.replica->Channel();
  if (!channel.ok()) {
    *code = Fail("connecting to the server", channel.status());
    return false;
  }
  s.channel = *channel;
  s.stub = vigil::v1::ReviewService::NewStub(s.channel);
  return true;
}

bool StartReport(const Globals& g, ReviewSession& s,
                 std::unique_ptr<vigil::v1::ReportService::Stub>& stub, int* code) {
  if (!StartReview(g, s, code)) return false;
  stub = vigil::v1::ReportService::NewStub(s.channel);
  return true;
}

int ReviewQueue(const Globals& g, const std::string& state, const std::string& reviewer) {
  vigil::v1::ListReviewQueueRequest request;
  if (!state.empty()) {
    absl::StatusOr<vigil::v1::VisitState> parsed = ParseEnumAs<vigil::v1::VisitState>(state);
    if (!parsed.ok()) return Usage(absl::StrCat("--state: ", parsed.status().message()));
    request.set_state(*parsed);
  }
  request.set_reviewer_user_id(reviewer);
  return AllPages<vigil::v1::ListReviewQueueRequest, vigil::v1::ListReviewQueueResponse>(
      g, request, "the review queue",
      [](auto& stub, auto* context, const auto& r, auto* out) {
        return stub.ListReviewQueue(context, r, out);
      },
      [&](const vigil::v1::ListReviewQueueResponse& page) {
        for (const auto& e : page.entries()) {
          g.out().Result(
              JsonObject().Proto("entry", e),
              absl::StrCat(e.name(), "  ", Pad(EnumWord(e.state()), 17), " ",
                           e.days_since_submission(), " days  ",
                           e.facility_name().empty() ? e.facility_id() : e.facility_name(),
                           "  lead ", e.team_lead_user_id(),
                           e.reviewer_user_id().empty() ? "" : "  reviewer " + e.reviewer_user_id(),
                           "\n  ", Counts(e.counts())));
        }
      });
}

int ReviewVisits(const Globals& g, const ReviewFilterArgs& f) {
  vigil::v1::ListVisitsRequest request;
  request.set_facility_id(f.facility_id);
  request.set_team_member_user_id(f.member);
  request.set_reviewer_user_id(f.reviewer);
  if (!f.state.empty()) {
    absl::StatusOr<vigil::v1::VisitState> parsed = ParseEnumAs<vigil::v1::VisitState>(f.state);
    if (!parsed.ok()) return Usage(absl::StrCat("--state: ", parsed.status().message()));
    request.set_state(*parsed);
  }
  if (!f.type.empty()) {
    absl::StatusOr<vigil::v1::VisitType> parsed = ParseEnumAs<vigil::v1::VisitType>(f.type);
    if (!parsed.ok()) return Usage(absl::StrCat("--type: ", parsed.status().message()));
    request.set_visit_type(*parsed);
  }
  if (f.announced.has_value()) request.set_announced(*f.announced);
  return AllPages<vigil::v1::ListVisitsRequest, vigil::v1::ListVisitsResponse>(
      g, request, "visits",
      [](auto& stub, auto* context, const auto& r, auto* out) {
        return stub.ListVisits(context, r, out);
      },
      [&](const vigil::v1::ListVisitsResponse& page) {
        for (const auto& v : page.visits()) {
          g.out().Result(JsonObject().Proto("visit", v), VisitText(v));
        }
      });
}

int ReviewVisit(const Globals& g, const std::string& visit) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetVisitRequest request;
  request.set_name("visits/" + *visit_id);
  vigil::v1::VisitView view;
  auto context = CallContext();
  if (grpc::Status st = s.stub->GetVisit(context.get(), request, &view); !st.ok()) {
    return Fail(absl::StrCat("reading visit ", *visit_id), st);
  }
  g.out().Result(JsonObject().Proto("visit", view), VisitText(view));
  return kExitOk;
}

namespace {

std::string LateText(const vigil::v1::LateSubmission& l) {
  const vigil::v1::Mutation& m = l.mutation();
  std::vector<std::string> changed(l.changed_fields().begin(), l.changed_fields().end());
  std::string text = absl::StrCat(
      l.name(), "  ", m.delete_() ? "delete" : KindOf(m.body()), " ", m.record_id(), "\n  by ",
      m.author(), " from device ", m.device_id(), "  changes: ",
      changed.empty() ? "(nothing)" : absl::StrJoin(changed, ", "), "\n  etag ", l.etag());
  if (l.result().has_late_decision()) {
    const vigil::v1::LateDecision& d = l.result().late_decision();
    absl::StrAppend(&text, "\n  ", EnumWord(d.outcome()), " by ", d.user_id(),
                    d.reason().empty() ? "" : ": " + d.reason());
    if (d.outcome() == vigil::v1::LATE_OUTCOME_ACCEPTED) {
      absl::StrAppend(&text, " (revision ", l.result().revision(),
                      l.result().conflict_ids().empty()
                          ? ")"
                          : absl::StrCat(", conflicts ",
                                         absl::StrJoin(l.result().conflict_ids(), ", "), ")"));
    }
  }
  return text;
}

}  // namespace

int ReviewMove(const Globals& g, const std::string& visit, const std::string& to,
               const std::string& note, bool acknowledge_conflicts, const std::string& etag) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  absl::StatusOr<vigil::v1::VisitState> state = ParseEnumAs<vigil::v1::VisitState>(to);
  if (!state.ok()) return Usage(absl::StrCat("state: ", state.status().message()));
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::TransitionVisitRequest request;
  request.set_name("visits/" + *visit_id);
  request.set_to(*state);
  request.set_note(note);
  request.set_acknowledge_open_conflicts(acknowledge_conflicts);
  request.set_etag(etag);
  request.set_request_id(NewId());
  vigil::v1::VisitView view;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->TransitionVisit(context, request, &view);
  });
  if (!st.ok()) return Fail(absl::StrCat("moving visit ", *visit_id, " to ", to), st);
  g.out().Result(
      JsonObject().Proto("visit", view),
      absl::StrCat("visit ", *visit_id, " is ", EnumWord(*state), "\n", VisitText(view)));
  return kExitOk;
}

int ReviewDecide(const Globals& g, const std::string& name, const std::string& outcome,
                 const std::string& reason, const std::string& etag) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::DecideLateSubmissionRequest request;
  request.set_name(name);
  request.set_outcome(outcome == "accept" ? vigil::v1::LATE_OUTCOME_ACCEPTED
                                          : vigil::v1::LATE_OUTCOME_REJECTED);
  request.set_reason(reason);
  request.set_etag(etag);
  request.set_request_id(NewId());
  vigil::v1::LateSubmission decided;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->DecideLateSubmission(context, request, &decided);
  });
  if (!st.ok()) return Fail(absl::StrCat("deciding on ", name), st);
  g.out().Result(JsonObject().Proto("late_submission", decided), LateText(decided));
  return kExitOk;
}

namespace {

std::string ServerRecordText(const vigil::v1::GetRecordResponse& r) {
  const vigil::v1::Record& record = r.record();
  const vigil::v1::ReviewMark& mark = record.review();
  std::string text = absl::StrCat("record    ", record.id(), "\nscope     ", record.scope(),
                                  "\nkind      ", KindOf(record.body()), "\nrevision  ",
                                  record.revision(), "  etag ", r.etag());
  if (mark.state() != vigil::v1::REVIEW_MARK_STATE_UNSPECIFIED) {
    absl::StrAppend(&text, "\nreview    ", EnumWord(mark.state()), " by ",
                    mark.reviewer_user_id(), " on revision ", mark.marked_revision(),
                    mark.question().empty() ? "" : ": " + mark.question());
    if (mark.state() == vigil::v1::REVIEW_MARK_STATE_ANSWERED) {
      absl::StrAppend(&text, "\n          answered by ", mark.answered_by_user_id(),
                      mark.answer_comment_id().empty()
                          ? " (an edit)"
                          : " in comment " + mark.answer_comment_id());
    }
  }
  return text;
}

}  // namespace

int ReviewMark(const Globals& g, const std::string& record_id, const std::string& state,
               const std::string& question, const std::string& etag) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::MarkRecordRequest request;
  request.set_name("records/" + record_id);
  request.set_state(state == "accept" ? vigil::v1::REVIEW_MARK_STATE_ACCEPTED
                                      : vigil::v1::REVIEW_MARK_STATE_QUESTION);
  request.set_question(question);
  request.set_etag(etag);
  request.set_request_id(NewId());
  vigil::v1::GetRecordResponse marked;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->MarkRecord(context, request, &marked);
  });
  if (!st.ok()) return Fail(absl::StrCat("marking ", record_id), st);
  g.out().Result(JsonObject().Proto("record", marked), ServerRecordText(marked));
  return kExitOk;
}

int ReviewRecord(const Globals& g, const std::string& record_id) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetRecordRequest request;
  request.set_name("records/" + record_id);
  vigil::v1::GetRecordResponse record;
  auto context = CallContext();
  if (grpc::Status st = s.stub->GetRecord(context.get(), request, &record); !st.ok()) {
    return Fail(absl::StrCat("reading ", record_id), st);
  }
  g.out().Result(JsonObject().Proto("record", record), ServerRecordText(record));
  return kExitOk;
}

int ReviewLate(const Globals& g, const std::string& visit, bool decided) {
  vigil::v1::ListLateSubmissionsRequest request;
  request.set_decided(decided);
  if (!visit.empty()) {
    absl::StatusOr<std::string> visit_id = VisitArg(visit);
    if (!visit_id.ok()) return Usage(visit_id.status().message());
    request.set_parent("visits/" + *visit_id);
  }
  return AllPages<vigil::v1::ListLateSubmissionsRequest, vigil::v1::ListLateSubmissionsResponse>(
      g, request, "late submissions",
      [](auto& stub, auto* context, const auto& r, auto* out) {
        return stub.ListLateSubmissions(context, r, out);
      },
      [&](const vigil::v1::ListLateSubmissionsResponse& page) {
        for (const auto& l : page.late_submissions()) {
          g.out().Result(JsonObject().Proto("late_submission", l), LateText(l));
        }
      });
}

int ReviewComments(const Globals& g, const std::string& visit, const std::string& record_id) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  vigil::v1::ListCommentsRequest request;
  request.set_parent("visits/" + *visit_id);
  request.set_record_id(record_id);
  return AllPages<vigil::v1::ListCommentsRequest, vigil::v1::ListCommentsResponse>(
      g, request, absl::StrCat("the comments of visit ", *visit_id),
      [](auto& stub, auto* context, const auto& r, auto* out) {
        return stub.ListComments(context, r, out);
      },
      [&](const vigil::v1::ListCommentsResponse& page) {
        for (const auto& t : page.comments()) {
          const vigil::v1::Comment& c = t.comment().body().comment();
          g.out().Result(
              JsonObject().Proto("comment", t),
              absl::StrCat(std::string(2 * t.depth(), ' '), t.comment().created().author(), " on ",
                           c.subject_record_id(),
                           c.subject_field_path().empty() ? "" : "." + c.subject_field_path(), ": ",
                           c.text()));
        }
      });
}

int ReviewComment(const Globals& g, const std::string& visit, const CommentArgs& args) {
  absl::StatusOr<std::string> visit_id = VisitArg(visit);
  if (!visit_id.ok()) return Usage(visit_id.status().message());
  vigil::v1::CreateCommentRequest request;
  request.set_parent("visits/" + *visit_id);
  request.set_subject_record_id(args.record);
  request.set_subject_field_path(args.field);
  request.set_reply_to_comment_id(args.reply_to);
  request.set_text(args.text);
  request.set_request_id(NewId());
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetRecordResponse written;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->CreateComment(context, request, &written);
  });
  if (!st.ok()) return Fail("commenting", st);
  g.out().Result(JsonObject().Proto("comment", written),
                 absl::StrCat("comment ", written.record().id(), " on ",
                              written.record().body().comment().subject_record_id()));
  return kExitOk;
}

}  // namespace vigil::vigilctl
