// bench_sync: N concurrent simulated tablets push batches of 100 records of
// about 1 KiB to a real vigild process over gRPC, then one fresh replica
// pulls everything. Reports push and pull records/s, push latency p50/p99,
// the server's peak RSS, and, in the same run and on the same disk, the raw
// ceiling (RocksDB WriteBatch of 100 x 1 KiB with sync=true, measured before
// and after the push; the higher counts) and the push ratio to it.
//
// Usage: bench_sync [--tablets N (8)] [--records N (1000000)] [--dir DIR]
// Last line: {"ceiling_records_per_s": ..., "push_records_per_s": ...,
//   "push_ratio": ..., "push_p50_ms": ..., "push_p99_ms": ...,
//   "pull_records_per_s": ..., "server_peak_rss_mib": ...}
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "storage/write_ceiling.h"
#include "sync/ids.h"
#include "tests/testing/enroll.h"
#include "tests/testing/subprocess.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBatch = 100;

std::string NewId(std::mt19937_64& rng) {
  vigil::sync::UuidRandomBytes random;
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  return *vigil::sync::NewUuidV7(absl::Now(), random);
}

long RssKib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return 0;
}

// CPU seconds (user + system) of the process, or of one of its threads.
double CpuSeconds(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i >= 12) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Thread id -> CPU seconds, for every thread of `pid`.
std::map<std::string, double> ThreadCpuSeconds(pid_t pid) {
  std::map<std::string, double> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    out[entry.path().filename().string()] = CpuSeconds(entry.path().string() + "/stat");
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int tablets = 8;
  long records = 1000000;
  std::string dir = "vigil-bench-sync-" + std::to_string(getpid());
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tablets")) tablets = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--records")) records = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (tablets <= 0 || records < tablets * kBatch) {
    std::fprintf(stderr, "need --tablets > 0 and --records >= tablets * %d\n", kBatch);
    return 2;
  }
  std::filesystem::create_directories(dir);
  dir = std::filesystem::absolute(dir).string();

  // The disk's fsync latency drifts on a shared machine, so the ceiling is
  // measured before and again right after the push, and the higher figure
  // (the harder target) is the one the push is compared with.
  auto ceiling = vigil::storage::MeasureRawWriteCeiling(dir + "/ceiling", {});
  if (!ceiling.ok()) {
    std::fprintf(stderr, "ceiling: %s\n", ceiling.status().ToString().c_str());
    return 1;
  }

  vigil::testing::Subprocess server({VIGIL_VIGILD, "--data-dir", dir + "/data", "--listen",
                                     "127.0.0.1:0", "--plaintext-loopback"},
                                    dir + "/vigild.log");
  if (!server.WaitForOutput("\"event\":\"server.listening\"")) {
    std::fprintf(stderr, "vigild did not start:\n%s\n", server.Output().c_str());
    return 1;
  }
  std::smatch match;
  const std::string log = server.Output();
  if (!std::regex_search(log, match, std::regex("\"address\":\"127\\.0\\.0\\.1:([0-9]+)\""))) {
    std::fprintf(stderr, "no port in vigild log\n");
    return 1;
  }
  const std::string target = "127.0.0.1:" + match[1].str();
  const pid_t server_pid = server.pid();
  std::string admin_token;
  std::ifstream(dir + "/data/initial-admin-token") >> admin_token;
  // Each tablet is a field monitor's enrolled device on its own visit's team,
  // so every call pays for authentication and authorization as in the field.
  std::vector<std::string> scopes(tablets);
  std::vector<std::string> tokens(tablets);
  {
    std::mt19937_64 rng(12345);
    for (int t = 0; t < tablets; ++t) {
      const std::string visit = NewId(rng);
      const std::string user = "monitor-" + std::to_string(t);
      scopes[t] = "visits/" + visit;
      auto token = vigil::testing::EnrollUser(target, admin_token, user,
                                              vigil::v1::ROLE_FIELD_MONITOR);
      absl::Status team = token.ok() ? vigil::testing::AddToTeam(target, admin_token, visit, user,
                                                                vigil::v1::TEAM_ROLE_MONITOR)
                                     : token.status();
      if (!team.ok()) {
        std::fprintf(stderr, "enrollment failed: %s\n", team.ToString().c_str());
        return 1;
      }
      tokens[t] = *token;
    }
  }
  auto reviewer = vigil::testing::EnrollUser(target, admin_token, "reviewer",
                                             vigil::v1::ROLE_NPM_REVIEWER);
  if (!reviewer.ok()) {
    std::fprintf(stderr, "enrollment failed: %s\n", reviewer.status().ToString().c_str());
    return 1;
  }

  std::atomic<bool> sampling{true};
  std::atomic<long> peak_rss_kib{0};
  std::thread sampler([&] {
    while (sampling) {
      peak_rss_kib = std::max(peak_rss_kib.load(), RssKib(server_pid, "VmRSS:"));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  // Push: every tablet its own visit, batches of 100 creates of ~1 KiB.
  const long batches_per_tablet = records / tablets / kBatch;
  std::vector<std::vector<double>> latencies(tablets);
  std::atomic<long> pushed{0};
  std::atomic<bool> failed{false};
  const std::string narrative = [] {
    std::string s;
    for (int line = 0; s.size() < 900; ++line) {
      s += "Line " + std::to_string(line) + ": cell 14 has no ventilation, 6 detainees.\n";
    }
    return s;
  }();
  const std::string server_stat = "/proc/" + std::to_string(server_pid) + "/stat";
  const double cpu_before_push = CpuSeconds(server_stat);
  const double tablets_cpu_before_push = CpuSeconds("/proc/self/stat");
  const auto threads_before_push = ThreadCpuSeconds(server_pid);
  const auto push_start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < tablets; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      auto stub = vigil::v1::SyncService::NewStub(vigil::testing::BearerChannel(target, tokens[t]));
      for (long b = 0; b < batches_per_tablet && !failed; ++b) {
        vigil::v1::PushRequest request;
        for (int r = 0; r < kBatch; ++r) {
          auto* m = request.add_mutations();
          m->set_mutation_id(NewId(rng));
          m->set_record_id(NewId(rng));
          m->set_scope(scopes[t]);
          m->set_author("monitor-" + std::to_string(t));
          m->set_device_id("tablet-" + std::to_string(t));
          m->mutable_hlc()->set_wall_time_micros(absl::ToUnixMicros(absl::Now()));
          auto* f = m->mutable_body()->mutable_finding();
          f->set_title("Overcrowding in block " + std::to_string(r));
          f->set_category(vigil::v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
          f->set_narrative(narrative);
        }
        grpc::ClientContext context;
        vigil::v1::PushResponse response;
        const auto start = Clock::now();
        grpc::Status s = stub->Push(&context, request, &response);
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!s.ok()) {
          std::fprintf(stderr, "push failed: %s\n", s.error_message().c_str());
          failed = true;
          return;
        }
        pushed += kBatch;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double push_seconds = std::chrono::duration<double>(Clock::now() - push_start).count();
  if (failed) return 1;
  // Where the server spent the push: its CPU per record, and how busy its
  // busiest thread (the commit writer) was; near 100% means push is bound
  // by that one thread, not by the disk or the network.
  const double push_cpu_seconds = CpuSeconds(server_stat) - cpu_before_push;
  const double tablets_cpu_seconds = CpuSeconds("/proc/self/stat") - tablets_cpu_before_push;
  double busiest_thread_seconds = 0;
  for (const auto& [tid, seconds] : ThreadCpuSeconds(server_pid)) {
    auto before = threads_before_push.find(tid);
    busiest_thread_seconds = std::max(
        busiest_thread_seconds,
        seconds - (before == threads_before_push.end() ? 0.0 : before->second));
  }

  auto ceiling_after = vigil::storage::MeasureRawWriteCeiling(dir + "/ceiling-after", {});
  if (!ceiling_after.ok()) {
    std::fprintf(stderr, "ceiling: %s\n", ceiling_after.status().ToString().c_str());
    return 1;
  }
  const double ceiling_before = *ceiling;
  *ceiling = std::max(*ceiling, *ceiling_after);

  // Pull: one fresh replica (a reviewer's device) takes everything.
  long pulled = 0;
  auto stub = vigil::v1::SyncService::NewStub(vigil::testing::BearerChannel(target, *reviewer));
  const double server_cpu_before_pull = CpuSeconds(server_stat);
  const double client_cpu_before_pull = CpuSeconds("/proc/self/stat");
  const auto pull_start = Clock::now();
  for (const std::string& scope : scopes) {
    std::string cursor;
    while (true) {
      grpc::ClientContext context;
      vigil::v1::PullRequest request;
      request.set_scope(scope);
      request.set_cursor(cursor);
      request.set_limit(1000);
      vigil::v1::PullResponse page;
      grpc::Status s = stub->Pull(&context, request, &page);
      if (!s.ok()) {
        std::fprintf(stderr, "pull failed: %s\n", s.error_message().c_str());
        return 1;
      }
      pulled += page.records_size();
      cursor = page.next_cursor();
      if (!page.has_more()) break;
    }
  }
  const double pull_seconds = std::chrono::duration<double>(Clock::now() - pull_start).count();
  const double pull_server_cpu = CpuSeconds(server_stat) - server_cpu_before_pull;
  const double pull_client_cpu = CpuSeconds("/proc/self/stat") - client_cpu_before_pull;
  sampling = false;
  sampler.join();
  const long hwm = RssKib(server_pid, "VmHWM:");
  server.Signal(SIGTERM);
  const int exit_code = server.Wait();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const double push_rate = pushed / push_seconds;
  const double pull_rate = pulled / pull_seconds;
  const double rss_mib = std::max(peak_rss_kib.load(), hwm) / 1024.0;
  std::printf("raw ceiling (100 x 1 KiB, sync): %.0f records/s (before push %.0f, after %.0f)\n",
              *ceiling, ceiling_before, *ceiling_after);
  std::printf("push (%d tablets, %ld records):  %.0f records/s, p50 %.1f ms, p99 %.1f ms\n",
              tablets, pushed.load(), push_rate, Percentile(all, 0.5), Percentile(all, 0.99));
  std::printf(
      "during push: server %.1f us CPU per record (busiest thread %.0f%% busy), "
      "simulated tablets %.1f us\n",
      1e6 * push_cpu_seconds / static_cast<double>(pushed.load()),
      100 * busiest_thread_seconds / push_seconds,
      1e6 * tablets_cpu_seconds / static_cast<double>(pushed.load()));
  std::printf("pull (1 replica, %ld records):   %.0f records/s\n", pulled, pull_rate);
  std::printf("during pull: server %.1f us CPU per record, replica %.1f us (%.0f%% / %.0f%% busy)\n",
              1e6 * pull_server_cpu / static_cast<double>(std::max(pulled, 1L)),
              1e6 * pull_client_cpu / static_cast<double>(std::max(pulled, 1L)),
              100 * pull_server_cpu / pull_seconds, 100 * pull_client_cpu / pull_seconds);
  std::printf("server peak RSS: %.0f MiB; vigild exit %d\n", rss_mib, exit_code);
  if (pulled != pushed) std::printf("WARNING: pulled %ld of %ld records\n", pulled, pushed.load());
  std::printf(
      "{\"ceiling_records_per_s\": %.0f, \"push_records_per_s\": %.0f, \"push_ratio\": %.3f, "
      "\"push_p50_ms\": %.2f, \"push_p99_ms\": %.2f, \"pull_records_per_s\": %.0f, "
      "\"server_peak_rss_mib\": %.0f}\n",
      *ceiling, push_rate, push_rate / *ceiling, Percentile(all, 0.5), Percentile(all, 0.99),
      pull_rate, rss_mib);
  return pulled == pushed ? 0 : 1;
}
