// tools/replay_plan.cpp: from a trace's calls to per-thread slot operations.
#include "replay_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_map>

#include "trace_timeline.hpp"

namespace poolkit::trace {

Plan make_plan(const Trace& trace) {
  // The same order as the analysis, so that the live bytes the replay counts follow
  // the trace exactly.
  const std::vector<OrderedCall> ops = ordered_calls(trace);

  Plan plan;
  std::map<std::uint32_t, std::size_t> thread_index;
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint64_t>> live;  // ptr -> slot, size
  std::uint64_t live_bytes = 0;
  auto thread_ops = [&](std::uint32_t thread) -> std::vector<PlanOp>& {
    auto [it, fresh] = thread_index.try_emplace(thread, plan.threads.size());
    if (fresh) plan.threads.emplace_back();
    return plan.threads[it->second];
  };
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const OrderedCall& op = ops[k];
    const Event& e = trace.events[op.event];
    std::vector<PlanOp>& out = thread_ops(e.thread);
    if (op.release) {
      const std::uint64_t ptr = is_realloc(e.call) ? e.old_ptr : e.ptr;
      auto it = live.find(ptr);
      if (it == live.end()) continue;  // allocated before tracing started
      const auto [slot, size] = it->second;
      live.erase(it);
      live_bytes -= size;
      // realloc: its release is followed by its allocation; one realloc op does both.
      const bool moves = is_realloc(e.call) && e.ptr != 0 && k + 1 < ops.size() && ops[k + 1].event == op.event;
      if (moves) {
        const std::uint32_t fresh = plan.slots++;
        out.push_back({kPlanRealloc, fresh, slot, 0, e.size});
        live[e.ptr] = {fresh, e.size};
        live_bytes += e.size;
        plan.peak_live_bytes = std::max(plan.peak_live_bytes, live_bytes);
        ++k;
      } else {
        out.push_back({kPlanFree, slot, 0, 0, 0});
      }
    } else {
      if (auto it = live.find(e.ptr); it != live.end()) {  // its release was missed: forget it
        live_bytes -= it->second.second;
        live.erase(it);
      }
      const std::uint32_t slot = plan.slots++;
      const std::uint64_t align = e.align > 16 ? e.align : 0;
      out.push_back({kPlanAlloc, slot, 0, static_cast<std::uint32_t>(align), e.size});
      live[e.ptr] = {slot, e.size};
      live_bytes += e.size;
      plan.peak_live_bytes = std::max(plan.peak_live_bytes, live_bytes);
    }
  }
  return plan;
}

void write_plan(const Plan& plan, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw TraceError(path + ": cannot write the replay plan");
  const std::uint32_t threads = static_cast<std::uint32_t>(plan.threads.size());
  out.write("PKPLAN1\n", 8);
  out.write(reinterpret_cast<const char*>(&threads), 4);
  out.write(reinterpret_cast<const char*>(&plan.slots), 4);
  out.write(reinterpret_cast<const char*>(&plan.peak_live_bytes), 8);
  for (const auto& ops : plan.threads) {
    const std::uint64_t n = ops.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(reinterpret_cast<const char*>(ops.data()), static_cast<std::streamsize>(n * sizeof(PlanOp)));
  }
  if (!out) throw TraceError(path + ": cannot write the replay plan");
}

}  // namespace poolkit::trace
