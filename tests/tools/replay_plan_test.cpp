// Tests of the replay plan (tools/replay_plan): its invariants, and that the orders that
// promise the recorded peak live bytes keep it under every interleaving the replay
// allows, not only the one the scheduler happens to pick: a simulated replay runs the
// plan's threads in random and in greedy (most bytes first) interleavings, honouring
// each thread's order, the cross-thread frees and the gates as the worker does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "replay_plan.hpp"
#include "trace_analysis.hpp"
#include "trace_reader.hpp"

namespace {

using namespace poolkit::trace;

// A trace of `threads` threads making `calls` calls: mallocs of 1..9000 bytes, frees of
// any live block (often another thread's), reallocs, in random order, one ns apart.
Trace random_trace(std::uint32_t threads, std::size_t calls, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Trace t;
  std::vector<std::uint64_t> live;
  std::uint64_t next_ptr = 0x10000, time = 0;
  for (std::size_t i = 0; i < calls; ++i) {
    const auto thread = static_cast<std::uint32_t>(1 + rng() % threads);
    const unsigned what = static_cast<unsigned>(rng() % 10);
    ++time;
    if (what < 5 || live.empty()) {
      const std::uint64_t size = 1 + rng() % 9000;
      t.events.push_back({Call::kMalloc, thread, 0, time, size, 0, next_ptr, 0, 0});
      live.push_back(next_ptr);
      next_ptr += 0x4000;
    } else if (what < 9) {
      const std::size_t k = rng() % live.size();
      t.events.push_back({Call::kFree, thread, 0, time, 0, 0, live[k], 0, 0});
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    } else {
      const std::size_t k = rng() % live.size();
      const std::uint64_t size = 1 + rng() % 20000;
      t.events.push_back({Call::kRealloc, thread, 0, time + 1, size, 0, next_ptr, live[k], time});
      ++time;
      live[k] = next_ptr;
      next_ptr += 0x8000;
    }
  }
  for (std::uint32_t id = 1; id <= threads; ++id) t.threads[id] = ThreadInfo{id, id, 0};
  return t;
}

enum class Pick { kRandom, kGreedy };

// Runs the plan the way the worker does, in one interleaving the replay allows: a
// thread's call may run when its gate is open by what the other threads have told
// (PlanOp::publish, and their end) and the block it releases has been allocated.
// Returns the peak live bytes; fails the test on a deadlock.
std::uint64_t simulate(const Plan& plan, Pick pick, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t n = plan.threads.size();
  std::vector<std::size_t> at(n, 0);
  std::vector<std::uint64_t> told(n);
  for (std::size_t t = 0; t < n; ++t) told[t] = plan.threads[t].empty() ? UINT64_MAX : plan.threads[t][0].seq;
  std::vector<char> made(plan.slots, 0);
  std::vector<std::uint64_t> size(plan.slots, 0);
  std::uint64_t live = 0, peak = 0;
  for (;;) {
    std::vector<std::size_t> ready;
    bool left = false;
    for (std::size_t t = 0; t < n; ++t) {
      if (at[t] == plan.threads[t].size()) continue;
      left = true;
      const PlanOp& op = plan.threads[t][at[t]];
      bool open = true;
      for (std::size_t u = 0; u < n; ++u) open &= u == t || told[u] >= op.gate;
      if (op.kind == kPlanFree) open &= made[op.slot] != 0;
      if (op.kind == kPlanRealloc) open &= made[op.old_slot] != 0;
      if (open) ready.push_back(t);
    }
    if (!left) return peak;
    if (ready.empty()) {
      ADD_FAILURE() << "the simulated replay deadlocks";
      return peak;
    }
    std::size_t t = ready[rng() % ready.size()];
    if (pick == Pick::kGreedy) {  // the call that adds the most bytes (or frees the fewest)
      auto gain = [&](std::size_t u) {
        const PlanOp& op = plan.threads[u][at[u]];
        if (op.kind == kPlanAlloc) return static_cast<std::int64_t>(op.size);
        if (op.kind == kPlanFree) return -static_cast<std::int64_t>(size[op.slot]);
        return static_cast<std::int64_t>(op.size) - static_cast<std::int64_t>(size[op.old_slot]);
      };
      t = *std::max_element(ready.begin(), ready.end(),
                            [&](std::size_t a, std::size_t b) { return gain(a) < gain(b); });
    }
    const std::vector<PlanOp>& ops = plan.threads[t];
    const PlanOp& op = ops[at[t]];
    if (op.kind == kPlanFree) live -= size[op.slot];
    if (op.kind == kPlanRealloc) live -= size[op.old_slot];
    if (op.kind != kPlanFree) {
      made[op.slot] = 1;
      size[op.slot] = op.size;
      live += op.size;
      peak = std::max(peak, live);
    }
    ++at[t];
    if (at[t] == ops.size()) {
      told[t] = UINT64_MAX;
    } else if (op.publish != 0) {
      told[t] = ops[at[t]].seq;
    }
  }
}

TEST(ReplayPlan, PeakOrderReachesTheRecordedPeakExactlyInEveryInterleaving) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const Trace trace = random_trace(2 + seed % 4, 3000, seed);
    const Plan plan = make_plan(trace, ReplayOrder::kPeak);
    ASSERT_NO_THROW(check_plan(plan)) << "seed " << seed;
    EXPECT_EQ(plan.peak_live_bytes, analyze(trace).peak_live_bytes) << "seed " << seed;
    for (std::uint64_t run = 0; run < 5; ++run) {
      EXPECT_EQ(simulate(plan, Pick::kRandom, seed * 100 + run), plan.peak_live_bytes) << "seed " << seed;
    }
    EXPECT_EQ(simulate(plan, Pick::kGreedy, seed), plan.peak_live_bytes) << "seed " << seed;
  }
}

