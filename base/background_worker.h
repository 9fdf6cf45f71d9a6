// One thread that runs long blocking jobs (backups) off the gRPC reactors,
// in submission order.
#ifndef VIGIL_BASE_BACKGROUND_WORKER_H_
#define VIGIL_BASE_BACKGROUND_WORKER_H_

#include <deque>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace vigil::server {

class BackgroundWorker {
 public:
  BackgroundWorker() : thread_([this] { Run(); }) {}
  // Runs every job already posted, then joins.
  ~BackgroundWorker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  void Post(absl::AnyInvocable<void()> job) {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(job));
  }

 private:
  void Run() {
    while (true) {
      absl::AnyInvocable<void()> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](BackgroundWorker* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
              return !w->jobs_.empty() || w->stopping_;
            },
            this));
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vigil::server

#endif  // VIGIL_BASE_BACKGROUND_WORKER_H_
