// PerCpu<P>: shards chosen by CPU, frees routed to the owning shard, 2 to 16 threads.
#include "poolkit/per_cpu.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/heap.hpp"
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
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam()), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, MallocShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<MallocPool> pool;
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 1000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, FixedPoolShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::FixedPool> pool(0, poolkit::FixedPool::Options{.chunk_size = 128, .chunk_align = 64});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 128, 6), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, HeapShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::Heap> pool(4, poolkit::Heap::Options{});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, BuddyShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::BuddyPool> pool(3, poolkit::BuddyPool::Options{.min_order = 4, .max_order = 22});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, ArenaShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::Arena> pool(0, poolkit::Arena::Options{});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(50'000) / GetParam(), 500, 8), 0u);
  EXPECT_TRUE(pool.check());  // an arena frees only its last block: no live-block count here
}

TEST_P(PerCpuThreads, GuardedHeapShardsReportNothingAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  poolkit::GuardOptions o;
  o.use_env = false;
  PerCpu<poolkit::Guarded<poolkit::Heap>> pool(2, [&](std::size_t) {
    return poolkit::Guarded<poolkit::Heap>(o, poolkit::Heap::Options{});
  });
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(50'000) / GetParam(), 500, 8), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}
