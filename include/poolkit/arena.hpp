// poolkit/arena.hpp: bump allocation. allocate moves a pointer forward (any size,
// any power-of-two alignment up to 4096); memory comes back all at once with
// reset(), or back to a point taken with mark() by rewind(). Pick it for work with
// a clear end (a request, a frame, a parse, a compile pass): the cheapest allocator there is.
#pragma once

#include <cstddef>
#include <cstdint>

#include "poolkit/align.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/detail/buffer_claim.hpp"
#include "poolkit/page_source.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {
class Arena {
 public:
  struct Options {
    std::size_t initial_size = 64 * 1024;          // first region, bytes (rounded up to pages)
    std::size_t growth_factor = 2;                 // each new region is this many times the last (>= 1)
    std::size_t max_region_size = 64 * 1024 * 1024;  // regions stop growing here (one larger request still gets its own)
    std::size_t max_size = 0;  // cap on the bytes taken from the OS in total (0: no cap)
    bool fixed = false;        // one region (or the user's buffer), reserved now; never grows
    MemorySource* source = nullptr;  // nullptr: PageSource::system()
  };

  /// A point to rewind to. Valid until the arena is rewound or reset past it.
  struct Mark {
    const void* region;           // the region the top was in (nullptr: the user's buffer, or none)
    std::uintptr_t top;           // the bump pointer
    std::size_t used_before;      // bytes used in older regions
    std::size_t live;             // blocks live at the mark
    std::size_t requested;        // bytes requested by them
  };

  /// nullptr when options are acceptable, else why not (the constructor throws
  /// std::invalid_argument with that text).
  static const char* validate(const Options& options) noexcept;

  Arena() : Arena(Options{}) {}
  explicit Arena(const Options& options);
  /// Allocates from buffer first (as std::pmr::monotonic_buffer_resource does);
  /// with options.fixed, nowhere else. The buffer stays the caller's. Throws
  /// std::invalid_argument for a null buffer with a size, or one overlapping a
  /// buffer another live pool holds (the message names it).
  Arena(void* buffer, std::size_t size, const Options& options);
  Arena(void* buffer, std::size_t size) : Arena(buffer, size, Options{}) {}
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// size bytes aligned to align (a power of two up to 4096); size 0 gets a unique
  /// byte. nullptr for a bad alignment, a size that overflows, or no memory.
  [[nodiscard]] void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept;
  /// Frees p only if it is the most recent block (same pointer, size as allocated):
  /// the top moves back, once; the block before it is not freed by a second call.
  /// Anything else is a no-op, foreign and interior pointers included: memory
  /// comes back with reset() or rewind().
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept;
  /// True for any address in the used part of the arena's regions or buffer.
  bool owns(const void* p) const noexcept;

  Mark mark() const noexcept {
    return Mark{current_, top_, used_before_, live_, requested_};
  }
  /// Frees everything allocated after m. False (and nothing changes) if m is not
  /// a point of the arena as it is now (rewound or reset past, or from another arena).
  bool rewind(const Mark& m) noexcept;
  /// Frees every block. Keeps the first region (or the buffer) and the largest
  /// other region as a spare for growth; returns the rest to the OS.
  void release() noexcept;
  void reset() noexcept { release(); }

  /// Start of the current region's usable bytes, the bump pointer, the bytes used
  /// in all regions (with alignment padding).
  void* base() const noexcept { return reinterpret_cast<void*>(begin_); }
  void* top() const noexcept { return reinterpret_cast<void*>(top_); }
  std::size_t used() const noexcept { return used_before_ + (top_ - begin_); }
  /// Bytes left in the current region.
  std::size_t remaining() const noexcept { return end_ - top_; }

  PoolStats stats() const noexcept;
  /// Checks the invariants below; on a violation prints which one to stderr and returns false.
  bool check() const noexcept;

