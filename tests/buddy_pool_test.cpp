// BuddyPool: splitting, merging, the 3000 -> 4096 waste in stats, bad input, a
// randomized differential test against BlockModel, and the pmr / STL adapters.
#include "poolkit/buddy_pool.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <map>
#include <memory_resource>
#include <random>
#include <vector>

#include "poolkit/allocator.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/memory_resource.hpp"
#include "test_support.hpp"

using poolkit::BuddyPool;

namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * 1024;

BuddyPool::Options orders(unsigned min_order, unsigned max_order) {
  BuddyPool::Options options;
  options.min_order = min_order;
  options.max_order = max_order;
  return options;
}

}  // namespace

TEST(BuddyPool, ThreeThousandBytesTakeA4096ByteBlockAndStatsShowTheWaste) {
  BuddyPool pool(orders(4, 20));
  void* p = pool.allocate(3000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pool.block_size(p), 4096u);
  const poolkit::PoolStats s = pool.stats();
  EXPECT_EQ(s.bytes_requested, 3000u);
  EXPECT_EQ(s.bytes_in_use, 4096u);
  EXPECT_EQ(s.internal_waste(), 1096u);
  EXPECT_NEAR(s.internal_fragmentation(), 1096.0 / 4096.0, 1e-12);  // 26.76%
  EXPECT_EQ(static_cast<int>(s.internal_fragmentation() * 100 + 0.5), 27);
  EXPECT_NE(poolkit::to_string(s, "buddy").find("26.8% overhead"), std::string::npos)
      << poolkit::to_string(s, "buddy");
  pool.deallocate(p, 3000);
  EXPECT_EQ(pool.stats().bytes_requested, 0u);
  EXPECT_EQ(pool.stats().bytes_in_use, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, EveryBlockIsAlignedToItsSize) {
  BuddyPool pool(orders(4, 20));
  std::vector<void*> blocks;
  for (std::size_t size : {1, 17, 100, 3000, 5000, 65536, 1000, 16}) {
    void* p = pool.allocate(size, 1);
    ASSERT_NE(p, nullptr) << size;
    const std::size_t block = std::bit_ceil(std::max<std::size_t>(size, 16));
    EXPECT_EQ(pool.block_size(p), block);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % block, 0u) << size;
    blocks.push_back(p);
  }
  for (void* p : blocks) pool.deallocate(p, 0);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, AlignmentUpToTheBlockSizeCostsNothing) {
  BuddyPool pool(orders(4, 20));
  void* p = pool.allocate(4096, 4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pool.block_size(p), 4096u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
  EXPECT_EQ(pool.stats().bytes_in_use, 4096u);
  pool.deallocate(p, 4096, 4096);
}

TEST(BuddyPool, AlignmentAboveTheSizeRaisesTheBlockToTheAlignment) {
  BuddyPool pool(orders(4, 20));
  void* p = pool.allocate(10, 1024);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pool.block_size(p), 1024u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 1024, 0u);
  pool.deallocate(p, 10, 1024);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, FirstSmallAllocationSplitsOneBlockOfEachOrder) {
  BuddyPool pool(orders(4, 20));
  void* p = pool.allocate(16);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, pool.region());  // the lower half is kept at every split
  for (unsigned k = 4; k < 20; ++k) EXPECT_EQ(pool.free_blocks(k), 1u) << k;
  EXPECT_EQ(pool.free_blocks(20), 0u);
  EXPECT_TRUE(pool.check());
  pool.deallocate(p, 16);
  for (unsigned k = 4; k < 20; ++k) EXPECT_EQ(pool.free_blocks(k), 0u) << k;
  EXPECT_EQ(pool.free_blocks(20), 1u);
}

