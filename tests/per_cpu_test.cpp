// PerCpu<P> on one thread: forwarding, shard routing, bad input, stats.
#include "poolkit/per_cpu.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "support_pools.hpp"

using poolkit::PerCpu;
using poolkit::test::MallocPool;
using poolkit::test::SlotPool;

TEST(PerCpu, DefaultsToOneShardPerCpu) {
  PerCpu<MallocPool> pool;
  EXPECT_EQ(pool.shard_count(), PerCpu<MallocPool>::default_shards());
  EXPECT_LT(pool.current_shard(), pool.shard_count());
}

TEST(PerCpu, BlockFreedElsewhereGoesBackToTheShardThatOwnsIt) {
  PerCpu<SlotPool> pool(4, 256, 16);
  void* p = pool.allocate_from(3, 100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pool.owner(p), 3u);
  EXPECT_EQ(pool.with_shard(3, [](SlotPool& s) { return s.stats().live_blocks; }), 1u);
  pool.deallocate(p, 100);  // from whatever CPU this thread is on
  EXPECT_EQ(pool.with_shard(3, [](SlotPool& s) { return s.stats().live_blocks; }), 0u);
  EXPECT_EQ(pool.owner(p), PerCpu<SlotPool>::kNone);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpu, ExhaustedShardFallsBackToTheOthers) {
  PerCpu<SlotPool> pool(2, [](std::size_t) { return SlotPool(64, 2); });
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) {
    void* p = pool.allocate_from(0, 64);
    ASSERT_NE(p, nullptr) << i;
    blocks.push_back(p);
  }
  EXPECT_EQ(pool.allocate_from(0, 64), nullptr);
  EXPECT_EQ(pool.owner(blocks[3]), 1u);
  for (void* p : blocks) pool.deallocate(p, 64);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(PerCpu, BadInputIsRefusedOrIgnored) {
  PerCpu<SlotPool> pool(2, 256, 8);
  EXPECT_EQ(pool.allocate(8, 0), nullptr);
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  EXPECT_EQ(pool.allocate(SIZE_MAX), nullptr);
  int local;
  pool.deallocate(&local, 4);  // no shard owns it: ignored
  pool.deallocate(nullptr, 4);
  void* p = pool.allocate(8);
  pool.deallocate(p, 8);
  pool.deallocate(p, 8);  // double free: no shard owns it any more, ignored
  EXPECT_EQ(pool.stats().deallocations, 1u);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpu, StatsAddUpTheShards) {
  PerCpu<SlotPool> pool(3, 128, 4);
  void* a = pool.allocate_from(0, 10);
  void* b = pool.allocate_from(2, 20);
  auto s = pool.stats();
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.bytes_requested, 30u);
  EXPECT_EQ(s.bytes_reserved, 3u * 128 * 4);
  pool.deallocate(a, 10);
  pool.deallocate(b, 20);
  pool.allocate(1);
  pool.release();
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

