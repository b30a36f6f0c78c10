// PerCpu<P>: shards chosen by CPU, frees routed to the owning shard, 2 to 16 threads.
#include "poolkit/per_cpu.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "support_pools.hpp"
#include "threads_support.hpp"

using poolkit::PerCpu;
using poolkit::test::cross_thread_workout;
using poolkit::test::MallocPool;
using poolkit::test::scaled;
using poolkit::test::SlotPool;

static_assert(poolkit::Pool<PerCpu<SlotPool>>);
static_assert(poolkit::Pool<PerCpu<MallocPool>>);

class PerCpuThreads : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(threads, PerCpuThreads, ::testing::Values(2u, 4u, 8u, 16u));

TEST_P(PerCpuThreads, SlotShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<SlotPool> pool(4, 256, 2048);  // more shards than this machine's CPUs
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(400'000) / GetParam()), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, MallocShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<MallocPool> pool;
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(400'000) / GetParam(), 1000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}