TEST(BuddyPool, FreeingBothBuddiesMergesThemAllTheWayUp) {
  BuddyPool pool(orders(4, 12));
  void* a = pool.allocate(2048);
  void* b = pool.allocate(2048);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) ^ reinterpret_cast<std::uintptr_t>(b), 2048u);
  EXPECT_EQ(pool.allocate(1), nullptr);  // full
  pool.deallocate(a, 2048);
  EXPECT_EQ(pool.free_blocks(11), 1u);  // b is live: no merge yet
  EXPECT_EQ(pool.free_blocks(12), 0u);
  pool.deallocate(b, 2048);
  EXPECT_EQ(pool.free_blocks(11), 0u);
  EXPECT_EQ(pool.free_blocks(12), 1u);
  EXPECT_EQ(pool.stats().largest_free, 4096u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, AFreedBlockServesTheNextRequestOfItsOrderWithoutASplit) {
  BuddyPool pool(orders(4, 20));
  void* keep = pool.allocate(32);  // the first request splits the region once
  void* p = pool.allocate(32);
  ASSERT_NE(p, nullptr);
  pool.deallocate(p, 32);  // deferred: not merged with its free buddy yet
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.allocate(20), p);  // the same order takes it back
  EXPECT_TRUE(pool.check());
  pool.deallocate(p, 20);
  pool.deallocate(keep, 32);
  EXPECT_EQ(pool.free_blocks(20), 1u);  // looking merges what waits
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, DeferredFreesMergeBeforeARequestWouldFail) {
  BuddyPool pool(orders(4, 12));  // 4 KiB: 256 minimum blocks
  std::vector<void*> blocks;
  while (void* p = pool.allocate(16)) blocks.push_back(p);
  ASSERT_EQ(blocks.size(), 256u);
  for (void* p : blocks) {
    pool.deallocate(p, 16);
    ASSERT_TRUE(pool.check());  // the deferred bytes stay within a quarter of the region
  }
  EXPECT_EQ(pool.stats().failures, 1u);
  void* whole = pool.allocate(4096);  // needs every deferred block merged
  EXPECT_EQ(whole, pool.region());
  EXPECT_EQ(pool.stats().failures, 1u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, ADoubleFreeOfADeferredBlockIsCounted) {
  BuddyPool pool(orders(4, 16));
  void* a = pool.allocate(64);
  pool.deallocate(a, 64);
  pool.deallocate(a, 64);
  EXPECT_EQ(pool.free_errors().double_frees, 1u);
  EXPECT_FALSE(pool.owns(a));
  EXPECT_EQ(pool.block_size(a), 0u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, FreeBytesThatAreNotBuddiesStayApart) {
  BuddyPool pool(orders(4, 12));  // 4 KiB: four 1 KiB blocks
  void* q[4];
  for (auto& p : q) ASSERT_NE(p = pool.allocate(1024), nullptr);
  pool.deallocate(q[1], 1024);  // q[1] and q[2] are neighbours but not buddies
  pool.deallocate(q[2], 1024);
  const poolkit::PoolStats s = pool.stats();
  EXPECT_EQ(s.bytes_free, 2048u);
  EXPECT_EQ(s.largest_free, 1024u);
  EXPECT_DOUBLE_EQ(s.external_fragmentation(), 0.5);
  EXPECT_EQ(pool.allocate(2048), nullptr);  // 2 KiB free, but not as one block
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, ExhaustionReturnsNullptrAndThePoolStaysUsable) {
  BuddyPool pool(orders(4, 16));
  std::vector<void*> blocks;
  while (void* p = pool.allocate(1000)) blocks.push_back(p);
  EXPECT_EQ(blocks.size(), 64u);  // 64 KiB / 1 KiB
  EXPECT_EQ(pool.stats().failures, 1u);
  pool.deallocate(blocks.back(), 1000);
  blocks.pop_back();
  void* again = pool.allocate(1000);
  EXPECT_NE(again, nullptr);
  blocks.push_back(again);
  for (void* p : blocks) pool.deallocate(p, 1000);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.stats().largest_free, 64 * KiB);
}

TEST(BuddyPool, SizeZeroGetsADistinctMinimumBlock) {
  BuddyPool pool(orders(4, 16));
  void* a = pool.allocate(0);
  void* b = pool.allocate(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.block_size(a), 16u);
  EXPECT_EQ(pool.stats().bytes_requested, 0u);
  EXPECT_EQ(pool.stats().bytes_in_use, 32u);
  pool.deallocate(a, 0);
  pool.deallocate(b, 0);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, SizeMaxAndSizesAboveTheMaxBlockFail) {
  BuddyPool pool(orders(4, 16));
  EXPECT_EQ(pool.allocate(SIZE_MAX), nullptr);
  EXPECT_EQ(pool.allocate(SIZE_MAX - 15, 16), nullptr);
  EXPECT_EQ(pool.allocate(64 * KiB + 1), nullptr);
  EXPECT_EQ(pool.stats().failures, 3u);
  void* whole = pool.allocate(64 * KiB);  // exactly the max block is fine
  EXPECT_NE(whole, nullptr);
  pool.deallocate(whole, 64 * KiB);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, BadAlignmentFails) {
  BuddyPool pool(orders(4, 16));
  EXPECT_EQ(pool.allocate(16, 3), nullptr);
  EXPECT_EQ(pool.allocate(16, 0), nullptr);
  EXPECT_EQ(pool.allocate(16, 8192), nullptr);  // above kMaxAlignment
  EXPECT_EQ(pool.stats().failures, 3u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, DeallocatingNullDoesNothing) {
  BuddyPool pool(orders(4, 16));
  pool.deallocate(nullptr, 16);
  EXPECT_EQ(pool.stats().deallocations, 0u);
  EXPECT_EQ(pool.free_errors().foreign, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, DoubleFreeIsCountedAndChangesNothing) {
  BuddyPool pool(orders(4, 16));
  void* a = pool.allocate(100);
  void* b = pool.allocate(100);
  pool.deallocate(a, 100);
  pool.deallocate(a, 100);  // a is a free block of its own order
  EXPECT_EQ(pool.free_errors().double_frees, 1u);
  pool.deallocate(b, 100);  // merges: a is now inside a bigger free block
  pool.deallocate(a, 100);
  pool.deallocate(b, 100);
  EXPECT_EQ(pool.free_errors().double_frees, 3u);
  EXPECT_EQ(pool.stats().deallocations, 2u);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.stats().largest_free, 64 * KiB);
}

TEST(BuddyPool, ForeignPointerIsCountedAndChangesNothing) {
  BuddyPool pool(orders(4, 16));
  void* a = pool.allocate(100);
  alignas(16) unsigned char local[64] = {};  // block-sized, so no compiler warns of the free-list write
  pool.deallocate(local, sizeof local);
  auto* region = static_cast<const unsigned char*>(pool.region());
  pool.deallocate(const_cast<unsigned char*>(region + 64 * KiB), 16);  // one past the end
  EXPECT_EQ(pool.free_errors().foreign, 2u);
  EXPECT_EQ(pool.stats().live_blocks, 1u);
  pool.deallocate(a, 100);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, InteriorPointerIsCountedAndChangesNothing) {
  BuddyPool pool(orders(4, 16));
  auto* a = static_cast<unsigned char*>(pool.allocate(100));  // a 128 B block
  pool.deallocate(a + 1, 99);    // not on a minimum-block boundary
  pool.deallocate(a + 64, 36);   // on a boundary, but inside a's block
  EXPECT_EQ(pool.free_errors().interior, 2u);
  EXPECT_EQ(pool.stats().live_blocks, 1u);
  EXPECT_TRUE(pool.check());
  pool.deallocate(a, 100);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(BuddyPool, OwnsAddressesInsideLiveBlocksOnly) {
  BuddyPool pool(orders(4, 16));
  auto* a = static_cast<unsigned char*>(pool.allocate(100));
  auto* b = static_cast<unsigned char*>(pool.allocate(100));
  EXPECT_TRUE(pool.owns(a));
  EXPECT_TRUE(pool.owns(a + 99));
  int local = 0;
  EXPECT_FALSE(pool.owns(&local));
  EXPECT_FALSE(pool.owns(nullptr));
  pool.deallocate(b, 100);
  EXPECT_FALSE(pool.owns(b));
  pool.deallocate(a, 100);
  EXPECT_FALSE(pool.owns(a));
}

TEST(BuddyPool, ReleaseFreesEveryBlockAndLeavesOneFreeBlock) {
  BuddyPool pool(orders(4, 16));
  for (int i = 0; i < 50; ++i) ASSERT_NE(pool.allocate(static_cast<std::size_t>(i * 37)), nullptr);
  pool.release();
  const poolkit::PoolStats s = pool.stats();
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_requested, 0u);
  EXPECT_EQ(s.largest_free, 64 * KiB);
  EXPECT_EQ(s.peak_in_use > 0, true);
  EXPECT_TRUE(pool.check());
  EXPECT_NE(pool.allocate(64 * KiB), nullptr);
}

TEST(BuddyPool, BadOrdersMakeAnEmptyPoolThatFailsEveryRequest) {
  for (auto [lo, hi] : {std::pair{3u, 10u}, {12u, 10u}, {4u, 41u}, {4u, 33u}}) {
    BuddyPool pool(orders(lo, hi));
    EXPECT_FALSE(pool.valid()) << lo << ".." << hi;
    EXPECT_EQ(pool.allocate(16), nullptr);
    EXPECT_FALSE(pool.owns(&pool));
    pool.deallocate(&pool, 16);
    pool.release();
    EXPECT_TRUE(pool.check());
    EXPECT_EQ(pool.stats().bytes_reserved, 0u);
  }
}

TEST(BuddyPool, StatsCountCallsPeakAndReservedMemory) {
  BuddyPool pool(orders(4, 20));
  void* a = pool.allocate(100);   // 128
  void* b = pool.allocate(5000);  // 8192
  pool.deallocate(a, 100);
  const poolkit::PoolStats s = pool.stats();
  EXPECT_EQ(s.allocations, 2u);
  EXPECT_EQ(s.deallocations, 1u);
  EXPECT_EQ(s.live_blocks, 1u);
  EXPECT_EQ(s.peak_in_use, 128u + 8192u);
  EXPECT_EQ(s.bytes_free, MiB - 8192);
  EXPECT_GE(s.bytes_reserved, MiB);
  pool.deallocate(b, 5000);
}

TEST(BuddyPool, AsanReportsUseAfterFreeAndOverflowIntoTheBlocksSlack) {
  if (!poolkit::annotate::kAsan) GTEST_SKIP() << "needs an ASan build";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BuddyPool pool(orders(4, 16));
  auto* p = static_cast<volatile char*>(pool.allocate(3000));
  p[2999] = 1;  // inside the request: fine
  EXPECT_DEATH(p[3000] = 1, "use-after-poison");  // inside the 4096 block, past the request
  pool.deallocate(const_cast<char*>(p), 3000);
  EXPECT_DEATH(p[0] = 1, "use-after-poison");
}

// ---- randomized differential test -------------------------------------------------

namespace {

std::size_t random_size(std::mt19937_64& rng, std::size_t max_block) {
  const unsigned max_bits = static_cast<unsigned>(std::bit_width(max_block));
  // Mostly small sizes (each power-of-two range equally likely), now and then any size.
  const unsigned bits = rng() % 100 < 99 ? static_cast<unsigned>(rng() % 14)
                                         : static_cast<unsigned>(rng() % max_bits);
  const std::size_t size = std::size_t{1} << bits;
  return std::min<std::size_t>(size + rng() % size, max_block) - (rng() % 64 == 0 ? 1 : 0);
}

std::size_t random_alignment(std::mt19937_64& rng) {
  if (rng() % 5 != 0) return poolkit::kDefaultAlignment;
  return std::size_t{1} << (rng() % 13);  // 1 .. 4096
}

}  // namespace

TEST(BuddyPool, RandomizedDifferentialAgainstBlockModel) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED)");
  constexpr unsigned kMaxOrder = 22;  // 4 MiB
  BuddyPool pool(orders(4, kMaxOrder));
  ASSERT_TRUE(pool.valid());
  poolkit::test::BlockModel model;
  std::mt19937_64 rng(seed);
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  std::size_t requested = 0, in_use = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    // Phases that fill the pool and phases that drain it.
    const unsigned alloc_percent = (i / 50'000) % 2 ? 40 : 62;
    if (model.empty() || rng() % 100 < alloc_percent) {
      const std::size_t size = random_size(rng, pool.max_block());
      const std::size_t align = random_alignment(rng);
      const std::size_t block =
          std::max({std::bit_ceil(std::max<std::size_t>(size, 1)), align, pool.min_block()});
      void* p = pool.allocate(size, align);
      if (!p) {
        // Legitimate only when no free block is big enough.
        ASSERT_LT(pool.stats().largest_free, block) << "op " << i << " size " << size;
        continue;
      }
      ASSERT_EQ(pool.block_size(p), block) << "op " << i;
      ASSERT_TRUE(model.add(p, size, align, static_cast<std::uint8_t>(rng()))) << "op " << i;
      requested += size;
      in_use += block;
    } else {
      const poolkit::test::LiveBlock b = model.take_random(rng);
      in_use -= pool.block_size(b.p);
      pool.deallocate(b.p, b.size, b.align);
      requested -= b.size;
    }
    if (i % 500 == 0) {
      ASSERT_TRUE(pool.check()) << "op " << i;
      const poolkit::PoolStats s = pool.stats();
      ASSERT_EQ(s.live_blocks, model.count()) << "op " << i;
      ASSERT_EQ(s.bytes_requested, requested) << "op " << i;
      ASSERT_EQ(s.bytes_in_use, in_use) << "op " << i;
    }
  }
  model.verify_all();
  while (!model.empty()) {
    const poolkit::test::LiveBlock b = model.take(model.count() - 1);
    pool.deallocate(b.p, b.size, b.align);
  }
  ASSERT_TRUE(pool.check());
  const poolkit::PoolStats s = pool.stats();
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_requested, 0u);
  EXPECT_EQ(s.largest_free, pool.max_block());  // one free block again
  EXPECT_EQ(pool.free_blocks(kMaxOrder), 1u);
  EXPECT_GT(s.failures, 0u);  // the test did reach exhaustion
}

