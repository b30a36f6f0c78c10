// buddy_pool.cpp: BuddyPool. Offsets are relative to the region base; a block of order
// k lives at an offset that is a multiple of 2^k, and its buddy is at offset ^ 2^k.
#include "poolkit/buddy_pool.hpp"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "poolkit/align.hpp"

#include "common/assert.hpp"
#include "poolkit/detail/annotations.hpp"

namespace poolkit {
namespace {

constexpr std::size_t bit(unsigned k) noexcept { return std::size_t{1} << k; }

// Diagnostics for check(): one line, then false.
bool broken(const char* what, std::size_t offset, unsigned order) noexcept {
  std::fprintf(stderr, "BuddyPool::check: %s (block at offset %zu, order %u)\n", what, offset, order);
  return false;
}

}  // namespace

BuddyPool::BuddyPool(Options options) noexcept
    : source_(options.source ? options.source : &PageSource::system()),
      min_order_(options.min_order),
      max_order_(options.max_order) {
  if (min_order_ < kMinOrderLimit || max_order_ > kMaxOrderLimit || min_order_ > max_order_ ||
      max_order_ - min_order_ > kMaxOrderSpan) {
    min_order_ = max_order_ = kMinOrderLimit;  // keeps max_block() and friends meaningful
    return;
  }
  annotate::pool_created(this);
  base_ = static_cast<unsigned char*>(source_->allocate(max_block(), max_block()));
  table_bytes_ = bit(max_order_ - min_order_);
  table_ = base_ ? static_cast<std::uint8_t*>(source_->allocate(table_bytes_)) : nullptr;
  if (!table_) {
    source_->deallocate(base_, max_block());
    base_ = nullptr;
    return;
  }
  std::size_t region_pages = 0, table_pages = 0;
  PageSource::round_to_pages(max_block(), &region_pages);
  PageSource::round_to_pages(table_bytes_, &table_pages);
  mapped_bytes_ = region_pages + table_pages;
  valid_ = true;
  reset_region();
}

BuddyPool::BuddyPool(void* buffer, std::size_t size, Options options)
    : min_order_(options.min_order), max_order_(options.min_order) {
  if (min_order_ < kMinOrderLimit || min_order_ > kMaxOrderLimit)
    throw std::invalid_argument("BuddyPool: min_order is outside [4, 40]");
  // Bytes a region of order k needs from the buffer: the gap up to its alignment,
  // itself, its side table. Each larger order needs more, so the first misfit ends the search.
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer);
  auto offset_of = [&](unsigned k) { return align_up(begin, std::min(bit(k), kMaxAlignment)) - begin; };
  auto fits = [&](unsigned k) {
    std::size_t need;
    return checked_add(offset_of(k), bit(k), &need) && checked_add(need, bit(k - min_order_), &need) && need <= size;
  };
  unsigned order = min_order_;
  while (order < kMaxOrderLimit && order - min_order_ < kMaxOrderSpan && fits(order + 1)) ++order;
  const std::size_t min_size = offset_of(min_order_) + bit(min_order_) + 1;
  buffer_claim_.take("BuddyPool", buffer, size, kDefaultAlignment, min_size);  // min_size: what fits(min_order_) needs
  max_order_ = order;
  annotate::pool_created(this);
  base_ = static_cast<unsigned char*>(buffer) + offset_of(order);
  table_ = base_ + max_block();
  table_bytes_ = bit(max_order_ - min_order_);
  mapped_bytes_ = size;
  valid_ = true;
  reset_region();
}

BuddyPool::~BuddyPool() {
  if (valid_) annotate::pool_destroyed(this);  // first: it makes live blocks unaddressable (see ~FixedPool)
  if (base_ && on_buffer()) {
    annotate::region_returned(base_, max_block());  // the caller's memory again
  } else if (base_) {
    annotate::region_returned(base_, max_block());
    source_->deallocate(base_, max_block());
    source_->deallocate(table_, table_bytes_);
  }
}

