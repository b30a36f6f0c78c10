// tools/replay_plan.cpp: from a trace's calls to per-thread slot operations, and the
// gates that keep a replay to the recorded order (replay_plan.hpp).
#include "replay_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_map>

#include "trace_timeline.hpp"

namespace poolkit::trace {

namespace {

// What a call does to the live bytes: first releases `minus`, then allocates `plus`
// (a realloc does both, in that order, in the replay as in the trace's timeline).
struct LiveChange {
  std::uint64_t minus = 0;
  std::uint64_t plus = 0;
};

LiveChange change_of(const PlanOp& op, const std::vector<std::uint64_t>& slot_size) {
  switch (op.kind) {
    case kPlanAlloc: return {0, op.size};
    case kPlanFree: return {slot_size[op.slot], 0};
    default: return {slot_size[op.old_slot], op.size};
  }
}

// Where each call sits: its thread and its index there, in the recorded order.
struct Placed {
  std::uint32_t thread;
  std::uint64_t index;
};

// kPeak: cuts the recorded order into segments and gives every call its segment's first
// seq as its gate, so that a segment starts only when the one before is done. Inside a
// segment the threads run freely; whatever the interleaving, the live bytes stay at or
// below (live bytes at the segment's start) + the sum over its threads of the highest
// running total of that thread's own changes in the segment. A call that would lift
// that bound above the recorded peak starts a new segment (a call alone never does: it
// is the recorded order), so no interleaving exceeds the peak; and a segment starts
// right after the call that first reaches the peak, so that when the segment before is
// done the live bytes are exactly the peak. Returns the number of segments after the
// first (each is a gate).
std::uint64_t cut_at_peak(Plan& plan, const std::vector<Placed>& order, const std::vector<std::uint64_t>& slot_size,
                          std::uint64_t peak_at) {
  const std::size_t threads = plan.threads.size();
  std::vector<std::int64_t> running(threads, 0), top(threads, 0);  // this segment's, per thread
  std::vector<std::uint64_t> segment_of(threads, 0);               // segment whose figures they are
  std::uint64_t segment = 0, gate = 0, gates = 0;
  std::uint64_t live = 0, segment_live = 0;  // before the call; at the segment's start
  std::int64_t tops = 0;                     // the sum of `top` over the segment's threads
  for (std::uint64_t i = 0; i < order.size(); ++i) {
    const Placed at = order[i];
    PlanOp& op = plan.threads[at.thread][at.index];
    const LiveChange c = change_of(op, slot_size);
    const auto net = static_cast<std::int64_t>(c.plus) - static_cast<std::int64_t>(c.minus);
    if (segment_of[at.thread] != segment) {
      segment_of[at.thread] = segment;
      running[at.thread] = top[at.thread] = 0;
    }
    const std::int64_t new_top = std::max(top[at.thread], running[at.thread] + net);
    const std::int64_t bound = static_cast<std::int64_t>(segment_live) + tops - top[at.thread] + new_top;
    if (i == peak_at + 1 || bound > static_cast<std::int64_t>(plan.peak_live_bytes)) {
      ++segment;
      ++gates;
      gate = i;
      segment_live = live;
      tops = 0;
      segment_of[at.thread] = segment;
      running[at.thread] = top[at.thread] = 0;
    }
    running[at.thread] += net;
    tops -= top[at.thread];
    top[at.thread] = std::max(top[at.thread], running[at.thread]);
    tops += top[at.thread];
    op.gate = gate;
    live = live - c.minus + c.plus;
  }
  return gates;
}

// Sets `publish` on each call after which another thread's gate may be waiting for this
// thread: the calls whose seq is below such a gate while their thread's next call's is
// at or above it. (A thread's end always tells.)
void mark_publishers(Plan& plan) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> gates;  // (gate, a thread that waits on it)
  for (std::uint32_t t = 0; t < plan.threads.size(); ++t) {
    for (const PlanOp& op : plan.threads[t]) {
      if (op.gate != 0 && (gates.empty() || gates.back() != std::pair{op.gate, t})) gates.emplace_back(op.gate, t);
    }
  }
  std::sort(gates.begin(), gates.end());
  gates.erase(std::unique(gates.begin(), gates.end()), gates.end());
  for (std::uint32_t t = 0; t < plan.threads.size(); ++t) {
    std::vector<PlanOp>& ops = plan.threads[t];
    for (std::size_t j = 0; j + 1 < ops.size(); ++j) {
      ops[j].publish = 0;
      auto it = std::lower_bound(gates.begin(), gates.end(), std::pair{ops[j].seq + 1, std::uint32_t{0}});
      for (; it != gates.end() && it->first <= ops[j + 1].seq; ++it) {
        if (it->second != t) {
          ops[j].publish = 1;
          break;
        }
      }
    }
    if (!ops.empty()) ops.back().publish = 0;
  }
}

}  // namespace

