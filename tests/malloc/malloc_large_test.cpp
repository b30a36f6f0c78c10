// malloc_large_test: huge blocks (above the mmap threshold) freed and allocated
// again, and grown by realloc (src/malloc/huge.cpp): a freed mapping is reused by
// a request of another size without faulting its pages in again, a longer one is
// cut and its tail kept, realloc moves a mapping without copying, and the cache
// gives everything back after the decay and at malloc_trim.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <cstdint>
#include <thread>
#include <vector>

#include "malloc_test_support.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kPage = 4096;

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

unsigned char* touch_all(void* p, std::size_t n, unsigned char value) {
  auto* bytes = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += kPage) bytes[i] = value;
  bytes[n - 1] = value;
  return bytes;
}

// The huge cache is the default mode's; checked mode keeps freed blocks in its quarantine.
#define SKIP_UNLESS_DEFAULT_MODE() \
  if (poolkit::test::check_level() != 0) GTEST_SKIP() << "checked mode has its own huge blocks"
// Page-fault counts are the program's own only outside valgrind.
#define SKIP_UNDER_VALGRIND() \
  if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "valgrind's own page faults are counted too"

TEST(MallocLarge, AFreedBlockServesALargerRequestFaultingOnlyTheGrowth) {
  SKIP_UNLESS_DEFAULT_MODE();
  SKIP_UNDER_VALGRIND();
  PK(malloc_trim)(0);
  void* a = touch_all(PK(malloc)(8 * kMiB), 8 * kMiB, 1);
  PK(free)(a);
  long before = minor_faults();
  auto* b = touch_all(PK(malloc)(12 * kMiB), 12 * kMiB, 2);
  long faults = minor_faults() - before;
  // 12 MiB fresh would be 3072 faults; reusing the 8 MiB leaves about 1024.
  EXPECT_LT(faults, 2048) << "the freed 8 MiB were not reused";
  EXPECT_EQ(b[0], 2);
  EXPECT_EQ(b[12 * kMiB - 1], 2);
  PK(free)(b);
  PK(malloc_trim)(0);
}

TEST(MallocLarge, AFreedBlockServesASmallerRequestAndItsTailIsKeptApart) {
  SKIP_UNLESS_DEFAULT_MODE();
  SKIP_UNDER_VALGRIND();
  PK(malloc_trim)(0);
  PK(free)(touch_all(PK(malloc)(24 * kMiB), 24 * kMiB, 1));
  long before = minor_faults();
  void* small = touch_all(PK(malloc)(6 * kMiB), 6 * kMiB, 2);
  // Cut at the next 4 MiB: the block keeps at most 4 MiB beyond its request.
  EXPECT_LE(PK(malloc_usable_size)(small), 10 * kMiB);
  void* second = touch_all(PK(malloc)(14 * kMiB), 14 * kMiB, 3);
  // Both came from the 24 MiB already resident: no new pages, a few faults at most.
  EXPECT_LT(minor_faults() - before, 512);
  EXPECT_EQ(static_cast<unsigned char*>(second)[14 * kMiB - 1], 3);
  PK(free)(small);
  PK(free)(second);
  PK(malloc_trim)(0);
}

TEST(MallocLarge, ReallocGrowsIntoTheTailCutOffItsOwnMapping) {
  SKIP_UNLESS_DEFAULT_MODE();
  PK(malloc_trim)(0);
  PK(free)(touch_all(PK(malloc)(24 * kMiB), 24 * kMiB, 1));
  auto* p = static_cast<unsigned char*>(PK(malloc)(2 * kMiB));  // the 24 MiB, cut at 4 MiB
  ASSERT_NE(p, nullptr);
  std::memset(p, 5, 2 * kMiB);
  auto* q = static_cast<unsigned char*>(PK(realloc)(p, 16 * kMiB));
  EXPECT_EQ(q, p) << "the cached tail right after the block was not taken back";
  for (std::size_t i = 0; i < 2 * kMiB; i += 4093) ASSERT_EQ(q[i], 5) << i;
  PK(free)(q);
  PK(malloc_trim)(0);
}

