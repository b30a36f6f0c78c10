// Arena: bump allocation, alignment, growth into chained regions, fixed arenas,
// user buffers, mark/rewind, reset, deallocate of the newest block, bad input,
// stats, check(), and a randomized differential test against BlockModel.
#include "poolkit/arena.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "poolkit/memory_resource.hpp"
#include "test_support.hpp"

using poolkit::Arena;
using poolkit::kForwardToMalloc;

namespace {
std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }
}  // namespace

TEST(Arena, ConsecutiveAllocationsBumpThroughTheRegion) {
  if (kForwardToMalloc) GTEST_SKIP() << "forwarding build: every block is its own malloc";
  Arena arena;
  char* a = static_cast<char*>(arena.allocate(10, 1));
  char* b = static_cast<char*>(arena.allocate(10, 1));
  char* c = static_cast<char*>(arena.allocate(8, 8));
  EXPECT_EQ(b, a + 10);
  EXPECT_EQ(addr(c), (addr(b) + 10 + 7) & ~std::uintptr_t{7});
  EXPECT_EQ(arena.top(), c + 8);
  EXPECT_EQ(arena.used(), std::size_t(c + 8 - a));
  EXPECT_EQ(arena.base(), a);  // the region's first usable byte
  EXPECT_TRUE(arena.check());
}

TEST(Arena, HonoursEveryPowerOfTwoAlignmentUpTo4096) {
  Arena arena;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t align = 1; align <= 4096; align <<= 1) {
      void* p = arena.allocate(3, align);
      ASSERT_NE(p, nullptr) << align;
      EXPECT_EQ(addr(p) % align, 0u) << align;
    }
  }
  EXPECT_TRUE(arena.check());
}

TEST(Arena, BadAlignmentIsRefused) {
  Arena arena;
  EXPECT_EQ(arena.allocate(8, 3), nullptr);
  EXPECT_EQ(arena.allocate(8, 0), nullptr);
  EXPECT_EQ(arena.allocate(8, 8192), nullptr);
  EXPECT_EQ(arena.stats().failures, 3u);
  EXPECT_NE(arena.allocate(8, 8), nullptr);
}

TEST(Arena, OverflowingSizeIsRefusedNotWrapped) {
  Arena arena;
  ASSERT_NE(arena.allocate(8), nullptr);
  EXPECT_EQ(arena.allocate(SIZE_MAX), nullptr);
  EXPECT_EQ(arena.allocate(SIZE_MAX - 4096, 4096), nullptr);
  EXPECT_EQ(arena.allocate(SIZE_MAX / 2), nullptr);
  EXPECT_EQ(arena.stats().failures, 3u);
  EXPECT_NE(arena.allocate(8), nullptr);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, SizeZeroGetsAUniqueAddress) {
  Arena arena;
  void* a = arena.allocate(0, 1);
  void* b = arena.allocate(0, 1);
  ASSERT_NE(a, nullptr);
  EXPECT_NE(a, b);
}

TEST(Arena, GrowsIntoChainedRegionsGeometrically) {
  if (kForwardToMalloc) GTEST_SKIP();
  poolkit::PageSource source;
  Arena arena({.initial_size = 4096, .growth_factor = 2, .max_region_size = 32768, .source = &source});
  poolkit::test::BlockModel model;
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(model.add(arena.allocate(100, 8), 100, 8, std::uint8_t(i)));
  model.verify_all();
  auto s = arena.stats();
  // 4 + 8 + 16 + 32 + 32 + ... KiB for ~200 KiB of blocks.
  EXPECT_GE(s.regions, 8u);
  EXPECT_LE(s.regions, 12u);
  EXPECT_EQ(s.bytes_reserved, source.stats().bytes_mapped);
  EXPECT_EQ(s.live_blocks, 2000u);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, RequestLargerThanTheRegionCapGetsARegionOfItsOwn) {
  Arena arena({.initial_size = 4096, .max_region_size = 8192});
  void* big = arena.allocate(1 << 20, 64);
  ASSERT_NE(big, nullptr);
  std::memset(big, 1, 1 << 20);
  EXPECT_NE(arena.allocate(16), nullptr);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, FixedArenaNeverGrows) {
  Arena arena({.initial_size = 8192, .fixed = true});
  std::size_t got = 0;
  while (arena.allocate(100, 4)) got += 100;
  EXPECT_GT(got, 7000u);
  EXPECT_LE(got, 8192u);
  EXPECT_EQ(arena.stats().failures, 1u);
  if (!kForwardToMalloc) {
    EXPECT_EQ(arena.stats().regions, 1u);
  }
  // Usable after: reset gives the memory back.
  arena.reset();
  EXPECT_NE(arena.allocate(100, 4), nullptr);
}