 private:
  // A region from the PageSource starts with this header; the usable bytes follow.
  struct alignas(kDefaultAlignment) Region {  // 32 bytes: usable bytes start 16-aligned
    Region* prev;         // the next older region (nullptr: the buffer, or none)
    std::size_t bytes;    // size from the PageSource
    std::uintptr_t top;   // where the bump pointer stopped when the arena moved on
  };
  // Invariants (check() verifies them):
  //  - begin_ <= top_ <= end_, all inside the current region (or buffer);
  //  - the regions current_ -> prev -> ... are the ones in use, newest first;
  //    each older region's top lies within it; used_before_ is the sum of their
  //    (top - begin) plus the buffer's;
  //  - regions_ and bytes_reserved_ count those regions and the spare.

  void* allocate_slow(std::size_t size, std::size_t align) noexcept;
  bool add_region(std::size_t need) noexcept;
  static std::uintptr_t region_begin(const Region* r) noexcept {
    return reinterpret_cast<std::uintptr_t>(r) + sizeof(Region);
  }
  static std::uintptr_t region_end(const Region* r) noexcept {
    return reinterpret_cast<std::uintptr_t>(r) + r->bytes;
  }
  void enter(Region* r, std::uintptr_t top) noexcept;
  void drop_newer_than(Region* keep) noexcept;
  void give_back(Region* r) noexcept;
  // Blocks for the memory checkers. memcheck's mempool chunks cannot be dropped
  // "above a mark" by rewind, so under valgrind the arena only marks bytes
  // accessible (undefined) and inaccessible: use after rewind or reset is still
  // reported. ASan gets the plain block hooks.
  void annotate_allocated(void* p, std::size_t n) noexcept {
    if constexpr (annotate::kValgrind)
      annotate::region_returned(p, n);
    else
      annotate::block_allocated(this, p, n);
  }
  void annotate_freed(void* p, std::size_t n) noexcept {
    if constexpr (annotate::kValgrind)
      annotate::region_unavailable(p, n);
    else
      annotate::block_freed(this, p, n);
  }
  void note_peak() noexcept {
    if (used() > peak_) peak_ = used();
  }

  // Hot fields first.
  std::uintptr_t top_ = 0;
  std::uintptr_t end_ = 0;
  std::size_t live_ = 0;
  std::size_t requested_ = 0;
  std::uintptr_t begin_ = 0;  // start of the current region's usable bytes
  // Start of the most recent block while it is still the newest; 0 once it is freed
  // or the top moves by rewind/release. Only this block can be freed: comparing with
  // top alone would take an interior pointer that ends at the top for a block.
  std::uintptr_t last_ = 0;

  Region* current_ = nullptr;  // nullptr: in the buffer, or nothing yet
  Region* spare_ = nullptr;    // a region kept by release()/rewind() for the next growth
  std::size_t used_before_ = 0;
  std::uintptr_t buffer_begin_ = 0;
  std::uintptr_t buffer_end_ = 0;
  std::uintptr_t buffer_top_ = 0;  // where the bump pointer stopped in the buffer
  std::size_t regions_ = 0;
  std::size_t bytes_reserved_ = 0;
  std::size_t next_region_size_ = 0;
  std::size_t peak_ = 0;
  std::uint64_t deallocations_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t discarded_ = 0;  // blocks freed by rewind/release, for the allocation count
  Options options_;
  MemorySource* source_ = nullptr;
  detail::BufferClaim buffer_claim_;  // keeps other pools off the caller's buffer
};

static_assert(Pool<Arena>);

inline void* Arena::allocate(std::size_t size, std::size_t align) noexcept {
  if (align - 1 < kMaxAlignment && (align & (align - 1)) == 0) [[likely]] {
    std::uintptr_t p = align_up(top_, align);
    std::uintptr_t end = p + size + (size == 0);
    if (end > p && end <= end_) [[likely]] {  // end <= p: the size wrapped around
      top_ = end;
      last_ = p;
      ++live_;
      requested_ += size;
      annotate_allocated(reinterpret_cast<void*>(p), size);
      return reinterpret_cast<void*>(p);
    }
  }
  return allocate_slow(size, align);
}

inline void Arena::deallocate(void* p, std::size_t size, std::size_t) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  if (x == last_ && top_ - x == size + (size == 0)) {
    note_peak();
    annotate_freed(p, top_ - x);
    top_ = x;
    last_ = 0;
    --live_;
    requested_ -= size;
    ++deallocations_;
  }
}

}  // namespace poolkit