TEST(MallocLarge, ReallocMovesAHugeBlockWithoutLosingItsBytes) {
  // Several blocks grown in turn, so that at least some cannot grow in place.
  constexpr int kBlocks = 4;
  std::vector<unsigned char*> blocks(kBlocks, nullptr);
  std::vector<std::size_t> sizes(kBlocks, 0);
  bool moved = false;
  for (std::size_t n = 2 * kMiB; n <= 32 * kMiB; n *= 2) {
    for (int b = 0; b < kBlocks; ++b) {
      auto* q = static_cast<unsigned char*>(PK(realloc)(blocks[b], n));
      ASSERT_NE(q, nullptr);
      moved |= blocks[b] != nullptr && q != blocks[b];
      for (std::size_t i = 0; i < sizes[b]; i += kPage) {
        ASSERT_EQ(q[i], static_cast<unsigned char>(i / kPage * 7 + static_cast<std::size_t>(b))) << "block " << b << " at " << i;
      }
      for (std::size_t i = sizes[b]; i < n; i += kPage) q[i] = static_cast<unsigned char>(i / kPage * 7 + static_cast<std::size_t>(b));
      EXPECT_GE(PK(malloc_usable_size)(q), n);
      EXPECT_TRUE(poolkit_malloc_owns(q));
      blocks[b] = q;
      sizes[b] = n;
    }
  }
  EXPECT_TRUE(moved);
  for (unsigned char* p : blocks) PK(free)(p);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocLarge, AMovedBlockShrinksAndIsFreedLikeAnyOther) {
  auto* p = static_cast<unsigned char*>(PK(malloc)(3 * kMiB));
  ASSERT_NE(p, nullptr);
  void* fence = PK(malloc)(3 * kMiB);  // likely right below or above it: growth may have to move
  std::memset(p, 9, 3 * kMiB);
  auto* q = static_cast<unsigned char*>(PK(realloc)(p, 40 * kMiB));
  ASSERT_NE(q, nullptr);
  for (std::size_t i = 0; i < 3 * kMiB; i += 997) ASSERT_EQ(q[i], 9) << i;
  auto* r = static_cast<unsigned char*>(PK(realloc)(q, 2 * kMiB));
  ASSERT_NE(r, nullptr);
  for (std::size_t i = 0; i < 2 * kMiB; i += 997) ASSERT_EQ(r[i], 9) << i;
  PK(free)(r);
  PK(free)(fence);
}

TEST(MallocLarge, CachedBlocksLeaveAfterTheDecayAndAtTrim) {
  SKIP_UNLESS_DEFAULT_MODE();
  PK(malloc_trim)(0);
  auto mapped = [] { return poolkit::test::malloc_info_now().mapped_bytes; };
  std::size_t base = mapped();
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(touch_all(PK(malloc)(16 * kMiB), 16 * kMiB, 1));
  for (void* p : blocks) PK(free)(p);
  EXPECT_GE(mapped(), base + 32 * kMiB) << "freed blocks are kept for reuse";
  EXPECT_EQ(PK(malloc_trim)(0), 1);
  EXPECT_LT(mapped(), base + 4 * kMiB) << "malloc_trim unmaps the cache";

  for (int i = 0; i < 4; ++i) blocks[static_cast<std::size_t>(i)] = touch_all(PK(malloc)(16 * kMiB), 16 * kMiB, 1);
  for (void* p : blocks) PK(free)(p);
  // The default decay is 50 ms; the next huge call past it unmaps what is older.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PK(free)(PK(malloc)(2 * kMiB));
  EXPECT_LT(mapped(), base + 8 * kMiB) << "the decay unmaps cached blocks";
  PK(malloc_trim)(0);
}

}  // namespace
