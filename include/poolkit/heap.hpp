// poolkit/heap.hpp: Heap, a general variable-size allocator (TLSF-style two-level
// segregated fit with boundary tags) over regions from a PageSource. Pick it for
// mixed sizes with frees in any order: O(1) allocate, free and merge, 8 bytes of
// overhead per block, in-place resize. Small blocks (up to 1 KiB) are recycled through a
// bounded front cache first, blocks of 1-64 KiB through size-class runs (slots of one
// size cut from one block). Single-threaded (wrap it in Locked<> to share).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "poolkit/align.hpp"
#include "poolkit/detail/buffer_claim.hpp"
#include "poolkit/detail/front_cache.hpp"
#include "poolkit/detail/size_class_map.hpp"
#include "poolkit/detail/size_class_runs.hpp"
#include "poolkit/page_source.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"

// Heap's private helpers are called only from heap.cpp. Hidden, they cannot be
// interposed, so a -fPIC build may inline them into allocate and deallocate.
#define POOLKIT_HEAP_INTERNAL __attribute__((visibility("hidden")))
#define POOLKIT_HEAP_HOT __attribute__((visibility("hidden"), always_inline)) inline

namespace poolkit {

class Heap {
 public:
  enum class Coalescing {
    kImmediate,  // a freed block merges with free neighbours at once (the default)
    kDeferred,   // frees only mark blocks free; neighbours merge when a search would fail
  };

  /// What deallocate/resize found wrong with a pointer.
  enum class BadFree {
    kDoubleFree,       // the block is already free
    kForeignPointer,   // not inside any region of this heap
    kInteriorPointer,  // inside a region, but not the start of a block
  };
  using BadFreeHandler = void (*)(const Heap& heap, const void* p, BadFree what, void* context);

  struct Options {
    std::size_t region_size = std::size_t{1} << 20;       // the first region
    unsigned growth = 2;                                   // each new region: growth x the last
    std::size_t max_region_size = std::size_t{64} << 20;  // growth stops here (big requests still fit)
    std::size_t max_bytes = 0;                            // cap on bytes_reserved; 0: none
    bool return_empty_regions = true;  // a wholly free region goes back to the OS (the last one is kept)
    Coalescing coalescing = Coalescing::kImmediate;
    // Front cache: a freed block of at most 1 KiB goes onto a LIFO list of its exact
    // size (at most front_cache_depth blocks per size) without merging, and the next
    // request of that size takes it back. Cached blocks count as free in stats().
    bool front_cache = true;
    unsigned front_cache_depth = 32;
    // Size-class runs (with the front cache only): a request of 1 KiB..64 KiB takes a slot
    // of its class (four per power of two) in a run, one block of the heap cut into
    // equal slots, when a run has room or a free block can hold a new run; freeing the
    // slot touches only the slot and its run. A run goes back to the heap when its last
    // slot is freed. Free slots are not in stats().bytes_free (Heap::run_free_bytes()).
    bool size_class_runs = true;
    MemorySource* source = nullptr;                         // nullptr: PageSource::system()
    BadFreeHandler on_bad_free = nullptr;                 // called after a bad free is counted
    void* bad_free_context = nullptr;
    // Bounded time for real-time code (docs/heap.md#bounded-time): after construction
    // no call makes a system call or takes time that grows with the heap. Forces
    // coalescing = kImmediate, front_cache = false, return_empty_regions = false, and
    // no growth: the heap is one region (the caller's buffer, or region_size bytes
    // reserved and touched by the constructor).
    bool bounded_time = false;
  };

  /// What inspect() says about a pointer.
  enum class BlockState { kLive, kFree, kInterior, kForeign };

  static constexpr std::size_t kBlockOverhead = detail::BlockLayout::kHeaderSize;
  static constexpr std::size_t kMinUsable = detail::BlockLayout::kMinBlock - kBlockOverhead;

