// Locked<P> on one thread: forwarding, shard routing, bad input, stats.
#include "poolkit/locked.hpp"

#include <gtest/gtest.h>

#include <cstdint>

#include "support_pools.hpp"

using poolkit::Locked;
using poolkit::test::MallocPool;
using poolkit::test::SlotPool;

TEST(Locked, ForwardsEveryCallToTheInnerPool) {
  Locked<SlotPool> pool(128, 4);
  void* p = pool.allocate(100);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(pool.owns(p));
  EXPECT_EQ(pool.allocate(200), nullptr);
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  pool.deallocate(nullptr, 1);
  pool.deallocate(p, 100);
  EXPECT_FALSE(pool.owns(p));
  EXPECT_EQ(pool.stats().allocations, 1u);
  pool.allocate(10);
  pool.release();
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}
