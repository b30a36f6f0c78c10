// Pools on memory the caller brings: every pool on a caller's buffer (bounds, no
// memory from any source, exhaustion, the checks on bad buffers and their messages,
// randomized differential runs against BlockModel), and the MemorySource interface
// (a user's source under every pool).
#include "poolkit/memory_source.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/page_source.hpp"
#include "poolkit/pool_set.hpp"
#include "test_support.hpp"

using poolkit::BuddyPool;
using poolkit::FixedPool;
using poolkit::Heap;
using poolkit::MemorySource;
using poolkit::PageSource;
using poolkit::PoolSet;
using poolkit::test::BlockModel;

namespace {

// A source that counts its calls and hands out pages from the system's source.
class CountingSource final : public MemorySource {
 public:
  int allocations = 0;
  int deallocations = 0;
  std::size_t live_bytes = 0;
  bool refuse = false;  // every allocate fails

 protected:
  void* do_allocate(std::size_t size, std::size_t alignment) noexcept override {
    ++allocations;
    if (refuse) return nullptr;
    void* p = PageSource::system().allocate(size, alignment);
    if (p) live_bytes += size;
    return p;
  }
  void do_deallocate(void* p, std::size_t size) noexcept override {
    ++deallocations;
    live_bytes -= size;
    PageSource::system().deallocate(p, size);
  }
};

// A buffer of the caller's: 4096-aligned memory of its own, so tests can offset it.
struct Buffer {
  explicit Buffer(std::size_t n) : size(n), bytes(static_cast<unsigned char*>(::operator new(n + 4096, std::align_val_t{4096}))) {}
  ~Buffer() { ::operator delete(bytes, std::align_val_t{4096}); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  bool holds(const void* p, std::size_t n = 1) const {
    auto* x = static_cast<const unsigned char*>(p);
    return x >= bytes && x + n <= bytes + size;
  }
  std::size_t size;
  unsigned char* bytes;
};

template <class F>
std::string refusal(F&& make) {
  try {
    make();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Heap::Options heap_options(MemorySource* source) {
  Heap::Options o;
  o.source = source;
  return o;
}

}  // namespace

// ---- Heap ------------------------------------------------------------------------

TEST(HeapOnBuffer, EveryBlockLiesInsideTheBuffer) {
  Buffer buffer(64 * 1024);
  Heap heap(buffer.bytes, buffer.size, Heap::Options{});
  EXPECT_TRUE(heap.on_buffer());
  for (std::size_t size : {1u, 100u, 1000u, 5000u}) {
    void* p = heap.allocate(size);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(buffer.holds(p, size));
    EXPECT_TRUE(heap.owns(p));
  }
  EXPECT_TRUE(heap.check());
}

TEST(HeapOnBuffer, NeverAsksTheSourceAndReturnsNullWhenFull) {
  Buffer buffer(16 * 1024);
  CountingSource source;
  Heap heap(buffer.bytes, buffer.size, heap_options(&source));
  std::vector<void*> blocks;
  while (void* p = heap.allocate(512)) blocks.push_back(p);
  EXPECT_GT(blocks.size(), 20u);
  EXPECT_EQ(heap.allocate(512), nullptr);
  EXPECT_EQ(source.allocations, 0);
  EXPECT_EQ(heap.stats().bytes_reserved, buffer.size);
  EXPECT_EQ(heap.stats().regions, 1u);
  for (void* p : blocks) heap.deallocate(p);
  EXPECT_NE(heap.allocate(512), nullptr);  // usable again after the frees
  EXPECT_TRUE(heap.check());
}

TEST(HeapOnBuffer, ReleaseKeepsTheBufferAndFreesEveryBlock) {
  Buffer buffer(32 * 1024);
  Heap heap(buffer.bytes, buffer.size, Heap::Options{});
  for (int i = 0; i < 10; ++i) ASSERT_NE(heap.allocate(1000), nullptr);
  heap.release();
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().regions, 1u);
  void* p = heap.allocate(20000);
  EXPECT_TRUE(buffer.holds(p, 20000));
  EXPECT_TRUE(heap.check());
}

TEST(HeapOnBuffer, AnEmptyHeapKeepsItsBufferWhenASearchFails) {
  // return_empty_regions would hand an empty region back before growing: never the buffer.
  Buffer buffer(8192);
  Heap::Options o;
  o.return_empty_regions = true;
  Heap heap(buffer.bytes, buffer.size, o);
  EXPECT_EQ(heap.allocate(1 << 20), nullptr);
  void* p = heap.allocate(100);
  EXPECT_TRUE(buffer.holds(p, 100));
  EXPECT_TRUE(heap.check());
}

TEST(HeapOnBuffer, BytesPastTheLastMultipleOf16GoUnused) {
  Buffer buffer(4096);
  Heap heap(buffer.bytes, 4096 + 15, Heap::Options{});
  EXPECT_EQ(heap.stats().bytes_reserved, 4096u);
  EXPECT_TRUE(heap.check());
}

TEST(HeapOnBuffer, RefusesANullBuffer) {
  EXPECT_EQ(refusal([] { Heap h(nullptr, 4096, Heap::Options{}); }), "Heap: the buffer is null");
}

TEST(HeapOnBuffer, RefusesATooSmallBufferSayingTheMinimum) {
  Buffer buffer(4096);
  const std::string why = refusal([&] { Heap h(buffer.bytes, 63, Heap::Options{}); });
  EXPECT_TRUE(has(why, "Heap: the buffer of 63 bytes is too small: it needs at least 64 bytes")) << why;
}

TEST(HeapOnBuffer, RefusesAMisalignedBuffer) {
  Buffer buffer(4096);
  const std::string why = refusal([&] { Heap h(buffer.bytes + 8, 4000, Heap::Options{}); });
  EXPECT_TRUE(has(why, "Heap: the buffer at 0x") && has(why, "is not aligned to 16 bytes")) << why;
}

TEST(HeapOnBuffer, RefusesABufferOverlappingAnotherLivePoolsNamingIt) {
  Buffer buffer(64 * 1024);
  FixedPool nodes(buffer.bytes + 32 * 1024, 32 * 1024, FixedPool::Options{.chunk_size = 64});
  const std::string why = refusal([&] { Heap h(buffer.bytes, 40 * 1024, Heap::Options{}); });
  EXPECT_TRUE(has(why, "Heap: the buffer [0x") && has(why, "overlaps the buffer [0x") && has(why, "of a live FixedPool"))
      << why;
}

TEST(HeapOnBuffer, ABufferIsFreeForAnotherPoolOnceItsPoolIsGone) {
  Buffer buffer(16 * 1024);
  { Heap first(buffer.bytes, buffer.size, Heap::Options{}); }
  Heap second(buffer.bytes, buffer.size, Heap::Options{});
  EXPECT_NE(second.allocate(10), nullptr);
}

TEST(HeapOnBuffer, NeighbouringBuffersDoNotOverlap) {
  Buffer buffer(16 * 1024);
  Heap low(buffer.bytes, 8192, Heap::Options{});
  Heap high(buffer.bytes + 8192, 8192, Heap::Options{});
  EXPECT_TRUE(low.check() && high.check());
}

TEST(HeapOnBuffer, AStaticArrayServesAsTheBuffer) {
  alignas(16) static unsigned char memory[8192];
  Heap heap(memory, sizeof memory, Heap::Options{});
  void* p = heap.allocate(4000);
  EXPECT_TRUE(p >= static_cast<void*>(memory) && p < static_cast<void*>(memory + sizeof memory));
}

// ---- FixedPool ---------------------------------------------------------------------

TEST(FixedPoolOnBuffer, HoldsAsManyChunksAsFitBeforeItsHeader) {
  Buffer buffer(4096);
  FixedPool pool(buffer.bytes, 4096, FixedPool::Options{.chunk_size = 32});
  EXPECT_TRUE(pool.on_buffer());
  EXPECT_FALSE(pool.grows());
  EXPECT_EQ(pool.capacity(), (4096u - 40u) / 32u);
  std::vector<void*> chunks;
  while (void* p = pool.allocate(32)) chunks.push_back(p);
  EXPECT_EQ(chunks.size(), pool.capacity());
  for (void* p : chunks) EXPECT_TRUE(buffer.holds(p, 32));
  EXPECT_TRUE(pool.check());
}

TEST(FixedPoolOnBuffer, NeverAsksTheSource) {
  Buffer buffer(8192);
  CountingSource source;
  FixedPool pool(buffer.bytes, buffer.size, FixedPool::Options{.chunk_size = 48, .source = &source});
  while (pool.allocate(48)) {
  }
  pool.release();
  while (pool.allocate(48)) {
  }
  EXPECT_EQ(source.allocations, 0);
  EXPECT_EQ(source.deallocations, 0);
}

TEST(FixedPoolOnBuffer, TakesExactlyFixedCapacityChunks) {
  Buffer buffer(8192);
  FixedPool pool(buffer.bytes, buffer.size, FixedPool::Options{.chunk_size = 64, .fixed_capacity = 10});
  EXPECT_EQ(pool.capacity(), 10u);
}

TEST(FixedPoolOnBuffer, RefusesABufferTooSmallForFixedCapacity) {
  Buffer buffer(4096);
  const std::string why =
      refusal([&] { FixedPool p(buffer.bytes, 1000, FixedPool::Options{.chunk_size = 64, .fixed_capacity = 100}); });
  EXPECT_TRUE(has(why, "FixedPool: the buffer of 1000 bytes is too small: it needs at least 6440 bytes")) << why;
}

TEST(FixedPoolOnBuffer, RefusesABufferNotAlignedToChunkAlign) {
  Buffer buffer(4096);
  const std::string why = refusal(
      [&] { FixedPool p(buffer.bytes + 32, 2048, FixedPool::Options{.chunk_size = 64, .chunk_align = 64}); });
  EXPECT_TRUE(has(why, "is not aligned to 64 bytes")) << why;
}

TEST(FixedPoolOnBuffer, ChunksPromiseNoMoreAlignmentThanTheBufferHas) {
  Buffer buffer(4096);
  // A 64-byte stride on a buffer only 16-aligned: chunks are 16-aligned, not 64.
  FixedPool pool(buffer.bytes + 16, 2048, FixedPool::Options{.chunk_size = 64});
  EXPECT_EQ(pool.chunk_align(), 16u);
  EXPECT_EQ(pool.allocate(64, 64), nullptr);
  EXPECT_NE(pool.allocate(64, 16), nullptr);
}

TEST(FixedPoolOnBuffer, RefusesBadOptionsBeforeLookingAtTheBuffer) {
  Buffer buffer(4096);
  EXPECT_EQ(refusal([&] { FixedPool p(buffer.bytes, 4096, FixedPool::Options{}); }), "FixedPool: chunk_size is 0");
}

// ---- BuddyPool ---------------------------------------------------------------------

TEST(BuddyPoolOnBuffer, TheRegionIsTheLargestPowerOfTwoThatFitsWithItsTable) {
  Buffer buffer(100 * 1024);
  BuddyPool pool(buffer.bytes, buffer.size, BuddyPool::Options{.min_order = 4});
  EXPECT_TRUE(pool.valid());
  EXPECT_TRUE(pool.on_buffer());
  EXPECT_EQ(pool.max_block(), 64u * 1024);  // 128 KiB does not fit in 100
  EXPECT_TRUE(buffer.holds(pool.region(), pool.max_block()));
  EXPECT_EQ(pool.stats().bytes_reserved, buffer.size);
  EXPECT_TRUE(pool.check());
}

TEST(BuddyPoolOnBuffer, BlocksKeepTheirAlignmentOnAnUnevenBuffer) {
  Buffer buffer(64 * 1024);
  BuddyPool pool(buffer.bytes + 16, 40 * 1024, BuddyPool::Options{.min_order = 5});
  void* p = pool.allocate(4096, 4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
  EXPECT_TRUE(buffer.holds(p, 4096));
}

TEST(BuddyPoolOnBuffer, NeverAsksTheSourceAndReturnsNullWhenFull) {
  Buffer buffer(16 * 1024);
  CountingSource source;
  BuddyPool pool(buffer.bytes, buffer.size, BuddyPool::Options{.min_order = 6, .source = &source});
  std::size_t n = 0;
  while (pool.allocate(64)) ++n;
  EXPECT_EQ(n, pool.max_block() / 64);
  EXPECT_EQ(source.allocations, 0);
}

TEST(BuddyPoolOnBuffer, RefusesATooSmallBuffer) {
  Buffer buffer(4096);
  const std::string why = refusal([&] { BuddyPool p(buffer.bytes, 16, BuddyPool::Options{.min_order = 4}); });
  EXPECT_TRUE(has(why, "BuddyPool: the buffer of 16 bytes is too small: it needs at least 17 bytes")) << why;
}

TEST(BuddyPoolOnBuffer, RefusesABadMinOrder) {
  Buffer buffer(4096);
  EXPECT_EQ(refusal([&] { BuddyPool p(buffer.bytes, 4096, BuddyPool::Options{.min_order = 2}); }),
            "BuddyPool: min_order is outside [4, 40]");
}

TEST(BuddyPoolOnBuffer, RefusesAMisalignedBuffer) {
  Buffer buffer(4096);
  const std::string why = refusal([&] { BuddyPool p(buffer.bytes + 4, 4000, BuddyPool::Options{}); });
  EXPECT_TRUE(has(why, "BuddyPool: the buffer at 0x") && has(why, "is not aligned to 16 bytes")) << why;
}

// ---- PoolSet and Arena -------------------------------------------------------------

TEST(PoolSetOnBuffer, EveryPoolsBlocksLieInTheBuffer) {
  Buffer buffer(64 * 1024);
  CountingSource source;
  PoolSet set(buffer.bytes, buffer.size, heap_options(&source));
  std::vector<void*> blocks;
  for (PoolSet::PoolId id = 1; id <= 4; ++id)
    for (int i = 0; i < 10; ++i) blocks.push_back(set.allocate(id, 100));
  for (void* p : blocks) EXPECT_TRUE(buffer.holds(p, 100));
  set.release(2);
  EXPECT_EQ(set.stats(2).live_blocks, 0u);
  EXPECT_EQ(set.stats(3).live_blocks, 10u);
  EXPECT_EQ(source.allocations, 0);
  EXPECT_TRUE(set.check());
}

TEST(PoolSetOnBuffer, RefusesABadBufferNamingThePoolSet) {
  Buffer buffer(4096);
  const std::string why = refusal([&] { PoolSet s(buffer.bytes, 10, Heap::Options{}); });
  EXPECT_TRUE(has(why, "PoolSet: Heap: the buffer of 10 bytes is too small")) << why;
}

TEST(ArenaOnBuffer, RefusesABufferOverlappingAHeaps) {
  Buffer buffer(16 * 1024);
  Heap heap(buffer.bytes, 8192, Heap::Options{});
  const std::string why = refusal([&] { poolkit::Arena a(buffer.bytes + 4096, 8192); });
  EXPECT_TRUE(has(why, "Arena: the buffer [0x") && has(why, "of a live Heap")) << why;
}

// ---- a user's MemorySource under every pool ------------------------------------------

TEST(MemorySource, EveryPoolTakesItsRegionsFromTheGivenSourceAndReturnsThem) {
  CountingSource source;
  {
    Heap heap(heap_options(&source));
    FixedPool fixed(FixedPool::Options{.chunk_size = 32, .source = &source});
    BuddyPool buddy(BuddyPool::Options{.min_order = 4, .max_order = 16, .source = &source});
    poolkit::Arena arena(poolkit::Arena::Options{.source = &source});
    PoolSet set(heap_options(&source));
    ASSERT_NE(heap.allocate(100), nullptr);
    ASSERT_NE(fixed.allocate(32), nullptr);
    ASSERT_NE(buddy.allocate(100), nullptr);
    ASSERT_NE(arena.allocate(100), nullptr);
    ASSERT_NE(set.allocate(7, 100), nullptr);
    EXPECT_GE(source.allocations, 6);  // the buddy pool's region and its side table
    EXPECT_GT(source.live_bytes, 0u);
  }
  EXPECT_EQ(source.deallocations, source.allocations);
  EXPECT_EQ(source.live_bytes, 0u);
}

TEST(MemorySource, ASourceThatSaysNoMakesAllocateReturnNull) {
  CountingSource source;
  source.refuse = true;
  Heap heap(heap_options(&source));
  FixedPool fixed(FixedPool::Options{.chunk_size = 32, .source = &source});
  EXPECT_EQ(heap.allocate(100), nullptr);
  EXPECT_EQ(fixed.allocate(32), nullptr);
  EXPECT_TRUE(heap.check());
  EXPECT_TRUE(fixed.check());
}

TEST(MemorySource, PageSourceIsOne) {
  PageSource pages;
  MemorySource& source = pages;
  void* p = source.allocate(8192, 8192);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8192, 0u);
  EXPECT_EQ(pages.stats().mmap_calls, 1u);
  source.deallocate(p, 8192);
  EXPECT_EQ(pages.stats().bytes_mapped, 0u);
}

// ---- randomized differential runs on a caller's buffer ----------------------------------

namespace {

std::size_t random_size(std::mt19937_64& rng) {
  const auto roll = rng() % 100;
  if (roll < 3) return 1 + rng() % (16 << 10);
  if (roll < 20) return 1 + rng() % 2048;
  return 1 + rng() % 200;
}

std::size_t random_align(std::mt19937_64& rng) { return rng() % 8 ? 16 : std::size_t{1} << (rng() % 13); }

// Runs ops allocate/free calls on `allocate(size, align)` / `release(block)` against
// BlockModel; a null allocate must satisfy `may_fail(size, align)`. Every block must
// lie in the buffer.
template <class Allocate, class Free, class MayFail, class Check>
void run_against_model(const Buffer& buffer, Allocate allocate, Free release, MayFail may_fail, Check check,
                       bool any_size = true) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED to repeat)");
  std::mt19937_64 rng(seed);
  BlockModel model;
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  std::size_t failures = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    const bool filling = (i / 20000) % 2 == 0;  // phases that fill the buffer and phases that drain it
    if (model.empty() || rng() % 100 < (filling ? 65u : 35u)) {
      const std::size_t size = any_size ? random_size(rng) : 0, align = any_size ? random_align(rng) : 16;
      void* p = allocate(size, align);
      if (!p) {
        ++failures;
        ASSERT_TRUE(may_fail(size, align)) << "op " << i << " size " << size << " align " << align;
        continue;
      }
      ASSERT_TRUE(buffer.holds(p, size)) << "op " << i;
      ASSERT_TRUE(model.add(p, size, align, static_cast<std::uint8_t>(rng()))) << "op " << i;
    } else {
      release(model.take_random(rng));
    }
    if (i % 1000 == 0) {
      ASSERT_TRUE(check()) << "op " << i;
    }
  }
  model.verify_all();
  EXPECT_GT(failures, 0u);  // the buffer was used up now and then
  while (!model.empty()) release(model.take(model.count() - 1));
  ASSERT_TRUE(check());
}

}  // namespace