  Heap() noexcept : Heap(Options{}) {}
  explicit Heap(Options options) noexcept;
  /// A heap on the caller's buffer, which becomes its one region: it never grows and
  /// never asks the source for memory (Options::source, region_size, growth and
  /// max_region_size are ignored). The buffer holds the blocks and their boundary
  /// tags; the free-list index and counters live in the Heap object. The buffer stays
  /// the caller's and must outlive the heap. Throws std::invalid_argument, saying
  /// which, for a null buffer, one below kMinBuffer bytes, one not 16-aligned, or one
  /// overlapping a buffer another live pool holds. Bytes past the last multiple of 16
  /// go unused.
  Heap(void* buffer, std::size_t size, Options options);
  /// The smallest buffer a heap accepts: a region header, one minimum block, the sentinel.
  static constexpr std::size_t kMinBuffer = 64;
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  /// A block of at least `size` bytes aligned to `align` (a power of two up to 4096;
  /// 16 is natural and costs nothing extra). Size 0 gives a unique minimum block.
  /// nullptr on bad alignment, a size that cannot be met (SIZE_MAX included), or
  /// when max_bytes or the OS says no.
  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    return allocate_prefixed(0, size, align);  // the one fast path; a zero prefix folds away
  }

  /// Frees p. size and align are ignored (the header knows). nullptr does nothing.
  /// A bad pointer (double free, foreign, interior) is not freed: it is counted in
  /// bad_frees(), passed to Options::on_bad_free if set, and nothing is written.
  void deallocate(void* p, std::size_t size = 0, std::size_t align = 0) noexcept {
    // Fast path: a live, cacheable block in the region used last, with room in its
    // class. Anything else (null, foreign, interior, double free, full class, a big
    // block) takes the slow path, which checks and reports as before.
    const std::uintptr_t block = reinterpret_cast<std::uintptr_t>(p) - L::kHeaderSize;
    const std::uintptr_t offset = block - hot_begin_;
    if (offset < hot_span_ && offset % L::kGranule == 0) {
      const std::uint64_t h = L::peek_word(block);
      const std::size_t block_size = L::size_of(h);
      const std::size_t c = Cache::class_of_block(block_size);
      if (L::tag_ok(block, h, secret_) && (h & (L::kFreeBit | L::kCachedBit | L::kRunBit)) == 0 && cache_.has_room(c) &&
          offset + block_size <= hot_span_) {
        push_cached(c, block, h);
        return;
      }
    }
    deallocate_slow(p, size, align);
  }

  /// Grows or shrinks the block in place to at least `size` bytes and returns p;
  /// nullptr (block untouched) if the next block is not free and big enough, or p
  /// is null or bad (bad pointers are counted as in deallocate). The block never
  /// moves, so it keeps the alignment it was allocated with.
  void* resize(void* p, std::size_t size) noexcept;

  /// Bytes usable at p (at least what was asked for); 0 unless p is a live block.
  std::size_t usable_size(const void* p) const noexcept;

  /// The size asked for the live block at p (after any resize); 0 unless p is a live block.
  std::size_t requested_size(const void* p) const noexcept;

  /// True if p lies in memory this heap holds (any of its regions).
  bool owns(const void* p) const noexcept;

  /// Whether p is the start of a live block, of a free one, inside a region but
  /// not a block start, or foreign. Reads only, reports nothing.
  BlockState inspect(const void* p) const noexcept;

  /// Frees every block at once. Each region becomes one free block; with
  /// return_empty_regions all regions but the oldest go back to the OS.
  void release() noexcept;

  /// Merges every run of neighbouring free blocks now (deferred coalescing does
  /// this by itself when a search fails) and returns empty regions if configured.
  void coalesce() noexcept;

  /// largest_free is the largest request sure to succeed without growing (the
  /// head of the highest non-empty list); bytes_free counts usable bytes. Free slots
  /// of size-class runs are in neither (see run_free_bytes()), cached blocks in bytes_free only.
  PoolStats stats() const noexcept;

  /// Verifies every invariant of the block layout, the index and the counters.
  bool check() const noexcept;

