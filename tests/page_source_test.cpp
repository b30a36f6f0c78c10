// PageSource: mmap regions, alignment, brk below the threshold, decommit, errors.
#include "poolkit/page_source.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

using poolkit::PageSource;

TEST(PageSource, RegionIsPageAlignedAndZeroFilled) {
  PageSource source;
  auto* p = static_cast<unsigned char*>(source.allocate(10000));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % PageSource::page_size(), 0u);
  for (std::size_t i = 0; i < 10000; ++i) ASSERT_EQ(p[i], 0) << i;
  std::memset(p, 0xab, 10000);
  source.deallocate(p, 10000);
  EXPECT_EQ(source.stats().bytes_mapped, 0u);
}

TEST(PageSource, HonoursEveryPowerOfTwoAlignmentUpTo64MiB) {
  PageSource source;
  for (std::size_t align = 1; align <= (std::size_t{64} << 20); align <<= 1) {
    void* p = source.allocate(4096, align);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
    source.deallocate(p, 4096);
  }
  EXPECT_EQ(source.stats().bytes_mapped, 0u);
}

TEST(PageSource, BadAlignmentIsEinval) {
  PageSource source;
  errno = 0;
  EXPECT_EQ(source.allocate(4096, 3), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(PageSource, OverflowingSizeIsEnomemNotATinyRegion) {
  PageSource source;
  errno = 0;
  EXPECT_EQ(source.allocate(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(source.allocate(SIZE_MAX - 4096, 1 << 20), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_GE(source.stats().failures, 2u);
}

TEST(PageSource, ImpossibleMappingIsEnomem) {
  PageSource source;
  errno = 0;
  EXPECT_EQ(source.allocate(std::size_t{1} << 62), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(PageSource, SmallRequestsGrowTheBreakWhenEnabled) {
  PageSource source({.brk_threshold = PageSource::kSuggestedBrkThreshold});
  auto* p = static_cast<char*>(source.allocate(8192));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(source.stats().brk_calls, 1u);
  EXPECT_EQ(source.stats().mmap_calls, 0u);
  std::memset(p, 1, 8192);
  source.deallocate(p, 8192);
  // Reused, not grown again, and zero-filled as a fresh region.
  auto* q = static_cast<unsigned char*>(source.allocate(8192));
  EXPECT_EQ(static_cast<void*>(q), static_cast<void*>(p));
  EXPECT_EQ(source.stats().brk_calls, 1u);
  for (int i = 0; i < 8192; ++i) ASSERT_EQ(q[i], 0) << i;
  // Large requests still map.
  void* big = source.allocate(1 << 20);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(source.stats().mmap_calls, 1u);
  source.deallocate(big, 1 << 20);
  source.deallocate(q, 8192);
}

TEST(PageSource, DecommitReturnsPagesAndReadsZero) {
  PageSource source;
  const std::size_t size = 64 * PageSource::page_size();
  auto* p = static_cast<unsigned char*>(source.allocate(size));
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x77, size);
  EXPECT_TRUE(source.decommit(p, size));
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[size - 1], 0);
  source.deallocate(p, size);
}

TEST(PageSource, HugePageAdviceKeepsWorking) {
  PageSource source({.huge_pages = poolkit::HugePages::kNever});
  void* p = source.allocate(4 << 20, 2 << 20);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (2 << 20), 0u);
  EXPECT_EQ(source.stats().madvise_calls, 1u);
  source.deallocate(p, 4 << 20);
}

TEST(PageSource, CountsTimeInSystemCalls) {
  PageSource source;
  void* p = source.allocate(1 << 16);
  source.deallocate(p, 1 << 16);
  auto s = source.stats();
  EXPECT_EQ(s.mmap_calls, 1u);
  EXPECT_EQ(s.munmap_calls, 1u);
  EXPECT_GT(s.syscall_nanoseconds, 0u);
  EXPECT_EQ(s.peak_mapped, std::size_t{1} << 16);
}
