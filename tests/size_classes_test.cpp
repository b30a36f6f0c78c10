// size_classes_test.cpp: the log-linear size classes (detail/size_classes.hpp)
// shared by Heap's free-list index and the drop-in malloc's pages.
#include "poolkit/detail/size_classes.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "poolkit/detail/size_class_map.hpp"

namespace {

using MallocClasses = poolkit::detail::LogLinearClasses<4, 2>;
using HeapClasses = poolkit::detail::LogLinearClasses<4, 5>;

// The malloc's block sizes, as docs/malloc.md lists them: 16..128 by 16, then four
// classes per power of two, up to 1 MiB (60 classes).
std::vector<std::size_t> malloc_sizes() {
  std::vector<std::size_t> sizes;
  for (std::size_t s = 16; s <= 128; s += 16) sizes.push_back(s);
  for (std::size_t p = 128; p < (std::size_t{1} << 20); p *= 2)
    for (std::size_t k = 1; k <= 4; ++k) sizes.push_back(p + k * p / 4);
  return sizes;
}

TEST(SizeClasses, MallocClassSizesAreSixteenStepsThenFourPerPowerOfTwo) {
  const std::vector<std::size_t> sizes = malloc_sizes();
  ASSERT_EQ(sizes.size(), 60u);
  for (std::size_t c = 0; c < sizes.size(); ++c) EXPECT_EQ(MallocClasses::bound(c + 1), sizes[c]) << "class " << c;
}

TEST(SizeClasses, MallocCeilingClassIsTheSmallestThatHoldsTheRequest) {
  const std::vector<std::size_t> sizes = malloc_sizes();
  std::size_t c = 0;
  for (std::size_t n = 1; n <= sizes.back(); ++n) {
    while (sizes[c] < n) ++c;
    ASSERT_EQ(MallocClasses::index_of(n - 1), c) << "request " << n;
  }
}

TEST(SizeClasses, BoundIsTheInverseOfIndexOnClassBoundaries) {
  for (std::size_t i = 1; i < 200; ++i) {
    EXPECT_EQ(MallocClasses::index_of(MallocClasses::bound(i)), i);
    EXPECT_EQ(MallocClasses::index_of(MallocClasses::bound(i) - 1), i - 1);
    EXPECT_EQ(HeapClasses::index_of(HeapClasses::bound(i)), i);
    EXPECT_EQ(HeapClasses::index_of(HeapClasses::bound(i) - 1), i - 1);
  }
}

TEST(SizeClasses, HeapIndexMatchesTheDocumentedTable) {
  using poolkit::detail::SizeClassMap;
  // fl 0: [0,16) [16,32) ... [496,512), step 16; fl 1: [512,528)..., step 16; fl 2: step 32.
  EXPECT_EQ(SizeClassMap::class_of(0).fl, 0u);
  EXPECT_EQ(SizeClassMap::class_of(511).sl, 31u);
  EXPECT_EQ(SizeClassMap::class_of(512).fl, 1u);
  EXPECT_EQ(SizeClassMap::class_of(512).sl, 0u);
  EXPECT_EQ(SizeClassMap::class_of(527).sl, 0u);
  EXPECT_EQ(SizeClassMap::class_of(528).sl, 1u);
  EXPECT_EQ(SizeClassMap::class_of(1024).fl, 2u);
  EXPECT_EQ(SizeClassMap::class_of(1055).sl, 0u);
  EXPECT_EQ(SizeClassMap::class_of(1056).sl, 1u);
  for (std::size_t size = 0; size < (std::size_t{1} << 20); size += 8) {
    const auto c = SizeClassMap::class_of(size);
    ASSERT_EQ(std::size_t{c.fl} * 32 + c.sl, HeapClasses::index_of(size)) << "size " << size;
  }
}

}  // namespace