  /// Read-only walk for pictures (print_heapmap): fn(ctx, block, bytes, state) for every
  /// block of every region in address order, header included; state 0 free, 1 live, 3 cached,
  /// 4 a size-class run's own bytes (its metadata, free and never used slots); a run's live
  /// slots come one by one as live pieces.
  void visit_blocks(void (*fn)(void* ctx, const void* block, std::size_t bytes, unsigned state), void* ctx) const noexcept;

  std::uint64_t bad_frees() const noexcept { return bad_frees_; }
  /// Free blocks in the index (merged, searchable); cached blocks are not among them.
  std::size_t free_blocks() const noexcept { return index_.count(); }
  /// Blocks held in the front cache.
  std::size_t cached_blocks() const noexcept { return cache_.blocks(); }
  /// Size-class runs held (each one used block of the heap, with at least one live slot).
  std::size_t runs() const noexcept { return run_count_; }
  /// Usable bytes of the free slots of every run: memory that only requests of each
  /// slot's class can take, counted in neither stats().bytes_free nor largest_free.
  std::size_t run_free_bytes() const noexcept { return run_free_bytes_; }
  /// Really frees every cached block (merging it with its free neighbours).
  /// coalesce(), a search that would fail and a full size class do this by themselves.
  void flush_cache() noexcept;
  const Options& options() const noexcept { return options_; }
  /// True when the heap was built on a caller's buffer.
  bool on_buffer() const noexcept { return buffer_claim_.held(); }
  /// True when the heap never grows: built on a buffer, or in bounded-time mode.
  bool fixed() const noexcept { return fixed_; }

  /// For PoolSet and other prefixed layouts: a block of prefix + size bytes whose
  /// address plus `prefix` (a multiple of 16) is aligned to `align`.
  void* allocate_prefixed(std::size_t prefix, std::size_t size, std::size_t align) noexcept {
    // Fast path (allocate() comes here too): natural alignment and a cached block of the
    // exact class. With prefix 0 the prefix tests are constant and vanish.
    if (size <= Cache::kMaxRequest && prefix <= Cache::kMaxRequest - size && prefix % L::kGranule == 0 &&
        align - 1 < L::kGranule && (align & (align - 1)) == 0) {
      const std::size_t c = Cache::class_of_request(prefix + size);
      if (const std::uintptr_t block = cache_.head(c)) return pop_cached(c, block, prefix + size);
    }
    return allocate_prefixed_slow(prefix, size, align);
  }

  /// For prefixed layouts: if p is the start of a live block, its usable and requested
  /// sizes from one lookup (usable_size and requested_size take one each); false, and
  /// the outputs untouched, otherwise.
  bool live_sizes(const void* p, std::size_t* usable, std::size_t* requested) const noexcept {
    // Fast path: a live block in the region used last (deallocate's test, read only).
    const std::uintptr_t block = reinterpret_cast<std::uintptr_t>(p) - L::kHeaderSize;
    const std::uintptr_t offset = block - hot_begin_;
    if (offset < hot_span_ && offset % L::kGranule == 0) {
      const std::uint64_t h = L::peek_word(block);
      const std::size_t size = L::size_of(h);
      if (L::tag_ok(block, h, secret_) && (h & (L::kFreeBit | L::kCachedBit | L::kRunBit)) == 0 && size >= L::kMinBlock &&
          offset + size <= hot_span_) {
        *usable = size - L::kHeaderSize;
        *requested = *usable - L::slack_of(h);
        return true;
      }
    }
    return live_sizes_slow(p, usable, requested);
  }

  /// The usable size of a block that allocate or allocate_prefixed has just returned
  /// (p is trusted, not looked up: usable_size is the checked form).
  std::size_t usable_size_of_new(const void* p) const noexcept {
    return L::size_of(header(L::block_of(reinterpret_cast<std::uintptr_t>(p)))) - L::kHeaderSize;
  }

