#include "fuzz/narrative_history.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "sync/diff3.h"
#include "sync/record_merge.h"
#include "vigil/v1/record.pb.h"

namespace vigil::fuzz {
namespace {

constexpr int kMaxDevices = 4;

std::string MutationId(int edit) { return absl::StrCat("m-", edit + 1); }

std::string SlotLine(int edit, int slot, int line) {
  return absl::StrCat(MutationId(edit), " s", slot, " l", line, "\n");
}

std::string InitialLine(int slot) { return absl::StrCat("slot s", slot, "\n"); }

// The slot a line belongs to ("... s<slot> ..."), or -1.
int SlotOf(std::string_view line) {
  const size_t at = line.find(" s");
  if (at == std::string_view::npos) return -1;
  std::string_view rest = line.substr(at + 2);
  rest = rest.substr(0, rest.find_first_not_of("0123456789"));
  int slot = -1;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), slot);
  return error == std::errc() && end != rest.data() ? slot : -1;
}

std::string InitialText(int slot_count) {
  std::string text;
  for (int s = 0; s < slot_count; ++s) text += InitialLine(s);
  return text;
}

// `text` with edit `edit`'s lines in its slots: each slot's lines replaced
// where they are, or, if a conflict's winner left none, put after the lines
// of the slots before it.
std::string Rewrite(std::string_view text, const NarrativePlan& plan, int edit) {
  const NarrativeEdit& e = plan.edits[edit];
  std::vector<std::string> lines;
  for (std::string_view line : sync::SplitLines(text)) lines.emplace_back(line);
  for (int slot : e.slots) {
    std::vector<std::string> fresh;
    for (int l = 0; l < e.lines_per_slot; ++l) fresh.push_back(SlotLine(edit, slot, l));
    size_t first = lines.size();
    size_t insert_at = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      const int s = SlotOf(lines[i]);
      if (s == slot && first == lines.size()) first = i;
      if (s >= 0 && s < slot) insert_at = i + 1;
    }
    if (first == lines.size()) {
      lines.insert(lines.begin() + static_cast<long>(insert_at), fresh.begin(), fresh.end());
      continue;
    }
    size_t last = first;
    while (last < lines.size() && SlotOf(lines[last]) == slot) ++last;
    lines.erase(lines.begin() + static_cast<long>(first), lines.begin() + static_cast<long>(last));
    lines.insert(lines.begin() + static_cast<long>(first), fresh.begin(), fresh.end());
  }
  return absl::StrJoin(lines, "");
}

// The narrative after the causally closed set of edits `in`: each slot from
// its latest writer (disjoint plans have one).
std::string Expected(const NarrativePlan& plan, const std::vector<std::vector<bool>>& seen,
                     const std::vector<bool>& in) {
  std::string text;
  for (int s = 0; s < plan.slot_count; ++s) {
    int writer = -1;
    for (int i = 0; i < static_cast<int>(plan.edits.size()); ++i) {
      const auto& slots = plan.edits[i].slots;
      if (!in[i] || std::find(slots.begin(), slots.end(), s) == slots.end()) continue;
      if (writer < 0 || seen[i][writer]) writer = i;
    }
    if (writer < 0) {
      text += InitialLine(s);
      continue;
    }
    for (int l = 0; l < plan.edits[writer].lines_per_slot; ++l) text += SlotLine(writer, s, l);
  }
  return text;
}

// The narratives of the head and of every version of its open narrative
// conflict.
std::vector<std::string> KeptTexts(const v1::Record& head) {
  std::vector<std::string> texts = {head.body().finding().narrative()};
  for (const v1::Conflict& c : head.open_conflicts()) {
    if (c.field_path() != "narrative") continue;
    for (const v1::ConflictVersion& v : c.versions()) {
      v1::Finding carrier;
      if (carrier.ParseFromString(v.value().carrier())) texts.push_back(carrier.narrative());
    }
  }
  return texts;
}

class OrderRun {
 public:
  OrderRun(const NarrativePlan& plan, const std::vector<std::vector<bool>>& seen, bool disjoint)
      : plan_(plan), seen_(seen), disjoint_(disjoint) {}

