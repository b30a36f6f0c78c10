// tools/trace_timeline.hpp: a trace's allocations and releases as one sequence, in the
// order the analysis and the replay use (time; a realloc is the release of its old
// block, then a new block), each block numbered and described once: its address, call
// site, thread, size and when it lived. `poolkit advise` and `poolkit heapmap` read it.
#pragma once

#include <cstdint>
#include <vector>

#include "trace_reader.hpp"

namespace poolkit::trace {

/// One allocation or release of the trace, in the order the analysis and the replay
/// use (time; realloc = release of the old block, then a new block).
struct TimedOp {
  bool release;
  std::uint32_t thread;
  std::uint32_t block;  // 0, 1, 2, ... in order of allocation over the whole trace
  std::uint64_t time;   // ns since the trace's start
};

struct BlockInfo {
  std::uint64_t address;   // as the traced program saw it
  std::uint64_t site;      // innermost return address of its stack; 0: unknown
  std::uint32_t stack;     // the stack id
  std::uint32_t thread;    // that allocated it
  std::uint64_t size;
  std::uint32_t align;     // 0: malloc's own (16)
  std::uint32_t alloc_op;  // index in Timeline::ops
  std::uint32_t free_op;   // index of its release; kNever if it lived to the end
};
inline constexpr std::uint32_t kNever = 0xffffffffu;

struct Timeline {
  std::vector<TimedOp> ops;
  std::vector<BlockInfo> blocks;
};

/// One call of the trace in replay order: an allocation, or a release (a realloc is
/// both: its release at time_before, its new block at time).
struct OrderedCall {
  std::uint64_t time;
  std::uint32_t event;  // index in Trace::events
  bool release;
};

/// Every allocation and release by time (stable: a thread's own order is kept), the
/// order of the analysis, the replay plan and the timeline.
std::vector<OrderedCall> ordered_calls(const Trace& trace);

/// The trace's allocations and releases in order (also `poolkit heapmap`'s input).
Timeline make_timeline(const Trace& trace);

}  // namespace poolkit::trace
