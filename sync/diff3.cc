#include "sync/diff3.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"

namespace vigil::sync {
namespace {

// Past this many differing lines a side's change is taken as one hunk over the
// whole differing region: Myers' cost is O((N + M) * D) time and O(D^2) memory.
constexpr int kMaxEditDistance = 2048;

// A change of one side against the base: base lines [base_begin, base_end)
// become side lines [side_begin, side_end).
struct Hunk {
  int base_begin, base_end, side_begin, side_end;
};

// Minimal line diff of `a` (base) against `b` (a side) as hunks, in order.
std::vector<Hunk> Diff(const std::vector<int>& a, const std::vector<int>& b) {
  const int n_all = static_cast<int>(a.size());
  const int m_all = static_cast<int>(b.size());
  int prefix = 0;
  while (prefix < n_all && prefix < m_all && a[prefix] == b[prefix]) ++prefix;
  int suffix = 0;
  while (suffix < n_all - prefix && suffix < m_all - prefix &&
         a[n_all - 1 - suffix] == b[m_all - 1 - suffix]) {
    ++suffix;
  }
  const int n = n_all - prefix - suffix;
  const int m = m_all - prefix - suffix;
  if (n == 0 && m == 0) return {};
  auto A = [&](int i) { return a[prefix + i]; };
  auto B = [&](int j) { return b[prefix + j]; };

  // Myers' greedy algorithm; trace[d] holds V[k] for k in [-d, d] after step d.
  const int max_d = std::min(n + m, kMaxEditDistance);
  std::vector<int> v(2 * (n + m) + 3, 0);
  const int offset = n + m + 1;
  std::vector<std::vector<int>> trace;
  int found_d = -1;
  for (int d = 0; d <= max_d && found_d < 0; ++d) {
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]))
                  ? v[offset + k + 1]
                  : v[offset + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && A(x) == B(y)) ++x, ++y;
      v[offset + k] = x;
      if (x >= n && y >= m) found_d = d;
    }
    trace.emplace_back(v.begin() + offset - d, v.begin() + offset + d + 1);
  }
  if (found_d < 0) {
    return {Hunk{prefix, prefix + n, prefix, prefix + m}};
  }

  // Backtrack to the matched pairs (in reverse).
  std::vector<std::pair<int, int>> matches;
  int x = n, y = m;
  for (int d = found_d; d > 0; --d) {
    const std::vector<int>& prev = trace[d - 1];
    auto at = [&](int k) { return prev[k + d - 1]; };
    const int k = x - y;
    const int prev_k =
        (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const int prev_x = at(prev_k);
    const int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x, --y;
      matches.emplace_back(x, y);
    }
    x = prev_x;
    y = prev_y;
  }
  while (x > 0 && y > 0) {
    --x, --y;
    matches.emplace_back(x, y);
  }
  std::reverse(matches.begin(), matches.end());

  std::vector<Hunk> hunks;
  int i = 0, j = 0;
  auto flush = [&](int next_i, int next_j) {
    if (next_i > i || next_j > j) {
      hunks.push_back(
          Hunk{prefix + i, prefix + next_i, prefix + j, prefix + next_j});
    }
  };
  for (const auto& [mi, mj] : matches) {
    flush(mi, mj);
    i = mi + 1;
    j = mj + 1;
  }
  flush(n, m);
  return hunks;
}

// Whether `h` touches the region [begin, end): overlapping ranges, or an
// insertion inside or at the boundary of the other (its place is ambiguous).
bool Touches(int begin, int end, const Hunk& h) {
  const bool region_empty = begin == end;
  const bool hunk_empty = h.base_begin == h.base_end;
  if (!region_empty && !hunk_empty) {
    return h.base_begin < end && begin < h.base_end;
  }
  if (hunk_empty) return begin <= h.base_begin && h.base_begin <= end;
  return h.base_begin <= begin && begin <= h.base_end;
}

void AppendLines(const std::vector<std::string_view>& lines, int begin, int end,
                 std::string* out) {
  for (int i = begin; i < end; ++i) out->append(lines[i]);
}

}  // namespace

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