TEST(Arena, MaxSizeCapsTheMemoryTaken) {
  if (kForwardToMalloc) GTEST_SKIP();
  Arena arena({.initial_size = 4096, .max_size = 64 * 1024});
  while (arena.allocate(1000, 8)) {
  }
  auto s = arena.stats();
  EXPECT_LE(s.bytes_reserved, 64u * 1024);
  EXPECT_GE(s.bytes_reserved, 48u * 1024);
  EXPECT_NE(arena.allocate(10, 8), nullptr);  // small requests still fit in the last region's tail
}

TEST(Arena, UserBufferIsUsedFirstThenRegions) {
  alignas(64) static unsigned char buffer[1024];
  Arena arena(buffer, sizeof buffer);
  void* a = arena.allocate(100, 16);
  if (!kForwardToMalloc) {
    EXPECT_EQ(a, buffer);
    EXPECT_EQ(arena.stats().regions, 0u);
  }
  for (int i = 0; i < 20; ++i) ASSERT_NE(arena.allocate(100, 16), nullptr);
  if (!kForwardToMalloc) {
    EXPECT_EQ(arena.stats().regions, 1u);
  }
  EXPECT_TRUE(arena.owns(a));
  EXPECT_TRUE(arena.check());
  arena.reset();
  if (!kForwardToMalloc) {
    EXPECT_EQ(arena.allocate(100, 16), buffer);  // back to the buffer
  }
}

TEST(Arena, FixedUserBufferNeverTouchesTheOs) {
  unsigned char buffer[512];
  poolkit::PageSource source;
  Arena arena(buffer, sizeof buffer, {.fixed = true, .source = &source});
  int n = 0;
  while (arena.allocate(64, 1)) ++n;
  EXPECT_EQ(n, 8);
  EXPECT_EQ(source.stats().mmap_calls, 0u);
}

TEST(Arena, RewindFreesEverythingAfterTheMark) {
  Arena arena({.initial_size = 4096});
  (void)arena.allocate(100);
  Arena::Mark m = arena.mark();
  std::size_t used = arena.used();
  void* first_after = arena.allocate(50);
  for (int i = 0; i < 500; ++i) ASSERT_NE(arena.allocate(100), nullptr);  // spills into new regions
  ASSERT_TRUE(arena.rewind(m));
  EXPECT_EQ(arena.used(), used);
  EXPECT_EQ(arena.stats().live_blocks, 1u);
  EXPECT_EQ(arena.stats().bytes_requested, 100u);
  if (!kForwardToMalloc) {
    EXPECT_EQ(arena.allocate(50), first_after);  // the same memory again
  }
  EXPECT_TRUE(arena.check());
}

TEST(Arena, RewindKeepsOneSpareRegionForTheNextGrowth) {
  if (kForwardToMalloc) GTEST_SKIP();
  poolkit::PageSource source;
  Arena arena({.initial_size = 4096, .source = &source});
  (void)arena.allocate(16);
  Arena::Mark m = arena.mark();
  for (int i = 0; i < 100; ++i) (void)arena.allocate(1000);
  std::uint64_t maps = source.stats().mmap_calls;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(arena.rewind(m));
    for (int i = 0; i < 20; ++i) (void)arena.allocate(1000);
  }
  EXPECT_LE(source.stats().mmap_calls, maps + 1);  // a frame loop does not call mmap every frame
  EXPECT_TRUE(arena.check());
}

TEST(Arena, StaleOrForeignMarkIsRefused) {
  Arena arena({.initial_size = 4096});
  Arena other;
  (void)other.allocate(8);
  Arena::Mark foreign = other.mark();
  (void)arena.allocate(8);
  Arena::Mark early = arena.mark();
  for (int i = 0; i < 100; ++i) (void)arena.allocate(1000);
  Arena::Mark late = arena.mark();
  ASSERT_TRUE(arena.rewind(early));
  EXPECT_FALSE(arena.rewind(late));  // rewound past it
  EXPECT_FALSE(arena.rewind(foreign));
  EXPECT_TRUE(arena.check());
  EXPECT_NE(arena.allocate(8), nullptr);
}