// ---- free lists -------------------------------------------------------------
// Every read or write of a FreeNode is bracketed by metadata_open/close: the node
// lives inside a free block, which memory checkers otherwise treat as off limits.

void BuddyPool::push_free(std::size_t offset, unsigned order) const noexcept {
  PK_ASSERT(order >= min_order_ && order <= max_order_);
  PK_ASSERT((offset & (bit(order) - 1)) == 0);  // a block lies at a multiple of its size
  PK_ASSERT(offset + bit(order) <= max_block());
  auto* node = reinterpret_cast<FreeNode*>(base_ + offset);
  FreeNode* head = heads_[order];
  annotate::metadata_open(node, sizeof *node);
  node->prev = nullptr;
  node->next = head;
  annotate::metadata_close(node, sizeof *node);
  if (head) {
    annotate::metadata_open(head, sizeof *head);
    head->prev = node;
    annotate::metadata_close(head, sizeof *head);
  }
  heads_[order] = node;
  nonempty_ |= std::uint64_t{1} << order;
  table_[index_of(offset)] = start_byte(kFreeStart, order);
}

void BuddyPool::unlink_free(std::size_t offset, unsigned order) const noexcept {
  auto* node = reinterpret_cast<FreeNode*>(base_ + offset);
  annotate::metadata_open(node, sizeof *node);
  FreeNode* prev = node->prev;
  FreeNode* next = node->next;
  annotate::metadata_close(node, sizeof *node);
  PK_ASSERT(table_[index_of(offset)] == start_byte(kFreeStart, order));  // listed blocks are free
  PK_ASSERT(prev || heads_[order] == node);  // no back link: the list's head
  if (prev) {
    annotate::metadata_open(prev, sizeof *prev);
    prev->next = next;
    annotate::metadata_close(prev, sizeof *prev);
  } else {
    heads_[order] = next;
  }
  if (next) {
    annotate::metadata_open(next, sizeof *next);
    next->prev = prev;
    annotate::metadata_close(next, sizeof *next);
  }
  if (!heads_[order]) nonempty_ &= ~(std::uint64_t{1} << order);
}

std::size_t BuddyPool::pop_free(unsigned order) noexcept {
  FreeNode* head = heads_[order];
  PK_ASSERT(head != nullptr);  // nonempty_ said this order has a block
  std::size_t offset = static_cast<std::size_t>(reinterpret_cast<unsigned char*>(head) - base_);
  unlink_free(offset, order);
  return offset;
}

// Merges the free block at offset with its buddy while the buddy is a free (not
// deferred) block of the same order, then lists the result.
void BuddyPool::merge_free(std::size_t offset, unsigned order) const noexcept {
  while (order < max_order_) {
    const std::size_t buddy = offset ^ bit(order);
    if (table_[index_of(buddy)] != start_byte(kFreeStart, order)) break;
    unlink_free(buddy, order);
    table_[index_of(buddy)] = kInterior;
    table_[index_of(offset)] = kInterior;
    offset &= ~bit(order);
    ++order;
  }
  push_free(offset, order);
}

// ---- deferred frees ------------------------------------------------------------
// A freed block waits on deferred_[order] (singly linked through FreeNode::next) until
// the next request of its order takes it back or settle() merges it. The push and the
// fast pop are inline in the header.

std::size_t BuddyPool::pop_deferred(unsigned order) noexcept {
  FreeNode* node = deferred_[order];
  const std::size_t offset = static_cast<std::size_t>(reinterpret_cast<unsigned char*>(node) - base_);
  PK_ASSERT(table_[index_of(offset)] == start_byte(kDeferredStart, order));  // invariant 6
  PK_ASSERT(deferred_room_ + bit(order) <= deferred_limit());  // the block was counted
  annotate::metadata_open(node, sizeof *node);
  deferred_[order] = node->next;
  annotate::metadata_close(node, sizeof *node);
  deferred_room_ += bit(order);
  return offset;
}

