// Three-way merge throughput for a realistic Finding (about 1 KiB, a
// narrative of 20 lines), single-threaded:
//  - clean: the two sides changed different fields;
//  - field conflict: both changed the title (a register) differently;
//  - text: both edited the narrative on different lines (diff3, merges).
// Prints one line per scenario, then as its last line:
// {"clean_merges_per_s": ..., "field_conflict_merges_per_s": ...,
//  "text_merges_per_s": ...}
//
// Usage: bench_merge [seconds_per_scenario] (default 2).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "sync/merge.h"
#include "vigil/v1/finding.pb.h"

namespace {

using vigil::v1::Finding;

Finding MakeFinding() {
  Finding f;
  f.set_visit_id("0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4b5a");
  f.set_category(vigil::v1::FINDING_CATEGORY_MATERIAL_CONDITIONS);
  f.set_subcategory("Cell conditions");
  f.set_location("Block C, ground floor, cells 4 to 12");
  f.set_severity(vigil::v1::SEVERITY_HIGH);
  f.set_title("Overcrowded cells without natural light");
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(f.mutable_narrative(), "Line ", i,
                    ": cells seen, detainees heard.\n");
  }
  const char* ids[] = {"0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4b01",
                       "0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4b02",
                       "0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4b03"};
  for (const char* id : ids) {
    auto* s = f.add_sources();
    s->set_id(id);
    s->set_type(vigil::v1::SOURCE_TYPE_OBSERVATION);
    s->set_note("Seen during the night visit");
  }
  f.add_evidence_attachment_ids("0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4c01");
  f.add_evidence_attachment_ids("0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4c02");
  f.add_tags("overcrowding");
  f.add_tags("light");
  return f;
}

vigil::v1::EditStamp Stamp(const char* mutation, const char* device,
                           int64_t wall) {
  vigil::v1::EditStamp e;
  e.set_mutation_id(mutation);
  e.set_author("monitor");
  e.set_device_id(device);
  e.mutable_hlc()->set_wall_time_micros(wall);
  return e;
}

std::string ReplaceLine(const std::string& text, int line,
                        const std::string& with) {
  size_t start = 0;
  for (int i = 0; i < line; ++i) start = text.find('\n', start) + 1;
  const size_t end = text.find('\n', start) + 1;
  return text.substr(0, start) + with + text.substr(end);
}

// Runs the merge for about `seconds` and returns merges per second.
double Run(const char* name, const Finding& base, const Finding& theirs,
           const Finding& ours, bool want_clean, double seconds) {
  vigil::sync::MergeInput in;
  in.record_id = "0190f5a2-7c3e-7d41-9a6b-2f1e8c0d4b99";
  in.base = &base;
  in.theirs = &theirs;
  in.ours = &ours;
  in.ours_edit = Stamp("m-ours", "tablet-2", 2'000);
  in.theirs_default_edit = Stamp("m-theirs", "tablet-1", 1'000);
  auto check = vigil::sync::ThreeWayMerge(in);
  if (!check.ok() || check->clean() != want_clean) {
    std::fprintf(stderr, "%s: unexpected merge result\n", name);
    std::exit(1);
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  int64_t merges = 0;
  size_t sink = 0;
  while (Clock::now() < deadline) {
    for (int i = 0; i < 256; ++i) {
      auto result = vigil::sync::ThreeWayMerge(in);
      sink += result->open_conflicts.size();
      ++merges;
    }
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = merges / elapsed;
  std::printf("%-16s %10.0f merges/s  (%lld merges, %zu conflicts)\n", name,
              rate, static_cast<long long>(merges), sink);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const Finding base = MakeFinding();
  std::printf("Finding: %zu bytes serialized, 20-line narrative\n",
              base.ByteSizeLong());

  Finding theirs = base;
  theirs.set_severity(vigil::v1::SEVERITY_URGENT);
  theirs.add_tags("ventilation");
  Finding ours = base;
  ours.set_location("Block C, ground floor, cells 4 to 14");
  ours.mutable_sources(1)->set_note("Seen during the night and morning visits");
  const double clean = Run("clean", base, theirs, ours, true, seconds);

  Finding theirs_title = base;
  theirs_title.set_title("Overcrowded cells, no natural light");
  Finding ours_title = base;
  ours_title.set_title("Cells overcrowded and dark");
  const double conflict =
      Run("field_conflict", base, theirs_title, ours_title, false, seconds);

  Finding theirs_text = base;
  theirs_text.set_narrative(ReplaceLine(
      base.narrative(), 3, "Line 3: the cells measured 6 m2 for 3 people.\n"));
  Finding ours_text = base;
  ours_text.set_narrative(ReplaceLine(
      base.narrative(), 15, "Line 15: no access to daylight in cell 9.\n"));
  const double text = Run("text", base, theirs_text, ours_text, true, seconds);

  std::printf(
      "{\"clean_merges_per_s\": %.0f, \"field_conflict_merges_per_s\": %.0f, "
      "\"text_merges_per_s\": %.0f}\n",
      clean, conflict, text);
  return 0;
}
