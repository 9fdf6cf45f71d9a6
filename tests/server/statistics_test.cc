// ReportService.GetStatistics against a brute-force computation over random
// data (a property test over seeds): visits of random facilities, types and
// periods (some across a new year), findings created, edited and deleted,
// interviews, occupancy snapshots, and recommendations with random
// statuses, deadlines and responses. The expected figures come from the
// test's own model of what it wrote, for a reviewer and for a team lead on
// half of the visits; the CSV holds the same figures; bad periods and
// formats are refused.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "absl/time/civil_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/server/review_fixture.h"
#include "vigil/v1/report.grpc.pb.h"

namespace vigil {
namespace {

using review_testing::Create;
using review_testing::NewId;
using review_testing::Reason;
using review_testing::ReviewTest;
using v1::RecordBody;

v1::CivilDate DateOf(absl::CivilDay d) {
  v1::CivilDate date;
  date.set_year(static_cast<int>(d.year()));
  date.set_month(d.month());
  date.set_day(d.day());
  return date;
}
absl::CivilDay DayOf(const v1::CivilDate& d) {
  return absl::CivilDay(d.year(), d.month(), d.day());
}

v1::DateRange Range(absl::CivilDay a, absl::CivilDay b) {
  v1::DateRange r;
  *r.mutable_start() = DateOf(a);
  *r.mutable_end() = DateOf(b);
  return r;
}

// What the test wrote, as it stands.
struct ModelVisit {
  std::string facility;
  v1::VisitType type;
  bool announced;
  absl::CivilDay start, end;
  bool lead_on_team;
  std::map<std::string, v1::Finding> findings;  // live
  std::vector<v1::InterviewKind> interviews;
  std::vector<std::pair<std::int64_t, v1::OccupancySnapshot>> occupancy;
};
struct ModelFacility {
  std::string name;
  v1::FacilityType type;
  std::uint32_t capacity;
};

class StatisticsTest : public ReviewTest {
 protected:
  std::unique_ptr<v1::ReportService::Stub> Report(const std::string& user) {
    return v1::ReportService::NewStub(server_->ChannelWithToken(tokens_.at(user)));
  }
  void Put(const std::string& scope, const std::string& id, const RecordBody& body,
           std::uint64_t base = 0, bool del = false) {
    v1::Mutation m = Create(scope, body, id);
    m.set_base_revision(base);
    if (del) {
      m.clear_body();
      m.set_delete_(true);
    }
    grpc::Status s = As("reviewer").Push({m});
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Random data for `seed`, into the server and the model.
  void Generate(std::uint32_t seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % n); };
    for (int a = 0; a < 3; ++a) {
      authorities_.push_back(NewId());
      RecordBody b;
      b.mutable_authority()->set_name("Authority " + std::to_string(a));
      Put("registry", authorities_.back(), b);
    }
    for (int f = 0; f < 4; ++f) {
      const std::string id = NewId();
      ModelFacility m{"Place " + std::to_string(pick(3)),
                      static_cast<v1::FacilityType>(1 + pick(3)),
                      static_cast<std::uint32_t>(pick(2) * (50 + pick(100)))};
      RecordBody b;
      b.mutable_facility()->set_name(m.name);
      b.mutable_facility()->set_type(m.type);
      b.mutable_facility()->set_official_capacity(m.capacity);
      Put("registry", id, b);
      facilities_[id] = m;
    }
    std::vector<std::string> facility_ids;
    for (const auto& [id, f] : facilities_) facility_ids.push_back(id);
    for (int v = 0; v < 12; ++v) {
      const std::string id = NewId(), scope = "visits/" + id;
      ModelVisit m;
      m.facility = facility_ids[pick(4)];
      m.type = static_cast<v1::VisitType>(1 + pick(4));
      m.announced = pick(2) == 0;
      m.start = absl::CivilDay(2025, 1, 1) + pick(3 * 365);
      m.end = m.start + pick(6);
      m.lead_on_team = v % 2 == 0;
      if (m.lead_on_team) {
        ASSERT_OK(Team(id));
      }
      RecordBody b;
      v1::Visit& visit = *b.mutable_visit();
      visit.set_facility_id(m.facility);
      visit.set_type(m.type);
      visit.set_announced(m.announced);
      if (pick(2) == 0) {
        visit.mutable_actual_start()->set_seconds(absl::ToUnixSeconds(
            absl::FromCivil(absl::CivilSecond(m.start), absl::UTCTimeZone()) + absl::Hours(9)));
        visit.mutable_actual_end()->set_seconds(absl::ToUnixSeconds(
            absl::FromCivil(absl::CivilSecond(m.end), absl::UTCTimeZone()) + absl::Hours(17)));
      } else {
        *visit.mutable_planned_window() = Range(m.start, m.end);
      }
      Put(scope, id, b);
      for (int n = pick(7); n > 0; --n) {
        RecordBody f;
        v1::Finding& finding = *f.mutable_finding();
        finding.set_visit_id(id);
        finding.set_category(static_cast<v1::FindingCategory>(1 + pick(8)));
        finding.set_severity(static_cast<v1::Severity>(pick(5)));
        finding.set_good_practice(pick(4) == 0);
        const std::string fid = NewId();
        Put(scope, fid, f);
        m.findings[fid] = finding;
        if (pick(4) == 0) {  // edited: another category
          finding.set_category(static_cast<v1::FindingCategory>(1 + pick(8)));
          Put(scope, fid, f, 1);
          m.findings[fid] = finding;
        } else if (pick(5) == 0) {
          Put(scope, fid, f, 1, /*del=*/true);
          m.findings.erase(fid);
        }
      }
      for (int n = pick(5); n > 0; --n) {
        RecordBody i;
        i.mutable_interview()->set_visit_id(id);
        i.mutable_interview()->set_pseudonym("P");
        i.mutable_interview()->set_kind(static_cast<v1::InterviewKind>(1 + pick(3)));
        Put(scope, NewId(), i);
        m.interviews.push_back(i.interview().kind());
      }
      for (int n = pick(3); n > 0; --n) {
        RecordBody o;
        v1::OccupancySnapshot& s = *o.mutable_occupancy_snapshot();
        s.set_visit_id(id);
        s.mutable_taken_at()->set_seconds(1'750'000'000 + pick(1'000'000));
        s.set_total(pick(300));
        s.set_official_capacity(pick(2) * 150);
        Put(scope, NewId(), o);
        m.occupancy.emplace_back(s.taken_at().seconds(), s);
      }
      visits_[id] = m;
    }
    for (int r = 0; r < 14; ++r) {
      v1::Recommendation rec;
      rec.set_addressee_authority_id(authorities_[pick(3)]);
      rec.set_theme(pick(2) == 0 ? "heating" : "safeguards");
      rec.set_text("Do better " + std::to_string(r));
      const absl::CivilDay issued = absl::CivilDay(2025, 1, 1) + pick(3 * 365);
      *rec.mutable_issued_on() = DateOf(issued);
      if (pick(3) != 0) *rec.mutable_deadline() = DateOf(issued + pick(200));
      rec.set_status(static_cast<v1::RecommendationStatus>(1 + pick(5)));
      if (!recommendations_.empty() && pick(3) == 0) {
        rec.add_repeats_recommendation_ids(recommendations_.begin()->first);
      }
      grpc::ClientContext ctx;
      v1::CreateRecommendationRequest request;
      *request.mutable_recommendation() = rec;
      request.set_request_id(NewId());
      v1::RecommendationView view;
      grpc::Status s = Report("reviewer")->CreateRecommendation(&ctx, request, &view);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (int n = pick(3); n > 0; --n) {
        grpc::ClientContext rctx;
        v1::AddAuthorityResponseRequest respond;
        respond.set_name(view.name());
        *respond.mutable_response()->mutable_received_on() = DateOf(issued + pick(300));
        respond.mutable_response()->set_text("We will.");
        respond.set_request_id(NewId());
        ASSERT_TRUE(Report("reviewer")->AddAuthorityResponse(&rctx, respond, &view).ok());
      }
      recommendations_[view.record().id()] = view.record().body().recommendation();
    }
  }