TEST(HeapOnBuffer, RandomizedAgainstTheModel) {
  Buffer buffer(256 * 1024);
  CountingSource source;
  Heap heap(buffer.bytes, buffer.size, heap_options(&source));
  run_against_model(
      buffer, [&](std::size_t n, std::size_t a) { return heap.allocate(n, a); },
      [&](const poolkit::test::LiveBlock& b) { heap.deallocate(b.p); },
      [&](std::size_t n, std::size_t a) {  // a fit is sure up to largest_free (less an alignment gap)
        return n + 16 + (a > 16 ? a + 32 : 0) > heap.stats().largest_free;
      },
      [&] { return heap.check(); });
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(source.allocations, 0);
}

TEST(BuddyPoolOnBuffer, RandomizedAgainstTheModel) {
  Buffer buffer(300 * 1024);
  BuddyPool pool(buffer.bytes + 16, buffer.size - 16, BuddyPool::Options{.min_order = 4});
  run_against_model(
      buffer, [&](std::size_t n, std::size_t a) { return pool.allocate(n, a); },
      [&](const poolkit::test::LiveBlock& b) { pool.deallocate(b.p, b.size, b.align); },
      [&](std::size_t n, std::size_t a) {
        return std::max({std::bit_ceil(std::max<std::size_t>(n, 1)), a, pool.min_block()}) > pool.stats().largest_free;
      },
      [&] { return pool.check(); });
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(FixedPoolOnBuffer, RandomizedAgainstTheModel) {
  Buffer buffer(64 * 1024);
  FixedPool pool(buffer.bytes, buffer.size, FixedPool::Options{.chunk_size = 48, .checks = FixedPool::Checks::kOn});
  run_against_model(
      buffer, [&](std::size_t, std::size_t a) { return pool.allocate(48, a); },
      [&](const poolkit::test::LiveBlock& b) { pool.deallocate(b.p, 48); },
      [&](std::size_t, std::size_t) { return pool.stats().live_blocks == pool.capacity(); }, [&] { return pool.check(); },
      false);
}

TEST(PoolSetOnBuffer, RandomizedAgainstTheModel) {
  Buffer buffer(256 * 1024);
  PoolSet set(buffer.bytes, buffer.size, Heap::Options{});
  std::mt19937_64 ids(7);
  run_against_model(
      buffer, [&](std::size_t n, std::size_t a) { return set.allocate(static_cast<PoolSet::PoolId>(ids() % 8), n, a); },
      [&](const poolkit::test::LiveBlock& b) { set.deallocate(b.p); },
      [&](std::size_t n, std::size_t a) {
        return n + 16 + PoolSet::kHeaderSize + (a > 16 ? a + 32 : 0) > set.heap().stats().largest_free;
      },
      [&] { return set.check(); });
}