 private:
  using L = detail::BlockLayout;
  using Cache = detail::FrontCache;
  using Runs = detail::RunLayout;

  // The cache's hot paths, inline so that a hit costs a few loads and stores.
  POOLKIT_HEAP_HOT void* pop_cached(std::size_t c, std::uintptr_t block, std::size_t requested) noexcept {
    cache_.pop(c, block);
    const std::uint64_t h = header(block);
    const std::size_t size = L::size_of(h);
    const std::size_t usable = size - L::kHeaderSize;
    L::store_word(block, (h & ~(L::kCachedBit | L::kSlackField)) |
                             (std::uint64_t{usable - requested} << L::kSlackShift));
    bytes_in_use_ += size;
    bytes_requested_ += requested;
    peak_in_use_ = bytes_in_use_ > peak_in_use_ ? bytes_in_use_ : peak_in_use_;
    ++live_blocks_;
    ++allocations_;
    void* p = reinterpret_cast<void*>(L::payload_of(block));
    annotate::block_allocated(this, p, usable);
    return p;
  }
  POOLKIT_HEAP_HOT void push_cached(std::size_t c, std::uintptr_t block, std::uint64_t h) noexcept {
    const std::size_t size = L::size_of(h);
    bytes_in_use_ -= size;
    bytes_requested_ -= size - L::kHeaderSize - L::slack_of(h);
    --live_blocks_;
    ++deallocations_;
    annotate::block_freed(this, reinterpret_cast<void*>(L::payload_of(block)), size - L::kHeaderSize);
    L::store_word(block, h | L::kCachedBit);
    cache_.push(c, block);
  }
  struct Region;
  __attribute__((noinline)) void* allocate_prefixed_slow(std::size_t prefix, std::size_t size,
                                                         std::size_t align) noexcept;
  __attribute__((noinline)) bool live_sizes_slow(const void* p, std::size_t* usable,
                                                 std::size_t* requested) const noexcept;
  __attribute__((noinline)) void deallocate_slow(void* p, std::size_t size, std::size_t align) noexcept;
  POOLKIT_HEAP_INTERNAL void flush_class(std::size_t c) noexcept;
  POOLKIT_HEAP_INTERNAL void release_block(Region* region, std::uintptr_t block) noexcept;
  POOLKIT_HEAP_INTERNAL bool check_cache() const noexcept;
  POOLKIT_HEAP_INTERNAL void set_hot(const Region* r) const noexcept;
  POOLKIT_HEAP_INTERNAL void rebuild_spans() noexcept;

  // A region from the page source. Blocks start right after this header (its size
  // is 8 mod 16, so payloads are 16-aligned) and end at the sentinel header in the
  // region's last word. Regions form a doubly-linked list, newest first.
  struct Region {
    Region* prev;
    Region* next;
    std::size_t size;
    std::uintptr_t first_block() const noexcept { return reinterpret_cast<std::uintptr_t>(this) + sizeof(Region); }
    std::uintptr_t sentinel() const noexcept { return reinterpret_cast<std::uintptr_t>(this) + size - L::kWord; }
    std::size_t span() const noexcept { return size - sizeof(Region) - L::kWord; }
  };
  static_assert(sizeof(Region) % 16 == 8);

  std::uint64_t header(std::uintptr_t block) const noexcept { return L::load_word(block); }
  void write_header(std::uintptr_t block, std::size_t size, std::uint64_t flags, std::size_t slack = 0) noexcept {
    L::store_word(block, L::make_header(block, secret_, size, flags, slack));
  }
  POOLKIT_HEAP_INTERNAL void set_prev_free_bit(std::uintptr_t block, bool prev_free) noexcept;

  POOLKIT_HEAP_INTERNAL void* allocate_block(std::size_t prefix, std::size_t size, std::size_t align) noexcept;
  __attribute__((visibility("hidden"), noinline)) std::uintptr_t find_or_grow(std::size_t search) noexcept;
  POOLKIT_HEAP_INTERNAL bool worth_coalescing(std::size_t search) const noexcept;
  POOLKIT_HEAP_HOT void* carve(std::uintptr_t block, std::size_t prefix, std::size_t needed, std::size_t align,
              std::size_t requested, bool run = false) noexcept;

