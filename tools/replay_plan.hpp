// tools/replay_plan.hpp: a trace turned into work to replay: per thread, its calls in
// order, each block named by a slot number instead of an address, so that a replay on
// another allocator (other addresses) does the same work. A release of a block another
// thread allocated waits until that thread has allocated it (the cross-thread frees of
// the trace). Each call also carries its place in the recorded order over all threads
// and a gate: the replay starts it only once every call before the gate is done, which
// is how a replay keeps to the recorded order as much as its ReplayOrder asks. Stored as
// a flat file the replaying process maps, so that reading it costs the allocator under
// test nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace_reader.hpp"

namespace poolkit::trace {

/// How closely a replay's threads follow the recorded interleaving.
enum class ReplayOrder {
  kFree,      // each thread's own order and the cross-thread frees only
  kPeak,      // free within segments of the recorded order cut so that no interleaving
              // inside one can exceed the recorded peak, and one cut right after it: the
              // replay's peak live bytes equal the recorded ones exactly
  kRecorded,  // every call in the recorded order over all threads (one at a time)
};

/// "free", "peak", "recorded"; false for anything else.
bool parse_replay_order(const std::string& name, ReplayOrder& out);
const char* replay_order_name(ReplayOrder order);

struct PlanOp {
  std::uint16_t kind;      // kPlanAlloc, kPlanFree, kPlanRealloc
  std::uint16_t publish;   // 1: another thread's gate waits for this thread to pass this call
  std::uint32_t slot;      // the block allocated (alloc, realloc) or released (free)
  std::uint32_t old_slot;  // realloc: the block it grows or shrinks
  std::uint32_t align;     // alloc: 0 for malloc, else the alignment asked for
  std::uint64_t size;
  std::uint64_t seq;       // its place in the recorded order over all threads (increasing per thread)
  std::uint64_t gate;      // starts once every call with a smaller seq is done (0: at once)
};
static_assert(sizeof(PlanOp) == 40);
inline constexpr std::uint16_t kPlanAlloc = 1;
inline constexpr std::uint16_t kPlanFree = 2;
inline constexpr std::uint16_t kPlanRealloc = 3;

// Invariants (check_plan): within a thread seq increases; a gate is at most its call's
// seq; for every gate, each other thread's last call before it has `publish` set (or is
// its thread's last call: a thread's end always tells); a slot is allocated once, by a
// call with a smaller seq than the call that releases it.
struct Plan {
  std::vector<std::vector<PlanOp>> threads;
  std::uint32_t slots = 0;
  std::uint64_t peak_live_bytes = 0;  // of the recorded calls, as the replay will count them
  std::uint64_t gates = 0;            // distinct gates: the replay's waits for other threads
  ReplayOrder order = ReplayOrder::kPeak;
};

Plan make_plan(const Trace& trace, ReplayOrder order = ReplayOrder::kPeak);

/// Throws TraceError naming the first broken invariant (for tests).
void check_plan(const Plan& plan);

/// The file: "PKPLAN2\n", u32 threads, u32 slots, u64 peak, then per thread a u64 count
/// and its ops. Throws TraceError on a write or read problem.
void write_plan(const Plan& plan, const std::string& path);

}  // namespace poolkit::trace
