// bench_review: latency of the review queries over the visit index, on a
// small and a large database in the same run, so that what grows with the
// database shows as a ratio.
//
//   build/bench/bench_review [--records N] [--visits N] [--small-records N]
//                            [--small-visits N] [--queries N] [--compact 1|0]
//                            [--dir DIR]
//
// Each database holds `visits` visits, ten per facility, 60% of them waiting
// in the review queue, and `records` records in all (findings spread evenly
// over the visits, the Visit records included; one occupancy snapshot per
// visit besides), written through the record engine's push path (sync writes off
// for the setup only), then (unless --compact 0) compacted, so that both are
// read from files as a running server's are once its writes are flushed,
// not the small one from the memtable. Measured, `queries` times each, from
// a reviewer: ListVisits by facility and by state, ListReviewQueue,
// ListFindings by category (across every visit) and by facility and
// severity, all 50 per page, and GetFacilityHistory; the annual statistics
// of the year every visit is in (GetStatistics: the whole large database,
// 1,000,000 records by default) and a visit's report (ReadVisitReport,
// rendered as HTML). Target: every p99 of the review queries under 10 ms,
// each p50 on the large database at most 1.5 times the small one's, and
// the statistics' p99 under 100 ms (JSON keys statistics_p99_ms and
// report_p99_ms). Last line: one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/auth/access_policy.h"
#include "server/auth/identity_store.h"
#include "server/records/record_store.h"
#include "server/records/report_render.h"
#include "server/records/review_queries.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "sync/ids.h"

