// poolkit/fixed_pool.hpp: a pool of chunks of one size. The fastest way to get many
// objects of one type: allocate and deallocate are a handful of inline instructions
// (pop or push an intrusive LIFO free list), no per-chunk header, no locks, no system
// calls, no counters (stats() derives its figures when asked). Checked frees and exact
// call counts are a choice per pool (Options::checks), the same inline code for all.
// Pick it for nodes, messages, particles; ObjectPool<T> (object_pool.hpp) wraps it for typed objects.
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
class FixedPool {
 public:
  /// Whether deallocate checks its pointer (owner, chunk boundary, immediate double
  /// free: a bad one is ignored and counted in rejected_frees()) and allocate and
  /// deallocate count calls and requested bytes. Unchecked, deallocate trusts its
  /// pointer and stats() derives its figures (calls_counted = false).
  enum class Checks : unsigned char {
    kLibraryDefault,  // on when libpoolkit was built without NDEBUG (checks_by_default())
    kOff,
    kOn,
  };

  struct Options {
    std::size_t chunk_size = 0;                  // bytes per chunk (> 0); raised to a pointer, rounded to chunk_align
    std::size_t chunk_align = kDefaultAlignment; // power of two <= 4096; every chunk gets it
    std::size_t fixed_capacity = 0;  // > 0: exactly this many chunks, reserved now; the pool never grows
    std::size_t first_block_chunks = 0;  // growing pools: chunks in the first block (0: 64 KiB worth, >= 8)
    std::size_t max_block_chunks = 0;    // growth stops making blocks bigger here (0: 4 MiB worth)
    std::size_t growth_factor = 2;       // each new block holds this many times the previous one (>= 1)
    MemorySource* source = nullptr;        // where blocks come from (nullptr: PageSource::system())
    Checks checks = Checks::kLibraryDefault;
  };

  static constexpr std::size_t kDefaultFirstBlockBytes = 64 * 1024;
  static constexpr std::size_t kDefaultMaxBlockBytes = 4 * 1024 * 1024;
  /// What Checks::kLibraryDefault means: true in a debug build of libpoolkit. Decided
  /// by the library, never by the caller's NDEBUG, so every translation unit agrees.
  static bool checks_by_default() noexcept;

  /// nullptr when options are acceptable, else why not (the constructor throws
  /// std::invalid_argument with that text). Sizes too large for memory are not
  /// "invalid": the constructor throws std::bad_alloc for those.
  static const char* validate(const Options& options) noexcept;

  explicit FixedPool(const Options& options);
  explicit FixedPool(std::size_t chunk_size, std::size_t chunk_align = kDefaultAlignment)
      : FixedPool(Options{.chunk_size = chunk_size, .chunk_align = chunk_align}) {}
  /// A pool on the caller's buffer: as many chunks as fit before a 40-byte block
  /// header at the buffer's end (or exactly fixed_capacity, if set), and never more:
  /// allocate returns nullptr when they are used up. Options::source and the growth
  /// options are ignored. The buffer holds the chunks, the free list and the block
  /// header; the counters live in the FixedPool object. The buffer must outlive the
  /// pool. Throws std::invalid_argument, saying which, for bad options, a null buffer,
  /// one not aligned to chunk_align, one too small for a chunk (or for fixed_capacity
  /// chunks) and the header, or one overlapping a buffer another live pool holds.
  FixedPool(void* buffer, std::size_t size, const Options& options);
  ~FixedPool();
  FixedPool(const FixedPool&) = delete;
  FixedPool& operator=(const FixedPool&) = delete;

