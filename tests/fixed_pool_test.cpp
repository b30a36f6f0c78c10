// FixedPool: chunk geometry, free-list reuse, growth, fixed capacity, release,
// bad input, stats, check(), and a randomized differential test against BlockModel.
#include "poolkit/fixed_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "poolkit/memory_resource.hpp"
#include "test_support.hpp"

#if POOLKIT_VALGRIND
#include <valgrind/valgrind.h>
#endif

using poolkit::FixedPool;

namespace {

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace

TEST(FixedPool, ChunkIsAtLeastAPointerAndRoundedToItsAlignment) {
  EXPECT_EQ(FixedPool(1, 1).chunk_size(), sizeof(void*));
  EXPECT_EQ(FixedPool(24, 16).chunk_size(), 32u);
  EXPECT_EQ(FixedPool(24, 8).chunk_size(), 24u);
  EXPECT_EQ(FixedPool(100, 64).chunk_size(), 128u);
}

TEST(FixedPool, ChunkAlignmentIsWhatTheStrideGuarantees) {
  EXPECT_EQ(FixedPool(24, 8).chunk_align(), 8u);
  EXPECT_EQ(FixedPool(32, 8).chunk_align(), 32u);  // every chunk starts on a 32-byte boundary
  EXPECT_EQ(FixedPool(8192, 4096).chunk_align(), 4096u);
}

TEST(FixedPool, HonoursEveryPowerOfTwoChunkAlignmentUpTo4096) {
  for (std::size_t align = 1; align <= 4096; align <<= 1) {
    FixedPool pool(align < 24 ? 24 : align, align);
    std::vector<void*> chunks;
    for (int i = 0; i < 40; ++i) {
      void* p = pool.allocate(pool.chunk_size(), align);
      ASSERT_NE(p, nullptr) << align;
      EXPECT_EQ(addr(p) % align, 0u) << align;
      chunks.push_back(p);
    }
    for (void* p : chunks) pool.deallocate(p, pool.chunk_size(), align);
    EXPECT_TRUE(pool.check()) << align;
  }
}

TEST(FixedPool, ChunksDoNotOverlapAndKeepTheirContents) {
  FixedPool pool(48, 16);
  poolkit::test::BlockModel model;
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(model.add(pool.allocate(48, 16), 48, 16, std::uint8_t(i)));
  model.verify_all();
  while (!model.empty()) {
    auto b = model.take(model.count() - 1);
    pool.deallocate(b.p, b.size, b.align);
  }
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, FreedChunkIsReusedFirst) {
  FixedPool pool(32);
  void* a = pool.allocate(32);
  void* b = pool.allocate(32);
  pool.deallocate(a, 32);
  EXPECT_EQ(pool.allocate(32), a);  // LIFO: the most recently freed, still warm in cache
  pool.deallocate(b, 32);
  pool.deallocate(a, 32);
  EXPECT_EQ(pool.allocate(32), a);
  EXPECT_EQ(pool.allocate(32), b);
}

TEST(FixedPool, RequestLargerThanTheChunkIsRefused) {
  FixedPool pool(32);
  EXPECT_EQ(pool.allocate(33), nullptr);
  EXPECT_EQ(pool.allocate(SIZE_MAX), nullptr);
  EXPECT_EQ(pool.stats().failures, 2u);
  EXPECT_NE(pool.allocate(32), nullptr);
}

TEST(FixedPool, AlignmentAboveTheChunksOrNotAPowerOfTwoIsRefused) {
  FixedPool pool(24, 8);
  EXPECT_EQ(pool.allocate(8, 16), nullptr);  // the contract's default (16) needs chunk_align 16
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  EXPECT_EQ(pool.allocate(8, 0), nullptr);
  EXPECT_EQ(pool.allocate(8, 8192), nullptr);
  EXPECT_NE(pool.allocate(8, 8), nullptr);
  EXPECT_EQ(pool.stats().failures, 4u);
}

TEST(FixedPool, SizeZeroGetsAUniqueChunk) {
  FixedPool pool(16);
  void* a = pool.allocate(0);
  void* b = pool.allocate(0);
  ASSERT_NE(a, nullptr);
  EXPECT_NE(a, b);
}

TEST(FixedPool, GrowsByBlocksGeometricallyUpToTheCap) {
  FixedPool pool({.chunk_size = 64, .first_block_chunks = 100, .max_block_chunks = 400, .growth_factor = 2});
  std::vector<void*> chunks;
  std::vector<std::size_t> capacities;
  for (int i = 0; i < 3000; ++i) {
    chunks.push_back(pool.allocate(64));
    ASSERT_NE(chunks.back(), nullptr);
    if (capacities.empty() || capacities.back() != pool.capacity()) capacities.push_back(pool.capacity());
  }
  ASSERT_GE(capacities.size(), 4u);
  // Block sizes: ~100, ~200, ~400, ~400 ... (page rounding may add a few chunks).
  std::vector<std::size_t> blocks{capacities[0]};
  for (std::size_t i = 1; i < capacities.size(); ++i) blocks.push_back(capacities[i] - capacities[i - 1]);
  EXPECT_GE(blocks[0], 100u);
  EXPECT_LT(blocks[0], 200u);
  EXPECT_GE(blocks[1], 200u);
  EXPECT_GE(blocks[2], 400u);
  for (std::size_t i = 3; i < blocks.size(); ++i) EXPECT_LT(blocks[i], 500u) << "block " << i << " grew past the cap";
  EXPECT_EQ(pool.stats().regions, blocks.size());
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, FixedCapacityHandsOutExactlyThatManyThenNullptr) {
  FixedPool pool({.chunk_size = 40, .fixed_capacity = 10});
  EXPECT_FALSE(pool.grows());
  std::vector<void*> chunks;
  for (int i = 0; i < 10; ++i) {
    chunks.push_back(pool.allocate(40));
    ASSERT_NE(chunks.back(), nullptr) << i;
  }
  EXPECT_EQ(pool.allocate(40), nullptr);
  EXPECT_EQ(pool.allocate(40), nullptr);
  EXPECT_EQ(pool.stats().failures, 2u);
  EXPECT_TRUE(pool.check());
  // Still usable: a freed chunk comes back.
  pool.deallocate(chunks[3], 40);
  chunks[3] = pool.allocate(40);
  EXPECT_NE(chunks[3], nullptr);
  EXPECT_EQ(pool.allocate(40), nullptr);
}

TEST(FixedPool, FixedCapacityReservesAtConstructionAndNeverAsksAgain) {
  poolkit::PageSource source;
  FixedPool pool({.chunk_size = 64, .fixed_capacity = 1000, .source = &source});
  EXPECT_EQ(source.stats().mmap_calls, 1u);
  EXPECT_EQ(pool.stats().regions, 1u);
  for (int i = 0; i < 1000; ++i) ASSERT_NE(pool.allocate(64), nullptr);
  EXPECT_EQ(pool.allocate(64), nullptr);
  EXPECT_EQ(source.stats().mmap_calls, 1u);
}

TEST(FixedPool, ExhaustedPoolThroughPmrThrowsBadAllocAndStaysUsable) {
  FixedPool pool({.chunk_size = 32, .fixed_capacity = 4});
  poolkit::PoolResource resource(pool);
  std::vector<void*> chunks;
  for (int i = 0; i < 4; ++i) chunks.push_back(resource.allocate(32, 16));
  EXPECT_THROW((void)resource.allocate(32, 16), std::bad_alloc);
  resource.deallocate(chunks[0], 32, 16);
  EXPECT_NO_THROW(chunks[0] = resource.allocate(32, 16));
  for (void* p : chunks) resource.deallocate(p, 32, 16);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(FixedPool, ReleaseFreesEveryChunkAndKeepsTheBlocks) {
  FixedPool pool({.chunk_size = 64, .first_block_chunks = 64});
  for (int i = 0; i < 1000; ++i) ASSERT_NE(pool.allocate(64), nullptr);
  auto before = pool.stats();
  pool.release();
  auto after = pool.stats();
  EXPECT_EQ(after.live_blocks, 0u);
  EXPECT_EQ(after.bytes_in_use, 0u);
  EXPECT_EQ(after.bytes_requested, 0u);
  if (FixedPool::checks_by_default()) {
    EXPECT_EQ(after.allocations, 1000u);
  }
  EXPECT_EQ(after.peak_in_use, before.bytes_in_use);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(after.bytes_reserved, before.bytes_reserved);
  EXPECT_EQ(after.regions, before.regions);
  EXPECT_TRUE(pool.check());
  // Refilling the same number of chunks reuses the blocks: nothing new reserved.
  poolkit::test::BlockModel model;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(model.add(pool.allocate(64), 64, 16, std::uint8_t(i)));
  EXPECT_EQ(pool.stats().bytes_reserved, before.bytes_reserved);
  model.verify_all();
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, DestructorReturnsAllMemory) {
  poolkit::PageSource source;
  {
    FixedPool pool({.chunk_size = 128, .source = &source});
    for (int i = 0; i < 100000; ++i) ASSERT_NE(pool.allocate(128), nullptr);
    EXPECT_GT(source.stats().bytes_mapped, 100000u * 128);
  }
  EXPECT_EQ(source.stats().bytes_mapped, 0u);
  EXPECT_EQ(source.stats().mmap_calls, source.stats().munmap_calls);
}

TEST(FixedPool, DeallocateNullDoesNothing) {
  FixedPool pool(32);
  pool.deallocate(nullptr, 32);
  EXPECT_EQ(pool.stats().deallocations, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, OwnsItsChunksAndNothingElse) {
  FixedPool pool(32);
  void* p = pool.allocate(32);
  int local = 0;
  EXPECT_TRUE(pool.owns(p));
  EXPECT_TRUE(pool.owns(static_cast<char*>(p) + 31));
  EXPECT_FALSE(pool.owns(&local));
  EXPECT_FALSE(pool.owns(nullptr));
  FixedPool other(32);
  EXPECT_FALSE(other.owns(p));
}

// The four frees a checked pool must refuse (another pool's chunk q, a stack object,
// an interior pointer, and p freed a second time), around one good free of p.
namespace {
void free_four_bad_pointers_and_p(FixedPool& pool, void* p, void* q) {
  alignas(16) unsigned char local[32] = {};  // a chunk-sized object, so no compiler warns of the free-list write
  pool.deallocate(q, 32);                          // another pool's chunk
  pool.deallocate(local, 32);                      // not a pool's at all
  pool.deallocate(static_cast<char*>(p) + 8, 32);  // interior
  pool.deallocate(p, 32);
  pool.deallocate(p, 32);                          // immediate double free
}
}  // namespace

TEST(FixedPool, ChecksCatchForeignInteriorAndDoubleFreesInDebugBuilds) {
  if (!FixedPool::checks_by_default()) GTEST_SKIP() << "release build: unchecked (use Guarded)";
  FixedPool pool(32);
  FixedPool other(32);
  void* p = pool.allocate(32);
  void* q = other.allocate(32);
  free_four_bad_pointers_and_p(pool, p, q);
  EXPECT_EQ(pool.rejected_frees(), 4u);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  void* a = pool.allocate(32);
  void* b = pool.allocate(32);
  EXPECT_NE(a, b);  // the double free did not hand one chunk out twice
  other.deallocate(q, 32);
}

TEST(FixedPool, CheckFindsACycleInTheFreeList) {
  if (FixedPool::checks_by_default()) GTEST_SKIP() << "checked builds refuse the double free";
  FixedPool pool(32);
  void* a = pool.allocate(32);
  void* b = pool.allocate(32);
  pool.deallocate(a, 32);
  pool.deallocate(b, 32);
  pool.deallocate(a, 32);  // a double free the unchecked pool cannot see
  testing::internal::CaptureStderr();
  EXPECT_FALSE(pool.check());
  EXPECT_NE(testing::internal::GetCapturedStderr().find("cycle"), std::string::npos);
}

TEST(FixedPool, ChecksOnCatchBadFreesInEveryBuild) {
  FixedPool pool({.chunk_size = 32, .checks = FixedPool::Checks::kOn});
  FixedPool other({.chunk_size = 32, .checks = FixedPool::Checks::kOn});
  EXPECT_TRUE(pool.checked());
  void* p = pool.allocate(32);
  void* q = other.allocate(32);
  free_four_bad_pointers_and_p(pool, p, q);
  EXPECT_EQ(pool.rejected_frees(), 4u);
  EXPECT_TRUE(pool.check());
  poolkit::PoolStats s = pool.stats();
  EXPECT_TRUE(s.calls_counted);
  EXPECT_EQ(s.allocations, 1u);
  EXPECT_EQ(s.deallocations, 1u);
  EXPECT_EQ(s.live_blocks, 0u);
  void* a = pool.allocate(20);
  void* b = pool.allocate(20);
  EXPECT_NE(a, b);  // the double free did not hand one chunk out twice
  EXPECT_EQ(a, p);  // the freed chunk still comes back first
  EXPECT_EQ(pool.stats().bytes_requested, 40u);
  other.deallocate(q, 32);
}

TEST(FixedPool, ChecksOffTrustTheFreeInEveryBuild) {
#if POOLKIT_VALGRIND
  // memcheck sees the deliberate double free below and reports it, as it should
  // (tests/tool_reports checks that it does); the pool's own behaviour is tested elsewhere.
  if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "memcheck reports the deliberate double free";
#endif
  FixedPool pool({.chunk_size = 32, .checks = FixedPool::Checks::kOff});
  EXPECT_FALSE(pool.checked());
  void* a = pool.allocate(32);
  void* b = pool.allocate(32);
  pool.deallocate(a, 32);
  pool.deallocate(b, 32);
  pool.deallocate(a, 32);  // a double free the unchecked pool cannot see
  EXPECT_EQ(pool.rejected_frees(), 0u);
  EXPECT_FALSE(pool.stats().calls_counted);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(pool.check());
  EXPECT_NE(testing::internal::GetCapturedStderr().find("cycle"), std::string::npos);
}

TEST(FixedPool, ChecksByDefaultFollowTheLibraryBuildNotTheCaller) {
  EXPECT_EQ(FixedPool(32).checked(), FixedPool::checks_by_default());
  EXPECT_EQ(FixedPool({.chunk_size = 32, .checks = FixedPool::Checks::kLibraryDefault}).checked(),
            FixedPool::checks_by_default());
}

TEST(FixedPool, BadOptionsThrowInvalidArgument) {
  EXPECT_THROW(FixedPool(0), std::invalid_argument);
  EXPECT_THROW(FixedPool(32, 3), std::invalid_argument);
  EXPECT_THROW(FixedPool(32, 8192), std::invalid_argument);
  EXPECT_THROW(FixedPool({.chunk_size = 32, .growth_factor = 0}), std::invalid_argument);
  EXPECT_THROW(FixedPool({.chunk_size = 32, .first_block_chunks = 100, .max_block_chunks = 10}),
               std::invalid_argument);
  EXPECT_THROW(FixedPool({.chunk_size = 32, .checks = static_cast<FixedPool::Checks>(7)}), std::invalid_argument);
  EXPECT_NE(FixedPool::validate({.chunk_size = 0}), nullptr);
  EXPECT_EQ(FixedPool::validate({.chunk_size = 1}), nullptr);
}

TEST(FixedPool, HugeSizesThrowBadAllocNotATinyPool) {
  EXPECT_THROW(FixedPool(SIZE_MAX - 8, 16), std::bad_alloc);
  EXPECT_THROW(FixedPool({.chunk_size = 1 << 20, .fixed_capacity = SIZE_MAX / 1024}), std::bad_alloc);
  FixedPool growing({.chunk_size = SIZE_MAX / 4, .first_block_chunks = 8});
  EXPECT_EQ(growing.allocate(16), nullptr);  // the block cannot be had: nullptr, not a crash
  EXPECT_EQ(growing.stats().failures, 1u);
}

TEST(FixedPool, StatsCountEverything) {
  FixedPool pool({.chunk_size = 24, .chunk_align = 8, .first_block_chunks = 100});
  void* a = pool.allocate(10, 8);
  void* b = pool.allocate(24, 8);
  void* c = pool.allocate(1, 8);
  pool.deallocate(b, 24, 8);
  (void)pool.allocate(100, 8);  // fails
  auto s = pool.stats();
  EXPECT_EQ(s.bytes_in_use, 48u);
  EXPECT_EQ(s.peak_in_use, 72u);
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_TRUE(s.fixed_size_blocks);
  EXPECT_EQ(s.calls_counted, FixedPool::checks_by_default());
  if (FixedPool::checks_by_default()) {  // exact sizes and calls: debug builds
    EXPECT_EQ(s.bytes_requested, 11u);
    EXPECT_EQ(s.allocations, 3u);
    EXPECT_EQ(s.deallocations, 1u);
    EXPECT_EQ(s.internal_waste(), 48u - 11u);
  } else {  // release builds: no counters, requested = in use
    EXPECT_EQ(s.bytes_requested, 48u);
    EXPECT_EQ(s.allocations, 0u);
    EXPECT_EQ(s.deallocations, 0u);
  }
  EXPECT_EQ(s.bytes_free, (pool.capacity() - 2) * 24);
  EXPECT_EQ(s.largest_free, 24u);
  EXPECT_EQ(s.regions, 1u);
  EXPECT_EQ(s.bytes_reserved, 4096u);
  pool.deallocate(a, 10, 8);
  pool.deallocate(c, 1, 8);
  EXPECT_EQ(pool.stats().bytes_requested, 0u);
  EXPECT_NE(poolkit::to_string(s, "fixed").find("fixed"), std::string::npos);
}

TEST(FixedPool, StatsDeriveLiveAndPeakFromTheFreeListAndCarving) {
  FixedPool pool({.chunk_size = 32, .first_block_chunks = 8});
  std::vector<void*> chunks;
  for (int i = 0; i < 20; ++i) chunks.push_back(pool.allocate(32));
  for (int i = 0; i < 15; ++i) {
    pool.deallocate(chunks.back(), 32);
    chunks.pop_back();
  }
  for (int i = 0; i < 3; ++i) chunks.push_back(pool.allocate(32));  // from the free list
  auto s = pool.stats();
  EXPECT_EQ(s.live_blocks, 8u);
  EXPECT_EQ(s.bytes_in_use, 8u * 32);
  EXPECT_EQ(s.peak_in_use, 20u * 32);
  pool.release();
  for (int i = 0; i < 5; ++i) (void)pool.allocate(32);
  s = pool.stats();
  EXPECT_EQ(s.live_blocks, 5u);
  EXPECT_EQ(s.peak_in_use, 20u * 32);  // the peak survives release()
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, PrintedStatsShowNoExternalFragmentation) {
  FixedPool pool(32);
  void* a = pool.allocate(32);
  (void)pool.allocate(32);
  pool.deallocate(a, 32);  // free chunks: one on the list, the rest uncarved
  auto s = pool.stats();
  EXPECT_EQ(s.external_fragmentation(), 0.0);
  std::string text = poolkit::to_string(s, "fixed");
  EXPECT_EQ(text.find("fragmentation"), std::string::npos) << text;
  EXPECT_NE(text.find("one size"), std::string::npos) << text;
  if (!FixedPool::checks_by_default()) {
    EXPECT_NE(text.find("not counted"), std::string::npos) << text;
  }
}

TEST(FixedPool, CarvesChunksInAddressOrderFromTheBlockStart) {
  FixedPool pool({.chunk_size = 64, .first_block_chunks = 1 << 16});
  void* a = pool.allocate(64);
  void* b = pool.allocate(64);
  EXPECT_EQ(addr(b) - addr(a), 64u);  // carved in address order from the block start
  EXPECT_TRUE(pool.check());
}

TEST(FixedPool, ForEachLiveChunkSkipsFreeChunksInAddressOrder) {
  FixedPool pool({.chunk_size = 32, .first_block_chunks = 8});
  std::vector<void*> chunks;
  for (int i = 0; i < 50; ++i) chunks.push_back(pool.allocate(32));
  std::set<void*> live(chunks.begin(), chunks.end());
  for (int i = 0; i < 50; i += 3) {
    pool.deallocate(chunks[i], 32);
    live.erase(chunks[i]);
  }
  std::vector<void*> seen;
  pool.for_each_live_chunk([&](void* p) { seen.push_back(p); });
  std::set<void*> seen_set(seen.begin(), seen.end());
  EXPECT_EQ(seen_set, live);
  EXPECT_EQ(seen.size(), live.size());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(), [](void* x, void* y) { return addr(x) < addr(y); }));
  EXPECT_TRUE(pool.check());
}

static void run_randomized_against_model(FixedPool::Checks checks) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED to repeat)");
  std::mt19937_64 rng(seed);
  FixedPool pool(
      {.chunk_size = 40, .chunk_align = 8, .first_block_chunks = 32, .max_block_chunks = 1024, .checks = checks});
  poolkit::test::BlockModel model;
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<std::size_t> size_of(0, 40);
  const std::size_t aligns[] = {1, 2, 4, 8};
  std::size_t target = 500;
  for (std::size_t op = 0; op < ops; ++op) {
    if (op % 50'000 == 0) target = 50 + rng() % 5000;  // live set rises and falls
    int r = percent(rng);
    bool grow = model.count() < target ? r < 70 : r < 30;
    if (grow || model.empty()) {
      std::size_t size = size_of(rng);
      std::size_t align = aligns[rng() % 4];
      void* p = pool.allocate(size, align);
      ASSERT_NE(p, nullptr) << "op " << op;
      ASSERT_TRUE(pool.owns(p));
      ASSERT_TRUE(model.add(p, size, align, std::uint8_t(op))) << "op " << op;
    } else {
      auto b = model.take_random(rng);
      pool.deallocate(b.p, b.size, b.align);
    }
    if (op % 100'000 == 99'999) {
      ASSERT_TRUE(pool.check()) << "op " << op;
      model.verify_all();
      ASSERT_EQ(pool.stats().live_blocks, model.count());
    }
    if (op % 333'333 == 333'332) {  // now and then everything at once
      pool.release();
      model.clear();
    }
  }
  ASSERT_TRUE(pool.check());
  model.verify_all();
  std::size_t requested = 0;
  for (const auto& b : model.blocks()) requested += pool.checked() ? b.size : pool.chunk_size();
  EXPECT_EQ(pool.stats().bytes_requested, requested);
}

TEST(FixedPool, RandomizedAgainstModel) { run_randomized_against_model(FixedPool::Checks::kLibraryDefault); }

// The setting this build of the library does not use by default, so both run everywhere.
TEST(FixedPool, RandomizedAgainstModelWithTheOtherChecksSetting) {
  run_randomized_against_model(FixedPool::checks_by_default() ? FixedPool::Checks::kOff : FixedPool::Checks::kOn);
}