namespace {

using namespace vigil;

struct Flags {
  std::uint64_t records = 1'000'000, visits = 5'000;
  std::uint64_t small_records = 20'000, small_visits = 100;
  int queries = 300;
  bool compact = true;
  std::string dir;
};

std::string Id(std::mt19937_64& rng, absl::Time at) {
  sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<std::uint8_t>(rng());
  return *sync::NewUuidV7(at, random);
}

void Die(const absl::Status& s, const std::string& what) {
  if (s.ok()) return;
  std::cerr << what << ": " << s << "\n";
  std::exit(1);
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
};

Latency Measure(int n, const std::function<void()>& query) {
  std::vector<double> ms;
  ms.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    query();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                           start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

// One database and the figures measured on it.
struct Run {
  std::map<std::string, Latency> figures;
};

Run Bench(const std::string& dir, std::uint64_t record_count, std::uint64_t visit_count,
          int queries, bool compact) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  storage::StorageOptions options;
  options.sync_writes = false;  // setup only: the queries read
  auto storage = storage::Storage::Open(dir + "/db", options);
  Die(storage.status(), "open");
  Die(storage::KeyRing::Generate(dir + "/data.key"), "key");
  auto keys = storage::KeyRing::Load(dir + "/data.key");
  Die(keys.status(), "keys");
  server::IdentityStore identities(storage->get());
  server::AccessPolicy policy(&identities);
  auto records = server::RecordStore::Create(storage->get(), keys->get(), &policy,
                                             server::RecordStoreOptions());
  Die(records.status(), "records");
  auto queries_or = server::ReviewQueries::Create(storage->get(), keys->get(), &policy);
  Die(queries_or.status(), "queries");
  server::ReviewQueries& review = **queries_or;
  const server::Caller reviewer{"reviewer", "bench-device", v1::ROLE_NPM_REVIEWER};

  std::mt19937_64 rng(42);
  absl::Time at = absl::FromUnixSeconds(1'750'000'000);
  std::int64_t hlc = 1'750'000'000'000'000;
  auto push = [&](v1::PushRequest request) {
    absl::Notification done;
    absl::Status status;
    (*records)->Push(reviewer, std::move(request), [&](absl::StatusOr<v1::PushResponse> r) {
      status = r.status();
      done.Notify();
    });
    done.WaitForNotification();
    Die(status, "push");
  };
  auto mutation = [&](const std::string& id, std::uint64_t base, const v1::RecordBody& body,
                      const std::string& scope) {
    v1::Mutation m;
    m.set_mutation_id(Id(rng, at));
    m.set_record_id(id);
    m.set_base_revision(base);
    *m.mutable_body() = body;
    m.mutable_hlc()->set_wall_time_micros(++hlc);
    m.set_scope(scope);
    return m;
  };

  // Facilities, ten visits each.
  const std::uint64_t facility_count = std::max<std::uint64_t>(1, visit_count / 10);
  std::vector<std::string> facilities;
  v1::PushRequest batch;
  for (std::uint64_t f = 0; f < facility_count; ++f) {
    facilities.push_back(Id(rng, at));
    v1::RecordBody body;
    body.mutable_facility()->set_name(absl::StrCat("Facility ", f));
    body.mutable_facility()->set_type(static_cast<v1::FacilityType>(1 + f % 10));
    *batch.add_mutations() = mutation(facilities.back(), 0, body, "registry");
    if (batch.mutations_size() == 500) push(std::exchange(batch, {}));
  }
  if (batch.mutations_size() > 0) push(std::exchange(batch, {}));

  // Visits with their findings; 60% then submitted (queued), one in six of
  // those taken into review, so that a page of 50 submitted visits is full
  // on the small database too.
  std::vector<std::string> visits;
  const std::uint64_t per_visit = std::max<std::uint64_t>(1, record_count / visit_count);
  for (std::uint64_t v = 0; v < visit_count; ++v) {
    at += absl::Seconds(1);
    const std::string id = Id(rng, at);
    visits.push_back(id);
    const std::string scope = "visits/" + id;
    v1::RecordBody visit;
    visit.mutable_visit()->set_facility_id(facilities[v % facility_count]);
    visit.mutable_visit()->set_type(static_cast<v1::VisitType>(1 + v % 4));
    visit.mutable_visit()->set_announced(v % 3 != 0);
    visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_PROGRESS);
    // Every visit in one year: the annual statistics read all of them.
    v1::DateRange& window = *visit.mutable_visit()->mutable_planned_window();
    window.mutable_start()->set_year(2026);
    window.mutable_start()->set_month(1 + static_cast<int>(v % 12));
    window.mutable_start()->set_day(1 + static_cast<int>(v % 27));
    *window.mutable_end() = window.start();
    *batch.add_mutations() = mutation(id, 0, visit, scope);
    for (std::uint64_t r = 1; r < per_visit; ++r) {
      v1::RecordBody finding;
      finding.mutable_finding()->set_visit_id(id);
      finding.mutable_finding()->set_title(absl::StrCat("Finding ", r, " of visit ", v));
      finding.mutable_finding()->set_category(static_cast<v1::FindingCategory>(1 + r % 8));
      finding.mutable_finding()->set_severity(static_cast<v1::Severity>(1 + r % 4));
      finding.mutable_finding()->set_subcategory(absl::StrCat("sub-", r % 20));
      finding.mutable_finding()->set_good_practice(r % 10 == 0);
      finding.mutable_finding()->set_narrative(
          "Cells 12 to 18 hold three people each.\nThey were built for one.\n");
      *batch.add_mutations() = mutation(Id(rng, at), 0, finding, scope);
      if (batch.mutations_size() == 500) push(std::exchange(batch, {}));
    }
    // One occupancy snapshot per visit, for its facility's history.
    v1::RecordBody occupancy;
    occupancy.mutable_occupancy_snapshot()->set_visit_id(id);
    occupancy.mutable_occupancy_snapshot()->mutable_taken_at()->set_seconds(
        absl::ToUnixSeconds(at));
    occupancy.mutable_occupancy_snapshot()->set_total(100 + v % 50);
    occupancy.mutable_occupancy_snapshot()->set_official_capacity(120);
    *batch.add_mutations() = mutation(Id(rng, at), 0, occupancy, scope);
    if (v % 10 < 6) {
      if (batch.mutations_size() > 0) push(std::exchange(batch, {}));
      visit.mutable_visit()->set_state(v1::VISIT_STATE_SUBMITTED);
      *batch.add_mutations() = mutation(id, 1, visit, scope);
      if (v % 10 == 0) {
        push(std::exchange(batch, {}));
        visit.mutable_visit()->set_state(v1::VISIT_STATE_IN_REVIEW);
        *batch.add_mutations() = mutation(id, 2, visit, scope);
      }
    }
    if (batch.mutations_size() >= 500) push(std::exchange(batch, {}));
  }
  if (batch.mutations_size() > 0) push(std::exchange(batch, {}));

  // Recommendations issued that year, two per facility, to five authorities.
  std::vector<std::string> authorities;
  for (int a = 0; a < 5; ++a) {
    authorities.push_back(Id(rng, at));
    v1::RecordBody body;
    body.mutable_authority()->set_name(absl::StrCat("Authority ", a));
    *batch.add_mutations() = mutation(authorities.back(), 0, body, "registry");
  }
  for (std::uint64_t r = 0; r < 2 * facility_count; ++r) {
    v1::RecordBody body;
    v1::Recommendation& rec = *body.mutable_recommendation();
    rec.set_addressee_authority_id(authorities[r % authorities.size()]);
    rec.set_facility_id(facilities[r % facility_count]);
    rec.set_theme(absl::StrCat("theme-", r % 7));
    rec.set_text("Give every detainee an hour outdoors each day.");
    rec.set_status(static_cast<v1::RecommendationStatus>(1 + r % 5));
    rec.mutable_issued_on()->set_year(2026);
    rec.mutable_issued_on()->set_month(1 + static_cast<int>(r % 12));
    rec.mutable_issued_on()->set_day(1);
    *batch.add_mutations() = mutation(Id(rng, at), 0, body, "registry");
    if (batch.mutations_size() == 500) push(std::exchange(batch, {}));
  }
  if (batch.mutations_size() > 0) push(std::exchange(batch, {}));

  // Both databases as a running server's are once its writes are flushed
  // and compacted: read from files, not from the memtable.
  if (compact) Die((*storage)->CompactAll(), "compact");
  // For a profiler to attach to the queries alone.
  std::cerr << "measuring " << dir << std::endl;
  Run run;
  auto check = [](const absl::Status& s) { Die(s, "query"); };
  std::uint64_t q = 0;
  run.figures["list_visits_by_facility"] = Measure(queries, [&] {
    v1::ListVisitsRequest request;
    request.set_facility_id(facilities[(q++ * 7919) % facility_count]);
    request.set_page_size(50);
    auto r = review.ListVisits(reviewer, request);
    check(r.status());
  });
  run.figures["list_visits_by_state"] = Measure(queries, [&] {
    v1::ListVisitsRequest request;
    request.set_state(v1::VISIT_STATE_SUBMITTED);
    request.set_page_size(50);
    auto r = review.ListVisits(reviewer, request);
    check(r.status());
  });
  run.figures["list_review_queue"] = Measure(queries, [&] {
    v1::ListReviewQueueRequest request;
    request.set_page_size(50);
    auto r = review.ListReviewQueue(reviewer, request, absl::Now());
    check(r.status());
  });
  run.figures["list_findings_by_category"] = Measure(queries, [&] {
    v1::ListFindingsRequest request;
    request.set_category(static_cast<v1::FindingCategory>(1 + q++ % 8));
    request.set_page_size(50);
    auto r = review.ListFindings(reviewer, "", request);
    check(r.status());
    if (r->findings_size() != 50) Die(absl::InternalError("short page"), "findings");
  });
  run.figures["list_findings_by_facility"] = Measure(queries, [&] {
    v1::ListFindingsRequest request;
    request.set_facility_id(facilities[(q++ * 7919) % facility_count]);
    request.set_severity(v1::SEVERITY_HIGH);
    request.set_page_size(50);
    auto r = review.ListFindings(reviewer, "", request);
    check(r.status());
  });
  run.figures["get_facility_history"] = Measure(queries, [&] {
    auto r = review.GetFacilityHistory(reviewer, facilities[(q++ * 7919) % facility_count]);
    check(r.status());
    if (r->visits_size() == 0) Die(absl::InternalError("no visits"), "history");
  });
  run.figures["statistics"] = Measure(std::max(10, queries / 10), [&] {
    v1::DateRange year;
    year.mutable_start()->set_year(2026);
    year.mutable_start()->set_month(1);
    year.mutable_start()->set_day(1);
    year.mutable_end()->set_year(2026);
    year.mutable_end()->set_month(12);
    year.mutable_end()->set_day(31);
    auto r = review.GetStatistics(reviewer, year, absl::Now());
    check(r.status());
    if (r->visits_total() != visit_count) Die(absl::InternalError("visits missed"), "statistics");
  });
  run.figures["report"] = Measure(queries, [&] {
    absl::Notification done;
    absl::Status status;
    review.ReadVisitReport(reviewer, visits[(q++ * 7919) % visits.size()], absl::Now(),
                           [&](absl::StatusOr<server::ReviewQueries::ReportRead> r) {
                             if (r.ok()) {
                               status = server::RenderReport(r->report, v1::REPORT_FORMAT_HTML)
                                            .status();
                             } else {
                               status = r.status();
                             }
                             done.Notify();
                           });
    done.WaitForNotification();
    check(status);
  });
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.dir = (std::filesystem::temp_directory_path() / "vigil-bench-review").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--records") flags.records = std::stoull(value);
    else if (name == "--visits") flags.visits = std::stoull(value);
    else if (name == "--small-records") flags.small_records = std::stoull(value);
    else if (name == "--small-visits") flags.small_visits = std::stoull(value);
    else if (name == "--queries") flags.queries = std::stoi(value);
    else if (name == "--dir") flags.dir = value;
    else if (name == "--compact") flags.compact = value != "0";
    else {
      std::cerr << "unknown flag " << name << "\n";
      return 2;
    }
  }
  const auto setup_start = std::chrono::steady_clock::now();
  Run small = Bench(flags.dir + "/small", flags.small_records, flags.small_visits, flags.queries,
                    flags.compact);
  Run large = Bench(flags.dir + "/large", flags.records, flags.visits, flags.queries,
                    flags.compact);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  std::filesystem::remove_all(flags.dir);
  // The statistics read the whole year (every visit of the large database):
  // their own target, 100 ms, and no growth bound; the other queries 10 ms.
  double p99_max = 0, growth_max = 0;
  std::string json = absl::StrCat("{\"compacted\":", flags.compact ? "true" : "false",
                                  ",\"records\":", flags.records, ",\"visits\":", flags.visits,
                                  ",\"small_records\":", flags.small_records,
                                  ",\"small_visits\":", flags.small_visits);
  std::printf("%-26s %10s %10s %10s %10s %8s\n", "query", "p50 small", "p50 large", "p99 small",
              "p99 large", "growth");
  for (const auto& [name, l] : large.figures) {
    const Latency& s = small.figures[name];
    const double growth = l.p50_ms / std::max(s.p50_ms, 1e-6);
    if (name != "statistics" && name != "report") {
      p99_max = std::max({p99_max, l.p99_ms, s.p99_ms});
      growth_max = std::max(growth_max, growth);
    }
    std::printf("%-26s %8.3fms %8.3fms %8.3fms %8.3fms %8.2f\n", name.c_str(), s.p50_ms, l.p50_ms,
                s.p99_ms, l.p99_ms, growth);
    absl::StrAppend(&json, ",\"", name, "_p50_ms\":", l.p50_ms, ",\"", name,
                    "_p99_ms\":", l.p99_ms, ",\"", name, "_growth\":", growth);
  }
  absl::StrAppend(&json, ",\"p99_ms_max\":", p99_max, ",\"growth_ratio_max\":", growth_max,
                  ",\"seconds\":", seconds, ",\"target_met\":",
                  (p99_max < 10 && growth_max < 1.5 && large.figures["statistics"].p99_ms < 100)
                      ? "true"
                      : "false",
                  "}");
  std::cout << json << std::endl;
  return 0;
}