bool parse_replay_order(const std::string& name, ReplayOrder& out) {
  for (ReplayOrder o : {ReplayOrder::kFree, ReplayOrder::kPeak, ReplayOrder::kRecorded}) {
    if (name == replay_order_name(o)) {
      out = o;
      return true;
    }
  }
  return false;
}

const char* replay_order_name(ReplayOrder order) {
  switch (order) {
    case ReplayOrder::kFree: return "free";
    case ReplayOrder::kPeak: return "peak";
    case ReplayOrder::kRecorded: return "recorded";
  }
  return "?";
}

Plan make_plan(const Trace& trace, ReplayOrder order) {
  // The same order as the analysis, so that the live bytes the replay counts follow
  // the trace exactly.
  const std::vector<OrderedCall> ops = ordered_calls(trace);

  Plan plan;
  plan.order = order;
  std::map<std::uint32_t, std::uint32_t> thread_index;
  std::unordered_map<std::uint64_t, std::uint32_t> live;  // ptr -> slot
  std::vector<std::uint64_t> slot_size;
  std::vector<Placed> placed;  // every call, in the recorded order
  auto emit = [&](std::uint32_t thread, PlanOp op) {
    auto [it, fresh] = thread_index.try_emplace(thread, static_cast<std::uint32_t>(plan.threads.size()));
    if (fresh) plan.threads.emplace_back();
    std::vector<PlanOp>& out = plan.threads[it->second];
    op.seq = placed.size();
    placed.push_back({it->second, out.size()});
    out.push_back(op);
  };
  auto new_slot = [&](std::uint64_t ptr, std::uint64_t size) {
    const std::uint32_t slot = plan.slots++;
    slot_size.push_back(size);
    live[ptr] = slot;
    return slot;
  };
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const OrderedCall& op = ops[k];
    const Event& e = trace.events[op.event];
    if (op.release) {
      const std::uint64_t ptr = is_realloc(e.call) ? e.old_ptr : e.ptr;
      auto it = live.find(ptr);
      if (it == live.end()) continue;  // allocated before tracing started
      const std::uint32_t slot = it->second;
      live.erase(it);
      // realloc: its release is followed by its allocation; one realloc op does both.
      const bool moves = is_realloc(e.call) && e.ptr != 0 && k + 1 < ops.size() && ops[k + 1].event == op.event;
      if (moves) {
        emit(e.thread, {kPlanRealloc, 0, new_slot(e.ptr, e.size), slot, 0, e.size, 0, 0});
        ++k;
      } else {
        emit(e.thread, {kPlanFree, 0, slot, 0, 0, 0, 0, 0});
      }
    } else {
      if (auto it = live.find(e.ptr); it != live.end()) {
        // Its release was missed (a call the trace did not see): the analysis forgets
        // the block here, so the replay frees it here.
        emit(e.thread, {kPlanFree, 0, it->second, 0, 0, 0, 0, 0});
        live.erase(it);
      }
      const std::uint64_t align = e.align > 16 ? e.align : 0;
      emit(e.thread, {kPlanAlloc, 0, new_slot(e.ptr, e.size), 0, static_cast<std::uint32_t>(align), e.size, 0, 0});
    }
  }

  // The live bytes along the recorded order, as the replay counts them.
  std::uint64_t live_bytes = 0, peak_at = 0;
  for (std::uint64_t i = 0; i < placed.size(); ++i) {
    const LiveChange c = change_of(plan.threads[placed[i].thread][placed[i].index], slot_size);
    live_bytes = live_bytes - c.minus + c.plus;
    if (live_bytes > plan.peak_live_bytes) {
      plan.peak_live_bytes = live_bytes;
      peak_at = i;
    }
  }

  if (plan.threads.size() > 1) {  // one thread follows the recorded order by itself
    if (order == ReplayOrder::kPeak) {
      plan.gates = cut_at_peak(plan, placed, slot_size, peak_at);
    } else if (order == ReplayOrder::kRecorded) {
      for (std::uint64_t i = 1; i < placed.size(); ++i) plan.threads[placed[i].thread][placed[i].index].gate = i;
      plan.gates = placed.empty() ? 0 : placed.size() - 1;
    }
    mark_publishers(plan);
  }
  return plan;
}