TEST(Arena, MarkOfAnEmptyArenaRewindsToEmpty) {
  Arena arena;
  Arena::Mark m = arena.mark();
  for (int i = 0; i < 10; ++i) (void)arena.allocate(100);
  ASSERT_TRUE(arena.rewind(m));
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_EQ(arena.stats().live_blocks, 0u);
  EXPECT_NE(arena.allocate(100), nullptr);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, ResetFreesEverythingAndKeepsTheFirstRegion) {
  poolkit::PageSource source;
  Arena arena({.initial_size = 4096, .source = &source});
  void* first = arena.allocate(64);
  for (int i = 0; i < 1000; ++i) (void)arena.allocate(64);
  auto before = arena.stats();
  arena.reset();
  auto s = arena.stats();
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.allocations, 1001u);
  EXPECT_EQ(s.peak_in_use, before.bytes_in_use);
  if (!kForwardToMalloc) {
    EXPECT_LE(s.regions, 2u);  // the first one and a spare
    EXPECT_EQ(arena.allocate(64), first);
    EXPECT_EQ(s.bytes_reserved, source.stats().bytes_mapped);
  }
  EXPECT_TRUE(arena.check());
}

TEST(Arena, DeallocateOfTheNewestBlockMovesTheTopBack) {
  Arena arena;
  void* a = arena.allocate(40, 8);
  std::size_t used_after_a = arena.used();
  void* b = arena.allocate(24, 8);
  arena.deallocate(b, 24, 8);
  EXPECT_EQ(arena.used(), used_after_a);
  EXPECT_EQ(arena.stats().deallocations, 1u);
  EXPECT_EQ(arena.stats().live_blocks, 1u);
  if (!kForwardToMalloc) {
    EXPECT_EQ(arena.allocate(24, 8), b);
  }
  (void)a;
}

TEST(Arena, OnlyTheNewestBlockIsFreedOnceDeeperUnwindingIsByMark) {
  if (kForwardToMalloc) GTEST_SKIP() << "forwarding build frees every block";
  Arena arena;
  Arena::Mark start = arena.mark();
  void* a = arena.allocate(40, 8);
  void* b = arena.allocate(24, 8);
  arena.deallocate(b, 24, 8);
  std::size_t used = arena.used();
  arena.deallocate(a, 40, 8);  // a's start is not known once b is gone: a no-op
  EXPECT_EQ(arena.used(), used);
  EXPECT_EQ(arena.stats().live_blocks, 1u);
  EXPECT_TRUE(arena.rewind(start));
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, InteriorPointerEndingAtTheTopIsNotFreed) {
  Arena arena;
  auto* p = static_cast<char*>(arena.allocate(48, 16));
  std::memset(p, 7, 48);
  arena.deallocate(p + 16, 32, 16);  // ends at the top, but is not a block
  EXPECT_EQ(arena.stats().deallocations, 0u);
  EXPECT_EQ(arena.stats().live_blocks, 1u);
  auto* q = static_cast<char*>(arena.allocate(32, 16));
  EXPECT_GE(q, p + 48);  // does not overlap the live block
  for (int i = 0; i < 48; ++i) ASSERT_EQ(p[i], 7) << i;
  EXPECT_TRUE(arena.check());
}

TEST(Arena, DeallocateOfAnOlderOrForeignBlockIsANoOp) {
  Arena arena;
  void* a = arena.allocate(40, 8);
  void* b = arena.allocate(24, 8);
  std::size_t used = arena.used();
  int local = 0;
  arena.deallocate(a, 40, 8);      // not the newest
  arena.deallocate(&local, 4, 4);  // not ours
  arena.deallocate(b, 23, 8);      // wrong size: not recognised as the newest
  arena.deallocate(nullptr, 8, 8);
  EXPECT_EQ(arena.used(), used);
  EXPECT_EQ(arena.stats().deallocations, 0u);
  EXPECT_EQ(arena.stats().live_blocks, 2u);
  EXPECT_TRUE(arena.check());
}

TEST(Arena, OwnsTheUsedPartOnly) {
  Arena arena;
  char* p = static_cast<char*>(arena.allocate(100));
  int local = 0;
  EXPECT_TRUE(arena.owns(p));
  EXPECT_TRUE(arena.owns(p + 99));
  EXPECT_FALSE(arena.owns(&local));
  if (!kForwardToMalloc) {
    EXPECT_FALSE(arena.owns(p + 100));
  }
}

TEST(Arena, StatsCountEverything) {
  Arena arena({.initial_size = 4096});
  (void)arena.allocate(10, 1);
  (void)arena.allocate(20, 16);
  (void)arena.allocate(SIZE_MAX);
  auto s = arena.stats();
  EXPECT_EQ(s.bytes_requested, 30u);
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.allocations, 2u);
  EXPECT_EQ(s.failures, 1u);
  if (!kForwardToMalloc) {
    EXPECT_EQ(s.bytes_in_use, 16u + 20u);  // 6 bytes of padding before the aligned block
    EXPECT_EQ(s.bytes_reserved, 4096u);
    EXPECT_EQ(s.regions, 1u);
    EXPECT_EQ(s.bytes_free, arena.remaining());
  }
}

