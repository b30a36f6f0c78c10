// PoolSet: numbered pools on one heap, freeing blocks without a pool id, releasing
// one pool or all, per-pool stats, bad input, the View as a Pool, and a randomized
// differential run over several pools against one BlockModel per pool.
#include "poolkit/pool_set.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory_resource>
#include <random>
#include <unordered_map>
#include <vector>

#include "poolkit/allocator.hpp"
#include "poolkit/memory_resource.hpp"
#include "test_support.hpp"

using poolkit::PoolSet;
using poolkit::test::BlockModel;

namespace {
bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }
}  // namespace

TEST(PoolSet, AllocatesFromNumberedPoolsAndKnowsEachBlocksPool) {
  PoolSet set;
  void* a = set.allocate(1, 400);
  void* b = set.allocate(2, 32);
  void* c = set.allocate(0xFFFFFFFFu, 80);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(aligned(a, 16) && aligned(b, 16) && aligned(c, 16));
  EXPECT_EQ(set.pool_of(a), 1u);
  EXPECT_EQ(set.pool_of(b), 2u);
  EXPECT_EQ(set.pool_of(c), 0xFFFFFFFFu);
  EXPECT_EQ(set.pool_count(), 3u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, DeallocateNeedsNoPoolId) {
  PoolSet set;
  void* a = set.allocate(7, 100);
  void* b = set.allocate(7, 100);
  set.deallocate(a);
  EXPECT_EQ(set.stats(7).live_blocks, 1u);
  EXPECT_FALSE(set.pool_of(a).has_value());
  set.deallocate(b);
  EXPECT_EQ(set.stats(7).live_blocks, 0u);
  EXPECT_EQ(set.stats(7).deallocations, 2u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, ReleasingAPoolFreesItsBlocksAndLeavesTheOthersIntact) {
  PoolSet set;
  std::vector<unsigned char*> ones, twos;
  for (int i = 0; i < 100; ++i) {
    ones.push_back(static_cast<unsigned char*>(set.allocate(1, 64 + i)));
    BlockModel::fill(ones.back(), 64 + i, 1);
    twos.push_back(static_cast<unsigned char*>(set.allocate(2, 32 + i)));
  }
  const auto heap_frees = set.heap().stats().deallocations;
  set.release(2);
  EXPECT_EQ(set.heap().stats().deallocations - heap_frees, 100u);  // exactly pool 2's blocks
  EXPECT_EQ(set.stats(2).live_blocks, 0u);
  EXPECT_EQ(set.stats(2).bytes_in_use, 0u);
  EXPECT_EQ(set.stats(1).live_blocks, 100u);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(BlockModel::verify_bytes(ones[i], 64 + i, 1));
  for (void* p : twos) EXPECT_FALSE(set.pool_of(p).has_value());
  EXPECT_TRUE(set.check());
  void* again = set.allocate(2, 16);  // the pool is usable after release
  EXPECT_EQ(set.pool_of(again), 2u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, ReleasingAnUnknownPoolDoesNothing) {
  PoolSet set;
  void* a = set.allocate(1, 10);
  set.release(99);
  EXPECT_EQ(set.pool_of(a), 1u);
  EXPECT_EQ(set.pool_count(), 1u);
}

TEST(PoolSet, ReleaseAllFreesEveryPool) {
  PoolSet set;
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_NE(set.allocate(i % 10, 1 + i % 300), nullptr);
  set.release();
  EXPECT_EQ(set.stats().live_blocks, 0u);
  EXPECT_EQ(set.stats().bytes_requested, 0u);
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(set.stats(i).live_blocks, 0u);
  EXPECT_TRUE(set.check());
  EXPECT_NE(set.allocate(3, 10), nullptr);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, HonoursAlignmentUpTo4096WithoutAWholeExtraBlock) {
  PoolSet set;
  for (std::size_t a = 1; a <= 4096; a <<= 1) {
    void* p = set.allocate(5, 100, a);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p, a)) << a;
    EXPECT_LE(set.heap().usable_size(static_cast<char*>(p) - PoolSet::kHeaderSize),
              100 + PoolSet::kHeaderSize + 32);
  }
  EXPECT_TRUE(set.check());
  set.release(5);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, StatsPerPoolAndForTheWholeSet) {
  PoolSet set;
  for (int i = 0; i < 10; ++i) set.allocate(1, 100);
  for (int i = 0; i < 5; ++i) set.allocate(2, 1000);
  auto one = set.stats(1);
  EXPECT_EQ(one.bytes_requested, 1000u);
  EXPECT_EQ(one.live_blocks, 10u);
  EXPECT_GE(one.bytes_in_use, 10u * (100 + PoolSet::kHeaderSize));
  EXPECT_EQ(one.bytes_reserved, 0u);
  EXPECT_GT(one.largest_free, 0u);
  auto all = set.stats();
  EXPECT_EQ(all.bytes_requested, 6000u);
  EXPECT_EQ(all.live_blocks, 15u);
  EXPECT_EQ(all.bytes_in_use, one.bytes_in_use + set.stats(2).bytes_in_use);
  EXPECT_GT(all.bytes_reserved, 0u);
  EXPECT_EQ(set.stats(42).live_blocks, 0u);
}

// ---- bad input ------------------------------------------------------------------

TEST(PoolSet, DoubleFreeIsCountedAndIgnored) {
  PoolSet set;
  void* a = set.allocate(1, 100);
  void* b = set.allocate(1, 100);
  set.deallocate(a);
  set.deallocate(a);
  EXPECT_EQ(set.bad_frees(), 1u);
  EXPECT_EQ(set.stats(1).live_blocks, 1u);
  EXPECT_TRUE(set.check());
  set.release(1);
  set.deallocate(b);  // freed by the release
  EXPECT_EQ(set.bad_frees(), 2u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, ForeignAndInteriorPointersAreCountedAndIgnored) {
  PoolSet set;
  auto* a = static_cast<unsigned char*>(set.allocate(1, 256));
  BlockModel::fill(a, 256, 4);
  int on_stack = 0;
  set.deallocate(&on_stack);
  for (std::size_t off : {1u, 16u, 32u, 48u, 128u}) set.deallocate(a + off);
  EXPECT_EQ(set.bad_frees(), 6u);
  EXPECT_FALSE(set.owns(&on_stack));
  EXPECT_TRUE(set.owns(a));
  EXPECT_FALSE(set.pool_of(a + 32).has_value());
  EXPECT_TRUE(BlockModel::verify_bytes(a, 256, 4));
  EXPECT_EQ(set.stats(1).live_blocks, 1u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, NullSizeZeroSizeMaxAndAlignmentThreeGetTheirDocumentedResults) {
  PoolSet set;
  set.deallocate(nullptr);
  EXPECT_EQ(set.bad_frees(), 0u);
  void* z1 = set.allocate(1, 0);
  void* z2 = set.allocate(1, 0);
  ASSERT_NE(z1, nullptr);
  EXPECT_NE(z1, z2);
  EXPECT_EQ(set.allocate(1, SIZE_MAX), nullptr);
  EXPECT_EQ(set.allocate(1, SIZE_MAX - PoolSet::kHeaderSize + 1), nullptr);
  EXPECT_EQ(set.allocate(1, 8, 3), nullptr);
  EXPECT_EQ(set.stats(1).failures, 3u);
  EXPECT_EQ(set.stats(1).live_blocks, 2u);
  EXPECT_TRUE(set.check());
}

// ---- as a Pool --------------------------------------------------------------------

TEST(PoolSet, ViewWorksAsAPmrResourceAndReleaseFreesTheContainersMemory) {
  PoolSet set;
  auto view = set.view(3);
  {
    poolkit::PoolResource<PoolSet::View> resource(view);
    std::pmr::vector<int> v(&resource);
    for (int i = 0; i < 50000; ++i) v.push_back(i);
    std::pmr::map<int, int> m(&resource);
    for (int i = 0; i < 2000; ++i) m[i] = -i;
    std::pmr::unordered_map<int, int> u(&resource);
    for (int i = 0; i < 3000; ++i) u[i] = i;
    EXPECT_EQ(v[49999], 49999);
    EXPECT_EQ(m[1999], -1999);
    EXPECT_EQ(u.at(2999), 2999);
    EXPECT_GT(view.stats().live_blocks, 4000u);
    EXPECT_TRUE(set.check());
  }
  EXPECT_EQ(view.stats().live_blocks, 0u);
  EXPECT_TRUE(set.check());
}

TEST(PoolSet, ViewWorksAsAnStlAllocator) {
  PoolSet set;
  auto view = set.view(9);
  std::vector<long, poolkit::PoolAllocator<long, PoolSet::View>> v{poolkit::PoolAllocator<long, PoolSet::View>(view)};
  for (long i = 0; i < 10000; ++i) v.push_back(i);
  EXPECT_EQ(v[1234], 1234);
  EXPECT_EQ(set.stats(9).live_blocks, 1u);
  EXPECT_TRUE(view.owns(v.data()));
  EXPECT_FALSE(set.view(8).owns(v.data()));
}

// ---- randomized differential test ----------------------------------------------------

// Run with the heap's front cache on (the default) and off. The cache keeps recent
// small blocks unmerged until coalesce(), after which the heap is as it began.
class PoolSetRandomized : public ::testing::TestWithParam<bool> {};

TEST_P(PoolSetRandomized, MillionOperationsOverEightPoolsAgreeWithTheModel) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  poolkit::Heap::Options heap_options;
  heap_options.front_cache = GetParam();
  PoolSet set(heap_options);
  constexpr std::uint32_t kPools = 8;
  std::vector<BlockModel> models(kPools);

  set.release(0);
  set.deallocate(set.allocate(0, 1));
  const std::size_t initial_free_blocks = set.heap().free_blocks();

  const std::size_t ops = poolkit::test::scaled(1'000'000);
  for (std::size_t i = 0; i < ops; ++i) {
    const auto pool = static_cast<std::uint32_t>(rng() % kPools);
    BlockModel& model = models[pool];
    const auto roll = rng() % 1000;
    if (roll < 2) {
      model.verify_all();
      set.release(pool);
      model.clear();
      ASSERT_EQ(set.stats(pool).live_blocks, 0u);
    } else if (model.empty() || (roll < 520 && model.count() < 120)) {
      const auto r = rng() % 1000;
      const std::size_t size = r < 2 ? 1 + rng() % (1 << 20) : r < 30 ? 1 + rng() % 65536 : 1 + rng() % 512;
      const std::size_t align = rng() % 10 < 8 ? 16 : std::size_t{1} << (rng() % 13);
      void* p = set.allocate(pool, size, align);
      ASSERT_NE(p, nullptr) << "op " << i;
      ASSERT_TRUE(model.add(p, size, align, static_cast<std::uint8_t>(rng())));
    } else {
      auto b = model.take_random(rng);
      ASSERT_EQ(set.pool_of(b.p), pool) << "op " << i;
      set.deallocate(b.p);
    }
    if (i % 500 == 0) {
      ASSERT_TRUE(set.check()) << "op " << i;
      std::size_t live = 0;
      for (std::uint32_t k = 0; k < kPools; ++k) {
        ASSERT_EQ(set.stats(k).live_blocks, models[k].count());
        live += models[k].count();
      }
      ASSERT_EQ(set.stats().live_blocks, live);
    }
  }
  for (auto& m : models) m.verify_all();
  for (std::uint32_t k = 0; k < kPools; ++k) {
    while (!models[k].empty()) set.deallocate(models[k].take(models[k].count() - 1).p);
  }
  EXPECT_EQ(set.bad_frees(), 0u);
  EXPECT_EQ(set.stats().live_blocks, 0u);
  EXPECT_EQ(set.stats().bytes_requested, 0u);
  ASSERT_TRUE(set.check());
  set.coalesce();
  ASSERT_TRUE(set.check());
  EXPECT_EQ(set.heap().free_blocks(), initial_free_blocks);
}

INSTANTIATE_TEST_SUITE_P(FrontCache, PoolSetRandomized, ::testing::Bool());