// Merges every deferred block. Two deferred buddies merge too: the first one settled
// finds the other still deferred and stops; the second then finds the first free.
void BuddyPool::settle() const noexcept {
  if (deferred_room_ == deferred_limit()) return;
  for (unsigned order = min_order_; order < max_order_; ++order) {
    for (FreeNode* node = deferred_[order]; node;) {
      annotate::metadata_open(node, sizeof *node);
      FreeNode* next = node->next;
      annotate::metadata_close(node, sizeof *node);
      merge_free(static_cast<std::size_t>(reinterpret_cast<unsigned char*>(node) - base_), order);
      node = next;
    }
    deferred_[order] = nullptr;
  }
  deferred_room_ = deferred_limit();
}

void BuddyPool::reset_region() noexcept {
  std::memset(table_, kInterior, table_bytes_);
  region_bytes_ = max_block();
  for (auto& head : heads_) head = nullptr;
  for (auto& head : deferred_) head = nullptr;
  deferred_room_ = deferred_limit();
  nonempty_ = 0;
  annotate::region_unavailable(base_, max_block());
  push_free(0, max_order_);
}

// ---- allocate / deallocate ----------------------------------------------------

unsigned BuddyPool::order_for(std::size_t size, std::size_t align) const noexcept {
  if (size > max_block()) return 64;  // also catches SIZE_MAX before any rounding
  unsigned order = size <= 1 ? 0u : static_cast<unsigned>(std::bit_width(size - 1));
  if (log2_floor(align) > order) order = log2_floor(align);  // a block is aligned to its size
  return order < min_order_ ? min_order_ : order;
}

void* BuddyPool::allocate_slow(std::size_t size, std::size_t align) noexcept {
  const unsigned order = is_valid_alignment(align) ? order_for(size, align) : 64;
  if (!valid_ || order > max_order_) {
    ++failures_;
    return nullptr;
  }
  std::size_t offset;
  if (deferred_[order]) {  // a block of this very order freed earlier: no split
    offset = pop_deferred(order);
  } else {
    // The smallest non-empty order that is big enough: one bit scan, no list walk.
    std::uint64_t candidates = nonempty_ & (~std::uint64_t{0} << order);
    if (!candidates && deferred_room_ != deferred_limit()) {  // merging what waits may make one
      settle();
      candidates = nonempty_ & (~std::uint64_t{0} << order);
    }
    if (!candidates) {
      ++failures_;
      return nullptr;
    }
    unsigned k = static_cast<unsigned>(std::countr_zero(candidates));
    offset = pop_free(k);
    while (k > order) {  // split: keep the lower half, free the upper half
      --k;
      push_free(offset + bit(k), k);
    }
  }
  table_[index_of(offset)] = start_byte(kUsedStart, order);
  void* p = base_ + offset;
  annotate::block_allocated(this, p, size);
  note_allocated(size, bit(order));
  return p;
}

std::size_t BuddyPool::find_block(std::size_t offset, std::uint8_t* entry) const noexcept {
  // The block holding offset starts at offset rounded down to its own size: try each
  // order from the smallest; the first start byte met is that block's.
  for (unsigned k = min_order_; k <= max_order_; ++k) {
    const std::size_t start = offset & ~(bit(k) - 1);
    const std::uint8_t e = table_[index_of(start)];
    if (e != kInterior) {
      *entry = e;
      return start;
    }
  }
  *entry = kInterior;  // unreachable while invariant 1 holds
  return 0;
}

void BuddyPool::deallocate_slow(void* p, std::size_t size, std::size_t /*align*/) noexcept {
  if (!p) return;
  if (!valid_) {  // an empty pool handed nothing out
    ++errors_.foreign;
    return;
  }
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  if (!base_ || addr < base || addr - base >= max_block()) {
    ++errors_.foreign;
    return;
  }
  std::size_t offset = addr - base;
  std::uint8_t entry;
  const std::size_t start = find_block(offset, &entry);
  const std::uint8_t state = entry & kStateMask;
  if (state == kFreeStart || state == kDeferredStart) {
    ++errors_.double_frees;
    return;
  }
  if (start != offset || state != kUsedStart) {
    ++errors_.interior;
    return;
  }
  const unsigned order = order_of(entry);
  PK_ASSERT(live_ > 0 && in_use_ >= bit(order));  // invariant 5: a live block is counted
  if (bit(order) > deferred_limit()) {  // too big to wait: merge now
    annotate::block_freed(this, p, bit(order));
    note_freed(size, bit(order));
    merge_free(offset, order);
    return;
  }
  if (bit(order) > deferred_room_) settle();  // the bound: merge what waits
  PK_ASSERT(bit(order) <= deferred_room_);    // invariant 6
  push_deferred_fast(p, order, size);
}

