// Locked<P>: any pool shared by 2 to 16 threads, blocks freed on other threads, contents
// verified; its SpinLock under contention.
#include "poolkit/locked.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "poolkit/buddy_pool.hpp"
#include "poolkit/detail/spin_lock.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/heap.hpp"
#include "support_pools.hpp"
#include "threads_support.hpp"

using poolkit::Locked;
using poolkit::test::cross_thread_workout;
using poolkit::test::MallocPool;
using poolkit::test::scaled;
using poolkit::test::SlotPool;

static_assert(poolkit::Pool<Locked<MallocPool>>);
static_assert(poolkit::Pool<Locked<SlotPool>>);

class LockedThreads : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(threads, LockedThreads, ::testing::Values(2u, 4u, 8u, 16u));

TEST_P(LockedThreads, SlotPoolKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<SlotPool> pool(256, 4096);
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam()), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(LockedThreads, MallocPoolKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<MallocPool> pool;
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 1000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(LockedThreads, GuardedPoolSeesNoErrorAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  poolkit::GuardOptions o;
  o.use_env = false;
  Locked<poolkit::Guarded<MallocPool>> pool(o);
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(50'000) / GetParam()), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.with_lock([](auto& g) { return g.errors_total(); }), 0u);
}


TEST_P(LockedThreads, FixedPoolKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<poolkit::FixedPool> pool(poolkit::FixedPool::Options{.chunk_size = 128, .chunk_align = 64});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 128, 6), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(LockedThreads, HeapKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<poolkit::Heap> pool(poolkit::Heap::Options{});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(LockedThreads, BuddyPoolKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<poolkit::BuddyPool> pool(poolkit::BuddyPool::Options{.min_order = 4, .max_order = 24});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(LockedThreads, PoolSetKeepsEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  Locked<poolkit::test::PoolSetPool> pool;
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

// ---- SpinLock under contention: more threads than cores, so waiters must sleep
// (futex) and be woken; a lost wake-up hangs the test, a broken exclusion loses counts.
TEST_P(LockedThreads, SpinLockExcludesAndWakesEveryWaiter) {
  poolkit::detail::SpinLock lock;
  std::uint64_t counter = 0;  // plain: only the lock orders the increments (TSan checks)
  const std::size_t per_thread = scaled(200'000) / GetParam();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < GetParam(); ++t)
    threads.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        lock.lock();
        ++counter;
        if (i % 1024 == 0) std::this_thread::yield();  // holder descheduled: waiters go to sleep
        lock.unlock();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, per_thread * GetParam());
  EXPECT_FALSE(lock.is_locked());
}