  // The figures, by brute force over the model.
  v1::Statistics Expected(const v1::DateRange& period, bool lead) {
    const absl::CivilDay from = DayOf(period.start()), to = DayOf(period.end());
    v1::Statistics st;
    *st.mutable_period() = period;
    std::map<std::tuple<int, int, bool>, std::uint32_t> tallies;
    std::map<std::pair<int, int>, v1::FindingCount> findings;
    std::map<int, std::uint32_t> interviews;
    std::map<std::string, std::pair<v1::PlaceVisited, std::int64_t>> places;
    for (const auto& [id, v] : visits_) {
      if (v.end < from || to < v.start || (lead && !v.lead_on_team)) continue;
      st.set_visits_total(st.visits_total() + 1);
      ++tallies[{facilities_[v.facility].type, v.type, v.announced}];
      for (const auto& [fid, f] : v.findings) {
        v1::FindingCount& c = findings[{f.category(), f.severity()}];
        c.set_category(f.category());
        c.set_severity(f.severity());
        c.set_findings(c.findings() + 1);
        c.set_good_practices(c.good_practices() + (f.good_practice() ? 1 : 0));
      }
      for (v1::InterviewKind k : v.interviews) ++interviews[k];
      auto& [place, taken] = places.try_emplace(v.facility, v1::PlaceVisited(), -1).first->second;
      place.set_visits(place.visits() + 1);
      const std::pair<std::int64_t, v1::OccupancySnapshot>* latest = nullptr;
      for (const auto& o : v.occupancy) {
        if (latest == nullptr || latest->first < o.first) latest = &o;
      }
      if (latest != nullptr) {
        st.set_occupancy_at_visits(st.occupancy_at_visits() + latest->second.total());
        if (latest->first > taken) {
          taken = latest->first;
          place.set_occupancy(latest->second.total());
          place.set_official_capacity(latest->second.official_capacity());
        }
      }
    }
    for (const auto& [k, n] : tallies) {
      v1::VisitTally& t = *st.add_visits();
      t.set_facility_type(static_cast<v1::FacilityType>(std::get<0>(k)));
      t.set_visit_type(static_cast<v1::VisitType>(std::get<1>(k)));
      t.set_announced(std::get<2>(k));
      t.set_visits(n);
    }
    for (const auto& [k, c] : findings) *st.add_findings() = c;
    for (const auto& [k, n] : interviews) {
      st.add_interviews()->set_kind(static_cast<v1::InterviewKind>(k));
      st.mutable_interviews()->rbegin()->set_interviews(n);
    }
    std::vector<v1::PlaceVisited> listed;
    for (auto& [fid, entry] : places) {
      v1::PlaceVisited p = entry.first;
      p.set_facility("records/" + fid);
      p.set_name(facilities_[fid].name);
      p.set_type(facilities_[fid].type);
      if (p.official_capacity() == 0) p.set_official_capacity(facilities_[fid].capacity);
      if (p.official_capacity() > 0 && p.occupancy() > 0) {
        p.set_occupancy_rate(static_cast<double>(p.occupancy()) / p.official_capacity());
        p.set_overcrowded(p.occupancy() > p.official_capacity());
      }
      listed.push_back(p);
    }
    std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
      return std::make_pair(a.name(), a.facility()) < std::make_pair(b.name(), b.facility());
    });
    for (auto& p : listed) *st.add_places() = p;
    std::map<std::pair<std::string, std::string>, std::uint32_t> by;
    v1::ImplementationStatus& impl = *st.mutable_implementation();
    v1::ResponseTimes& times = *st.mutable_response_times();
    std::vector<int> days;
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    for (const auto& [id, r] : recommendations_) {
      const absl::CivilDay issued = DayOf(r.issued_on());
      if (issued < from || to < issued) continue;
      ++by[{r.addressee_authority_id(), r.theme()}];
      impl.set_issued(impl.issued() + 1);
      if (!r.repeats_recommendation_ids().empty()) {
        st.set_repeated_recommendations(st.repeated_recommendations() + 1);
      }
      using S = v1::RecommendationStatus;
      const S status = r.status();
      if (status == v1::RECOMMENDATION_STATUS_IMPLEMENTED)
        impl.set_implemented(impl.implemented() + 1);
      if (status == v1::RECOMMENDATION_STATUS_PARTIALLY_IMPLEMENTED) {
        impl.set_partially_implemented(impl.partially_implemented() + 1);
      }
      if (status == v1::RECOMMENDATION_STATUS_REJECTED) impl.set_rejected(impl.rejected() + 1);
      if (status == v1::RECOMMENDATION_STATUS_OPEN ||
          status == v1::RECOMMENDATION_STATUS_ACCEPTED) {
        if (r.responses().empty()) {
          impl.set_no_response(impl.no_response() + 1);
        } else {
          impl.set_not_implemented(impl.not_implemented() + 1);
        }
      }
      if (r.responses().empty()) {
        if (r.has_deadline() && DayOf(r.deadline()) < today) {
          times.set_no_response_overdue(times.no_response_overdue() + 1);
        } else {
          times.set_no_response_pending(times.no_response_pending() + 1);
        }
        continue;
      }
      absl::CivilDay first = DayOf(r.responses(0).received_on());
      for (const auto& a : r.responses()) first = std::min(first, DayOf(a.received_on()));
      times.set_responded(times.responded() + 1);
      days.push_back(static_cast<int>(first - issued));
      if (!r.has_deadline()) {
        times.set_responded_without_deadline(times.responded_without_deadline() + 1);
      } else if (first <= DayOf(r.deadline())) {
        times.set_responded_by_deadline(times.responded_by_deadline() + 1);
      } else {
        times.set_responded_after_deadline(times.responded_after_deadline() + 1);
      }
    }
    if (impl.issued() > 0) {
      impl.set_implementation_rate(static_cast<double>(impl.implemented()) / impl.issued());
    }
    if (!days.empty()) {
      std::sort(days.begin(), days.end());
      double sum = 0;
      for (int d : days) sum += d;
      times.set_mean_days_to_response(sum / days.size());
      const std::size_t mid = days.size() / 2;
      times.set_median_days_to_response(days.size() % 2 == 1 ? days[mid]
                                                             : (days[mid - 1] + days[mid]) / 2.0);
    }
    for (const auto& [k, n] : by) {
      v1::RecommendationTally& t = *st.add_recommendations();
      t.set_addressee("records/" + k.first);
      const auto at = std::find(authorities_.begin(), authorities_.end(), k.first);
      t.set_addressee_name("Authority " + std::to_string(at - authorities_.begin()));
      t.set_theme(k.second);
      t.set_recommendations(n);
    }
    return st;
  }

