// Child process of crash_test.cc: commits from several threads until it is
// killed, printing "<key> <first_seq> <last_seq>" for every request only
// after the pipeline completed it (that is, after it was durable).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "storage/key_codec.h"
#include "storage/storage.h"

int main(int argc, char** argv) {
  using namespace vigil::storage;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DB_PATH TAG\n", argv[0]);
    return 2;
  }
  auto storage = Storage::Open(argv[1], StorageOptions());
  if (!storage.ok()) {
    std::fprintf(stderr, "open: %s\n", storage.status().ToString().c_str());
    return 1;
  }
  const std::string tag = argv[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0;; ++i) {
        std::string key = tag + "/" + std::to_string(t) + "/" + std::to_string(i);
        int count = 1 + static_cast<int>(i % 3);
        auto result = (*storage)->Commit([&](CommitContext& ctx) {
          std::string value(512, 'x');
          for (int n = 0; n < count; ++n) {
            std::uint64_t seq = ctx.NextSeq();
            ctx.Put(ColumnFamily::kChanges, KeyBuilder().AddUint64(seq).key(), key);
          }
          ctx.Put(ColumnFamily::kRecords, key, value);
          return absl::OkStatus();
        });
        if (!result.ok()) {
          std::fprintf(stderr, "commit: %s\n", result.status().ToString().c_str());
          _exit(1);
        }
        std::string line = key + " " + std::to_string(result->first_seq) + " " +
                           std::to_string(result->last_seq) + "\n";
        if (write(STDOUT_FILENO, line.data(), line.size()) < 0) _exit(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}
