// tools/replay_plan.hpp: a trace turned into work to replay: per thread, its calls in
// order, each block named by a slot number instead of an address, so that a replay on
// another allocator (other addresses) does the same work. A release of a block another
// thread allocated waits until that thread has allocated it (the cross-thread frees of
// the trace). Stored as a flat file the replaying process maps, so that reading it
// costs the allocator under test nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace_reader.hpp"

namespace poolkit::trace {

struct PlanOp {
  std::uint32_t kind;      // kPlanAlloc, kPlanFree, kPlanRealloc
  std::uint32_t slot;      // the block allocated (alloc, realloc) or released (free)
  std::uint32_t old_slot;  // realloc: the block it grows or shrinks
  std::uint32_t align;     // alloc: 0 for malloc, else the alignment asked for
  std::uint64_t size;
};
static_assert(sizeof(PlanOp) == 24);
inline constexpr std::uint32_t kPlanAlloc = 1;
inline constexpr std::uint32_t kPlanFree = 2;
inline constexpr std::uint32_t kPlanRealloc = 3;

struct Plan {
  std::vector<std::vector<PlanOp>> threads;
  std::uint32_t slots = 0;
  std::uint64_t peak_live_bytes = 0;  // of the recorded calls, as the replay will count them
};

Plan make_plan(const Trace& trace);

/// The file: "PKPLAN1\n", u32 threads, u32 slots, u64 peak, then per thread a u64 count
/// and its ops. Throws TraceError on a write or read problem.
void write_plan(const Plan& plan, const std::string& path);

}  // namespace poolkit::trace
