// Line-based three-way text merge (diff3) for fields with the text policy.
#ifndef VIGIL_SYNC_DIFF3_H_
#define VIGIL_SYNC_DIFF3_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::sync {

// A region of the base that both sides changed differently.
struct TextConflictHunk {
  size_t base_first_line = 0;  // 0-based
  std::string base;            // whole lines, line ends included
  std::string theirs;
  std::string ours;
};

struct TextMergeResult {
  // The merged text. Inside a conflicting region it holds the winner's text.
  std::string merged;
  std::vector<TextConflictHunk> conflicts;
  bool clean() const { return conflicts.empty(); }
};

enum class TextSide { kTheirs, kOurs };

// Merges two edits of `base`. Lines are split after '\n' and keep their line
// end, so the merge is exact to the byte (a last line without '\n' is a line
// of its own). Each side's change is a set of hunks against the base (a
// minimal line diff); hunks of the two sides that overlap, or that insert at
// the same place or inside the other side's hunk, form one region. A region
// changed by one side only takes that side; changed identically by both takes
// it; otherwise it is a conflict and `merged` holds `winner`'s text for it.
// Replacing adjacent lines (line 3 by one side, line 4 by the other) merges.
//
// Never fails. Cost is O((N + M) * D) for D differing lines, with D capped:
// beyond the cap a side is treated as one whole-text change (still correct,
// only coarser), so hostile input cannot make it slow.
TextMergeResult MergeText(std::string_view base, std::string_view theirs,
                          std::string_view ours, TextSide winner);

// One overlapping region of an n-way merge: the versions that changed it
// (indexes into the `versions` argument, ascending) and their text for it.
struct TextRegionConflict {
  size_t base_first_line = 0;  // 0-based
  std::string base;            // whole lines, line ends included
  std::vector<std::pair<size_t, std::string>> texts;
};

struct TextMergeAllResult {
  // The merged text. Inside a conflicting region it holds the text of the
  // last version (highest index) that changed the region.
  std::string merged;
  std::vector<TextRegionConflict> conflicts;
  bool clean() const { return conflicts.empty(); }
};

// Merges any number of edits of `base` at once, the way MergeText merges
// two: each version's hunks against the base; hunks of all versions that
// overlap (or insert at the same place or inside another) form one region,
// taken from its only changer, or as is when all its changers agree, else a
// conflict. The result depends on the versions and their order only, never
// on the order in which they were merged: with `versions` in a canonical
// order it is canonical. For two versions it equals MergeText with the
// second as the winner.
TextMergeAllResult MergeTexts(std::string_view base,
                              const std::vector<std::string_view>& versions);

// Splits `text` into lines, each keeping its trailing '\n'.
std::vector<std::string_view> SplitLines(std::string_view text);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_DIFF3_H_
