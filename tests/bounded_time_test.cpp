// Bounded time: Heap's bounded_time mode (one region, taken and touched by the
// constructor, then no call reaches the memory source; immediate coalescing, no
// front cache, no region returned; the fit guarantee of the segregated index), and
// FixedPool (fixed capacity) and BuddyPool, whose calls after construction never
// reach their source either. Times are never measured here: the benchmark report
// shows the tail (docs/benchmarks.md); these tests hold the structure that bounds it.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/memory_source.hpp"
#include "poolkit/page_source.hpp"
#include "test_support.hpp"

using poolkit::BuddyPool;
using poolkit::FixedPool;
using poolkit::Heap;
using poolkit::test::BlockModel;

namespace {

class CountingSource final : public poolkit::MemorySource {
 public:
  int calls = 0;

 protected:
  void* do_allocate(std::size_t size, std::size_t alignment) noexcept override {
    ++calls;
    return poolkit::PageSource::system().allocate(size, alignment);
  }
  void do_deallocate(void* p, std::size_t size) noexcept override {
    ++calls;
    poolkit::PageSource::system().deallocate(p, size);
  }
};

Heap::Options bounded(CountingSource* source, std::size_t region_size = 1 << 20) {
  Heap::Options o;
  o.bounded_time = true;
  o.region_size = region_size;
  o.source = source;
  // Choices bounded_time must override:
  o.coalescing = Heap::Coalescing::kDeferred;
  o.front_cache = true;
  o.return_empty_regions = true;
  return o;
}

}  // namespace

TEST(BoundedTimeHeap, TakesItsOneRegionInTheConstructor) {
  CountingSource source;
  Heap heap(bounded(&source));
  EXPECT_EQ(source.calls, 1);
  EXPECT_TRUE(heap.fixed());
  EXPECT_EQ(heap.stats().bytes_reserved, std::size_t{1} << 20);
  EXPECT_TRUE(heap.check());
}

TEST(BoundedTimeHeap, OverridesTheChoicesWhoseCostGrowsWithTheHeap) {
  CountingSource source;
  Heap heap(bounded(&source));
  EXPECT_EQ(heap.options().coalescing, Heap::Coalescing::kImmediate);
  EXPECT_FALSE(heap.options().front_cache);
  EXPECT_FALSE(heap.options().return_empty_regions);
  void* p = heap.allocate(100);
  heap.deallocate(p);
  EXPECT_EQ(heap.cached_blocks(), 0u);  // freed at once, merged at once
  EXPECT_EQ(heap.free_blocks(), 1u);
}

TEST(BoundedTimeHeap, NoCallAfterConstructionReachesTheSource) {
  CountingSource source;
  Heap heap(bounded(&source, 256 * 1024));
  const int after_construction = source.calls;
  std::mt19937_64 rng(poolkit::test::test_seed());
  std::vector<void*> live;
  for (int i = 0; i < 200000; ++i) {
    if (live.empty() || rng() % 100 < 55) {
      if (void* p = heap.allocate(1 + rng() % 4000, std::size_t{1} << (rng() % 8))) live.push_back(p);
    } else {
      const std::size_t k = rng() % live.size();
      if (rng() % 4 == 0) {
        heap.resize(live[k], 1 + rng() % 8000);
      } else {
        heap.deallocate(live[k]);
        live[k] = live.back();
        live.pop_back();
      }
    }
    if (i % 50000 == 0) {
      heap.release();
      live.clear();
    }
  }
  EXPECT_EQ(source.calls, after_construction);
  EXPECT_EQ(heap.stats().regions, 1u);
  EXPECT_TRUE(heap.check());
}