TEST(Arena, BadOptionsThrowInvalidArgument) {
  EXPECT_THROW(Arena({.growth_factor = 0}), std::invalid_argument);
  EXPECT_THROW(Arena({.max_region_size = 0}), std::invalid_argument);
  EXPECT_THROW(Arena({.initial_size = 1 << 20, .max_region_size = 4096}), std::invalid_argument);
  EXPECT_THROW(Arena(nullptr, 100), std::invalid_argument);
}

TEST(Arena, WorksAsAMemoryResource) {
  Arena arena;
  poolkit::PoolResource resource(arena);
  void* p = resource.allocate(100, 64);
  EXPECT_EQ(addr(p) % 64, 0u);
  resource.deallocate(p, 100, 64);
  Arena tiny({.initial_size = 4096, .fixed = true});
  poolkit::PoolResource tiny_resource(tiny);
  EXPECT_THROW((void)tiny_resource.allocate(8192, 8), std::bad_alloc);
  EXPECT_NO_THROW((void)tiny_resource.allocate(100, 8));
}

TEST(Arena, RandomizedAgainstModel) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED to repeat)");
  std::mt19937_64 rng(seed);
  Arena arena({.initial_size = 8192, .max_region_size = 256 * 1024});
  poolkit::test::BlockModel model;
  std::vector<void*> order;  // live blocks in allocation order, newest last
  bool newest_freeable = false;  // the last operation allocated order.back()
  struct Saved {
    Arena::Mark mark;
    std::size_t count;
  };
  std::vector<Saved> marks;
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  const std::size_t aligns[] = {1, 1, 2, 4, 8, 8, 16, 16, 32, 64, 4096};
  auto forget_newer_than = [&](std::size_t count) {
    std::unordered_set<void*> drop(order.begin() + static_cast<std::ptrdiff_t>(count), order.end());
    order.resize(count);
    for (std::size_t i = model.count(); i-- > 0;)
      if (drop.count(model.blocks()[i].p)) model.take(i);
  };
  for (std::size_t op = 0; op < ops; ++op) {
    int r = static_cast<int>(rng() % 100);
    if (r < 80 || order.empty()) {
      std::size_t size = rng() % 16 == 0 ? rng() % 5000 : rng() % 64;
      std::size_t align = aligns[rng() % std::size(aligns)];
      void* p = arena.allocate(size, align);
      ASSERT_NE(p, nullptr) << "op " << op;
      ASSERT_TRUE(model.add(p, size, align, std::uint8_t(op))) << "op " << op;
      order.push_back(p);
      newest_freeable = true;
    } else if (r < 88) {  // free the newest block
      void* p = order.back();
      std::size_t i = 0;
      while (model.blocks()[i].p != p) ++i;
      // The newest block is freed if nothing happened since it was allocated.
      if (!kForwardToMalloc && !newest_freeable) {
        auto before = arena.stats().deallocations;
        arena.deallocate(p, model.blocks()[i].size, model.blocks()[i].align);
        ASSERT_EQ(arena.stats().deallocations, before) << "op " << op;  // a no-op
        continue;
      }
      newest_freeable = false;
      auto b = model.take(i);  // verifies the contents before the arena poisons them
      auto before = arena.stats().deallocations;
      arena.deallocate(b.p, b.size, b.align);
      ASSERT_EQ(arena.stats().deallocations, before + 1) << "op " << op;
      order.pop_back();
      while (!marks.empty() && marks.back().count > order.size()) marks.pop_back();  // marks above the top are stale
    } else if (r < 94) {
      marks.push_back({arena.mark(), order.size()});
    } else if (r < 99 && !marks.empty()) {
      std::size_t k = rng() % marks.size();
      forget_newer_than(marks[k].count);  // verifies their contents while they still exist
      ASSERT_TRUE(arena.rewind(marks[k].mark)) << "op " << op;
      newest_freeable = false;
      marks.resize(k + 1);
    } else if (rng() % 20 == 0) {
      model.verify_all();
      arena.reset();
      newest_freeable = false;
      model.clear();
      order.clear();
      marks.clear();
    }
    if (op % 100'000 == 99'999) {
      ASSERT_TRUE(arena.check()) << "op " << op;
      model.verify_all();
      ASSERT_EQ(arena.stats().live_blocks, model.count());
    }
  }
  ASSERT_TRUE(arena.check());
  model.verify_all();
}
