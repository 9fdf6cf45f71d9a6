// Histories of narrative edits by several devices, as a server receives them:
// each edit made on a revision the device pulled (so it saw some earlier
// edits and not others) or chained on the device's own earlier edit that it
// has not pulled back (an offline chain, Mutation.base_mutation_id). Shared by
// the merge property tests and the fuzzer, which build plans in their own
// ways and check the same laws here.
//
// A narrative is a sequence of slots, each holding one or two lines that
// appear nowhere else; an edit rewrites whole slots. So what the narrative
// must be after any set of edits is known without a merge: each slot holds
// what its latest writer (the one that saw every other writer of it) wrote.
#ifndef VIGIL_FUZZ_NARRATIVE_HISTORY_H_
#define VIGIL_FUZZ_NARRATIVE_HISTORY_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::fuzz {

struct NarrativeEdit {
  int device = 0;
  // Made on the revision holding the first `seen_prefix` edits of the plan
  // (0: the record as created), unless `chained_on` names an earlier edit of
  // the same device: then made on that edit's own text, before its revision
  // came back.
  int seen_prefix = 0;
  int chained_on = -1;
  // The slots it rewrites, and how many lines each gets (1 or 2).
  std::vector<int> slots;
  int lines_per_slot = 1;
  // The device's clock (the server places an edit after what it saw anyway).
  int64_t wall_micros = 1;
};

struct NarrativePlan {
  int slot_count = 4;
  std::vector<NarrativeEdit> edits;
};

// Makes `plan` well formed: a device's later edit sees its earlier ones (or
// is chained on its latest), slots are in range, and, with `disjoint`, no two
// edits that did not see each other rewrite one slot (an edit that would is
// dropped). Edits left without a slot are dropped.
NarrativePlan Normalize(NarrativePlan plan, bool disjoint);

// seen[i][j]: edit i was made on a text holding edit j.
std::vector<std::vector<bool>> SeenSets(const NarrativePlan& plan);

// A plan built from arbitrary bytes (the fuzzer's input), normalized.
NarrativePlan PlanFromBytes(std::string_view bytes, bool disjoint);

// The orders in which a server can receive the plan's edits: each edit made
// on a revision arrives after exactly the edits that revision held, each
// chained edit after the one it is chained on. `choose(n)` returns a number
// in [0, n); with choose always 0 the order is the plan's own.
template <typename Choose>
std::vector<int> ArrivalOrder(const NarrativePlan& plan, Choose&& choose);

// Applies the plan's edits in every one of `orders` through ApplyMutation,
// as the server does (a chained edit merged against the body its device
// pushed), and checks the laws: every edit is accepted; with `disjoint`,
// every merge is clean, the narrative at every revision a device edited is
// the one its edits call for, and every order ends with that narrative and
// no conflict; in any plan, every line an edit wrote that no edit which saw
// it rewrote is in the head's narrative or in a version of its open text
// conflict. Returns "" if they hold, else what broke, with the history.
std::string CheckNarrativeHistory(const NarrativePlan& plan,
                                  const std::vector<std::vector<int>>& orders,
                                  bool disjoint);

// A readable account of `plan`, for a failure's log.
std::string DescribePlan(const NarrativePlan& plan);

template <typename Choose>
std::vector<int> ArrivalOrder(const NarrativePlan& plan, Choose&& choose) {
  const int n = static_cast<int>(plan.edits.size());
  // The revisions edits were made on cut the plan's order into blocks that
  // arrive in turn; inside a block any order that puts a chained edit after
  // the one it is chained on.
  std::vector<bool> cut(n + 1, false);
  for (const NarrativeEdit& e : plan.edits) {
    if (e.chained_on < 0) cut[e.seen_prefix] = true;
  }
  cut[n] = true;
  std::vector<int> order;
  int begin = 0;
  for (int end = 1; end <= n; ++end) {
    if (!cut[end]) continue;
    std::vector<int> pending;
    for (int i = begin; i < end; ++i) pending.push_back(i);
    while (!pending.empty()) {
      std::vector<size_t> ready;
      for (size_t p = 0; p < pending.size(); ++p) {
        const int on = plan.edits[pending[p]].chained_on;
        bool waits = false;
        for (int q : pending) waits = waits || q == on;
        if (!waits) ready.push_back(p);
      }
      const size_t pick = ready[static_cast<size_t>(choose(ready.size()))];
      order.push_back(pending[pick]);
      pending.erase(pending.begin() + static_cast<long>(pick));
    }
    begin = end;
  }
  return order;
}

}  // namespace vigil::fuzz

#endif  // VIGIL_FUZZ_NARRATIVE_HISTORY_H_