  /// One chunk, or nullptr if size > chunk_size(), align is not a power of two or
  /// is above chunk_align(), or the pool cannot grow (fixed capacity, no memory).
  /// The default align is the contract's (16): a pool made with chunk_align 8
  /// wants allocate(n, 8).
  [[nodiscard]] void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept;
  /// Returns a chunk; nullptr does nothing. size is used for statistics only (checked pools).
  /// A pointer not from this pool, an interior pointer or an immediate double free
  /// is ignored and counted in rejected_frees() by a checked pool; for an unchecked
  /// one it is undefined behaviour (use Guarded<FixedPool> to catch it).
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept;
  /// True for any address inside a block's chunk area (live or free chunks alike).
  bool owns(const void* p) const noexcept;
  /// Frees every chunk at once. Keeps the blocks for reuse; the destructor returns them.
  void release() noexcept;
  /// Derived on demand: O(blocks + free chunks), as it walks the free list.
  PoolStats stats() const noexcept;
  /// Walks every structure and checks the invariants below; on a violation prints
  /// which one to stderr and returns false. O(chunks).
  bool check() const noexcept;

  std::size_t chunk_size() const noexcept { return chunk_size_; }
  std::size_t chunk_align() const noexcept { return chunk_align_; }
  bool grows() const noexcept { return fixed_capacity_ == 0; }
  /// Chunks the pool can hand out without asking the OS again (live ones included).
  std::size_t capacity() const noexcept { return total_chunks_; }
  std::uint64_t rejected_frees() const noexcept { return rejected_frees_; }
  /// Whether this pool checks frees and counts calls (Options::checks, resolved).
  bool checked() const noexcept { return checked_; }
  /// True when the pool was built on a caller's buffer.
  bool on_buffer() const noexcept { return buffer_claim_.held(); }

  /// Calls f(void* chunk) for every live chunk, in address order. Sorts the free
  /// list by address first (so later allocations run through memory in order).
  /// ObjectPool uses it to destroy live objects. O(chunks + free log free).
  template <class F>
  void for_each_live_chunk(F&& f) {
    for_each_live_chunk_impl([](void* ctx, void* chunk) { (*static_cast<F*>(ctx))(chunk); }, &f);
  }
  /// Read-only walk for pictures (print_heapmap): fn(ctx, chunk, chunk_size(), state) for
  /// every chunk of every block in address order; state 0 free, 1 live, 2 never handed out.
  void visit_chunks(void (*fn)(void* ctx, const void* chunk, std::size_t bytes, unsigned state), void* ctx) const;

 private:
  struct FreeChunk {
    FreeChunk* next;
  };
  // A block: chunks first (the block starts on a page, so every chunk gets the chunk
  // alignment without padding), this header after the last chunk.
  struct Block {
    Block* next;             // the next newer block
    std::byte* base;         // first chunk, page-aligned, start of the PageSource region
    std::byte* carved_end;   // end of the chunks carved so far (for the current block: bump_)
    std::size_t chunks;      // chunks in this block
    std::size_t bytes;       // region size from the PageSource
  };
  // Invariants (check() verifies them):
  //  - blocks form the list first_ -> ... -> last_; current_ is on it; blocks before
  //    current_ are fully carved, blocks after it not at all (after release()).
  //  - bump_ is a chunk boundary in current_, bump_ <= bump_end_ = its chunk end.
  //  - every free-list node is a carved chunk boundary inside a block, no node twice.
  //  - total_chunks_ = sum of block chunks; live chunks = carved chunks - free-list length
  //    (no live counter: stats() derives it), and when checked_ that equals
  //    allocations_ - deallocations_ - released_.
  //  - fast_size_bound_ is chunk_size_ + 1 when unchecked, 0 when checked, and
  //    slow_free_max_ is 0 when unchecked, UINTPTR_MAX when checked: the inline paths
  //    send every call of a checked pool (and a null free) out of line with the one
  //    compare they make anyway, so an unchecked pool pays nothing for the choice.
  //  - a chunk is carved only when the free list is empty (all carved chunks live), so
  //    the peak of live chunks is the peak of carved chunks: max(peak_carved_, carved now),
  //    carved only falling at release(), which records it in peak_carved_.