// A small pool, so that the deferred frees' bound (a quarter of the region) and the
// settle before a failing search are reached all the time: check() after every call.
TEST(BuddyPool, RandomizedDifferentialWithDeferredFreesChecksEveryOperation) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED)");
  BuddyPool pool(orders(4, 14));  // 16 KiB: at most 4 KiB deferred
  poolkit::test::BlockModel model;
  std::mt19937_64 rng(seed);
  const std::size_t ops = poolkit::test::scaled(200'000);
  std::size_t requested = 0, in_use = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    if (model.empty() || rng() % 100 < 55) {
      const std::size_t size = 1 + rng() % (std::size_t{16} << (rng() % 9));  // 1 .. 4 KiB
      const std::size_t block = std::max(std::bit_ceil(size), pool.min_block());
      void* p = pool.allocate(size);
      if (!p) {
        ASSERT_LT(pool.stats().largest_free, block) << "op " << i << " size " << size;
      } else {
        ASSERT_EQ(pool.block_size(p), block) << "op " << i;
        ASSERT_TRUE(model.add(p, size, 16, static_cast<std::uint8_t>(rng()))) << "op " << i;
        requested += size;
        in_use += block;
      }
    } else {
      const poolkit::test::LiveBlock b = model.take_random(rng);
      in_use -= pool.block_size(b.p);
      pool.deallocate(b.p, b.size, b.align);
      requested -= b.size;
    }
    ASSERT_TRUE(pool.check()) << "op " << i;
    if (i % 64 == 0) {  // stats() settles: look now and then, not after every call
      const poolkit::PoolStats s = pool.stats();
      ASSERT_EQ(s.live_blocks, model.count()) << "op " << i;
      ASSERT_EQ(s.bytes_requested, requested) << "op " << i;
      ASSERT_EQ(s.bytes_in_use, in_use) << "op " << i;
      ASSERT_TRUE(pool.check()) << "op " << i;
    }
  }
  model.verify_all();
  while (!model.empty()) {
    const poolkit::test::LiveBlock b = model.take(model.count() - 1);
    pool.deallocate(b.p, b.size, b.align);
    ASSERT_TRUE(pool.check());
  }
  EXPECT_EQ(pool.stats().largest_free, pool.max_block());
  EXPECT_EQ(pool.free_errors().double_frees + pool.free_errors().interior, 0u);
  EXPECT_GT(pool.stats().failures, 0u);  // the test did reach exhaustion
}