bool BuddyPool::owns(const void* p) const noexcept {
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  if (!base_ || addr < base || addr - base >= max_block()) return false;
  std::uint8_t entry;
  find_block(addr - base, &entry);
  return (entry & kStateMask) == kUsedStart;
}

std::size_t BuddyPool::block_size(const void* p) const noexcept {
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  if (!base_ || addr < base || addr - base >= max_block()) return 0;
  std::uint8_t entry;
  const std::size_t start = find_block(addr - base, &entry);
  return start == addr - base && (entry & kStateMask) == kUsedStart ? bit(order_of(entry)) : 0;
}

void BuddyPool::release() noexcept {
  if (!valid_) return;
  annotate::pool_reset(this);
  reset_region();
  requested_ = in_use_ = live_ = 0;
}

std::size_t BuddyPool::free_blocks(unsigned order) const noexcept {
  if (!base_ || order < min_order_ || order > max_order_) return 0;
  settle();
  std::size_t n = 0;
  for (FreeNode* node = heads_[order]; node;) {
    ++n;
    annotate::metadata_open(node, sizeof *node);
    FreeNode* next = node->next;
    annotate::metadata_close(node, sizeof *node);
    node = next;
  }
  return n;
}

PoolStats BuddyPool::stats() const noexcept {
  PoolStats s;
  s.bytes_requested = requested_;
  s.bytes_in_use = in_use_;
  s.peak_in_use = peak_;
  if (valid_) {
    settle();  // largest_free is what merging makes of the free memory
    s.bytes_free = max_block() > in_use_ ? max_block() - in_use_ : 0;
    s.largest_free = nonempty_ ? bit(static_cast<unsigned>(std::bit_width(nonempty_) - 1)) : 0;
    s.bytes_reserved = mapped_bytes_;
    s.regions = base_ ? 1 : 0;
  }
  s.live_blocks = live_;
  s.allocations = allocations_;
  s.deallocations = deallocations_;
  s.failures = failures_;
  return s;
}

// ---- check ----------------------------------------------------------------------

