// PerCpu<P>: shard routing, bad input, stats; over a one-size pool its thread caches
// and depot (one thread, or a few in turn); cpu_index().
#include "poolkit/per_cpu.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "poolkit/detail/cpu_index.hpp"
#include "poolkit/fixed_pool.hpp"
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


// ---- cpu_index(): the helper PerCpu picks shards with.

TEST(CpuIndex, NamesACpuOfThisMachine) {
  const unsigned cpus = std::thread::hardware_concurrency();
  for (int i = 0; i < 100; ++i) EXPECT_LT(poolkit::detail::cpu_index(), cpus ? cpus : 1u);
}

TEST(CpuIndex, RseqAgreesWithSchedGetcpuWhenRegistered) {
  // Both read the kernel's view; they may differ only if the thread migrates between
  // the two reads, so most of many tries must agree.
  if (poolkit::detail::rseq_cpu() < 0) GTEST_SKIP() << "no rseq area registered (old glibc/kernel, or a tool)";
  int agree = 0;
  for (int i = 0; i < 100; ++i) agree += poolkit::detail::rseq_cpu() == sched_getcpu();
  EXPECT_GT(agree, 90);
}

// ---- PerCpu over a one-size pool: per-thread caches and the depot.

using poolkit::FixedPool;
using CachedPool = PerCpu<FixedPool>;

TEST(PerCpuCached, CachesOnlyOneSizePools) {
  static_assert(poolkit::OneSizePool<FixedPool>);
  static_assert(!poolkit::OneSizePool<SlotPool>);
  CachedPool fixed(2, 32);
  PerCpu<SlotPool> slots(2, 64, 4);
  EXPECT_TRUE(fixed.caches_blocks());
  EXPECT_FALSE(slots.caches_blocks());
}

