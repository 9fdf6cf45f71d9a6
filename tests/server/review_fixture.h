// What the ReviewService tests share: ids, error details, each user's
// stubs, and a server with a whole team and visits in any state.
#ifndef VIGIL_TESTS_SERVER_REVIEW_FIXTURE_H_
#define VIGIL_TESTS_SERVER_REVIEW_FIXTURE_H_

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "client/channel.h"
#include "gtest/gtest.h"
#include "sync/ids.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/report.grpc.pb.h"
#include "vigil/v1/review.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::review_testing {

using grpc::StatusCode;
using v1::Mutation;
using v1::VisitState;

inline std::string NewId() {
  static std::mt19937_64 rng(17);
  static int counter = 0;
  sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  return *sync::NewUuidV7(absl::Now() + absl::Milliseconds(++counter), random);
}

inline std::string Reason(const grpc::Status& s) {
  auto info = client::ErrorInfoOf(s);
  return info.ok() ? info->reason() : "<none>";
}

inline std::string Metadata(const grpc::Status& s, const std::string& key) {
  auto info = client::ErrorInfoOf(s);
  if (!info.ok()) return "<none>";
  auto it = info->metadata().find(key);
  return it == info->metadata().end() ? "<none>" : it->second;
}

inline v1::CivilDate Date(int y, int m, int d) {
  v1::CivilDate date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

inline Mutation Create(const std::string& scope, const v1::RecordBody& body, const std::string& id) {
  static std::int64_t hlc = 1'700'000'000'000'000;
  Mutation m;
  m.set_mutation_id(NewId());
  m.set_record_id(id);
  *m.mutable_body() = body;
  m.mutable_hlc()->set_wall_time_micros(++hlc);
  m.set_scope(scope);
  return m;
}

// One user's stubs.
struct User {
  std::unique_ptr<v1::SyncService::Stub> sync;
  std::unique_ptr<v1::ReviewService::Stub> review;
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::ReportService::Stub> report;

  grpc::Status Push(const std::vector<Mutation>& mutations, v1::PushResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::PushRequest request;
    for (const auto& m : mutations) *request.add_mutations() = m;
    v1::PushResponse ignored;
    return sync->Push(&ctx, request, out ? out : &ignored);
  }
  grpc::Status Move(const std::string& visit_id, VisitState to, v1::VisitView* out = nullptr,
                    const std::string& note = "", bool acknowledge = false,
                    const std::string& etag = "", std::string request_id = "") {
    grpc::ClientContext ctx;
    v1::TransitionVisitRequest request;
    request.set_name("visits/" + visit_id);
    request.set_to(to);
    request.set_note(note);
    request.set_acknowledge_open_conflicts(acknowledge);
    request.set_etag(etag);
    request.set_request_id(request_id.empty() ? NewId() : request_id);
    v1::VisitView ignored;
    if (to == v1::VISIT_STATE_PUBLISHED) {
      // Publishing is a move made with the signed report
      // (ReportService.PublishVisitReport); TransitionVisit refuses it.
      v1::PublishVisitReportRequest publish;
      publish.set_name(request.name());
      publish.set_etag(etag);
      publish.set_request_id(request.request_id());
      publish.set_note(note);
      v1::PublishedReport published;
      grpc::Status s = report->PublishVisitReport(&ctx, publish, &published);
      if (!s.ok() || out == nullptr) return s;
      grpc::ClientContext get;
      v1::GetVisitRequest get_request;
      get_request.set_name(request.name());
      return review->GetVisit(&get, get_request, out);
    }
    return review->TransitionVisit(&ctx, request, out ? out : &ignored);
  }
  grpc::Status Get(const std::string& visit_id, v1::VisitView* out) {
    grpc::ClientContext ctx;
    v1::GetVisitRequest request;
    request.set_name("visits/" + visit_id);
    return review->GetVisit(&ctx, request, out);
  }
  grpc::Status List(const v1::ListVisitsRequest& request, v1::ListVisitsResponse* out) {
    grpc::ClientContext ctx;
    return review->ListVisits(&ctx, request, out);
  }
  grpc::Status Queue(const v1::ListReviewQueueRequest& request,
                     v1::ListReviewQueueResponse* out) {
    grpc::ClientContext ctx;
    return review->ListReviewQueue(&ctx, request, out);
  }
};

// The reviewer's way to each state from planned.
inline std::vector<VisitState> PathTo(VisitState state) {
  using S = VisitState;
  switch (state) {
    case v1::VISIT_STATE_IN_PROGRESS:
      return {S::VISIT_STATE_IN_PROGRESS};
    case v1::VISIT_STATE_SUBMITTED:
      return {S::VISIT_STATE_IN_PROGRESS, S::VISIT_STATE_SUBMITTED};
    case v1::VISIT_STATE_IN_REVIEW:
      return {S::VISIT_STATE_IN_PROGRESS, S::VISIT_STATE_SUBMITTED, S::VISIT_STATE_IN_REVIEW};
    case v1::VISIT_STATE_CHANGES_REQUESTED:
      return {S::VISIT_STATE_IN_PROGRESS, S::VISIT_STATE_SUBMITTED,
              S::VISIT_STATE_CHANGES_REQUESTED};
    case v1::VISIT_STATE_APPROVED:
      return {S::VISIT_STATE_IN_PROGRESS, S::VISIT_STATE_SUBMITTED, S::VISIT_STATE_IN_REVIEW,
              S::VISIT_STATE_APPROVED};
    case v1::VISIT_STATE_PUBLISHED:
      return {S::VISIT_STATE_IN_PROGRESS, S::VISIT_STATE_SUBMITTED, S::VISIT_STATE_IN_REVIEW,
              S::VISIT_STATE_APPROVED, S::VISIT_STATE_PUBLISHED};
    default:
      return {};
  }
}

class ReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::TestServer>();
    ASSERT_OK(server_->status());
    tokens_["reviewer"] = server_->ReviewerToken();
    tokens_["admin"] = server_->AdminToken();
    for (const auto& [name, role] : std::vector<std::pair<std::string, v1::Role>>{
             {"lead", v1::ROLE_TEAM_LEAD},
             {"monitor", v1::ROLE_FIELD_MONITOR},
             {"medical", v1::ROLE_MEDICAL_EXPERT},
             {"observer", v1::ROLE_FIELD_MONITOR},
             {"service", v1::ROLE_SERVICE_ACCOUNT}}) {
      auto token = server_->EnrollUser(name, role);
      ASSERT_OK(token);
      tokens_[name] = *token;
    }
  }

  User As(const std::string& name) {
    auto channel = server_->ChannelWithToken(tokens_.at(name));
    return User{v1::SyncService::NewStub(channel), v1::ReviewService::NewStub(channel),
                v1::AdminService::NewStub(channel), v1::ReportService::NewStub(channel)};
  }

  absl::Status Team(const std::string& visit_id) {
    for (const auto& [name, role] : std::vector<std::pair<std::string, v1::TeamRole>>{
             {"lead", v1::TEAM_ROLE_TEAM_LEAD},
             {"monitor", v1::TEAM_ROLE_MONITOR},
             {"medical", v1::TEAM_ROLE_MEDICAL_EXPERT},
             {"observer", v1::TEAM_ROLE_OBSERVER}}) {
      if (absl::Status s = server_->AddToTeam(visit_id, name, role); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // A new announced visit with the whole team, created planned by the NPM
  // unit and moved to `state`.
  std::string NewVisit(VisitState state, const std::string& facility_id = "",
                       v1::VisitType type = v1::VISIT_TYPE_IN_DEPTH) {
    const std::string id = NewId();
    EXPECT_OK(Team(id));
    v1::RecordBody body;
    body.mutable_visit()->set_state(v1::VISIT_STATE_PLANNED);
    body.mutable_visit()->set_announced(true);
    body.mutable_visit()->set_facility_id(facility_id);
    body.mutable_visit()->set_type(type);
    User reviewer = As("reviewer");
    grpc::Status created = reviewer.Push({Create("visits/" + id, body, id)});
    EXPECT_TRUE(created.ok()) << created.error_message();
    for (VisitState step : PathTo(state)) {
      grpc::Status s = reviewer.Move(id, step, nullptr, "questions");
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return id;
  }

  std::unique_ptr<testing::TestServer> server_;
  std::map<std::string, std::string> tokens_;
};

}  // namespace vigil::review_testing

#endif  // VIGIL_TESTS_SERVER_REVIEW_FIXTURE_H_