bool BuddyPool::check() const noexcept {
  if (!valid_) return true;
  // Invariants 1, 3 and 5 (and 6's side-table half): walk the side table block by block.
  std::size_t free_count[64] = {}, deferred_count[64] = {};
  std::size_t used_bytes = 0, used_blocks = 0;
  const std::size_t entries = table_bytes_;
  for (std::size_t i = 0; i < entries;) {
    const std::uint8_t e = table_[i];
    const std::size_t offset = i << min_order_;
    const std::uint8_t state = e & kStateMask;
    if (state == kInterior)
      return broken("side table entry is not a block start", offset, 0);
    const unsigned order = order_of(e);
    if (order > max_order_) return broken("order above max_order", offset, order);
    const std::size_t span = bit(order - min_order_);
    if (i % span != 0) return broken("block not aligned to its size", offset, order);
    if (i + span > entries) return broken("block runs past the region", offset, order);
    for (std::size_t j = i + 1; j < i + span; ++j)
      if (table_[j] != kInterior) return broken("start byte inside a block", j << min_order_, order);
    if (state == kDeferredStart) {
      ++deferred_count[order];
    } else if (state == kFreeStart) {
      ++free_count[order];
      const std::size_t buddy = offset ^ bit(order);
      if (order < max_order_ && offset < buddy &&
          table_[index_of(buddy)] == start_byte(kFreeStart, order))
        return broken("two free buddies left unmerged", offset, order);
    } else {
      used_bytes += bit(order);
      ++used_blocks;
    }
    i += span;
  }
  if (used_bytes != in_use_ || used_blocks != live_)
    return broken("live blocks disagree with bytes_in_use / live_blocks", 0, 0);
  // Invariants 2 and 4: every list holds exactly the free blocks of its order.
  for (unsigned order = 0; order < 64; ++order) {
    const bool in_range = order >= min_order_ && order <= max_order_;
    if (!in_range && (heads_[order] || (nonempty_ >> order & 1)))
      return broken("free list outside min..max order", 0, order);
    if (!in_range) continue;
    if (bool(nonempty_ >> order & 1) != (heads_[order] != nullptr))
      return broken("bitmap disagrees with free list", 0, order);
    std::size_t n = 0;
    const FreeNode* prev = nullptr;
    for (FreeNode* node = heads_[order]; node; ++n) {
      const auto addr = reinterpret_cast<std::uintptr_t>(node);
      const auto base = reinterpret_cast<std::uintptr_t>(base_);
      if (addr < base || addr - base >= max_block() || n > free_count[order])
        return broken("free list runs outside the region or loops", 0, order);
      const std::size_t offset = addr - base;
      if (offset & (bit(order) - 1)) return broken("listed block misaligned", offset, order);
      if (table_[index_of(offset)] != start_byte(kFreeStart, order))
        return broken("listed block is not free at this order in the side table", offset, order);
      annotate::metadata_open(node, sizeof *node);
      const FreeNode* back = node->prev;
      FreeNode* next = node->next;
      annotate::metadata_close(node, sizeof *node);
      if (back != prev) return broken("free list back link wrong", offset, order);
      prev = node;
      node = next;
    }
    if (n != free_count[order]) return broken("free list length disagrees with side table", 0, order);
  }
  // Invariant 6: the deferred lists hold exactly the deferred blocks, counted right.
  std::size_t deferred_bytes = 0;
  for (unsigned order = 0; order < 64; ++order) {
    const bool in_range = order >= min_order_ && order < max_order_;
    if (!in_range && deferred_[order])
      return broken("deferred list outside min..max-1 order", 0, order);
    if (!in_range) continue;
    std::size_t n = 0;
    for (FreeNode* node = deferred_[order]; node; ++n) {
      const auto addr = reinterpret_cast<std::uintptr_t>(node);
      const auto base = reinterpret_cast<std::uintptr_t>(base_);
      if (addr < base || addr - base >= max_block() || n > deferred_count[order])
        return broken("deferred list runs outside the region or loops", 0, order);
      const std::size_t offset = addr - base;
      if (offset & (bit(order) - 1)) return broken("deferred block misaligned", offset, order);
      if (table_[index_of(offset)] != start_byte(kDeferredStart, order))
        return broken("listed block is not deferred at this order in the side table", offset, order);
      annotate::metadata_open(node, sizeof *node);
      FreeNode* next = node->next;
      annotate::metadata_close(node, sizeof *node);
      node = next;
    }
    if (n != deferred_count[order]) return broken("deferred list length disagrees with side table", 0, order);
    deferred_bytes += n << order;
  }
  if (deferred_room_ > deferred_limit() || deferred_bytes != deferred_limit() - deferred_room_)
    return broken("deferred bytes disagree with the lists or pass their bound", 0, 0);
  return true;
}

void BuddyPool::visit_blocks(void (*fn)(void*, const void*, std::size_t, unsigned), void* ctx) const noexcept {
  if (!valid_) return;
  for (std::size_t i = 0; i < table_bytes_;) {
    const std::uint8_t e = table_[i];
    const unsigned order = order_of(e);
    if (e == kInterior || order > max_order_) break;  // a broken table: check() says where
    fn(ctx, base_ + (i << min_order_), bit(order), (e & kUsedStart) ? 1u : 0u);
    i += bit(order - min_order_);
  }
}

}  // namespace poolkit