TEST(BoundedTimeHeap, FailsOnlyWhenNoFreeBlockIsBigEnough) {
  // The fit guarantee: a request fails only if it is above largest_free (the largest
  // request the index is sure to meet); check() holds the rest of the invariants.
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  CountingSource source;
  Heap heap(bounded(&source, 512 * 1024));
  BlockModel model;
  std::mt19937_64 rng(seed);
  std::size_t failures = 0;
  const std::size_t ops = poolkit::test::scaled(500'000);
  for (std::size_t i = 0; i < ops; ++i) {
    if (model.empty() || rng() % 100 < ((i / 20000) % 2 ? 40u : 65u)) {
      const std::size_t size = rng() % 10 ? 1 + rng() % 300 : 1 + rng() % 20000;
      const std::size_t largest = heap.stats().largest_free;
      void* p = heap.allocate(size);
      if (!p) {
        ++failures;
        ASSERT_GT(size, largest) << "op " << i;
        continue;
      }
      ASSERT_TRUE(model.add(p, size, 16, static_cast<std::uint8_t>(rng())));
    } else {
      heap.deallocate(model.take_random(rng).p);
    }
    if (i % 1000 == 0) {
      ASSERT_TRUE(heap.check()) << "op " << i;
    }
  }
  EXPECT_GT(failures, 0u);
  model.verify_all();
  while (!model.empty()) heap.deallocate(model.take(model.count() - 1).p);
  EXPECT_EQ(heap.free_blocks(), 1u);  // immediate coalescing: one free block again
  EXPECT_TRUE(heap.check());
}

TEST(BoundedTimeHeap, WithoutMemoryForItsRegionItStaysEmpty) {
  CountingSource source;
  Heap heap(bounded(&source, 0));
  EXPECT_EQ(heap.allocate(1), nullptr);
  EXPECT_EQ(source.calls, 0);
  EXPECT_TRUE(heap.check());
}

TEST(BoundedTimeHeap, OnABufferItKeepsTheBoundedChoices) {
  alignas(16) static unsigned char memory[64 * 1024];
  CountingSource source;
  Heap heap(memory, sizeof memory, bounded(&source));
  EXPECT_TRUE(heap.options().bounded_time);
  EXPECT_FALSE(heap.options().front_cache);
  EXPECT_EQ(heap.options().coalescing, Heap::Coalescing::kImmediate);
  void* p = heap.allocate(1000);
  heap.deallocate(p);
  EXPECT_EQ(heap.free_blocks(), 1u);
  EXPECT_EQ(source.calls, 0);
  EXPECT_TRUE(heap.check());
}

TEST(BoundedTimeFixedPool, AFixedCapacityPoolNeverReachesItsSourceAfterConstruction) {
  CountingSource source;
  FixedPool pool(FixedPool::Options{.chunk_size = 64, .fixed_capacity = 1000, .source = &source});
  const int after_construction = source.calls;
  std::vector<void*> chunks;
  for (int round = 0; round < 3; ++round) {
    while (void* p = pool.allocate(64)) chunks.push_back(p);
    EXPECT_EQ(chunks.size(), 1000u);
    for (void* p : chunks) pool.deallocate(p, 64);
    chunks.clear();
    pool.release();
  }
  EXPECT_EQ(source.calls, after_construction);
  EXPECT_TRUE(pool.check());
}

TEST(BoundedTimeBuddyPool, NoCallAfterConstructionReachesItsSource) {
  CountingSource source;
  BuddyPool pool(BuddyPool::Options{.min_order = 5, .max_order = 18, .source = &source});
  const int after_construction = source.calls;
  std::mt19937_64 rng(3);
  std::vector<void*> live;
  for (int i = 0; i < 100000; ++i) {
    if (live.empty() || rng() % 2) {
      if (void* p = pool.allocate(1 + rng() % 5000)) live.push_back(p);
    } else {
      const std::size_t k = rng() % live.size();
      pool.deallocate(live[k], 0);
      live[k] = live.back();
      live.pop_back();
    }
  }
  EXPECT_EQ(source.calls, after_construction);
  EXPECT_TRUE(pool.check());
}