  // Size-class runs (heap_runs.cpp; the layout in detail/size_class_runs.hpp).
  POOLKIT_HEAP_INTERNAL void* run_allocate(std::size_t k, std::size_t needed, std::size_t requested) noexcept;
  POOLKIT_HEAP_INTERNAL std::uintptr_t new_run(std::size_t k) noexcept;
  POOLKIT_HEAP_INTERNAL std::uintptr_t carve_run_block(std::size_t size) noexcept;
  POOLKIT_HEAP_INTERNAL void run_free(Region* region, std::uintptr_t block, std::uint64_t h, std::uintptr_t run,
                                      std::size_t index) noexcept;
  POOLKIT_HEAP_INTERNAL bool free_common(std::uintptr_t payload) noexcept;
  POOLKIT_HEAP_INTERNAL bool run_resize(std::uintptr_t block, std::size_t size) noexcept;
  POOLKIT_HEAP_INTERNAL std::uintptr_t run_of_slot(const Region* region, std::uintptr_t block, std::uint64_t h,
                                                   std::size_t* index) const noexcept;
  POOLKIT_HEAP_INTERNAL void link_run(std::size_t k, std::uintptr_t run) noexcept;
  POOLKIT_HEAP_INTERNAL void unlink_run(std::size_t k, std::uintptr_t run) noexcept;
  POOLKIT_HEAP_INTERNAL bool check_run(std::uintptr_t run, std::size_t size, std::size_t* used_bytes,
                                       std::size_t* used_count, std::size_t* requested, std::size_t* free_bytes,
                                       std::vector<std::uintptr_t>* open_runs) const noexcept;
  POOLKIT_HEAP_INTERNAL bool check_run_lists(std::vector<std::uintptr_t>* open_runs) const noexcept;
  POOLKIT_HEAP_INTERNAL void visit_run(std::uintptr_t run, std::size_t size,
                                       void (*fn)(void*, const void*, std::size_t, unsigned), void* ctx) const noexcept;
  POOLKIT_HEAP_INTERNAL void* finish_carve(std::uintptr_t block, std::size_t size, bool prev_free,
                                           std::size_t requested, bool run) noexcept;
  POOLKIT_HEAP_HOT void free_block(Region* region, std::uintptr_t block) noexcept;
  POOLKIT_HEAP_INTERNAL Region* find_region(std::uintptr_t addr) const noexcept;
  POOLKIT_HEAP_HOT Region* region_in_table(std::uintptr_t addr) const noexcept;
  // Where classify found a slot of a run: the run and the slot's index (run 0: a plain block).
  struct SlotRef {
    std::uintptr_t run = 0;
    std::size_t index = 0;
  };
  POOLKIT_HEAP_HOT std::uint64_t header_at(const Region* region, std::uintptr_t payload) const noexcept;
  POOLKIT_HEAP_INTERNAL BlockState classify(const Region* region, std::uintptr_t payload,
                                            SlotRef* slot = nullptr) const noexcept;
  POOLKIT_HEAP_INTERNAL bool validate(const void* p, Region** region, SlotRef* slot = nullptr) noexcept;
  POOLKIT_HEAP_INTERNAL void report_bad(const void* p, BadFree what) noexcept;