TEST(PerCpuCached, AFreedBlockIsTheNextOneThisThreadGets) {
  CachedPool pool(2, 32);
  void* a = pool.allocate(32);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.cached_here(), CachedPool::kBatch - 1);  // the first call took one batch
  pool.deallocate(a, 32);
  EXPECT_EQ(pool.cached_here(), CachedPool::kBatch);
  EXPECT_EQ(pool.allocate(32), a);
  pool.deallocate(a, 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, RequestsTheBlocksCannotServeAreRefused) {
  CachedPool pool(2, FixedPool::Options{.chunk_size = 48, .chunk_align = 16});
  EXPECT_EQ(pool.allocate(49), nullptr);
  EXPECT_EQ(pool.allocate(8, 32), nullptr);  // above the blocks' alignment
  EXPECT_EQ(pool.allocate(8, 0), nullptr);
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  EXPECT_EQ(pool.allocate(SIZE_MAX), nullptr);
  void* p = pool.allocate(48, 16);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
  pool.deallocate(p, 48, 16);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, StatsCountCachedBlocksAsFree) {
  CachedPool pool(2, 32);
  std::vector<void*> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(pool.allocate(32));
  auto s = pool.stats();
  EXPECT_EQ(s.live_blocks, 10u);
  EXPECT_EQ(s.bytes_in_use, 10u * 32);
  EXPECT_FALSE(s.calls_counted);
  for (void* p : blocks) pool.deallocate(p, 32);
  s = pool.stats();
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(pool.cached_blocks(), CachedPool::kBatch);
  EXPECT_GE(s.bytes_free, CachedPool::kBatch * 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, ACacheHoldsAtMostItsCapacityTheRestGoesToTheDepot) {
  CachedPool pool(2, 32);
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(pool.allocate(32));
  for (void* p : blocks) {
    pool.deallocate(p, 32);
    ASSERT_LE(pool.cached_here(), CachedPool::kCacheCapacity);
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_GE(pool.cached_blocks(), 1000u);  // this cache and the depot (and refill leftovers)
  const std::size_t reserved = pool.stats().bytes_reserved;
  for (int i = 0; i < 1000; ++i) blocks[i] = pool.allocate(32);  // all from the depot
  EXPECT_EQ(pool.stats().bytes_reserved, reserved);
  for (void* p : blocks) pool.deallocate(p, 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, AThreadsCacheGoesToTheDepotWhenItExits) {
  CachedPool pool(2, 32);
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 300; ++i) blocks.push_back(pool.allocate(32));
    for (void* p : blocks) pool.deallocate(p, 32);
    EXPECT_GT(pool.cached_here(), 0u);
  }).join();
  EXPECT_EQ(pool.cached_here(), 0u);  // this thread has no cache yet
  const std::size_t cached = pool.cached_blocks(), reserved = pool.stats().bytes_reserved;
  EXPECT_GE(cached, 300u);
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < cached; ++i) blocks.push_back(pool.allocate(32));  // reuses them all
  EXPECT_EQ(pool.stats().bytes_reserved, reserved);
  EXPECT_EQ(pool.stats().live_blocks, cached);
  for (void* p : blocks) pool.deallocate(p, 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, ExhaustedShardsFailAndRecover) {
  CachedPool pool(2, FixedPool::Options{.chunk_size = 32, .fixed_capacity = 100});
  std::vector<void*> blocks;
  while (void* p = pool.allocate(32)) blocks.push_back(p);
  EXPECT_EQ(blocks.size(), 200u);  // both shards, all of them
  EXPECT_EQ(pool.stats().failures, 1u);
  for (void* p : blocks) pool.deallocate(p, 32);
  blocks.clear();
  while (void* p = pool.allocate(32)) blocks.push_back(p);
  EXPECT_EQ(blocks.size(), 200u);
  for (void* p : blocks) pool.deallocate(p, 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, ReleaseEmptiesEveryCacheAndTheDepot) {
  CachedPool pool(2, 32);
  std::thread([&] { pool.deallocate(pool.allocate(32), 32); }).join();
  for (int i = 0; i < 500; ++i) pool.allocate(32);
  pool.release();
  EXPECT_EQ(pool.cached_blocks(), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
  void* p = pool.allocate(32);
  EXPECT_NE(p, nullptr);
  pool.deallocate(p, 32);
  EXPECT_TRUE(pool.check());
}

TEST(PerCpuCached, PoolsBeyondTheRegistryStillWorkWithoutCaches) {
  std::vector<std::unique_ptr<CachedPool>> pools;
  for (std::size_t i = 0; i <= poolkit::detail::kCacheSlots; ++i) pools.push_back(std::make_unique<CachedPool>(1, 32));
  EXPECT_FALSE(pools.back()->caches_blocks());  // every slot was taken (this test's pools at least)
  void* p = pools.back()->allocate(32);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pools.back()->stats().live_blocks, 1u);
  pools.back()->deallocate(p, 32);
  EXPECT_EQ(pools.back()->stats().live_blocks, 0u);
  pools.clear();
  EXPECT_TRUE(CachedPool(1, 32).caches_blocks());  // slots come back with their pools
}

TEST(PerCpuCached, AThreadNeverReachesTheCacheOfADestroyedPool) {
  // A thread keeps running while the pool it cached blocks of is destroyed and a new
  // pool takes the same registry slot: the thread must start a fresh cache (a stale
  // one would hand out freed memory: ASan and owns() would see it).
  auto first = std::make_unique<CachedPool>(1, 32);
  std::unique_ptr<CachedPool> second;
  std::atomic<int> step{0};
  bool owned = false;
  std::thread worker([&] {
    first->deallocate(first->allocate(32), 32);
    step = 1;
    while (step != 2) std::this_thread::yield();
    void* p = second->allocate(32);
    owned = second->owns(p);
    second->deallocate(p, 32);
  });
  while (step != 1) std::this_thread::yield();
  first.reset();
  second = std::make_unique<CachedPool>(1, 32);
  step = 2;
  worker.join();  // its cache of `second` goes to second's depot
  EXPECT_TRUE(owned);
  EXPECT_EQ(second->cached_blocks(), CachedPool::kBatch);
  EXPECT_EQ(second->stats().live_blocks, 0u);
  EXPECT_TRUE(second->check());
}

// Checked shards (as in a debug build of the library): a bad free is ignored.
TEST(PerCpuCached, CheckedShardsIgnoreForeignPointersAndRepeatedFrees) {
  CachedPool pool(2, [](std::size_t) {
    return FixedPool(FixedPool::Options{.chunk_size = 32, .checks = FixedPool::Checks::kOn});
  });
  ASSERT_TRUE(pool.checks_frees());
  alignas(16) unsigned char local[32];
  pool.deallocate(local, 32);
  void* p = pool.allocate(32);
  pool.deallocate(p, 32);
  pool.deallocate(p, 32);
  EXPECT_EQ(pool.cached_blocks(), CachedPool::kBatch);
  EXPECT_TRUE(pool.check());
}

// The shards' choice, not the caller's NDEBUG, says whether frees are checked.
TEST(PerCpuCached, ChecksFreesExactlyWhenItsShardsDo) {
  auto with = [](FixedPool::Checks checks) {
    return CachedPool(1, [checks](std::size_t) { return FixedPool(FixedPool::Options{.chunk_size = 32, .checks = checks}); })
        .checks_frees();
  };
  EXPECT_TRUE(with(FixedPool::Checks::kOn));
  EXPECT_FALSE(with(FixedPool::Checks::kOff));
  EXPECT_EQ(with(FixedPool::Checks::kLibraryDefault), FixedPool::checks_by_default());
}