  grpc::Status Get(const std::string& user, const v1::DateRange& period, v1::ReportFormat format,
                   v1::GetStatisticsResponse* out) {
    grpc::ClientContext ctx;
    v1::GetStatisticsRequest request;
    *request.mutable_period() = period;
    request.set_format(format);
    return Report(user)->GetStatistics(&ctx, request, out);
  }

  std::vector<std::string> authorities_;
  std::map<std::string, ModelFacility> facilities_;
  std::map<std::string, ModelVisit> visits_;
  std::map<std::string, v1::Recommendation> recommendations_;
};

TEST_F(StatisticsTest, EqualABruteForceComputationOverRandomData) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    authorities_.clear();
    facilities_.clear();
    visits_.clear();
    recommendations_.clear();
    SetUp();  // a fresh server per seed
    Generate(seed);
    for (const v1::DateRange& period :
         {Range(absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 31)),
          Range(absl::CivilDay(2025, 6, 15), absl::CivilDay(2027, 3, 1)),
          Range(absl::CivilDay(2025, 12, 30), absl::CivilDay(2026, 1, 2))}) {
      for (const std::string user : {"reviewer", "lead"}) {
        SCOPED_TRACE(user + " " + period.ShortDebugString());
        v1::GetStatisticsResponse got;
        grpc::Status s = Get(user, period, v1::REPORT_FORMAT_JSON, &got);
        ASSERT_TRUE(s.ok()) << s.error_message();
        const v1::Statistics want = Expected(period, user == "lead");
        std::string diff;
        google::protobuf::util::MessageDifferencer differ;
        differ.ReportDifferencesToString(&diff);
        EXPECT_TRUE(differ.Compare(want, got.statistics())) << diff;
        EXPECT_NE(got.document().content().find("\"period\""), std::string::npos);
        if (period.start().year() == 2025 && period.start().month() == 6) {
          // The wide period holds something to count.
          EXPECT_GT(got.statistics().visits_total(), 1u);
          EXPECT_GT(got.statistics().implementation().issued(), 2u);
          EXPECT_FALSE(got.statistics().findings().empty());
        }
      }
    }
  }
}

