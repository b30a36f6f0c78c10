// tools/trace_timeline.cpp: the trace's calls, ordered and numbered.
#include "trace_timeline.hpp"

#include <algorithm>
#include <unordered_map>

namespace poolkit::trace {

std::vector<OrderedCall> ordered_calls(const Trace& trace) {
  std::vector<OrderedCall> ops;
  for (std::uint32_t i = 0; i < trace.events.size(); ++i) {
    const Event& e = trace.events[i];
    if (is_release(e.call)) {
      ops.push_back({e.time, i, true});
    } else if (is_realloc(e.call)) {
      if (e.old_ptr != 0 && (e.ptr != 0 || e.size == 0)) ops.push_back({e.time_before, i, true});
      if (e.ptr != 0) ops.push_back({e.time, i, false});
    } else if (e.ptr != 0) {
      ops.push_back({e.time, i, false});
    }
  }
  std::stable_sort(ops.begin(), ops.end(), [](const OrderedCall& x, const OrderedCall& y) { return x.time < y.time; });
  return ops;
}

Timeline make_timeline(const Trace& trace) {
  const std::vector<OrderedCall> ops = ordered_calls(trace);

  Timeline t;
  t.ops.reserve(ops.size());
  std::unordered_map<std::uint64_t, std::uint32_t> live;  // address -> block
  for (const OrderedCall& op : ops) {
    const Event& e = trace.events[op.event];
    const auto index = static_cast<std::uint32_t>(t.ops.size());
    if (op.release) {
      const std::uint64_t ptr = is_realloc(e.call) ? e.old_ptr : e.ptr;
      auto it = live.find(ptr);
      if (it == live.end()) continue;  // allocated before tracing started
      t.blocks[it->second].free_op = index;
      t.ops.push_back({true, e.thread, it->second, op.time});
      live.erase(it);
    } else {
      const auto stack = trace.stacks.find(e.stack);
      const std::uint64_t site = stack == trace.stacks.end() || stack->second.empty() ? 0 : stack->second.front();
      const auto block = static_cast<std::uint32_t>(t.blocks.size());
      const std::uint32_t align = e.align > 16 ? static_cast<std::uint32_t>(e.align) : 0;
      t.blocks.push_back({e.ptr, site, e.stack, e.thread, e.size, align, index, kNever});
      live[e.ptr] = block;  // replaces a block whose release the trace missed
      t.ops.push_back({false, e.thread, block, op.time});
    }
  }
  return t;
}

}  // namespace poolkit::trace
