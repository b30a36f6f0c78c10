// poolkit/buddy_pool.hpp: a binary buddy allocator over one region of 2^max_order bytes.
// Pick it when sizes vary widely, you want O(log n) worst case with merging that never
// needs a search, and you can afford up to ~50% internal waste (every block is a power of
// two, naturally aligned to its size). Single-threaded; see docs/buddy_pool.md.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "poolkit/align.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/detail/buffer_claim.hpp"
#include "poolkit/page_source.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

/// How BuddyPool reacts to a bad deallocate: the call does nothing to the pool and is
/// counted here. (A second free of a block that was already reused by a later allocation
/// cannot be told from a first free: without headers nothing records who owns a block.)
struct BuddyFreeErrors {
  std::uint64_t double_frees = 0;  // the side table says the block is already free
  std::uint64_t foreign = 0;       // the pointer is outside the region
  std::uint64_t interior = 0;      // inside the region but not the start of a live block
};

class BuddyPool {
 public:
  struct Options {
    unsigned min_order = 4;    // smallest block 2^min_order bytes (>= 4: two list links)
    unsigned max_order = 20;   // region and largest block 2^max_order bytes
    MemorySource* source = nullptr;  // nullptr: PageSource::system()
  };
  static constexpr unsigned kMinOrderLimit = 4;    // a free block holds two pointers
  static constexpr unsigned kMaxOrderLimit = 40;   // 1 TiB region
  static constexpr unsigned kMaxOrderSpan = 28;    // side table at most 256 Mi entries

  /// Takes the region and its side table from the page source. With bad orders
  /// (outside the limits above, or min > max) or no memory, the pool is empty:
  /// valid() is false and every allocate returns nullptr.
  explicit BuddyPool(Options options) noexcept;
  BuddyPool() noexcept : BuddyPool(Options{}) {}
  /// A pool on the caller's buffer, holding the region and its side table: the
  /// region is the largest power of two 2^k (k >= min_order, at most kMaxOrderLimit and
  /// min_order + kMaxOrderSpan) that fits with its table of 2^(k - min_order) bytes,
  /// placed at the buffer's first multiple of min(2^k, 4096) so that blocks keep
  /// their alignment; Options::max_order and source are ignored. Up to 4095 bytes in
  /// front and whatever is left after the table go unused (stats() counts the
  /// whole buffer as reserved). The free lists' heads and counters live in the
  /// BuddyPool object. The buffer must outlive the pool. Throws std::invalid_argument,
  /// saying which, for a bad min_order, a null buffer, one not 16-aligned, one too
  /// small for a region of 2^min_order bytes and its table, or one overlapping a
  /// buffer another live pool holds.
  BuddyPool(void* buffer, std::size_t size, Options options);
  ~BuddyPool();
  BuddyPool(const BuddyPool&) = delete;
  BuddyPool& operator=(const BuddyPool&) = delete;

  bool valid() const noexcept { return valid_; }