// ---- adapters -----------------------------------------------------------------------

TEST(BuddyPool, BacksAPmrVector) {
  BuddyPool pool(orders(4, 20));
  poolkit::PoolResource<BuddyPool> resource(pool);
  {
    std::pmr::vector<int> v(&resource);
    for (int i = 0; i < 10000; ++i) v.push_back(i);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i);
    EXPECT_EQ(pool.stats().live_blocks, 1u);
    EXPECT_TRUE(pool.owns(v.data()));
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, PmrResourceThrowsBadAllocWhenFull) {
  BuddyPool pool(orders(4, 12));
  poolkit::PoolResource<BuddyPool> resource(pool);
  std::pmr::vector<char> v(&resource);
  EXPECT_THROW(v.reserve(8192), std::bad_alloc);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPool, BacksAStdMapThroughPoolAllocator) {
  BuddyPool pool(orders(4, 20));
  using Alloc = poolkit::PoolAllocator<std::pair<const int, int>, BuddyPool>;
  {
    std::map<int, int, std::less<int>, Alloc> m{Alloc(pool)};
    for (int i = 0; i < 1000; ++i) m[i] = i * i;
    for (int i = 0; i < 1000; i += 2) m.erase(i);
    EXPECT_EQ(pool.stats().live_blocks, 500u);
    for (const auto& [k, v] : m) ASSERT_EQ(v, k * k);
    EXPECT_TRUE(pool.check());
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_EQ(pool.stats().largest_free, MiB);
}