void check_plan(const Plan& plan) {
  auto fail = [](const std::string& what) { throw TraceError("replay plan: " + what); };
  std::vector<std::uint64_t> made(plan.slots, UINT64_MAX);  // seq of the call that allocates each slot
  std::vector<std::pair<std::uint64_t, std::uint32_t>> gates;
  for (std::uint32_t t = 0; t < plan.threads.size(); ++t) {
    for (const PlanOp& op : plan.threads[t]) {
      if (op.gate > op.seq) fail("a gate after its own call (seq " + std::to_string(op.seq) + ")");
      if (op.gate != 0) gates.emplace_back(op.gate, t);
      if (op.kind == kPlanAlloc || op.kind == kPlanRealloc) {
        if (op.slot >= plan.slots || made[op.slot] != UINT64_MAX) {
          fail("slot " + std::to_string(op.slot) + " allocated twice or out of range");
        }
        made[op.slot] = op.seq;
      }
    }
  }
  std::sort(gates.begin(), gates.end());
  gates.erase(std::unique(gates.begin(), gates.end()), gates.end());
  std::vector<bool> gone(plan.slots, false);
  for (std::uint32_t t = 0; t < plan.threads.size(); ++t) {
    const std::vector<PlanOp>& ops = plan.threads[t];
    for (std::size_t j = 0; j < ops.size(); ++j) {
      const PlanOp& op = ops[j];
      if (j + 1 < ops.size() && ops[j + 1].seq <= op.seq) fail("thread " + std::to_string(t) + "'s calls out of order");
      const std::uint32_t released = op.kind == kPlanFree      ? op.slot
                                     : op.kind == kPlanRealloc ? op.old_slot
                                                               : UINT32_MAX;
      if (released == UINT32_MAX) continue;
      if (released >= plan.slots || made[released] >= op.seq || gone[released]) {
        fail("slot " + std::to_string(released) + " released (seq " + std::to_string(op.seq) +
             ") before it is allocated, or twice");
      }
      gone[released] = true;
    }
  }
  // Every gate can open: each other thread tells when it passes its last call before it.
  for (const auto& [gate, waiter] : gates) {
    for (std::uint32_t t = 0; t < plan.threads.size(); ++t) {
      const std::vector<PlanOp>& ops = plan.threads[t];
      const auto next = std::lower_bound(ops.begin(), ops.end(), gate,
                                         [](const PlanOp& op, std::uint64_t g) { return op.seq < g; });
      if (t == waiter || next == ops.begin() || next == ops.end()) continue;  // none before, or its end tells
      if (std::prev(next)->publish == 0) {
        fail("thread " + std::to_string(t) + "'s call seq " + std::to_string(std::prev(next)->seq) +
             " does not tell that gate " + std::to_string(gate) + " may open");
      }
    }
  }
}

void write_plan(const Plan& plan, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw TraceError(path + ": cannot write the replay plan");
  const std::uint32_t threads = static_cast<std::uint32_t>(plan.threads.size());
  out.write("PKPLAN2\n", 8);
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