TEST(ReplayPlan, RecordedOrderReachesTheRecordedPeakExactlyInEveryInterleaving) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Trace trace = random_trace(2 + seed % 4, 2000, seed);
    const Plan plan = make_plan(trace, ReplayOrder::kRecorded);
    ASSERT_NO_THROW(check_plan(plan)) << "seed " << seed;
    EXPECT_EQ(simulate(plan, Pick::kRandom, seed), plan.peak_live_bytes) << "seed " << seed;
    EXPECT_EQ(simulate(plan, Pick::kGreedy, seed), plan.peak_live_bytes) << "seed " << seed;
  }
}

// The free order promises nothing about the peak: the greedy interleaving exceeds it.
TEST(ReplayPlan, FreeOrderHasNoGatesAndCanExceedThePeak) {
  const Trace trace = random_trace(4, 3000, 7);
  const Plan plan = make_plan(trace, ReplayOrder::kFree);
  ASSERT_NO_THROW(check_plan(plan));
  EXPECT_EQ(plan.gates, 0u);
  for (const auto& ops : plan.threads)
    for (const PlanOp& op : ops) EXPECT_EQ(op.gate, 0u);
  EXPECT_GT(simulate(plan, Pick::kGreedy, 7), plan.peak_live_bytes);
}

// The peak order waits far less often than the recorded one.
TEST(ReplayPlan, PeakOrderNeedsFewerGatesThanTheRecordedOrder) {
  const Trace trace = random_trace(4, 3000, 11);
  const Plan peak = make_plan(trace, ReplayOrder::kPeak);
  const Plan recorded = make_plan(trace, ReplayOrder::kRecorded);
  EXPECT_GE(peak.gates, 1u);  // at least the cut right after the peak
  EXPECT_LT(peak.gates * 2, recorded.gates);
  std::uint64_t calls = 0;
  for (const auto& ops : recorded.threads) calls += ops.size();
  EXPECT_EQ(recorded.gates, calls - 1);
}

TEST(ReplayPlan, OneThreadNeedsNoGates) {
  const Trace trace = random_trace(1, 2000, 3);
  for (ReplayOrder order : {ReplayOrder::kPeak, ReplayOrder::kRecorded}) {
    const Plan plan = make_plan(trace, order);
    EXPECT_EQ(plan.gates, 0u);
    EXPECT_EQ(simulate(plan, Pick::kGreedy, 3), plan.peak_live_bytes);
  }
}

// An allocation at an address the trace still holds live (its free was not seen): the
// analysis forgets the old block there, and the plan frees it there, so that the
// replay's live bytes follow the analysis.
TEST(ReplayPlan, ABlockWhoseFreeWasMissedIsFreedWhereItsAddressIsReused) {
  Trace t;
  t.events = {{Call::kMalloc, 1, 0, 1, 5000, 0, 0x1000, 0, 0},
              {Call::kMalloc, 2, 0, 2, 300, 0, 0x1000, 0, 0},  // 0x1000 again: the free was missed
              {Call::kMalloc, 1, 0, 3, 4000, 0, 0x9000, 0, 0}};
  const Plan plan = make_plan(t, ReplayOrder::kPeak);
  ASSERT_NO_THROW(check_plan(plan));
  EXPECT_EQ(plan.peak_live_bytes, analyze(t).peak_live_bytes);
  EXPECT_EQ(plan.peak_live_bytes, 5000u);
  ASSERT_EQ(plan.threads.size(), 2u);
  ASSERT_EQ(plan.threads[1].size(), 2u);
  EXPECT_EQ(plan.threads[1][0].kind, kPlanFree);
  EXPECT_EQ(plan.threads[1][0].slot, 0u);
  EXPECT_EQ(simulate(plan, Pick::kGreedy, 1), 5000u);
}

TEST(ReplayPlan, NamesTheOrders) {
  for (ReplayOrder order : {ReplayOrder::kFree, ReplayOrder::kPeak, ReplayOrder::kRecorded}) {
    ReplayOrder back = ReplayOrder::kFree;
    EXPECT_TRUE(parse_replay_order(replay_order_name(order), back));
    EXPECT_EQ(back, order);
  }
  ReplayOrder ignored{};
  EXPECT_FALSE(parse_replay_order("timed", ignored));
}

TEST(ReplayPlan, CheckRefusesAGateThatCannotOpen) {
  Plan plan = make_plan(random_trace(3, 500, 5), ReplayOrder::kRecorded);
  ASSERT_NO_THROW(check_plan(plan));
  for (auto& ops : plan.threads)
    for (PlanOp& op : ops) op.publish = 0;
  EXPECT_THROW(check_plan(plan), TraceError);
}

}  // namespace