  // "" or what broke.
  std::string Run(const std::vector<int>& order) {
    const int n = static_cast<int>(plan_.edits.size());
    v1::Mutation create;
    create.set_mutation_id("m-0");
    create.set_record_id("rec-1");
    create.set_device_id("dev-creator");
    create.set_scope("visits/v1");
    create.mutable_body()->mutable_finding()->set_visit_id("v1");
    create.mutable_body()->mutable_finding()->set_narrative(InitialText(plan_.slot_count));
    if (std::string broken = Apply(create, nullptr); !broken.empty()) return broken;
    produced_.assign(n, 0);
    bodies_.assign(n, v1::RecordBody());
    for (int edit : order) {
      const NarrativeEdit& e = plan_.edits[edit];
      v1::Mutation m;
      m.set_mutation_id(MutationId(edit));
      m.set_record_id("rec-1");
      m.set_device_id(absl::StrCat("dev-", e.device));
      m.set_author(absl::StrCat("user-", e.device));
      m.mutable_hlc()->set_wall_time_micros(e.wall_micros);
      std::optional<v1::Record> chained_base;
      const v1::Record* base = nullptr;
      if (e.chained_on >= 0) {
        m.set_base_mutation_id(MutationId(e.chained_on));
        m.set_base_revision(produced_[e.chained_on]);
        chained_base = sync::ChainedBase(history_[produced_[e.chained_on] - 1],
                                         bodies_[e.chained_on]);
        base = &*chained_base;
      } else {
        m.set_base_revision(static_cast<uint64_t>(e.seen_prefix) + 1);
        base = &history_[e.seen_prefix];
        if (disjoint_) {
          std::vector<bool> in(n, false);
          for (int i = 0; i < e.seen_prefix; ++i) in[i] = true;
          const std::string want = Expected(plan_, seen_, in);
          if (base->body().finding().narrative() != want) {
            return absl::StrCat("revision ", m.base_revision(), " that ", m.mutation_id(),
                                " was made on holds\n", absl::CEscape(
                                    base->body().finding().narrative()),
                                "\ninstead of\n", absl::CEscape(want));
          }
        }
      }
      *m.mutable_body() = base->body();
      m.mutable_body()->mutable_finding()->set_narrative(
          Rewrite(base->body().finding().narrative(), plan_, edit));
      bodies_[edit] = m.body();
      if (std::string broken = Apply(m, base); !broken.empty()) return broken;
      produced_[edit] = history_.back().revision();
    }
    return Check();
  }

  std::string Describe() const {
    std::string out;
    for (const v1::Record& r : history_) {
      absl::StrAppend(&out, "revision ", r.revision(), " by ", r.updated().mutation_id(), ": ",
                      absl::CEscape(r.body().finding().narrative()),
                      r.text_merges_size() > 0 ? " (text merge)" : "", "\n");
    }
    for (const v1::Conflict& c : history_.back().open_conflicts()) {
      absl::StrAppend(&out, c.ShortDebugString(), "\n");
    }
    return out;
  }

