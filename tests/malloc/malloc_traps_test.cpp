// The traps users of other allocators hit, one test each: RSS after a peak,
// transparent huge pages, recursion at start-up, foreign pointers and bad frees,
// malloc_trim and the info numbers, rseq, vm.max_map_count, large alignments,
// and the POOLKIT_CHECK reports (double free, overflow). Threaded ones carry
// "_threads" in their names; fork-based ones live in malloc_threads_test.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "malloc_test_support.hpp"
#include "test_support.hpp"

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define POOLKIT_TEST_HAVE_RSEQ 1
#endif

using poolkit::test::malloc_info_now;
using poolkit::test::map_count;
using poolkit::test::rss_bytes;

namespace {

// A malloc during static initialisation, before main and perhaps before the
// allocator's own constructor: must not recurse or crash.
void* g_early_block = PK(malloc)(100);

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::vector<void*> allocate_peak(std::size_t bytes) {
  std::vector<void*> blocks;
  blocks.reserve(bytes / 64);
  std::size_t total = 0;
  for (std::size_t i = 0; total < bytes; ++i) {
    std::size_t n = 16 + (i * 97) % 2000;
    auto* p = static_cast<unsigned char*>(PK(malloc)(n));
    std::memset(p, 1, n);
    blocks.push_back(p);
    total += n;
  }
  return blocks;
}

TEST(MallocTraps, StartUpMallocBeforeMainWorked) {
  ASSERT_NE(g_early_block, nullptr);
  EXPECT_TRUE(poolkit_malloc_owns(g_early_block));
  PK(free)(g_early_block);
}

TEST(MallocTraps, RssFallsAfterAPeakIsFreed) {
  PK(malloc_trim)(0);
  std::size_t base = rss_bytes();
  auto blocks = allocate_peak(200 * kMiB);
  std::size_t peak = rss_bytes();
  ASSERT_GE(peak, base + 150 * kMiB);
  for (void* p : blocks) PK(free)(p);
  std::vector<void*>().swap(blocks);
  // At once, without any trim: empty segments beyond the small per-CPU caches are unmapped.
  std::size_t after = rss_bytes();
  EXPECT_LE(after, base + (peak - base) / 3) << "base " << base << " peak " << peak;
  // After the decay, the next slow paths decommit the rest (free slices, cached segments).
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * 50 + 50));
  std::vector<void*> touch;
  for (int i = 0; i < 64; ++i) touch.push_back(PK(malloc)(40000 + static_cast<std::size_t>(i) * 1000));
  for (void* p : touch) PK(free)(p);
  EXPECT_LE(rss_bytes(), base + 24 * kMiB) << "base " << base << " peak " << peak << " right after " << after;
  PK(malloc_trim)(0);
  EXPECT_LE(rss_bytes(), base + 8 * kMiB);
}

TEST(MallocTraps, RssFallsAfterAPeakFreedByAnotherThread_threads) {
  PK(malloc_trim)(0);
  std::size_t base = rss_bytes();
  std::vector<void*> blocks;
  std::thread owner([&] { blocks = allocate_peak(100 * kMiB); });
  owner.join();  // its segments are abandoned, full of live blocks
  for (void* p : blocks) PK(free)(p);  // remote frees into abandoned pages
  std::vector<void*>().swap(blocks);
  PK(malloc_trim)(0);  // adopts the abandoned segments and returns their pages
  EXPECT_LE(rss_bytes(), base + 8 * kMiB);
}

TEST(MallocTraps, SegmentsAreMarkedNoHugePagesSoThpCannotInflateRss) {
  void* p = PK(malloc)(64);
  auto segment = reinterpret_cast<std::uintptr_t>(p) & ~(4 * kMiB - 1);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_segment = false, found = false, nohuge = false;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') != std::string::npos) {
      std::uintptr_t lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      std::uintptr_t hi = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
      in_segment = lo <= segment && segment < hi;
      found |= in_segment;
    } else if (in_segment && line.rfind("VmFlags:", 0) == 0) {
      nohuge = line.find(" nh") != std::string::npos;
    }
  }
  PK(free)(p);
  ASSERT_TRUE(found);
  EXPECT_TRUE(nohuge) << "the segment of " << p << " lacks MADV_NOHUGEPAGE";
}

TEST(MallocTraps, OneSmallBlockInANewThreadCostsLittleRss_threads) {
  // Under TSan the process's RSS grows by the sanitizer's own per-thread state
  // (about 1 MiB per new thread), which says nothing about the allocator.
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "process RSS includes ThreadSanitizer's per-thread state";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  GTEST_SKIP() << "process RSS includes ThreadSanitizer's per-thread state";
#endif
#endif
  std::size_t before = rss_bytes();
  std::thread t([] {
    void* p = PK(malloc)(32);
    static_cast<char*>(p)[0] = 1;
    PK(free)(p);
  });
  t.join();
  EXPECT_LE(rss_bytes(), before + kMiB);
}

TEST(MallocTraps, FreeOfAPointerThatIsNotOursAbortsLikeGlibc) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  static int not_heap = 0;
  EXPECT_DEATH(PK(free)(&not_heap), "free\\(\\): invalid pointer");
  EXPECT_DEATH(PK(free)(reinterpret_cast<void*>(0x10)), "free\\(\\): invalid pointer");
  void* big = PK(malloc)(5 * kMiB);
  EXPECT_DEATH(PK(free)(static_cast<char*>(big) + 4096), "free\\(\\): invalid pointer");
  PK(free)(big);
}

