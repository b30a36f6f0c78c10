// tools/advise_measure.hpp: the proof behind a piece of advice: a site's calls (its
// replay script) run through the suggested pool and through malloc in this process,
// interleaved over rounds, each run repeating the script until it lasts long enough
// to time; the medians. Memory: the whole program's calls replayed once more with
// the site on malloc, once with it on the pool, each in a forked child, which reports
// the peak RSS the replay added (holes between blocks included).
#pragma once

#include <cstdint>

#include "advise_patterns.hpp"

namespace poolkit::trace {

struct Measurement {
  bool ran = false;
  double malloc_ns = 0;          // median time of one pass of the script through malloc
  double pool_ns = 0;            // ... through the pool
  std::uint64_t malloc_peak = 0;  // peak RSS of the whole replay, the site on malloc
  std::uint64_t pool_peak = 0;    // ... the site on the pool
  std::uint64_t fallbacks = 0;    // pool allocations that failed and went to malloc
  std::uint32_t repeats = 0;      // passes per timed run
  int rounds = 0;
};

/// Times `site` (replay_script of the advice) through advice.suggestion and malloc,
/// and the peak memory of `program` (replay_script with whole_program) both ways.
/// Does nothing (ran = false) for Suggestion::kNone.
Measurement measure(const ReplayScript& site, const ReplayScript& program, const Advice& advice, int rounds);

}  // namespace poolkit::trace
