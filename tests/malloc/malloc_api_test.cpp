// The drop-in malloc's interface: every function's edge cases and glibc's
// conventions (errno, return values), then a randomized differential run against
// BlockModel. Runs once as is and once under POOLKIT_CHECK=2 (a heap walk on
// every call, the debug build that stands in for ASan and valgrind here).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "malloc_test_support.hpp"
#include "test_support.hpp"

#if POOLKIT_TEST_OVERRIDE
extern "C" void* __libc_malloc(size_t);
extern "C" void __libc_free(void*);
#endif

using poolkit::test::BlockModel;
using poolkit::test::scaled;
using poolkit::test::test_seed;

namespace {

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

void fill_and_check(void* p, std::size_t n, unsigned char v) {
  auto* b = static_cast<unsigned char*>(p);
  std::memset(b, v, n);
  for (std::size_t i = 0; i < n; i += 97) ASSERT_EQ(b[i], v);
}

TEST(MallocApi, MallocZeroReturnsDistinctFreeableBlocks) {
  void* a = PK(malloc)(0);
  void* b = PK(malloc)(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_TRUE(aligned(a, 16));
  PK(free)(a);
  PK(free)(b);
}

TEST(MallocApi, EveryBlockIsSixteenByteAligned) {
  std::vector<void*> blocks;
  for (std::size_t n = 1; n < 3000; n += 7) {
    void* p = PK(malloc)(n);
    ASSERT_TRUE(aligned(p, 16)) << n;
    blocks.push_back(p);
  }
  for (void* p : blocks) PK(free)(p);
}

TEST(MallocApi, ImpossibleSizesFailWithEnomem) {
  for (std::size_t n : {SIZE_MAX, SIZE_MAX - 4096, std::size_t{PTRDIFF_MAX} + 1, std::size_t{1} << 62}) {
    errno = 0;
    EXPECT_EQ(PK(malloc)(n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
  }
}

TEST(MallocApi, FreeOfNullDoesNothing) {
  errno = 1234;
  PK(free)(nullptr);
  EXPECT_EQ(errno, 1234);
}

TEST(MallocApi, CallocZeroesReusedMemory) {
  for (std::size_t n : {16u, 100u, 4000u, 70000u, 900000u, 3000000u, 16u << 20}) {
    void* dirty = PK(malloc)(n);
    std::memset(dirty, 0xAB, n);
    PK(free)(dirty);
    auto* p = static_cast<unsigned char*>(PK(calloc)(1, n));
    ASSERT_NE(p, nullptr);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0) << n << " at " << i;
    PK(free)(p);
  }
}

TEST(MallocApi, CallocOverflowFailsWithEnomem) {
  errno = 0;
  EXPECT_EQ(PK(calloc)(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(PK(calloc)(std::size_t{1} << 33, std::size_t{1} << 33), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = PK(calloc)(0, 0);
  EXPECT_NE(p, nullptr);
  PK(free)(p);
}

TEST(MallocApi, ReallocOfNullIsMalloc) {
  void* p = PK(realloc)(nullptr, 100);
  ASSERT_NE(p, nullptr);
  fill_and_check(p, 100, 7);
  PK(free)(p);
}

TEST(MallocApi, ReallocToZeroFreesAndReturnsNull) {
  void* p = PK(malloc)(100);
  EXPECT_EQ(PK(realloc)(p, 0), nullptr);
  void* big = PK(malloc)(5 << 20);
  EXPECT_EQ(PK(realloc)(big, 0), nullptr);
}

TEST(MallocApi, ReallocGrowKeepsContents) {
  std::size_t n = 1;
  auto* p = static_cast<unsigned char*>(PK(malloc)(n));
  p[0] = 0;
  while (n < (std::size_t{8} << 20)) {
    std::size_t next = n * 3 / 2 + 1;
    p = static_cast<unsigned char*>(PK(realloc)(p, next));
    ASSERT_NE(p, nullptr);
    for (std::size_t i = 0; i < n; i += 1 + i / 64) ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7)) << n;
    for (std::size_t i = n; i < next; ++i) p[i] = static_cast<unsigned char>(i * 7);
    n = next;
  }
  PK(free)(p);
}

TEST(MallocApi, ReallocShrinkKeepsContents) {
  std::size_t n = 6 << 20;
  auto* p = static_cast<unsigned char*>(PK(malloc)(n));
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(i * 13);
  while (n > 1) {
    n = n / 3 + 1;
    p = static_cast<unsigned char*>(PK(realloc)(p, n));
    ASSERT_NE(p, nullptr);
    for (std::size_t i = 0; i < n; i += 1 + i / 64) ASSERT_EQ(p[i], static_cast<unsigned char>(i * 13)) << n;
  }
  PK(free)(p);
}

TEST(MallocApi, ReallocStaysInPlaceWhileTheBlockFits) {
  void* p = PK(malloc)(1000);
  std::size_t usable = PK(malloc_usable_size)(p);
  EXPECT_EQ(PK(realloc)(p, usable), p);
  EXPECT_EQ(PK(realloc)(p, 900), p);
  PK(free)(p);
}

TEST(MallocApi, ReallocFailureLeavesTheBlockAlone) {
  auto* p = static_cast<unsigned char*>(PK(malloc)(64));
  std::memset(p, 0x5A, 64);
  errno = 0;
  EXPECT_EQ(PK(realloc)(p, SIZE_MAX - 100), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(p[i], 0x5A);
  PK(free)(p);
}

TEST(MallocApi, ReallocarrayChecksTheMultiplication) {
  errno = 0;
  EXPECT_EQ(PK(reallocarray)(nullptr, SIZE_MAX / 4, 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = PK(reallocarray)(nullptr, 10, 10);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(PK(malloc_usable_size)(p), 100u);
  PK(free)(p);
}

TEST(MallocApi, EveryAlignmentUpTo2MiBWithEverySizeShape) {
  for (std::size_t a = 1; a <= (std::size_t{2} << 20); a <<= 1) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, a - 1 + (a == 1), a, a + 1, 3 * a, std::size_t{100}}) {
      void* p = nullptr;
      std::size_t pa = a < sizeof(void*) ? sizeof(void*) : a;
      ASSERT_EQ(PK(posix_memalign)(&p, pa, n), 0) << a << " " << n;
      ASSERT_TRUE(aligned(p, pa)) << a << " " << n;
      ASSERT_GE(PK(malloc_usable_size)(p), n);
      std::memset(p, 0x11, n);
      void* q = PK(aligned_alloc)(a, n);
      ASSERT_TRUE(q != nullptr && aligned(q, a)) << a << " " << n;
      std::memset(q, 0x22, n);
      void* r = PK(memalign)(a, n);
      ASSERT_TRUE(r != nullptr && aligned(r, a)) << a << " " << n;
      std::memset(r, 0x33, n);
      for (std::size_t i = 0; i < n; i += 61) ASSERT_EQ(static_cast<unsigned char*>(p)[i], 0x11);
      PK(free)(p);
      PK(free)(q);
      PK(free)(r);
    }
  }
}

TEST(MallocApi, AlignmentsBeyondASegmentWork) {
  for (std::size_t a : {std::size_t{4} << 20, std::size_t{8} << 20, std::size_t{32} << 20}) {
    void* p = nullptr;
    ASSERT_EQ(PK(posix_memalign)(&p, a, 1000), 0);
    ASSERT_TRUE(aligned(p, a));
    std::memset(p, 1, 1000);
    EXPECT_GE(PK(malloc_usable_size)(p), 1000u);
    void* q = PK(realloc)(p, 3000);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(static_cast<unsigned char*>(q)[999], 1);
    PK(free)(q);
  }
}

TEST(MallocApi, PosixMemalignRejectsBadAlignmentsWithEinval) {
  for (std::size_t a : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{24}, std::size_t{1} << 63 | 8}) {
    void* p = reinterpret_cast<void*>(0x1234);
    errno = 77;
    EXPECT_EQ(PK(posix_memalign)(&p, a, 16), EINVAL) << a;
    EXPECT_EQ(p, reinterpret_cast<void*>(0x1234)) << a;
    EXPECT_EQ(errno, 77);
  }
  void* p = nullptr;
  EXPECT_EQ(PK(posix_memalign)(&p, 64, SIZE_MAX - 10), ENOMEM);
}

TEST(MallocApi, AlignedAllocRejectsNonPowersOfTwo) {
  errno = 0;
  EXPECT_EQ(PK(aligned_alloc)(24, 48), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(PK(aligned_alloc)(0, 48), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(MallocApi, MemalignRoundsAlignmentUpLikeGlibc) {
  void* p = PK(memalign)(24, 10);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(aligned(p, 32));
  PK(free)(p);
  errno = 0;
  EXPECT_EQ(PK(memalign)(SIZE_MAX, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(MallocApi, VallocAndPvallocArePageAligned) {
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* v = PK(valloc)(10);
  ASSERT_TRUE(v && aligned(v, page));
  void* pv = PK(pvalloc)(10);
  ASSERT_TRUE(pv && aligned(pv, page));
  EXPECT_GE(PK(malloc_usable_size)(pv), page);
  std::memset(pv, 3, page);
  void* zero = PK(pvalloc)(0);
  ASSERT_NE(zero, nullptr);
  errno = 0;
  EXPECT_EQ(PK(pvalloc)(SIZE_MAX - 10), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  PK(free)(v);
  PK(free)(pv);
  PK(free)(zero);
}

TEST(MallocApi, UsableSizeIsAtLeastTheRequestAndAllOfItIsWritable) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n < 5000; ++n) sizes.push_back(n);
  for (std::size_t n : {65536u, 100000u, 1u << 20, (1u << 20) + 1, 3u << 20}) sizes.push_back(n);
  for (std::size_t n : sizes) {
    void* p = PK(malloc)(n);
    std::size_t usable = PK(malloc_usable_size)(p);
    ASSERT_GE(usable, n);
    std::memset(p, 0x7E, usable);
    PK(free)(p);
  }
  EXPECT_EQ(PK(malloc_usable_size)(nullptr), 0u);
  if (poolkit::test::check_level() == 0) {
    void* p = PK(malloc)(100);
    EXPECT_LE(PK(malloc_usable_size)(p), 128u);  // the size class, not more
    PK(free)(p);
  }
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocApi, HugeBlocksAreZeroAndGiveMemoryBack) {
  // The huge cache may hold a mapping an earlier test freed, and malloc hands it out
  // with its old bytes (malloc does not zero: CallocZeroesReusedMemory covers calloc);
  // checked mode holds freed blocks in its quarantine. malloc_trim empties both, so
  // this block is a fresh mapping.
  PK(malloc_trim)(0);
  auto before = poolkit::test::malloc_info_now();
  auto* p = static_cast<unsigned char*>(PK(malloc)(16 << 20));
  ASSERT_NE(p, nullptr);
  // Checked mode fills new blocks with 0xbe so that nothing is zero by accident.
  const unsigned char fresh = poolkit::test::check_level() == 0 ? 0 : 0xbe;
  for (std::size_t i = 0; i < (16u << 20); i += 4096) ASSERT_EQ(p[i], fresh);
  EXPECT_GE(poolkit::test::malloc_info_now().huge_bytes, before.huge_bytes + (16u << 20));
  PK(free)(p);
  if (poolkit::test::check_level() != 0) PK(malloc_trim)(0);
  EXPECT_EQ(poolkit::test::malloc_info_now().huge_bytes, before.huge_bytes);
}

TEST(MallocApi, OwnsOnlyItsOwnBlocks) {
  int local = 0;
  void* p = poolkit::test::escape(PK(malloc)(10));
  EXPECT_TRUE(poolkit_malloc_owns(p));
  EXPECT_FALSE(poolkit_malloc_owns(&local));
  EXPECT_FALSE(poolkit_malloc_owns(nullptr));
  PK(free)(p);
}

TEST(MallocApi, RandomOperationsMatchTheModel) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  BlockModel model;
  // A heap walk on every call (POOLKIT_CHECK=2) makes each operation far slower.
  const std::size_t ops = scaled(1'000'000) / (poolkit::test::check_level() >= 2 ? 500 : 1);
  // Mostly small blocks; now and then a large or huge one (filling and checking
  // every byte of those dominates the run time).
  auto pick_size = [&]() -> std::size_t {
    std::uint64_t r = rng();
    if (r % 4096 == 0) return (r >> 40) % (3 << 20);  // up to 3 MiB: huge ones too
    if (r % 512 == 1) return (r >> 40) % (1 << 20);   // up to the largest class
    if (r % 8 == 2) return (r >> 20) % 8192;
    return (r >> 20) % 256;
  };
  for (std::size_t op = 0; op < ops; ++op) {
    std::uint64_t r = rng();
    auto pattern = static_cast<std::uint8_t>(r >> 56);
    bool grow = model.count() < 600;
    if (grow && r % 8 < 5) {
      std::size_t n = pick_size();
      void* p;
      std::size_t align = 16;
      switch (r % 5) {
        case 0: p = PK(calloc)(1, n); break;
        case 1:
          align = std::size_t{1} << (r >> 32) % 14;
          p = PK(aligned_alloc)(align, n);
          ASSERT_TRUE(aligned(p, align)) << "op " << op;
          align = 16;  // what realloc keeps
          break;
        default: p = PK(malloc)(n); break;
      }
      ASSERT_NE(p, nullptr) << "op " << op << " size " << n;
      ASSERT_GE(PK(malloc_usable_size)(p), n);
      if (!model.add(p, n, align, pattern)) FAIL() << "op " << op;
    } else if (!model.empty() && r % 4 == 0) {
      std::size_t i = (r >> 8) % model.count();
      std::size_t n = pick_size();
      void* p = PK(realloc)(model.blocks()[i].p, n == 0 ? 1 : n);
      ASSERT_NE(p, nullptr);
      if (!model.moved(i, p, n == 0 ? 1 : n)) FAIL() << "op " << op;
    } else if (!model.empty()) {
      PK(free)(model.take_random(rng).p);
    }
  }
  model.verify_all();
  EXPECT_EQ(poolkit_malloc_check(), 0);
  for (const auto& b : model.blocks()) PK(free)(b.p);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

#if POOLKIT_TEST_OVERRIDE

TEST(MallocOverride, TheCLibraryAndItsInternalNamesReachPoolkit) {
  void* p = malloc(10);
  char* s = strdup("poolkit");
  void* q = __libc_malloc(20);
  EXPECT_TRUE(poolkit_malloc_owns(p));
  EXPECT_TRUE(poolkit_malloc_owns(s));
  EXPECT_TRUE(poolkit_malloc_owns(q));
  free(p);
  free(s);
  __libc_free(q);
}

struct alignas(256) Wide {
  unsigned char bytes[300];
};

TEST(MallocOverride, EveryOperatorNewAndDeleteUsesPoolkit) {
  auto* a = new int(5);
  auto* b = new int[100];
  auto* c = new (std::nothrow) int(6);
  auto* d = new (std::nothrow) int[7];
  auto* w = new Wide;
  auto* ws = new Wide[3];
  auto* wn = new (std::nothrow) Wide;
  EXPECT_TRUE(poolkit_malloc_owns(a) && poolkit_malloc_owns(b) && poolkit_malloc_owns(c) && poolkit_malloc_owns(d));
  EXPECT_TRUE(poolkit_malloc_owns(w) && poolkit_malloc_owns(ws) && poolkit_malloc_owns(wn));
  EXPECT_TRUE(aligned(w, 256) && aligned(ws, 256) && aligned(wn, 256));
  delete a;
  delete[] b;
  delete c;
  delete[] d;
  delete w;
  delete[] ws;
  delete wn;
#if __cpp_sized_deallocation
  ::operator delete(::operator new(10), std::size_t{10});
  ::operator delete(::operator new(10, std::align_val_t{64}), std::size_t{10}, std::align_val_t{64});
#endif
  ::operator delete(::operator new(10, std::align_val_t{64}), std::align_val_t{64});
}

int g_handler_calls = 0;
void give_up_handler() {
  ++g_handler_calls;
  if (g_handler_calls == 3) std::set_new_handler(nullptr);
}

TEST(MallocOverride, OperatorNewCallsTheNewHandlerThenThrows) {
  g_handler_calls = 0;
  std::set_new_handler(give_up_handler);
  EXPECT_THROW((void)::operator new(std::size_t{1} << 62), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
  std::set_new_handler(nullptr);
  EXPECT_EQ(::operator new(std::size_t{1} << 62, std::nothrow), nullptr);
  EXPECT_THROW((void)::operator new(std::size_t{1} << 62, std::align_val_t{64}), std::bad_alloc);
}

TEST(MallocOverride, MallinfoCountsBlocksInPages) {
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(malloc(1000));
  struct mallinfo2 during = mallinfo2();
  EXPECT_GE(during.uordblks, before.uordblks + 10000 * 1000 * 9 / 10);
  EXPECT_GE(during.arena, during.uordblks);
  for (void* p : blocks) free(p);
  if (poolkit::test::check_level() != 0) malloc_trim(0);  // empties checked mode's quarantine
  struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, during.uordblks);
  void* big = poolkit::test::escape(malloc(8 << 20));
  EXPECT_GE(mallinfo2().hblkhd, after.hblkhd + (8u << 20));
  free(big);
}

#endif

}  // namespace