 private:
  std::string Apply(const v1::Mutation& m, const v1::Record* base) {
    const v1::Record* head = history_.empty() ? nullptr : &history_.back();
    auto out = sync::ApplyMutation(head, base, m, absl::FromUnixSeconds(1'800'000'000));
    if (!out.ok()) return absl::StrCat(m.mutation_id(), " refused: ", out.status().ToString());
    if (!out->changed) return absl::StrCat(m.mutation_id(), " changed nothing");
    if (disjoint_ && !out->clean) {
      history_.push_back(out->record);
      return absl::StrCat(m.mutation_id(), " opened a conflict, but no edit it did not see ",
                          "rewrote a slot it rewrote");
    }
    history_.push_back(out->record);
    return "";
  }

  std::string Check() const {
    const v1::Record& head = history_.back();
    const int n = static_cast<int>(plan_.edits.size());
    if (disjoint_) {
      const std::string want = Expected(plan_, seen_, std::vector<bool>(n, true));
      if (head.body().finding().narrative() != want) {
        return absl::StrCat("the head holds\n", absl::CEscape(head.body().finding().narrative()),
                            "\ninstead of\n", absl::CEscape(want));
      }
      if (head.open_conflicts_size() != 0) return "conflicts are open";
    }
    const std::vector<std::string> kept = KeptTexts(head);
    for (int i = 0; i < n; ++i) {
      for (int slot : plan_.edits[i].slots) {
        bool rewritten = false;
        for (int j = 0; j < n; ++j) {
          const auto& slots = plan_.edits[j].slots;
          rewritten = rewritten || (seen_[j][i] && std::find(slots.begin(), slots.end(), slot) !=
                                                       slots.end());
        }
        if (rewritten) continue;
        for (int l = 0; l < plan_.edits[i].lines_per_slot; ++l) {
          const std::string line = SlotLine(i, slot, l);
          const bool found = std::any_of(kept.begin(), kept.end(), [&line](const std::string& t) {
            return t.find(line) != std::string::npos;
          });
          if (!found) return absl::StrCat("lost ", absl::CEscape(line));
        }
      }
    }
    return "";
  }

  const NarrativePlan& plan_;
  const std::vector<std::vector<bool>>& seen_;
  const bool disjoint_;
  std::vector<v1::Record> history_;  // revision r is history_[r - 1]
  std::vector<uint64_t> produced_;   // per edit, the revision it made
  std::vector<v1::RecordBody> bodies_;
};

}  // namespace

std::vector<std::vector<bool>> SeenSets(const NarrativePlan& plan) {
  const size_t n = plan.edits.size();
  std::vector<std::vector<bool>> seen(n, std::vector<bool>(n, false));
  for (size_t k = 0; k < n; ++k) {
    const NarrativeEdit& e = plan.edits[k];
    if (e.chained_on >= 0) {
      seen[k] = seen[e.chained_on];
      seen[k][e.chained_on] = true;
    } else {
      for (int j = 0; j < e.seen_prefix; ++j) seen[k][j] = true;
    }
  }
  return seen;
}

NarrativePlan Normalize(NarrativePlan plan, bool disjoint) {
  plan.slot_count = std::clamp(plan.slot_count, 1, 16);
  NarrativePlan out;
  out.slot_count = plan.slot_count;
  int latest[kMaxDevices] = {-1, -1, -1, -1};
  int64_t clock[kMaxDevices] = {0, 0, 0, 0};
  for (NarrativeEdit e : plan.edits) {
    const int k = static_cast<int>(out.edits.size());
    e.device = ((e.device % kMaxDevices) + kMaxDevices) % kMaxDevices;
    const int own = latest[e.device];
    if (e.chained_on >= 0 && own >= 0) {
      e.chained_on = own;
      e.seen_prefix = 0;
    } else {
      e.chained_on = -1;
      e.seen_prefix = std::clamp(e.seen_prefix, own + 1, k);
    }
    e.lines_per_slot = std::clamp(e.lines_per_slot, 1, 2);
    e.wall_micros = std::max<int64_t>(std::max<int64_t>(e.wall_micros, 1), clock[e.device] + 1);
    std::set<int> slots;
    for (int s : e.slots) slots.insert(((s % plan.slot_count) + plan.slot_count) % plan.slot_count);
    out.edits.push_back(e);
    if (disjoint) {
      const std::vector<bool> seen = SeenSets(out)[k];
      for (int j = 0; j < k; ++j) {
        if (seen[j]) continue;
        for (int s : out.edits[j].slots) slots.erase(s);
      }
    }
    out.edits.back().slots.assign(slots.begin(), slots.end());
    if (slots.empty()) {
      out.edits.pop_back();
      continue;
    }
    latest[e.device] = k;
    clock[e.device] = e.wall_micros;
  }
  return out;
}

NarrativePlan PlanFromBytes(std::string_view bytes, bool disjoint) {
  NarrativePlan plan;
  auto next = [&bytes]() -> int {
    if (bytes.empty()) return 0;
    const int b = static_cast<uint8_t>(bytes[0]);
    bytes.remove_prefix(1);
    return b;
  };
  plan.slot_count = 3 + next() % 8;
  for (int i = 0; i < 12 && bytes.size() >= 3; ++i) {
    NarrativeEdit e;
    const int a = next(), b = next(), c = next();
    e.device = a & 3;
    e.chained_on = (a & 4) ? 0 : -1;
    e.lines_per_slot = 1 + ((a >> 3) & 1);
    e.wall_micros = 1 + ((a >> 4) & 7);
    e.seen_prefix = b % (i + 1);
    e.slots.push_back(c & 15);
    if (c & 0x10) e.slots.push_back(c >> 5);
    plan.edits.push_back(e);
  }
  return Normalize(plan, disjoint);
}

std::string DescribePlan(const NarrativePlan& plan) {
  std::string out = absl::StrCat(plan.slot_count, " slots\n");
  for (size_t k = 0; k < plan.edits.size(); ++k) {
    const NarrativeEdit& e = plan.edits[k];
    absl::StrAppend(&out, MutationId(static_cast<int>(k)), " dev-", e.device, " at ",
                    e.wall_micros, ": ");
    if (e.chained_on >= 0) {
      absl::StrAppend(&out, "chained on ", MutationId(e.chained_on));
    } else {
      absl::StrAppend(&out, "made on revision ", e.seen_prefix + 1);
    }
    absl::StrAppend(&out, ", rewrites slots ", absl::StrJoin(e.slots, ","), " with ",
                    e.lines_per_slot, " line(s)\n");
  }
  return out;
}

std::string CheckNarrativeHistory(const NarrativePlan& plan,
                                  const std::vector<std::vector<int>>& orders, bool disjoint) {
  const std::vector<std::vector<bool>> seen = SeenSets(plan);
  for (const std::vector<int>& order : orders) {
    OrderRun run(plan, seen, disjoint);
    if (std::string broken = run.Run(order); !broken.empty()) {
      std::vector<std::string> ids;
      for (int edit : order) ids.push_back(MutationId(edit));
      return absl::StrCat(broken, "\n", DescribePlan(plan), "arrival order ",
                          absl::StrJoin(ids, " "), "\n", run.Describe());
    }
  }
  return "";
}

}  // namespace vigil::fuzz