  void* allocate_slow(std::size_t size, std::size_t align) noexcept;
  void deallocate_slow(void* p, std::size_t size) noexcept;
  bool accept_free(void* p) noexcept;
  bool add_block() noexcept;
  void adopt_block(std::byte* base, std::size_t chunks, std::size_t bytes) noexcept;
  void start_fixed() noexcept;
  void for_each_live_chunk_impl(void (*fn)(void*, void*), void* ctx);
  const Block* find_block(const void* p) const noexcept;
  std::byte* carved_end(const Block* b) const noexcept { return b == current_ ? bump_ : b->carved_end; }
  std::size_t carved_chunks() const noexcept;
  std::size_t free_list_length(std::size_t limit) const noexcept;
  std::size_t live_chunks() const noexcept;
  std::size_t counted_live() const noexcept { return std::size_t(allocations_ - deallocations_ - released_); }
  // Only when checked_ (the callers test it).
  void note_allocated(std::size_t size) noexcept {
    bytes_requested_ += size;
    ++allocations_;
  }
  void note_freed(std::size_t size) noexcept {
    ++deallocations_;
    bytes_requested_ -= size < bytes_requested_ ? size : bytes_requested_;
  }

  // Hot fields first: one cache line serves allocate and deallocate.
  FreeChunk* free_ = nullptr;
  std::size_t fast_size_bound_ = 0;  // the inline allocate takes size < this (see the invariants)
  std::size_t chunk_align_ = 0;
  std::uintptr_t slow_free_max_ = 0;  // the inline deallocate sends p <= this out of line
  std::size_t chunk_size_ = 0;  // the stride: usable bytes per chunk
  bool checked_ = false;
  std::byte* bump_ = nullptr;      // next uncarved chunk in current_
  std::byte* bump_end_ = nullptr;  // end of current_'s chunks
  // Checked pools only.
  std::size_t bytes_requested_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t deallocations_ = 0;
  std::uint64_t released_ = 0;  // live chunks freed by release()

  std::size_t peak_carved_ = 0;  // carved chunks before the last release() that had the most
  std::uint64_t failures_ = 0;
  std::uint64_t rejected_frees_ = 0;
  Block* first_ = nullptr;
  Block* current_ = nullptr;
  Block* last_ = nullptr;
  std::size_t blocks_ = 0;
  std::size_t total_chunks_ = 0;
  std::size_t bytes_reserved_ = 0;
  std::size_t next_block_chunks_ = 0;
  std::size_t max_block_chunks_ = 0;
  std::size_t growth_factor_ = 2;
  std::size_t fixed_capacity_ = 0;
  MemorySource* source_ = nullptr;
  // On a caller's buffer: its only block is the buffer (never given to the source).
  detail::BufferClaim buffer_claim_;
};

static_assert(Pool<FixedPool>);

// The hot paths, inline: pop and push the free list, nothing else (no counters:
// every read-modify-write of a field that the next call reads again lengthens the
// chain from one call to the next). The most recently freed chunk is the one most
// likely still in cache, and reusing it leaves untouched pages untouched (RSS grows
// only when the live set does). Bumping through the current block, a new block, bad
// requests and every call of a checked pool are out of line (allocate_slow,
// deallocate_slow); the checks cost an unchecked pool no instruction (see
// fast_size_bound_ and slow_free_max_ at the invariants).
inline void* FixedPool::allocate(std::size_t size, std::size_t align) noexcept {
  FreeChunk* chunk = free_;
  if (chunk && size < fast_size_bound_ && align - 1 < chunk_align_ && (align & (align - 1)) == 0) [[likely]] {
    annotate::metadata_open(chunk, sizeof(FreeChunk));
    free_ = chunk->next;
    annotate::metadata_close(chunk, sizeof(FreeChunk));
    annotate::block_allocated(this, chunk, size);
    return chunk;
  }
  return allocate_slow(size, align);
}

inline void FixedPool::deallocate(void* p, std::size_t size, std::size_t) noexcept {
  if (reinterpret_cast<std::uintptr_t>(p) <= slow_free_max_) [[unlikely]]  // null, or a checked pool
    return deallocate_slow(p, size);
  annotate::block_freed(this, p, chunk_size_);
  auto* chunk = static_cast<FreeChunk*>(p);
  annotate::metadata_open(chunk, sizeof(FreeChunk));
  chunk->next = free_;
  annotate::metadata_close(chunk, sizeof(FreeChunk));
  free_ = chunk;
}

}  // namespace poolkit
