#include "server/api/change_hub.h"

namespace vigil::server {

SubscribeReactor::SubscribeReactor(ChangeHub* hub, std::set<std::string> scopes,
                                   std::uint64_t current_seq, std::string user,
                                   std::string device)
    : hub_(hub), scopes_(std::move(scopes)), user_(std::move(user)), device_(std::move(device)) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& scope : scopes_) pending_[scope] = current_seq;
  }
  if (!hub_->Add(this)) {
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
    return;
  }
  Pump();
}

void SubscribeReactor::Offer(const std::string& scope, std::uint64_t seq) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    auto& pending = pending_[scope];
    pending = std::max(pending, seq);
  }
  Pump();
}

void SubscribeReactor::Pump() {
  bool finish_now = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    if (finishing_) {
      finished_ = true;
      finish_now = true;
      status = final_status_;
    } else {
      if (pending_.empty()) return;
      auto first = pending_.begin();
      current_.set_scope(first->first);
      current_.set_seq(first->second);
      pending_.erase(first);
      writing_ = true;
    }
  }
  // Outside the lock: gRPC may run a reaction inline. Exactly one of the two
  // happens per call, and Finish never overlaps a write.
  if (finish_now) {
    Finish(std::move(status));
  } else {
    StartWrite(&current_);
  }
}

void SubscribeReactor::FinishOnce(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
    final_status_ = std::move(status);
  }
  Pump();  // finishes now, or OnWriteDone does once the write in flight ends
}

void SubscribeReactor::Close(grpc::Status status) { FinishOnce(std::move(status)); }

void SubscribeReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
  if (!ok) FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
  Pump();
}

void SubscribeReactor::OnCancel() {
  FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "subscription cancelled"));
}

void SubscribeReactor::OnDone() {
  hub_->Remove(this);
  Unref();
}

bool ChangeHub::Add(SubscribeReactor* reactor) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  reactors_.insert(reactor);
  return true;
}

void ChangeHub::Remove(SubscribeReactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactors_.erase(reactor);
}

std::vector<SubscribeReactor*> ChangeHub::Snapshot() {
  absl::MutexLock lock(&mu_);
  std::vector<SubscribeReactor*> out(reactors_.begin(), reactors_.end());
  for (SubscribeReactor* r : out) r->Ref();
  return out;
}

void ChangeHub::Notify(const std::vector<std::pair<std::string, std::uint64_t>>& changes) {
  for (SubscribeReactor* r : Snapshot()) {
    for (const auto& [scope, seq] : changes) {
      if (r->scopes().count(scope)) r->Offer(scope, seq);
    }
    r->Unref();
  }
}

void ChangeHub::CloseFor(const std::string& user, const std::string& device,
                         const grpc::Status& status) {
  for (SubscribeReactor* r : Snapshot()) {
    if ((!user.empty() && r->user() == user) || (!device.empty() && r->device() == device)) {
      r->Close(status);
    }
    r->Unref();
  }
}

void ChangeHub::CloseAll() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  for (SubscribeReactor* r : Snapshot()) {
    r->Close();
    r->Unref();
  }
}

}  // namespace vigil::server