  POOLKIT_HEAP_INTERNAL Region* add_region(std::size_t min_span) noexcept;
  POOLKIT_HEAP_INTERNAL Region* adopt_region(void* memory, std::size_t size) noexcept;
  static Options effective(Options options) noexcept;
  POOLKIT_HEAP_INTERNAL void init_region(Region* region) noexcept;
  POOLKIT_HEAP_INTERNAL void return_region(Region* region) noexcept;
  POOLKIT_HEAP_INTERNAL void return_empty_regions() noexcept;
  POOLKIT_HEAP_INTERNAL bool region_returnable(const Region* region, std::uintptr_t block,
                                               std::size_t size) const noexcept;
  POOLKIT_HEAP_INTERNAL bool coalesce_region(Region* region) noexcept;
  // What check() gathers from the runs it walks.
  struct RunTotals {
    std::size_t count = 0;
    std::size_t free_bytes = 0;
    std::vector<std::uintptr_t> open;  // runs with a free slot, for the lists' check
  };
  POOLKIT_HEAP_INTERNAL bool check_region(const Region* region, std::size_t* used_bytes, std::size_t* used_count,
                    std::size_t* free_count, std::size_t* requested, std::size_t* cached_bytes,
                    RunTotals* runs) const noexcept;
  POOLKIT_HEAP_INTERNAL bool check_index() const noexcept;
  POOLKIT_HEAP_INTERNAL bool sorted_blocks_with(std::uint64_t bit, std::vector<std::uintptr_t>* out) const noexcept;

  POOLKIT_HEAP_INTERNAL void note_allocated(std::size_t block_size, std::size_t requested) noexcept;
  POOLKIT_HEAP_INTERNAL void note_freed(std::size_t block_size, std::size_t requested) noexcept;

  Options options_;
  MemorySource* source_;
  std::uint64_t secret_;
  Region* regions_ = nullptr;
  mutable Region* last_hit_ = nullptr;  // the region of the last lookup, tried first
  // last_hit_'s block area [hot_begin_, hot_begin_ + hot_span_), or empty: the
  // deallocate fast path's "is it ours" test without a pointer chase.
  mutable std::uintptr_t hot_begin_ = 0;
  mutable std::size_t hot_span_ = 0;
  std::size_t region_count_ = 0;
  // The address ranges of the newest kSpanTable regions (regions_'s first ones, in list
  // order), so that finding a pointer's region reads this table, not region headers
  // spread over as many pages. Invariant: span_count_ = min(region_count_, kSpanTable)
  // and spans_[i] is the i-th region of the list; the others are found by the list walk.
  struct RegionSpan {
    std::uintptr_t begin;
    std::size_t size;
    Region* region;
  };
  static constexpr std::size_t kSpanTable = 8;
  RegionSpan spans_[kSpanTable] = {};
  std::size_t span_count_ = 0;
  std::size_t next_region_size_;
  detail::FreeIndex index_;
  Cache cache_;
  // Size-class runs: on only with the front cache (and never in bounded time). A live slot
  // counts in bytes_in_use_ as the plain block it stands for (its header size); the rest of
  // its stride, like the run's metadata, is reserved but neither in use nor free. For each
  // class, the runs with a free slot, doubly linked through their metadata; the run at
  // the head serves the next request. run_free_bytes_ is the usable bytes of every free
  // or never-used slot of every run; run_count_ the runs held.
  bool runs_ = false;
  std::uintptr_t run_lists_[Runs::kClasses] = {};
  std::size_t run_free_bytes_ = 0;
  std::size_t run_count_ = 0;

  // Counters; the free-block totals live in index_.
  std::size_t bytes_requested_ = 0;
  std::size_t bytes_in_use_ = 0;
  std::size_t peak_in_use_ = 0;
  std::size_t bytes_reserved_ = 0;
  std::size_t live_blocks_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t deallocations_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t bad_frees_ = 0;
  std::size_t frees_since_coalesce_ = 0;  // deferred coalescing: pays for the next pass

  // A heap on a caller's buffer: the buffer's region (never given to the source) and
  // the claim that keeps other pools off the buffer. Invariant: buffer_region_ is
  // null or the only region, and then fixed_ is true.
  // fixed_: no region is ever added after construction (a buffer, or bounded time).
  Region* buffer_region_ = nullptr;
  bool fixed_ = false;
  detail::BufferClaim buffer_claim_;
};

static_assert(Pool<Heap>);

}  // namespace poolkit
