// The fuzz entry for the merge and diff3, shared by the libFuzzer binary
// (merge_fuzzer, built with -DVIGIL_FUZZ=ON and clang) and by the gtest that
// replays a seeded corpus plus random mutations in every normal build.
#ifndef VIGIL_FUZZ_MERGE_FUZZ_H_
#define VIGIL_FUZZ_MERGE_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::fuzz {

// Input layout: one mode byte, then three parts, each but the last prefixed
// by a 2-byte little-endian length. Modes: 0 diff3 of three texts; 1 body
// merge of three serialized vigil.v1.RecordBody; 2 record-level mutations;
// 3 ids and HLC (the mode byte's low two bits; its other bits vary the run).
// A mode byte whose low three bits are 4 takes the rest of the input, unsplit,
// as a history of narrative edits with offline chains
// (fuzz/narrative_history.h), received in several orders; bit 0x80 lets
// edits rewrite lines others rewrote without seeing them.
enum Mode : uint8_t {
  kDiff3 = 0,
  kBodyMerge = 1,
  kRecord = 2,
  kIdsAndClock = 3,
  kNarrativeHistory = 4
};

std::string EncodeInput(Mode mode, std::string_view a, std::string_view b,
                        std::string_view c);

// Runs one input. Returns "" if every invariant held, else what broke.
// Never crashes on any input (that is what the fuzzer checks).
std::string RunInput(const uint8_t* data, size_t size);

}  // namespace vigil::fuzz

#endif  // VIGIL_FUZZ_MERGE_FUZZ_H_