TEST_F(StatisticsTest, CsvHoldsTheFiguresAndBadRequestsAreRefused) {
  Generate(7);
  const v1::DateRange year = Range(absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 31));
  v1::GetStatisticsResponse got;
  ASSERT_TRUE(Get("reviewer", year, v1::REPORT_FORMAT_CSV, &got).ok());
  const std::string& csv = got.document().content();
  EXPECT_EQ(got.document().media_type(), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.rfind("table,dimension_1,dimension_2,dimension_3,value\r\n", 0), 0u);
  EXPECT_NE(csv.find("visits_total,,,," + std::to_string(got.statistics().visits_total()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(csv.find("implementation,issued,,," +
                     std::to_string(got.statistics().implementation().issued()) + "\r\n"),
            std::string::npos);
  auto refused = [&](const v1::DateRange& period, v1::ReportFormat format, const std::string& user,
                     grpc::StatusCode code, const std::string& reason) {
    v1::GetStatisticsResponse r;
    grpc::Status s = Get(user, period, format, &r);
    EXPECT_EQ(s.error_code(), code) << period.ShortDebugString();
    EXPECT_EQ(Reason(s), reason);
  };
  refused(v1::DateRange(), v1::REPORT_FORMAT_JSON, "reviewer", grpc::StatusCode::INVALID_ARGUMENT,
          "FILTER_INVALID");
  refused(Range(absl::CivilDay(2026, 2, 1), absl::CivilDay(2026, 1, 1)), v1::REPORT_FORMAT_JSON,
          "reviewer", grpc::StatusCode::INVALID_ARGUMENT, "FILTER_INVALID");
  refused(Range(absl::CivilDay(2000, 1, 1), absl::CivilDay(2026, 1, 1)), v1::REPORT_FORMAT_JSON,
          "reviewer", grpc::StatusCode::INVALID_ARGUMENT, "FILTER_INVALID");
  refused(year, v1::REPORT_FORMAT_HTML, "reviewer", grpc::StatusCode::INVALID_ARGUMENT,
          "FORMAT_INVALID");
  refused(year, v1::REPORT_FORMAT_JSON, "admin", grpc::StatusCode::PERMISSION_DENIED,
          "SCOPE_NOT_PERMITTED");
}

}  // namespace
}  // namespace vigil
