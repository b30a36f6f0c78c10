// poolkit/detail/front_cache.hpp (private to Heap): the front cache, one bounded
// LIFO list per exact small block size. A freed small block is pushed here without
// merging; an allocation of that size pops it back without searching or splitting.
#pragma once

#include <cstddef>
#include <cstdint>

#include "poolkit/detail/boundary_tag.hpp"

namespace poolkit::detail {

// Class c holds blocks of exactly 16 * c bytes (headers included), for c from 2
// (32 B, the minimum block) to kClasses - 1 (1024 B). The singly linked list runs
// through the first payload word of each block, like a free list's "next".
//
// Invariants (Heap::check() verifies them):
//   - a block is on list c iff its header has the cached bit and size 16 * c;
//   - count(c) is the length of list c and at most depth(); bytes() is the sum of
//     the sizes of every cached block;
//   - count(0) and count(1) are pinned at their maximum, so that a corrupt header
//     with a size below 32 never passes the fast path's "room left" test.
class FrontCache {
 public:
  using L = BlockLayout;
  static constexpr std::size_t kMaxBlock = 1024;
  static constexpr std::size_t kClasses = kMaxBlock / L::kGranule + 1;  // 65: index = size / 16
  static constexpr std::size_t kMaxRequest = kMaxBlock - L::kHeaderSize;   // 1016 usable bytes
  static constexpr unsigned kMaxDepth = 0xFFFF;

  explicit FrontCache(unsigned depth = 0) noexcept { reset(depth); }

  /// Empties every list (without touching the blocks) and sets the bound per class.
  void reset(unsigned depth) noexcept {
    depth_ = depth > kMaxDepth - 1 ? kMaxDepth - 1 : depth;
    for (auto& h : heads_) h = 0;
    for (auto& c : counts_) c = 0;
    counts_[0] = counts_[1] = kMaxDepth;
    bytes_ = 0;
  }

  /// The class of a request of `size` bytes (size <= kMaxRequest) at natural alignment.
  static std::size_t class_of_request(std::size_t size) noexcept {
    const std::size_t c = (size + L::kHeaderSize + L::kGranule - 1) / L::kGranule;
    return c < 2 ? 2 : c;
  }
  /// The class of a block of `size` bytes; >= kClasses if the block is not cacheable.
  static std::size_t class_of_block(std::size_t size) noexcept { return size / L::kGranule; }

  /// True if a block of class c (any value) may be pushed now.
  bool has_room(std::size_t c) const noexcept { return c < kClasses && counts_[c] < depth_; }

  std::uintptr_t head(std::size_t c) const noexcept { return heads_[c]; }

  void push(std::size_t c, std::uintptr_t block) noexcept {
    L::set_next_free(block, heads_[c]);
    heads_[c] = block;
    ++counts_[c];
    bytes_ += c * L::kGranule;
  }
  /// Takes the head of list c (which must be non-empty).
  void pop(std::size_t c, std::uintptr_t block) noexcept {
    heads_[c] = L::next_free(block);
    --counts_[c];
    bytes_ -= c * L::kGranule;
  }
  /// Takes the whole of list c; returns its first block (0 if empty).
  std::uintptr_t take_all(std::size_t c) noexcept {
    const std::uintptr_t first = heads_[c];
    bytes_ -= counts_[c] * c * L::kGranule;
    heads_[c] = 0;
    counts_[c] = 0;
    return first;
  }

  unsigned depth() const noexcept { return depth_; }
  unsigned count(std::size_t c) const noexcept { return c < 2 ? 0 : counts_[c]; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t blocks() const noexcept {
    std::size_t n = 0;
    for (std::size_t c = 2; c < kClasses; ++c) n += counts_[c];
    return n;
  }

 private:
  std::uintptr_t heads_[kClasses];
  std::uint16_t counts_[kClasses];
  unsigned depth_;
  std::size_t bytes_;
};

}  // namespace poolkit::detail