  /// A block of 2^k bytes, k the smallest order >= min_order that holds size and align,
  /// aligned to 2^k. nullptr when no block of that order can be split off, when
  /// size > max_block(), or align is not a power of two up to kMaxAlignment.
  /// size 0 gets a minimum block.
  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    // Fast path: a small, at most 16-aligned request whose order has a deferred block.
    if (size - 1 < kFastMaxSize && align - 1 < kFastMaxAlign && (align & (align - 1)) == 0) {
      const unsigned bits = static_cast<unsigned>(std::bit_width(size - 1));
      const unsigned order = bits > min_order_ ? bits : min_order_;
      if (FreeNode* node = deferred_[order]) return pop_deferred_fast(node, order, size);
    }
    return allocate_slow(size, align);
  }

  /// Frees a block. A small block is deferred (kept on its order's deferred list, unmerged,
  /// for the next request of its order); merging with free buddies happens when a search
  /// would fail, when the deferred bytes pass their bound, or before stats(), free_blocks()
  /// and release() look. A block too big to defer merges at once. The order comes from the
  /// side table; size (as asked) only keeps bytes_requested right. nullptr: no-op.
  /// Double, foreign and interior frees do nothing and are counted in free_errors().
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    // Fast path: the start of a live block in the region, and room to defer it. Anything
    // else (null, foreign, interior, double free, a big block) takes the slow path.
    const std::uintptr_t offset =
        reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(base_);
    if (offset < region_bytes_ && (offset & (min_block() - 1)) == 0) {
      const std::uint8_t entry = table_[offset >> min_order_];
      const std::size_t block = std::size_t{1} << order_of(entry);
      if ((entry & kStateMask) == kUsedStart && block <= deferred_room_) {
        push_deferred_fast(p, order_of(entry), size);
        return;
      }
    }
    deallocate_slow(p, size, align);
  }

  /// True when p points into a block this pool handed out and has not taken back.
  bool owns(const void* p) const noexcept;

  /// Frees every block: the region is one free block again.
  void release() noexcept;

  PoolStats stats() const noexcept;
  const BuddyFreeErrors& free_errors() const noexcept { return errors_; }

  /// Verifies every invariant below; false (and a message on stderr) on the first broken one.
  bool check() const noexcept;

  std::size_t min_block() const noexcept { return std::size_t{1} << min_order_; }
  std::size_t max_block() const noexcept { return std::size_t{1} << max_order_; }
  unsigned min_order() const noexcept { return min_order_; }
  unsigned max_order() const noexcept { return max_order_; }
  /// Size of the block holding p (a live block's start), 0 if p is not one.
  std::size_t block_size(const void* p) const noexcept;
  /// Number of free blocks of one order once every deferred free is merged (for tests
  /// and the docs' pictures).
  std::size_t free_blocks(unsigned order) const noexcept;
  /// Read-only walk for pictures (print_heapmap): fn(ctx, block, bytes, state) for every
  /// block of the region in address order; state 0 free, 1 live.
  void visit_blocks(void (*fn)(void* ctx, const void* block, std::size_t bytes, unsigned state), void* ctx) const noexcept;
  const void* region() const noexcept { return base_; }
  /// True when the pool was built on a caller's buffer.
  bool on_buffer() const noexcept { return buffer_claim_.held(); }

 private:
  // A free block's first 16 bytes: its links in the doubly linked list of its order,
  // so a buddy found free can be unlinked in O(1) when it merges.
  struct FreeNode {
    FreeNode* prev;
    FreeNode* next;
  };
  // Side table, one byte per minimum block (index = offset >> min_order): the first
  // byte of each block says what the block is; every other byte of it is kInterior.
  static constexpr std::uint8_t kInterior = 0;
  static constexpr std::uint8_t kFreeStart = 0x40;  // | (order - min_order)
  static constexpr std::uint8_t kUsedStart = 0x80;  // | (order - min_order)
  static constexpr std::uint8_t kDeferredStart = 0xC0;  // | (order - min_order): freed, not merged
  static constexpr std::uint8_t kStateMask = 0xC0;
  static constexpr std::uint8_t kOrderMask = 0x3f;

  // Invariants (check() verifies each):
  //  1. The region is tiled by blocks: walking the side table from index 0, each entry
  //     is a start byte of some order k, the block is aligned to 2^k within the region,
  //     the block's other entries are kInterior, and the walk ends exactly at the end.
  //  2. Every free block is on the list of its order, exactly once, and nothing else is.
  //  3. No two free buddies of the same order on the free lists: they would have been
  //     merged. (A deferred block may sit beside a free buddy: it merges when settled.)
  //  4. Bit k of nonempty_ is set exactly when free list k is not empty.
  //  5. in_use_ is the sum of live block sizes and live_ their number.
  //  6. Every deferred block (side table kDeferredStart) is on deferred_[its order],
  //     exactly once, and nothing else is; their sizes add up to
  //     deferred_limit() - deferred_room_ (so deferred_room_ <= deferred_limit()).
  //     A valid pool with nothing deferred has deferred_room_ == deferred_limit().
  unsigned char* base_ = nullptr;   // region, aligned to its size (2^max_order)
  std::uint8_t* table_ = nullptr;   // side table (from the page source too)
  std::size_t table_bytes_ = 0;
  std::size_t mapped_bytes_ = 0;    // region and side table as mapped (whole pages)
  std::size_t region_bytes_ = 0;    // max_block() while valid_, else 0 (the fast free's range test)
  MemorySource* source_ = nullptr;
  unsigned min_order_ = 0;
  unsigned max_order_ = 0;
  // The free lists are mutable: stats() and free_blocks() settle deferred frees before
  // they look, which changes how free memory is listed, never what is free.
  mutable std::uint64_t nonempty_ = 0;  // bit k: free list of order k is not empty
  mutable FreeNode* heads_[64] = {};    // free list per order (only min..max used)
  // Deferred frees (lazy merging): per order a LIFO list linked through FreeNode::next.
  // A pair of allocate and deallocate of one size then costs no split and no merge.
  mutable FreeNode* deferred_[64] = {};
  mutable std::size_t deferred_room_ = 0;  // bytes that may still be deferred

  // Statistics.
  std::size_t requested_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
  std::size_t live_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t deallocations_ = 0;
  std::uint64_t failures_ = 0;
  BuddyFreeErrors errors_;

  bool valid_ = false;  // orders were acceptable and the memory was there
  // On a caller's buffer: region and table lie in it and never go to the source.
  detail::BufferClaim buffer_claim_;

  unsigned order_for(std::size_t size, std::size_t align) const noexcept;
  std::size_t index_of(std::size_t offset) const noexcept { return offset >> min_order_; }
  std::uint8_t start_byte(std::uint8_t state, unsigned order) const noexcept {
    return static_cast<std::uint8_t>(state | (order - min_order_));
  }
  unsigned order_of(std::uint8_t entry) const noexcept { return min_order_ + (entry & kOrderMask); }
  // The inline fast paths serve these without a call: sizes 1..kFastMaxSize, align <= 16.
  static constexpr std::size_t kFastMaxSize = 4096;
  static constexpr std::size_t kFastMaxAlign = 16;
  void* allocate_slow(std::size_t size, std::size_t align) noexcept;
  void deallocate_slow(void* p, std::size_t size, std::size_t align) noexcept;
  // Takes node, the head of deferred_[order], as a live block of size bytes.
  void* pop_deferred_fast(FreeNode* node, unsigned order, std::size_t size) noexcept {
    annotate::metadata_open(node, sizeof *node);
    deferred_[order] = node->next;
    annotate::metadata_close(node, sizeof *node);
    deferred_room_ += std::size_t{1} << order;
    table_[index_of(static_cast<std::size_t>(reinterpret_cast<unsigned char*>(node) - base_))] =
        start_byte(kUsedStart, order);
    annotate::block_allocated(this, node, size);
    note_allocated(size, std::size_t{1} << order);
    return node;
  }
  // Defers the live block p of this order (the caller checked the bound).
  void push_deferred_fast(void* p, unsigned order, std::size_t size) noexcept {
    const std::size_t block = std::size_t{1} << order;
    annotate::block_freed(this, p, block);
    note_freed(size, block);
    auto* node = static_cast<FreeNode*>(p);
    annotate::metadata_open(node, sizeof *node);
    node->prev = nullptr;
    node->next = deferred_[order];
    annotate::metadata_close(node, sizeof *node);
    deferred_[order] = node;
    deferred_room_ -= block;
    table_[index_of(static_cast<std::size_t>(static_cast<unsigned char*>(p) - base_))] =
        start_byte(kDeferredStart, order);
  }
  void push_free(std::size_t offset, unsigned order) const noexcept;
  void unlink_free(std::size_t offset, unsigned order) const noexcept;
  std::size_t pop_free(unsigned order) noexcept;
  void merge_free(std::size_t offset, unsigned order) const noexcept;
  std::size_t pop_deferred(unsigned order) noexcept;
  void settle() const noexcept;  // merges every deferred block
  // Free memory held unmerged at most (a quarter of the region). A search that would fail
  // settles first, so deferral never fails a request; the bound keeps splits of larger
  // blocks (while small ones wait unmerged) from fragmenting the region.
  std::size_t deferred_limit() const noexcept { return max_block() / 4; }
  void reset_region() noexcept;
  void note_allocated(std::size_t size, std::size_t block) noexcept {
    requested_ += size;
    in_use_ += block;
    if (in_use_ > peak_) peak_ = in_use_;
    ++live_;
    ++allocations_;
  }
  void note_freed(std::size_t size, std::size_t block) noexcept {
    // size is the caller's word; clamp it so a wrong one skews the count, never wraps it.
    const std::size_t asked = size < block ? size : block;
    requested_ -= asked < requested_ ? asked : requested_;
    in_use_ -= block;
    --live_;
    ++deallocations_;
  }
  // The block holding offset: its start offset, and its side-table entry in *entry.
  std::size_t find_block(std::size_t offset, std::uint8_t* entry) const noexcept;
};

static_assert(Pool<BuddyPool>);

}  // namespace poolkit
