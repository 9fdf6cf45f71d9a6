// Three simulated tablets edit the same visit offline (creates, edits of the
// same and of different fields, narrative edits, tags, deletes), push in
// random interleavings with resends and dropped replies, then pull: all end
// with identical records and open conflicts, equal to the server's, and every
// value any of them wrote is in a record or a conflict.
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil {
namespace {

using v1::Mutation;
using v1::Record;

class IdSource {
 public:
  explicit IdSource(unsigned seed) : rng_(seed) {}
  std::string Next() {
    sync::UuidRandomBytes random;
    for (auto& b : random) b = static_cast<uint8_t>(rng_());
    return *sync::NewUuidV7(absl::Now(), random);
  }

 private:
  std::mt19937_64 rng_;
};

std::vector<Record> PullFrom(v1::SyncService::Stub& stub, const std::string& scope,
                             std::string* cursor) {
  std::vector<Record> out;
  while (true) {
    grpc::ClientContext context;
    v1::PullRequest request;
    request.set_scope(scope);
    request.set_cursor(*cursor);
    request.set_limit(7);  // several pages
    v1::PullResponse page;
    grpc::Status s = stub.Pull(&context, request, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const auto& r : page.records()) out.push_back(r);
    *cursor = page.next_cursor();
    if (!page.has_more()) break;
  }
  return out;
}

class SimTablet {
 public:
  SimTablet(std::string device, unsigned seed) : device_(std::move(device)), ids_(seed) {}

  const std::string& device() const { return device_; }
  const std::map<std::string, Record>& known() const { return known_; }
  // The last value this tablet wrote to each (record, field): what must
  // survive. Values it overwrote itself are in the history, not the head.
  std::vector<std::string> written() const {
    std::vector<std::string> out;
    for (const auto& [where, value] : written_) out.push_back(value);
    return out;
  }
  std::vector<Mutation>& outbox() { return outbox_; }

  // Called after the outbox was pushed: pending chains are acknowledged.
  void Pull(v1::SyncService::Stub& stub, const std::string& scope) {
    last_pending_.clear();
    for (Record& r : PullFrom(stub, scope, &cursor_)) {
      local_[r.id()] = r.body();
      known_[r.id()] = std::move(r);
    }
  }

  void Create(const std::string& scope, const std::string& title, int lines) {
    const std::string id = ids_.Next();
    v1::RecordBody body;
    body.mutable_finding()->set_title(title);
    std::vector<std::string> text;
    for (int i = 0; i < lines; ++i) text.push_back(absl::StrCat("line ", i, " of ", title));
    body.mutable_finding()->set_narrative(absl::StrJoin(text, "\n") + "\n");
    written_[{id, "title"}] = title;
    local_[id] = body;
    Queue(id, 0, body, false, scope);
  }

  // Applies `edit` to the local body of `id` and queues the full new body.
  template <typename Fn>
  void Edit(const std::string& id, Fn edit) {
    v1::RecordBody& body = local_.at(id);
    edit(*body.mutable_finding());
    Queue(id, BaseOf(id), body, false, "");
  }

  void Delete(const std::string& id) {
    deleted_.insert(id);
    Queue(id, BaseOf(id), v1::RecordBody(), true, "");
  }

  void Remember(const std::string& id, const std::string& field, const std::string& value) {
    written_[{id, field}] = value;
  }
  bool Deleted(const std::string& id) const { return deleted_.count(id) > 0; }
  std::vector<std::string> LiveIds() const {
    std::vector<std::string> ids;
    for (const auto& [id, body] : local_) {
      if (!deleted_.count(id) && body.has_finding()) ids.push_back(id);
    }
    return ids;
  }

 private:
  std::uint64_t BaseOf(const std::string& id) const {
    auto it = known_.find(id);
    return it == known_.end() ? 0 : it->second.revision();
  }

  void Queue(const std::string& id, std::uint64_t base, const v1::RecordBody& body, bool del,
             const std::string& scope) {
    Mutation m;
    m.set_mutation_id(ids_.Next());
    m.set_record_id(id);
    // An edit on top of this device's own unacknowledged edit names it;
    // otherwise it names the server revision the device saw.
    auto pending = last_pending_.find(id);
    if (pending != last_pending_.end()) {
      m.set_base_mutation_id(pending->second);
    } else {
      m.set_base_revision(base);
    }
    last_pending_[id] = m.mutation_id();
    if (!del) *m.mutable_body() = body;
    m.set_delete_(del);
    m.set_author("monitor-" + device_);
    m.set_device_id(device_);
    m.mutable_hlc()->set_wall_time_micros(absl::ToUnixMicros(absl::Now()));
    m.mutable_hlc()->set_logical(++logical_);
    m.set_scope(scope);
    outbox_.push_back(std::move(m));
  }

  std::string device_;
  IdSource ids_;
  std::uint32_t logical_ = 0;
  std::string cursor_;
  std::map<std::string, Record> known_;
  std::map<std::string, std::string> last_pending_;  // record id -> mutation id
  std::map<std::string, v1::RecordBody> local_;
  std::set<std::string> deleted_;
  std::vector<Mutation> outbox_;
  std::map<std::pair<std::string, std::string>, std::string> written_;
};

// One offline session of random edits.
void EditOffline(SimTablet& t, std::mt19937& rng, const std::string& scope, int actions) {
  std::set<std::string> touched;
  for (int n = 0; n < actions; ++n) {
    std::vector<std::string> ids = t.LiveIds();
    const int roll = static_cast<int>(rng() % 100);
    const std::string tag = absl::StrCat(t.device(), "-", n);
    if (ids.empty() || roll < 10) {
      t.Create(scope, "New finding " + tag, 4);
      continue;
    }
    const std::string id = ids[rng() % ids.size()];
    if (roll < 15 && !touched.count(id)) {
      t.Delete(id);  // only records this tablet has not edited offline
      continue;
    }
    touched.insert(id);
    if (roll < 55) {
      const std::string title = "Title " + tag;
      t.Remember(id, "title", title);
      t.Edit(id, [&](v1::Finding& f) { f.set_title(title); });
    } else if (roll < 80) {
      const std::string line = "Narrative " + tag;
      const int index = static_cast<int>(rng() % 4);
      t.Remember(id, "line" + std::to_string(index), line);
      t.Edit(id, [&](v1::Finding& f) {
        std::vector<std::string> lines = absl::StrSplit(f.narrative(), '\n');
        if (index < static_cast<int>(lines.size())) lines[index] = line;
        f.set_narrative(absl::StrJoin(lines, "\n"));
      });
    } else if (roll < 92) {
      const std::string value = "tag " + tag;
      t.Remember(id, value, value);
      t.Edit(id, [&](v1::Finding& f) { f.add_tags(value); });
    } else {
      const auto severity = static_cast<v1::Severity>(1 + rng() % 4);
      t.Edit(id, [&](v1::Finding& f) { f.set_severity(severity); });
    }
  }
}

class MultiTabletTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(MultiTabletTest, ThreeTabletsConvergeAndLoseNothing) {
  const unsigned seed = GetParam();
  std::mt19937 rng(seed);
  testing::TestServer server;
  ASSERT_OK(server.status());
  auto stub = v1::SyncService::NewStub(server.NewChannel());
  IdSource ids(seed);
  const std::string scope = "visits/" + ids.Next();

  std::vector<SimTablet> tablets;
  for (int i = 0; i < 3; ++i) tablets.emplace_back("tablet-" + std::to_string(i), seed * 10 + i);

  // Before the visit: tablet 0 creates findings, everyone syncs.
  for (int i = 0; i < 4; ++i) tablets[0].Create(scope, "Finding " + std::to_string(i), 4);
  auto push = [&](const std::vector<Mutation>& batch, v1::PushResponse* response) {
    grpc::ClientContext context;
    v1::PushRequest request;
    for (const auto& m : batch) *request.add_mutations() = m;
    return stub->Push(&context, request, response);
  };
  v1::PushResponse response;
  ASSERT_TRUE(push(tablets[0].outbox(), &response).ok());
  tablets[0].outbox().clear();
  for (auto& t : tablets) t.Pull(*stub, scope);

  // Offline for the visit, each tablet on its own.
  for (auto& t : tablets) EditOffline(t, rng, scope, 8);

  // Back in range: batches of 1-3 mutations per tablet, in order per tablet,
  // interleaved across tablets at random; replies dropped and batches resent.
  struct Pending {
    int tablet;
    std::vector<Mutation> batch;
  };
  std::vector<std::vector<Pending>> queues(3);
  for (int i = 0; i < 3; ++i) {
    auto& outbox = tablets[i].outbox();
    for (std::size_t at = 0; at < outbox.size();) {
      std::size_t n = std::min<std::size_t>(1 + rng() % 3, outbox.size() - at);
      queues[i].push_back({i, {outbox.begin() + at, outbox.begin() + at + n}});
      at += n;
    }
  }
  int duplicates = 0;
  while (true) {
    std::vector<int> ready;
    for (int i = 0; i < 3; ++i) {
      if (!queues[i].empty()) ready.push_back(i);
    }
    if (ready.empty()) break;
    auto& queue = queues[ready[rng() % ready.size()]];
    const Pending& next = queue.front();
    v1::PushResponse first;
    grpc::Status pushed = push(next.batch, &first);
    ASSERT_TRUE(pushed.ok()) << pushed.error_message();
    if (rng() % 4 == 0) continue;  // reply "lost": the tablet resends this batch later
    if (rng() % 5 == 0) {  // a resend after success
      v1::PushResponse again;
      ASSERT_TRUE(push(next.batch, &again).ok());
      for (int k = 0; k < again.results_size(); ++k) {
        EXPECT_TRUE(again.results(k).duplicate());
        EXPECT_EQ(again.results(k).revision(), first.results(k).revision());
        ++duplicates;
      }
    }
    queue.erase(queue.begin());
  }

  for (auto& t : tablets) t.Pull(*stub, scope);

  // Identical records and open conflicts everywhere, equal to the server's.
  std::string fresh_cursor;
  std::map<std::string, Record> server_view;
  for (Record& r : PullFrom(*stub, scope, &fresh_cursor)) server_view[r.id()] = std::move(r);
  int conflicts = 0;
  for (const auto& [id, record] : server_view) conflicts += record.open_conflicts_size();
  for (const auto& t : tablets) {
    ASSERT_EQ(t.known().size(), server_view.size()) << t.device();
    for (const auto& [id, record] : server_view) {
      EXPECT_EQ(sync::SerializeDeterministic(t.known().at(id)),
                sync::SerializeDeterministic(record))
          << t.device() << " differs on " << id;
    }
  }

  // No loss: every value any tablet wrote is in a record body or a conflict.
  std::string everything;
  for (const auto& [id, record] : server_view) everything += record.SerializeAsString();
  for (const auto& t : tablets) {
    for (const std::string& value : t.written()) {
      EXPECT_NE(everything.find(value), std::string::npos)
          << "lost '" << value << "' written by " << t.device() << " (seed " << seed << ")";
    }
  }
  RecordProperty("conflicts", conflicts);
  RecordProperty("duplicates", duplicates);
}

INSTANTIATE_TEST_SUITE_P(Seeds, MultiTabletTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u));

}  // namespace
}  // namespace vigil
