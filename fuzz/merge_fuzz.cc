#include "fuzz/merge_fuzz.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/narrative_history.h"
#include "google/protobuf/stubs/logging.h"
#include "sync/diff3.h"
#include "sync/hlc.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "vigil/v1/record.pb.h"

namespace vigil::fuzz {
namespace {

struct Parts {
  uint8_t mode = 0;
  std::string_view a, b, c;
};

Parts Split(const uint8_t* data, size_t size) {
  Parts p;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return p;
  p.mode = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  auto take = [&in]() {
    if (in.size() < 2) {
      std::string_view all = in;
      in = {};
      return all;
    }
    size_t n = static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8;
    in.remove_prefix(2);
    n = std::min(n, in.size());
    std::string_view part = in.substr(0, n);
    in.remove_prefix(n);
    return part;
  };
  p.a = take();
  p.b = take();
  p.c = in;
  return p;
}

std::string Diff3(const Parts& p) {
  const auto winner =
      (p.mode & 0x80) ? sync::TextSide::kOurs : sync::TextSide::kTheirs;
  const sync::TextMergeResult r = sync::MergeText(p.a, p.b, p.c, winner);
  if (sync::MergeText(p.a, p.b, p.c, winner).merged != r.merged) {
    return "diff3 not deterministic";
  }
  if (p.b == p.a && r.merged != p.c) return "diff3: theirs unchanged";
  if (p.c == p.a && r.merged != p.b) return "diff3: ours unchanged";
  if (p.b == p.c && r.merged != p.b) return "diff3: same change";
  if (!r.clean() && p.b == p.a) return "diff3: conflict without two changes";
  for (const auto& h : r.conflicts) {
    if (h.theirs == h.ours) return "diff3: conflict between equal texts";
  }
  return "";
}

std::string BodyMerge(const Parts& p) {
  v1::RecordBody base, theirs, ours;
  if (!base.ParseFromString(std::string(p.a)) ||
      !theirs.ParseFromString(std::string(p.b)) ||
      !ours.ParseFromString(std::string(p.c))) {
    return "";  // not a body; the server rejects it before any merge
  }
  sync::MergeInput in;
  in.record_id = "rec";
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit.set_mutation_id("m-o");
  in.ours_edit.mutable_hlc()->set_wall_time_micros(p.mode);
  in.theirs_default_edit.set_mutation_id("m-t");
  in.theirs_default_edit.mutable_hlc()->set_wall_time_micros(7);
  auto first = sync::ThreeWayMerge(in);
  auto second = sync::ThreeWayMerge(in);
  if (first.ok() != second.ok()) return "merge status not deterministic";
  if (!first.ok()) {
    if (first.status().code() != absl::StatusCode::kInvalidArgument) {
      return "merge failed with an unexpected code";
    }
    return "";
  }
  if (sync::SerializeDeterministic(*first->merged) !=
          sync::SerializeDeterministic(*second->merged) ||
      first->open_conflicts.size() != second->open_conflicts.size()) {
    return "merge not deterministic";
  }
  for (const auto& c : first->open_conflicts) {
    if (c.id() != sync::ConflictId(c)) return "conflict id mismatch";
    if (c.versions_size() < 1) return "conflict without versions";
  }
  // Identity: no change on one side returns the other side.
  in.ours = &base;
  auto same = sync::ThreeWayMerge(in);
  if (!same.ok() || sync::SerializeDeterministic(*same->merged) !=
                        sync::SerializeDeterministic(theirs)) {
    return "identity (ours unchanged) broken";
  }
  in.theirs = &base;
  in.ours = &ours;
  same = sync::ThreeWayMerge(in);
  if (same.ok() && sync::SerializeDeterministic(*same->merged) !=
                       sync::SerializeDeterministic(ours)) {
    return "identity (theirs unchanged) broken";
  }
  return "";
}

std::string RecordMutations(const Parts& p) {
  v1::RecordBody bodies[3];
  if (!bodies[0].ParseFromString(std::string(p.a)) ||
      !bodies[1].ParseFromString(std::string(p.b)) ||
      !bodies[2].ParseFromString(std::string(p.c))) {
    return "";
  }
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::vector<v1::Record> history;
  for (int step = 0; step < 6; ++step) {
    v1::Mutation m;
    m.set_mutation_id("m" + std::to_string(step));
    m.set_record_id("rec");
    m.set_device_id(step % 2 ? "dev-b" : "dev-a");
    m.mutable_hlc()->set_wall_time_micros((p.mode >> (step % 4)) & 7);
    const int pick = (p.mode + step) % 3;
    *m.mutable_body() = bodies[pick];
    m.set_delete_((p.mode >> step & 1) && step > 0 && pick == 2);
    m.set_base_revision(
        history.empty() ? 0 : (step * 7 + p.mode) % (history.size() + 1));
    if (step == 5 && !history.empty() &&
        history.back().open_conflicts_size() > 0) {
      m.set_base_revision(history.size());
      m.add_resolves_conflict_ids(history.back().open_conflicts(0).id());
    }
    const v1::Record* head = history.empty() ? nullptr : &history.back();
    const v1::Record* base =
        m.base_revision() >= 1 ? &history[m.base_revision() - 1] : nullptr;
    auto out = sync::ApplyMutation(head, base, m, now);
    if (!out.ok()) continue;
    if (out->changed) {
      if (out->record.revision() != history.size() + 1) {
        return "revision did not advance by one";
      }
      history.push_back(out->record);
    }
  }
  return "";
}

std::string IdsAndClock(const Parts& p) {
  (void)sync::ValidateRecordId(p.a);
  (void)sync::IdTime(p.a);
  sync::UuidRandomBytes random{};
  for (size_t i = 0; i < random.size() && i < p.b.size(); ++i) {
    random[i] = static_cast<uint8_t>(p.b[i]);
  }
  int64_t millis = 0;
  for (char ch : p.c.substr(0, 8))
    millis = millis << 8 | static_cast<uint8_t>(ch);
  auto id = sync::NewUuidV7(absl::FromUnixMillis(millis), random);
  if (id.ok() && !sync::ValidateRecordId(*id).ok()) {
    return "generated UUIDv7 does not validate";
  }
  sync::HybridClock clock;
  v1::Hlc remote;
  remote.set_wall_time_micros(millis);
  remote.set_logical(static_cast<uint32_t>(millis >> 3));
  const absl::Time now = absl::FromUnixMicros(millis / 3);
  const v1::Hlc before = clock.Now(now);
  auto receipt = clock.Receive(remote, now);
  if (receipt.ok() &&
      (sync::CompareHlc(receipt->local, before) <= 0 ||
       sync::CompareHlc(receipt->local, receipt->accepted_remote) <= 0)) {
    return "HLC receive did not move forward";
  }
  return "";
}

// The laws of fuzz/narrative_history.h over the plan the bytes describe,
// in its own order and three others picked from the bytes.
std::string NarrativeHistory(std::string_view bytes, bool disjoint) {
  const NarrativePlan plan = PlanFromBytes(bytes, disjoint);
  uint32_t state = 2166136261u;  // FNV-1a of the input picks the orders
  for (char ch : bytes) state = (state ^ static_cast<uint8_t>(ch)) * 16777619u;
  std::vector<std::vector<int>> orders = {
      ArrivalOrder(plan, [](size_t) { return size_t{0}; })};
  for (int i = 0; i < 3; ++i) {
    orders.push_back(ArrivalOrder(plan, [&state](size_t n) {
      state = state * 1103515245u + 12345u;
      return static_cast<size_t>(state >> 16) % n;
    }));
  }
  return CheckNarrativeHistory(plan, orders, disjoint);
}

}  // namespace

std::string EncodeInput(Mode mode, std::string_view a, std::string_view b,
                        std::string_view c) {
  std::string out(1, static_cast<char>(mode));
  for (std::string_view part : {a, b}) {
    const size_t n = std::min<size_t>(part.size(), 0xffff);
    out.push_back(static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(n >> 8));
    out.append(part.substr(0, n));
  }
  out.append(c);
  return out;
}

std::string RunInput(const uint8_t* data, size_t size) {
  if (size > 0 && (data[0] & 7) == kNarrativeHistory) {
    return NarrativeHistory(
        std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1),
        (data[0] & 0x80) == 0);
  }
  const Parts p = Split(data, size);
  switch (p.mode & 3) {
    case kDiff3:
      return Diff3(p);
    case kBodyMerge:
      return BodyMerge(p);
    case kRecord:
      return RecordMutations(p);
    default:
      return IdsAndClock(p);
  }
}

}  // namespace vigil::fuzz

#ifdef VIGIL_LIBFUZZER
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Hostile bodies are often invalid UTF-8; protobuf would log each one.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = vigil::fuzz::RunInput(data, size);
  if (!broken.empty()) {
    std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
#endif