TEST(MallocTraps, ChunksGlibcMappedBeforeUsAreAccepted) {
  // The header glibc writes in front of an mmapped chunk: prev_size 0, size | IS_MMAPPED.
  auto* region = static_cast<unsigned char*>(
      mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  reinterpret_cast<std::size_t*>(region)[0] = 0;
  reinterpret_cast<std::size_t*>(region)[1] = 8192 | 2;
  EXPECT_EQ(PK(malloc_usable_size)(region + 16), 8192u - 16);
  void* grown = PK(realloc)(region + 16, 20000);  // moves it into our heap
  ASSERT_NE(grown, nullptr);
  EXPECT_TRUE(poolkit_malloc_owns(grown));
  PK(free)(grown);
}

TEST(MallocTraps, DoubleFreeIsReportedUnderCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("POOLKIT_CHECK", "1", 1);  // read by the re-executed child at start-up
  EXPECT_DEATH(
      {
        void* p = poolkit::test::escape(PK(malloc)(30));
        PK(free)(p);
        PK(free)(poolkit::test::escape(p));
      },
      "poolkit: ERROR: double-free at 0x[0-9a-f]+\n.*\n  block 0x[0-9a-f]+: 30 bytes from malloc, freed\n"
      "(.*\n)*  allocated by malloc\\(30\\)(.*\n)*  freed by:\n");
  unsetenv("POOLKIT_CHECK");
}

TEST(MallocTraps, OverflowPastABlockIsReportedUnderCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("POOLKIT_CHECK", "1", 1);
  EXPECT_DEATH(
      {
        auto* p = poolkit::test::escape(static_cast<char*>(PK(malloc)(30)));
        std::memset(p, 0, 31);
        PK(free)(poolkit::test::escape(p));
      },
      "poolkit: ERROR: heap-buffer-overflow at 0x[0-9a-f]+\n"
      "  1 byte\\(s\\) after the end of a 30-byte block were overwritten; the first at offset 30");
  EXPECT_DEATH(
      {
        auto* p = poolkit::test::escape(static_cast<char*>(PK(malloc)(64)));
        PK(free)(poolkit::test::escape(p + 16));
      },
      "invalid-free of an interior pointer at 0x[0-9a-f]+\n  free\\(\\) of an address 16 bytes inside a 64-byte block");
  unsetenv("POOLKIT_CHECK");
}

TEST(MallocTraps, MallocTrimReturnsMemoryAndInfoAnswersSensibly) {
  auto before = malloc_info_now();
  auto blocks = allocate_peak(50 * kMiB);
  auto during = malloc_info_now();
  EXPECT_GE(during.page_bytes, before.page_bytes + 45 * kMiB);
  EXPECT_GE(during.mapped_bytes, during.page_bytes);
  for (void* p : blocks) PK(free)(p);
  std::vector<void*>().swap(blocks);
  auto after = malloc_info_now();
  EXPECT_LT(after.page_bytes, during.page_bytes);
  int released = PK(malloc_trim)(0);
  EXPECT_TRUE(released == 0 || released == 1);
  EXPECT_LE(malloc_info_now().mapped_bytes, after.mapped_bytes);
  EXPECT_EQ(PK(malloc_trim)(0), 0) << "a second trim finds nothing left to return";
}

TEST(MallocTraps, GlibcRseqRegistrationIsUntouched_threads) {
#if POOLKIT_TEST_HAVE_RSEQ
  if (__rseq_size == 0) GTEST_SKIP() << "glibc did not register rseq (glibc.pthread.rseq=0)";
  auto rseq_cpu = [] {
    auto* area = reinterpret_cast<volatile struct rseq*>(static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset);
    return static_cast<int>(area->cpu_id);
  };
  void* p = PK(malloc)(100);
  EXPECT_GE(rseq_cpu(), 0) << "glibc's rseq area is registered and updated";
  std::thread t([&] {
    void* q = PK(malloc)(100);
    EXPECT_GE(rseq_cpu(), 0);
    EXPECT_GE(sched_getcpu(), 0);
    PK(free)(q);
  });
  t.join();
  PK(free)(p);
#else
  GTEST_SKIP() << "no <sys/rseq.h>";
#endif
}

TEST(MallocTraps, ManySmallBlocksNeedFewMappings) {
  std::size_t before = map_count();
  std::vector<void*> blocks;
  for (int i = 0; i < 400000; ++i) blocks.push_back(PK(malloc)(static_cast<std::size_t>(16 + (i * 41) % 4000)));
  std::size_t during = map_count();
  for (void* p : blocks) PK(free)(p);
  // ~800 MiB of blocks in 4 MiB segments: a few hundred mappings, not one per page.
  EXPECT_LE(during, before + 400) << "mappings before " << before << ", with the blocks " << during;
}

TEST(MallocTraps, TwoMiBAlignedBlocksWork) {
  std::vector<void*> blocks;
  for (std::size_t n : {std::size_t{1}, 4096 * std::size_t{3}, 2 * kMiB, 5 * kMiB}) {
    void* p = nullptr;
    ASSERT_EQ(PK(posix_memalign)(&p, 2 * kMiB, n), 0);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % (2 * kMiB), 0u);
    std::memset(p, 0x42, n);
    EXPECT_GE(PK(malloc_usable_size)(p), n);
    blocks.push_back(p);
  }
  for (void* p : blocks) PK(free)(p);
}

}  // namespace
