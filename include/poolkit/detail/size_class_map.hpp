// poolkit/detail/size_class_map.hpp (private to Heap): the two-level segregated
// fit index (TLSF). Free blocks sit on one doubly-linked list per size class; two
// levels of bitmaps say which lists are non-empty, so a fit is found with two
// bit scans and no walk.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "poolkit/align.hpp"
#include "poolkit/detail/boundary_tag.hpp"
#include "poolkit/detail/size_classes.hpp"

namespace poolkit::detail {

// Size classes. First level: the power of two of the size. Second level: 32 equal
// slices of that power of two. Sizes below 512 share first level 0, cut in
// 16-byte steps (one list per exact size):
//
//   fl 0   [0,16) [16,32) ... [496,512)          step 16
//   fl 1   [512,528) ... [1008,1024)             step 16
//   fl 2   [1024,1056) ... [2016,2048)           step 32
//   fl k   [2^(k+8) + i*2^(k+3), ...)            step 2^(k+3), i = 0..31
//
//   fl_bitmap:  bit k set  <=>  sl_bitmap[k] != 0
//   sl_bitmap[k]: bit i set <=>  heads[k][i] != 0
//
// A search rounds the request up to the next class boundary first, so every block
// on the list found is big enough (good fit, never a walk).
struct SizeClass {
  unsigned fl;
  unsigned sl;
};

struct SizeClassMap {
  static constexpr unsigned kSlLog2 = 5;
  static constexpr unsigned kSlCount = 1u << kSlLog2;
  static constexpr unsigned kGranuleLog2 = 4;
  static constexpr std::size_t kSmallLimit = std::size_t{1} << (kSlLog2 + kGranuleLog2);  // 512
  static constexpr unsigned kFlShift = kSlLog2 + kGranuleLog2 - 1;                        // 8
  static constexpr unsigned kFlCount = 42 - kFlShift;  // blocks below 2^42
  using Classes = LogLinearClasses<kGranuleLog2, kSlLog2>;
  static_assert(Classes::kLinearLimit == kSmallLimit && Classes::kLevelShift == kFlShift);

  /// The class a block of this size lives in.
  static SizeClass class_of(std::size_t size) noexcept {
    const auto s = Classes::split(size);  // the math shared with the malloc
    return {s.level, s.sub};
  }

  /// The first class whose every block is at least `size` (size < 2^42).
  static SizeClass search_class(std::size_t size) noexcept {
    if (size >= kSmallLimit) size += (std::size_t{1} << (log2_floor(size) - kSlLog2)) - 1;
    return class_of(size);
  }
};

// The free lists and their bitmaps. Holds, for stats, the count and total size of
// the free blocks. Invariant: a block is on heads[fl][sl] iff it is free and
// class_of(its size) == {fl, sl}; the bitmaps agree with the heads (see above).
class FreeIndex {
 public:
  using L = BlockLayout;

  void clear() noexcept { *this = FreeIndex{}; }

  void insert(std::uintptr_t block, std::size_t size) noexcept {
    SizeClass c = SizeClassMap::class_of(size);
    std::uintptr_t head = heads_[c.fl][c.sl];
    L::set_next_free(block, head);
    L::set_prev_free(block, 0);
    if (head) L::set_prev_free(head, block);
    heads_[c.fl][c.sl] = block;
    fl_bitmap_ |= std::uint64_t{1} << c.fl;
    sl_bitmap_[c.fl] |= 1u << c.sl;
    ++count_;
    bytes_ += size;
  }

  void remove(std::uintptr_t block, std::size_t size) noexcept {
    SizeClass c = SizeClassMap::class_of(size);
    std::uintptr_t next = L::next_free(block);
    std::uintptr_t prev = L::prev_free(block);
    if (next) L::set_prev_free(next, prev);
    if (prev) {
      L::set_next_free(prev, next);
    } else {
      heads_[c.fl][c.sl] = next;
      if (!next) {
        sl_bitmap_[c.fl] &= ~(1u << c.sl);
        if (!sl_bitmap_[c.fl]) fl_bitmap_ &= ~(std::uint64_t{1} << c.fl);
      }
    }
    --count_;
    bytes_ -= size;
  }

  /// Puts new_block (new_size) where old_block (old_size) was. If both sizes map to
  /// the same list the new block takes over the old one's node in place (the two
  /// may share an address; their link words must not overlap); else unlink + link.
  void replace(std::uintptr_t old_block, std::size_t old_size, std::uintptr_t new_block,
               std::size_t new_size) noexcept {
    const SizeClass a = SizeClassMap::class_of(old_size);
    const SizeClass b = SizeClassMap::class_of(new_size);
    if (a.fl != b.fl || a.sl != b.sl) {
      remove(old_block, old_size);
      insert(new_block, new_size);
      return;
    }
    bytes_ = bytes_ - old_size + new_size;
    if (old_block == new_block) return;
    const std::uintptr_t next = L::next_free(old_block);
    const std::uintptr_t prev = L::prev_free(old_block);
    L::set_next_free(new_block, next);
    L::set_prev_free(new_block, prev);
    if (next) L::set_prev_free(next, new_block);
    if (prev) {
      L::set_next_free(prev, new_block);
    } else {
      heads_[a.fl][a.sl] = new_block;
    }
  }

  /// A free block whose size is at least `size` (a multiple of 16 below 2^42), or
  /// 0. Two bit scans for the rounded-up class; failing that, the head of the
  /// request's own class, which may still be big enough (the largest block is
  /// usually in a class no rounded request reaches).
  std::uintptr_t find(std::size_t size) const noexcept {
    SizeClass c = SizeClassMap::search_class(size);
    if (c.fl < SizeClassMap::kFlCount) {
      std::uint32_t sl_map = sl_bitmap_[c.fl] & (~0u << c.sl);
      unsigned fl = c.fl;
      if (!sl_map) {
        std::uint64_t fl_map = fl + 1 < 64 ? fl_bitmap_ & (~std::uint64_t{0} << (fl + 1)) : 0;
        if (fl_map) {
          fl = static_cast<unsigned>(std::countr_zero(fl_map));
          sl_map = sl_bitmap_[fl];
        }
      }
      if (sl_map) return heads_[fl][std::countr_zero(sl_map)];
    }
    SizeClass exact = SizeClassMap::class_of(size);
    std::uintptr_t head = heads_[exact.fl][exact.sl];
    return head && L::size_of(L::load_word(head)) >= size ? head : 0;
  }

  /// The head of the highest non-empty list (0 if none): the largest request that
  /// find() is sure to meet is that block's size.
  std::uintptr_t top_head() const noexcept {
    if (!fl_bitmap_) return 0;
    unsigned fl = 63u - static_cast<unsigned>(std::countl_zero(fl_bitmap_));
    unsigned sl = 31u - static_cast<unsigned>(std::countl_zero(sl_bitmap_[fl]));
    return heads_[fl][sl];
  }

  std::uintptr_t head(unsigned fl, unsigned sl) const noexcept { return heads_[fl][sl]; }
  std::uint64_t fl_bitmap() const noexcept { return fl_bitmap_; }
  std::uint32_t sl_bitmap(unsigned fl) const noexcept { return sl_bitmap_[fl]; }
  std::size_t count() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::uint64_t fl_bitmap_ = 0;
  std::uint32_t sl_bitmap_[SizeClassMap::kFlCount] = {};
  std::uintptr_t heads_[SizeClassMap::kFlCount][SizeClassMap::kSlCount] = {};
  std::size_t count_ = 0;   // free blocks
  std::size_t bytes_ = 0;   // their total size, headers included
};

}  // namespace poolkit::detail
