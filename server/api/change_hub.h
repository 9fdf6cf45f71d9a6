// Fans "scope S changed up to seq N" out to Subscribe streams. Notices carry
// no record data. A slow subscriber never blocks commits: while one write is
// in flight, newer notices for a scope replace older ones.
#ifndef VIGIL_SERVER_API_CHANGE_HUB_H_
#define VIGIL_SERVER_API_CHANGE_HUB_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "vigil/v1/sync.pb.h"

namespace vigil::server {

class ChangeHub;

// One Subscribe stream.
class SubscribeReactor final : public grpc::ServerWriteReactor<vigil::v1::ChangeNotice> {
 public:
  // Registers with `hub` and sends one notice per scope at `current_seq`.
  // `user` and `device` are the subscriber's, so that revoking the device,
  // disabling the user or taking them off a team ends the stream.
  SubscribeReactor(ChangeHub* hub, std::set<std::string> scopes, std::uint64_t current_seq,
                   std::string user, std::string device);

  const std::set<std::string>& scopes() const { return scopes_; }
  const std::string& user() const { return user_; }
  const std::string& device() const { return device_; }
  // Queues a notice (latest seq per scope wins) and writes if idle.
  void Offer(const std::string& scope, std::uint64_t seq);
  // Ends the stream (server shutdown: OK; revocation: the status given).
  void Close(grpc::Status status = grpc::Status::OK);

  // The hub holds a reference while it calls Offer or Close outside its
  // lock; the stream holds one until OnDone. The last one deletes.
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Starts the next write if none is in flight. Called without mu_ held:
  // gRPC may run a reaction inline from StartWrite or Finish.
  void Pump();
  // Finishes once, whoever gets here first.
  void FinishOnce(grpc::Status status);

  ChangeHub* hub_;
  const std::set<std::string> scopes_;
  const std::string user_;
  const std::string device_;
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  std::map<std::string, std::uint64_t> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Finish was decided; it is called once no write is in flight (never while
  // one is, and no write starts after).
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  vigil::v1::ChangeNotice current_;
};

class ChangeHub {
 public:
  // Never calls into a stream while holding its own lock, since gRPC may run
  // a stream's reactions (including OnDone, which calls Remove) inline.
  // False once CloseAll ran: the stream must end at once.
  bool Add(SubscribeReactor* reactor);
  void Remove(SubscribeReactor* reactor);
  void Notify(const std::vector<std::pair<std::string, std::uint64_t>>& changes);
  // Ends every stream, and every later one at once, so that server shutdown
  // does not wait for clients.
  void CloseAll();
  // Ends the streams of `user` (when not empty) and of `device` (when not
  // empty) with `status`: their rights changed, they must subscribe again.
  void CloseFor(const std::string& user, const std::string& device, const grpc::Status& status);

 private:
  absl::Mutex mu_;
  // Takes a reference on every registered stream.
  std::vector<SubscribeReactor*> Snapshot();

  std::set<SubscribeReactor*> reactors_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_CHANGE_HUB_H_
