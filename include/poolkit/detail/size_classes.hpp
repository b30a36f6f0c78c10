// poolkit/detail/size_classes.hpp (private): the size-class arithmetic shared by
// Heap's segregated-fit index (size_class_map.hpp) and the drop-in malloc's pages.
// Header-only, constexpr, no allocation and no libstdc++ state: usable inside malloc.
//
// Log-linear classes: sizes below Granule * 2^SubLog2 are cut in Granule steps;
// above, every power of two is cut into 2^SubLog2 equal steps. With granule 16:
//
//   SubLog2 = 2 (malloc):  16 32 48 64 | 80 96 112 128 | 160 192 224 256 | 320 ...
//   SubLog2 = 5 (Heap):    16 32 ... 512 | 528 ... 1024 | 1056 ... 2048 | ...
//
// index_of(x) is the class of the half-open range [bound(i), bound(i + 1)) that
// holds x ("floor" classes, what a free-list index files a block under);
// bound(i) is that range's lower end. A "ceiling" class (the smallest class whose
// blocks hold a request of n bytes) is index_of(n - 1), and its size bound(i + 1).
#pragma once

#include <cstddef>

#include "poolkit/align.hpp"

namespace poolkit::detail {

template <unsigned GranuleLog2, unsigned SubLog2>
struct LogLinearClasses {
  static constexpr unsigned kSubCount = 1u << SubLog2;
  /// Below this size the classes are linear (one per granule).
  static constexpr std::size_t kLinearLimit = std::size_t{1} << (GranuleLog2 + SubLog2);
  /// The first level of a size x >= kLinearLimit is log2_floor(x) - kLevelShift (>= 1).
  static constexpr unsigned kLevelShift = GranuleLog2 + SubLog2 - 1;

  /// The first level (0: the linear range) and the step within it of size x.
  struct Split {
    unsigned level;
    unsigned sub;
  };
  static constexpr Split split(std::size_t x) noexcept {
    if (x < kLinearLimit) return {0, static_cast<unsigned>(x >> GranuleLog2)};
    const unsigned l = log2_floor(x);
    return {l - kLevelShift, static_cast<unsigned>((x >> (l - SubLog2)) ^ kSubCount)};
  }

  /// The class of x, as one index: level * kSubCount + sub.
  static constexpr std::size_t index_of(std::size_t x) noexcept {
    const Split s = split(x);
    return std::size_t{s.level} * kSubCount + s.sub;
  }

  /// The smallest size in class i (the inverse of index_of on class boundaries).
  static constexpr std::size_t bound(std::size_t i) noexcept {
    const std::size_t level = i / kSubCount, sub = i % kSubCount;
    if (level == 0) return sub << GranuleLog2;
    const unsigned l = static_cast<unsigned>(level) + kLevelShift;  // the power of two
    return (std::size_t{1} << l) + (sub << (l - SubLog2));
  }
};

}  // namespace poolkit::detail
