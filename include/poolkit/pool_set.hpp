// poolkit/pool_set.hpp: PoolSet, numbered pools (32-bit ids) drawing on one Heap.
// Pick it when objects belong to groups that die together (a request, a level, a
// document): allocate(pool, size), free blocks one by one without naming the pool,
// or release(pool) to free a whole group in time proportional to its blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "poolkit/heap.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

class PoolSet {
 public:
  using PoolId = std::uint32_t;

  /// Bytes in front of every block: its pool, its list links and a check word.
  static constexpr std::size_t kHeaderSize = 32;

  PoolSet() noexcept : PoolSet(Heap::Options{}) {}
  explicit PoolSet(Heap::Options heap_options) noexcept;
  /// A set on the caller's buffer: its heap is Heap(buffer, size, heap_options), so
  /// blocks, their 32-byte headers and the boundary tags live in the buffer, which
  /// is all the memory blocks ever get. The table of pool ids (one entry per pool
  /// ever used) is an std::unordered_map in the PoolSet object, on the global
  /// allocator: a set that must not call malloc after start-up uses its ids before.
  /// Throws std::invalid_argument ("PoolSet: Heap: ...") for a bad buffer, as Heap does.
  PoolSet(void* buffer, std::size_t size, Heap::Options heap_options);
  ~PoolSet();
  PoolSet(const PoolSet&) = delete;
  PoolSet& operator=(const PoolSet&) = delete;

  /// A block of `size` bytes (0 gives a unique block) aligned to `align` (a power
  /// of two up to 4096) belonging to pool `pool`, which exists from its first
  /// allocation on. nullptr when the heap cannot meet the request.
  void* allocate(PoolId pool, std::size_t size, std::size_t align = kDefaultAlignment) noexcept;

  /// Frees one block of any pool; nullptr does nothing. A pointer that is not a
  /// live block of this set (double free, foreign, interior) is counted in
  /// bad_frees() and otherwise ignored.
  void deallocate(void* p) noexcept;

  /// Frees every block of `pool` in time proportional to that pool's blocks; the
  /// other pools are untouched. Unknown ids do nothing.
  void release(PoolId pool) noexcept;

  /// Frees every block of every pool (the heap keeps or returns regions as configured).
  void release() noexcept;

  /// One pool: bytes_requested and bytes_in_use (with the 32-byte header and the
  /// heap's 8) count its live blocks; bytes_free and largest_free are the shared
  /// heap's (what a later request could use); bytes_reserved and regions are 0,
  /// since a pool holds no memory of its own.
  PoolStats stats(PoolId pool) const noexcept;

  /// The whole set: the heap's stats, with bytes_requested the users' bytes.
  PoolStats stats() const noexcept;

  /// True if p lies in memory the set's heap holds.
  bool owns(const void* p) const noexcept;

  /// The pool of the live block at p, or nothing if p is not one.
  std::optional<PoolId> pool_of(const void* p) const noexcept;

  /// Pools ever used (an id stays known after release, with its counts).
  std::size_t pool_count() const noexcept { return pools_.size(); }
  std::uint64_t bad_frees() const noexcept { return bad_frees_; }
  const Heap& heap() const noexcept { return heap_; }
  /// Merges what the heap holds back unmerged (its front cache, deferred frees), so
  /// free memory is in the fewest pieces; blocks and pools are untouched.
  void coalesce() noexcept { heap_.coalesce(); }

  /// The heap's invariants, then every pool's list: links, check words, counts.
  bool check() const noexcept;

  /// One pool as a poolkit::Pool, for PoolResource, PoolAllocator and decorators.
  class View {
   public:
    View(PoolSet& set, PoolId pool) noexcept : set_(&set), pool_(pool) {}
    void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
      return set_->allocate(pool_, size, align);
    }
    void deallocate(void* p, std::size_t = 0, std::size_t = 0) noexcept { set_->deallocate(p); }
    bool owns(const void* p) const noexcept { return set_->pool_of(p) == pool_; }
    void release() noexcept { set_->release(pool_); }
    PoolStats stats() const noexcept { return set_->stats(pool_); }
    /// The whole set's check(): a pool's blocks share the heap with the others'.
    bool check() const noexcept { return set_->check(); }
    PoolId id() const noexcept { return pool_; }
    PoolSet& set() const noexcept { return *set_; }

   private:
    PoolSet* set_;
    PoolId pool_;
  };
  View view(PoolId pool) noexcept { return View(*this, pool); }

 private:
  struct Link {
    Link* prev;
    Link* next;
  };
  // One pool. Invariant: `blocks` is a circular doubly-linked list (the entry is
  // its sentinel) of exactly `live` headers, each pointing back at this entry.
  struct PoolEntry {
    Link blocks;
    PoolId id;
    std::size_t live = 0;
    std::size_t bytes_requested = 0;
    std::size_t bytes_in_use = 0;
    std::size_t peak_in_use = 0;
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t failures = 0;
  };
  // In front of each block, at the start of its heap block. `check` is a hash of
  // the header's address and the set's secret while the block is live, 0 after.
  struct BlockHeader {
    Link link;
    PoolEntry* pool;
    std::uint64_t check;
  };
  static_assert(sizeof(BlockHeader) == kHeaderSize);

  PoolEntry* entry(PoolId pool) noexcept;
  // The header of the live block at p, or nullptr; with usable and requested, the
  // heap block's sizes too (from the same lookup).
  BlockHeader* live_header(const void* p, std::size_t* usable = nullptr,
                           std::size_t* requested = nullptr) const noexcept;
  std::uint64_t check_word(const void* header) const noexcept;
  std::size_t footprint(const BlockHeader* h) const noexcept;
  void unlink(BlockHeader* h) noexcept;

  Heap heap_;
  std::unordered_map<PoolId, PoolEntry> pools_;  // node-based: entries never move
  PoolEntry* last_entry_ = nullptr;              // the pool of the last allocate
  std::uint64_t secret_;
  std::size_t bytes_requested_ = 0;
  std::uint64_t bad_frees_ = 0;
  std::uint64_t failures_ = 0;  // allocations that failed before reaching a pool
};

static_assert(Pool<PoolSet::View>);

}  // namespace poolkit
