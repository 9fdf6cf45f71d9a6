// bench_storage: the commit pipeline against RocksDB's own synced WriteBatch
// on the same disk, in one run. Load: batches of 100 x 1 KiB records,
// fsync on every commit. Raw is one writer (RocksDB's ceiling for this load);
// the pipeline gets the same number of batches from 8 concurrent submitters.
//
// Usage: bench_storage [--dir DIR (default ./vigil-bench-storage-PID, removed after)] [--batches N] [--submitters N]
// Last line: {"raw_records_per_s": ..., "pipeline_records_per_s": ..., "ratio": ...}
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/key_codec.h"
#include "storage/storage.h"
#include "storage/write_ceiling.h"

namespace {

using namespace vigil::storage;

constexpr int kRecordsPerBatch = 100;
constexpr int kValueBytes = 1024;

double MeasurePipeline(const std::string& dir, int batches, int submitters) {
  auto storage = Storage::Open(dir, StorageOptions());
  if (!storage.ok()) {
    std::fprintf(stderr, "open: %s\n", storage.status().ToString().c_str());
    std::exit(1);
  }
  const std::string value(kValueBytes, 'v');
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < submitters; ++t) {
    threads.emplace_back([&, t] {
      for (int b = t; b < batches; b += submitters) {
        auto result = (*storage)->Commit([&](CommitContext& ctx) {
          for (int r = 0; r < kRecordsPerBatch; ++r) {
            ctx.Put(ColumnFamily::kRecords, KeyBuilder().AddUint64(ctx.NextSeq()).key(),
                    value);
          }
          return absl::OkStatus();
        });
        if (!result.ok()) {
          std::fprintf(stderr, "commit: %s\n", result.status().ToString().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  double records = static_cast<double>((*storage)->LastCommittedSeq());
  return records / elapsed.count();
}

}  // namespace

int main(int argc, char** argv) {
  // Under the working directory by default: /tmp may be a tmpfs, where fsync
  // costs nothing and the figures would mean nothing.
  std::string dir = "vigil-bench-storage-" + std::to_string(getpid());
  int batches = 2000;
  int submitters = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    else if (std::strcmp(argv[i], "--batches") == 0) batches = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--submitters") == 0) submitters = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (batches <= 0 || submitters <= 0) {
    std::fprintf(stderr, "--batches and --submitters must be positive\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  CeilingOptions ceiling;
  ceiling.records_per_batch = kRecordsPerBatch;
  ceiling.value_bytes = kValueBytes;
  ceiling.batches = batches;
  auto raw = MeasureRawWriteCeiling(dir + "/raw", ceiling);
  if (!raw.ok()) {
    std::fprintf(stderr, "raw: %s\n", raw.status().ToString().c_str());
    return 1;
  }
  double pipeline = MeasurePipeline(dir + "/pipeline", batches, submitters);
  std::filesystem::remove_all(dir);
  std::printf("raw (1 writer, sync):        %.0f records/s\n", *raw);
  std::printf("pipeline (%d submitters):     %.0f records/s\n", submitters, pipeline);
  std::printf("{\"raw_records_per_s\": %.0f, \"pipeline_records_per_s\": %.0f, "
              "\"ratio\": %.3f}\n",
              *raw, pipeline, pipeline / *raw);
  return 0;
}