namespace {

// The n-way merge of `versions` against `base`; in a conflicting region the
// text of the changer with the highest `rank` wins.
TextMergeAllResult MergeAll(std::string_view base,
                            const std::vector<std::string_view>& versions,
                            const std::vector<int>& rank) {
  const std::vector<std::string_view> base_lines = SplitLines(base);
  std::vector<std::vector<std::string_view>> lines;
  lines.reserve(versions.size());
  for (std::string_view v : versions) lines.push_back(SplitLines(v));

  absl::flat_hash_map<std::string_view, int> ids;
  auto intern = [&ids](const std::vector<std::string_view>& text) {
    std::vector<int> out;
    out.reserve(text.size());
    for (std::string_view line : text) {
      out.push_back(
          ids.try_emplace(line, static_cast<int>(ids.size())).first->second);
    }
    return out;
  };
  const std::vector<int> b = intern(base_lines);

  struct VersionHunk {
    Hunk hunk;
    size_t version;
  };
  std::vector<VersionHunk> hunks;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (versions[i] == base) continue;
    for (const Hunk& h : Diff(b, intern(lines[i]))) hunks.push_back({h, i});
  }
  std::stable_sort(hunks.begin(), hunks.end(),
                   [](const VersionHunk& x, const VersionHunk& y) {
                     return std::pair(x.hunk.base_begin, x.hunk.base_end) <
                            std::pair(y.hunk.base_begin, y.hunk.base_end);
                   });

  // A version's text for base region [begin, end), given its hunks inside.
  auto version_text = [&](int begin, int end, const std::vector<Hunk>& own,
                          const std::vector<std::string_view>& own_lines) {
    std::string text;
    int i = begin;
    for (const Hunk& h : own) {
      AppendLines(base_lines, i, h.base_begin, &text);
      AppendLines(own_lines, h.side_begin, h.side_end, &text);
      i = h.base_end;
    }
    AppendLines(base_lines, i, end, &text);
    return text;
  };

  TextMergeAllResult result;
  std::string& out = result.merged;
  int emitted = 0;  // base lines before this are accounted for
  size_t next = 0;
  while (next < hunks.size()) {
    int begin = hunks[next].hunk.base_begin;
    int end = hunks[next].hunk.base_end;
    // Per version, its hunks inside the region (in base order).
    absl::btree_map<size_t, std::vector<Hunk>> changers;
    while (next < hunks.size() &&
           (changers.empty() || Touches(begin, end, hunks[next].hunk))) {
      const VersionHunk& h = hunks[next++];
      end = std::max(end, h.hunk.base_end);
      changers[h.version].push_back(h.hunk);
    }
    AppendLines(base_lines, emitted, begin, &out);
    emitted = end;
    TextRegionConflict region;
    size_t winner = changers.begin()->first;
    bool agree = true;
    for (const auto& [version, own] : changers) {
      std::string text = version_text(begin, end, own, lines[version]);
      if (!region.texts.empty() && text != region.texts.front().second) {
        agree = false;
      }
      if (rank[version] > rank[winner]) winner = version;
      region.texts.emplace_back(version, std::move(text));
    }
    for (const auto& [version, text] : region.texts) {
      if (version == winner) out += text;
    }
    if (agree) continue;
    region.base_first_line = static_cast<size_t>(begin);
    AppendLines(base_lines, begin, end, &region.base);
    result.conflicts.push_back(std::move(region));
  }
  AppendLines(base_lines, emitted, static_cast<int>(base_lines.size()), &out);
  return result;
}

}  // namespace

TextMergeResult MergeText(std::string_view base, std::string_view theirs,
                          std::string_view ours, TextSide winner) {
  TextMergeResult result;
  if (theirs == ours || ours == base) {
    result.merged = std::string(theirs);
    return result;
  }
  if (theirs == base) {
    result.merged = std::string(ours);
    return result;
  }
  const bool ours_wins = winner == TextSide::kOurs;
  TextMergeAllResult all =
      MergeAll(base, {theirs, ours}, {ours_wins ? 0 : 1, ours_wins ? 1 : 0});
  result.merged = std::move(all.merged);
  for (TextRegionConflict& region : all.conflicts) {
    // Both sides changed a conflicting region: theirs is version 0.
    TextConflictHunk& h = result.conflicts.emplace_back();
    h.base_first_line = region.base_first_line;
    h.base = std::move(region.base);
    h.theirs = std::move(region.texts[0].second);
    h.ours = std::move(region.texts[1].second);
  }
  return result;
}

TextMergeAllResult MergeTexts(std::string_view base,
                              const std::vector<std::string_view>& versions) {
  std::vector<int> rank(versions.size());
  for (size_t i = 0; i < versions.size(); ++i) rank[i] = static_cast<int>(i);
  return MergeAll(base, versions, rank);
}

}  // namespace vigil::sync
