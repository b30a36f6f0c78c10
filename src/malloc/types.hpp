// types.hpp (private): the geometry and data structures of the drop-in malloc.
// docs/malloc.md has the picture:
//
//   thread Heap --(size-class queues)--> Page --(run of slices)--> Segment (4 MiB)
//        --(empty segments)--> per-CPU SegmentCache --> PageSource (mmap)
//
// Header-only, no functions with state: the files of src/malloc/ include it
// through internal.hpp. Nothing in this directory may call malloc: it *is* malloc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "poolkit/detail/size_classes.hpp"

#define PK_LIKELY(x) __builtin_expect(!!(x), 1)
#define PK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PK_NOINLINE __attribute__((noinline))
#define PK_INLINE inline __attribute__((always_inline))
namespace poolkit::malloc_impl {

// ---- geometry ----------------------------------------------------------------
inline constexpr std::size_t kSegmentShift = 22;                    // 4 MiB segments
inline constexpr std::size_t kSegmentSize = std::size_t{1} << kSegmentShift;
inline constexpr std::size_t kSliceShift = 16;                      // 64 KiB slices
inline constexpr std::size_t kSliceSize = std::size_t{1} << kSliceShift;
inline constexpr std::size_t kSlicesPerSegment = kSegmentSize / kSliceSize;  // 64; slice 0 is metadata
inline constexpr std::size_t kMaxPageSlices = 32;                   // pages up to 2 MiB
inline constexpr std::size_t kMinBlock = 16;                        // malloc's alignment on x86-64
inline constexpr std::size_t kMaxBlocksPerPage = kSliceSize / kMinBlock;  // 4096
inline constexpr std::size_t kClassCount = 60;                      // 16 B .. 1 MiB
inline constexpr std::size_t kMaxClassSize = std::size_t{1} << 20;  // largest size class
inline constexpr std::size_t kDirectMax = 4096;                     // sizes served by Heap::direct
inline constexpr std::size_t kDirectSlots = kDirectMax / kMinBlock + 1;
inline constexpr std::size_t kMaxCpus = 64;
inline constexpr std::uintptr_t kAddressLimit = std::uintptr_t{1} << 47;  // x86-64 user space
// The remote cache (remote_cache.cpp): blocks up to 32 KiB; per thread at most
// POOLKIT_REMOTE_CACHE bytes (default 1 MiB, options.hpp), an eighth of it and 64
// blocks per class (sizes measured: docs/malloc.md).
inline constexpr std::size_t kRemoteMaxBlock = 32 * 1024;
inline constexpr std::size_t kRemoteCacheDefault = 1024 * 1024;
inline constexpr std::size_t kRemoteCacheMax = 16 * 1024 * 1024;
inline constexpr std::size_t kRemoteClassShare = 8;  // a class's list holds at most 1/8 of the cache
inline constexpr std::uint32_t kRemoteClassBlocks = 64;
// The transfer cache (transfer_cache.cpp): per class at most 32 batches (the older
// half of an overflowing remote list each: at most 64 KiB) and 1 MiB, shared by every
// thread (sizes measured: docs/malloc.md).
inline constexpr std::uint32_t kTransferBatches = 32;
inline constexpr std::size_t kTransferClassBytes = 1024 * 1024;
// A block may hold an interior (aligned) pointer only for alignments up to a slice;
// larger alignments are served by huge segments.
inline constexpr std::size_t kMaxPageAlignment = kSliceSize;

// ---- size classes: 16..128 by 16, then 4 classes per power of two ------------
// The library's log-linear classes (detail/size_classes.hpp) with 16-byte granules
// and 4 steps per power of two, used as ceiling classes: class_of(size) is the
// smallest class whose blocks hold `size` bytes, class_size(cls) its block size.
using Classes = detail::LogLinearClasses<4, 2>;
constexpr std::size_t class_of(std::size_t size) noexcept { return size <= kMinBlock ? 0 : Classes::index_of(size - 1); }
constexpr std::size_t class_size(std::size_t cls) noexcept { return Classes::bound(cls + 1); }
static_assert(class_size(kClassCount - 1) == kMaxClassSize);
static_assert(class_of(kMaxClassSize) == kClassCount - 1);
inline constexpr std::size_t kRemoteClasses = class_of(kRemoteMaxBlock) + 1;
static_assert(class_size(kRemoteClasses - 1) == kRemoteMaxBlock);

/// Slices in a page of blocks of class `cls`: at least 8 blocks up to 2 MiB pages.
constexpr std::size_t page_slices_for(std::size_t block) noexcept {
  if (block <= kSliceSize / 8) return 1;
  std::size_t slices = (block * 8 + kSliceSize - 1) / kSliceSize;
  return slices > kMaxPageSlices ? kMaxPageSlices : slices;
}

// ---- blocks, pages, segments, heaps -----------------------------------------
// A free block: its link, then the free key (integrity.hpp), which free writes and
// malloc clears. kMinBlock (16) leaves room for both.
struct Block {
  Block* next;
  std::uintptr_t key;
};
static_assert(sizeof(Block) <= kMinBlock);

struct Heap;

enum PageFlags : std::uint8_t {
  kPageHasAligned = 1,  // some blocks were handed out as interior (aligned) pointers
  kPageChecked = 2,     // blocks of the checked layer (checked.hpp): every free goes through it
  kPageCounted = 4,     // POOLKIT_STATS: frees are counted
  kPageHuge = 8,        // the descriptor of a huge segment (one block from mmap)
};

// A page: a run of slices of one segment holding blocks of one size.
// Invariants (checked by page_check in check.cpp):
//   used + |free| + |local_free| == capacity <= reserved   (used includes |thread_free|)
//   every listed block lies in [start, start + capacity*block_size) on a block boundary, once
//   (checked for every link malloc pops, in every mode: integrity.hpp)
//   a page in use is in exactly one list of its owner: the queue of its class, or the full list
//   (in_full == 1); pages of an abandoned segment are in no list and have heap == nullptr.
// Only the owning heap's thread touches free, local_free, used, capacity and the links;
// any thread pushes onto thread_free. The fields malloc's and free's fast paths read
// come first (the first 56 bytes); thread_free, which other threads write, after them.
struct Page {
  Block* free;                        // allocate from here
  Block* local_free;                  // the owner's frees (collected into free when it runs dry)
  std::uint8_t* start;                // first block
  std::uint64_t link_mul;             // the inverse of block_size's odd part mod 2^64 (integrity.hpp)
  std::uint32_t used;                 // blocks out (including those waiting in thread_free)
  std::uint32_t capacity;             // blocks threaded into lists so far (lazy extension)
  std::uint32_t reserved;             // blocks that fit in the page
  std::uint32_t block_size;
  std::uint8_t size_class;
  std::uint8_t slice_count;           // slices in the page (first slice only)
  std::uint8_t slice_offset;          // 0 on a page's first slice; distance to it on others
  std::uint8_t flags;                 // PageFlags
  std::atomic<std::uint8_t> in_full;  // in the owner's full list (read by remote frees)
  std::uint8_t link_shift;            // block_size = odd * 2^link_shift (integrity.hpp)
  std::atomic<Heap*> heap;            // owner, nullptr when abandoned or free
  std::atomic<Block*> thread_free;    // other threads' frees, pushed lock-free
  Page* next;                         // in a queue or the full list
  Page* prev;
};

enum class SegmentKind : std::uint32_t { kSmall = 0x706b5331, kHuge = 0x706b4831 };

// A 4 MiB-aligned region. Small segments: slice 0 holds this header; slices
// 1..63 are handed out as pages. Huge segments: one block.
// Invariants: bit 0 of used_slices is set; bit i is set iff slice i belongs to a
// page in use; pages[i].slice_offset locates the page of slice i; dirty_slices
// and used_slices are disjoint; owner is the heap whose segments list holds it.
struct Segment {
  SegmentKind kind;
  std::uint32_t pages_in_use;
  std::atomic<Heap*> owner;           // nullptr when abandoned or cached
  Segment* next;                      // owner's list, the abandoned list or a cache
  Segment* prev;
  std::atomic<std::uint64_t> used_slices;  // bit i: slice i belongs to a page in use (see slices_in_use)
  std::uint64_t dirty_slices;         // free slices whose memory is still committed
  std::uint64_t purge_at_ms;          // when the oldest dirty slice is due for decommit (0: none dirty)
  std::uint64_t cached_at_ms;         // when it entered a cache
  // huge segments
  void* map_base;                     // the whole mapping, for munmap
  std::size_t map_size;
  std::size_t huge_capacity;          // usable bytes from the user pointer
  std::uintptr_t huge_user;           // the user pointer
  std::uint32_t huge_live;            // 1 while allocated (double-free check)
  std::uint32_t huge_zeroed;          // 1 while the block is fresh from mmap (calloc skips memset)
  std::uint64_t huge_cached_at_ms;    // when it entered the huge cache
  std::uint64_t huge_is_tail;         // cached: cut off the end of a block that may grow into it
  std::uint64_t dirty_at_ms[kSlicesPerSegment];  // when each dirty slice was freed (its decay starts)
  Page pages[kSlicesPerSegment];
};

static_assert(sizeof(Segment) <= kSliceSize);

// Only the owning heap writes used_slices, but other threads read it while the owner
// changes other bits: a checked-mode free from another thread locating its block, the
// double-free check. A relaxed atomic word: a reader sees the bits of a live block's
// page, which cannot change under it, and no torn word. Plain loads on x86-64.
inline std::uint64_t slices_in_use(const Segment* segment) noexcept {
  return segment->used_slices.load(std::memory_order_relaxed);
}
inline void set_slices_in_use(Segment* segment, std::uint64_t used) noexcept {
  segment->used_slices.store(used, std::memory_order_relaxed);
}

struct PageQueue {
  Page* first;
  Page* last;
};

// The calls counted apart (malloc and free are the sums of the per-class counts).
enum CallKind { kCallCalloc, kCallRealloc, kCallAligned, kCallCount };

// Per-thread counters, only written with POOLKIT_STATS (relaxed, read at exit).
struct HeapCounters {
  std::atomic<std::uint64_t> calls[kCallCount];  // CallKind
  std::atomic<std::uint64_t> allocs_by_class[kClassCount + 1];  // last: huge
  std::atomic<std::uint64_t> frees_by_class[kClassCount + 1];
  std::atomic<std::uint64_t> bytes_requested;
};

// A thread's heap. Only its thread touches it, except full_hint (remote frees)
// and the pool links (under the heap pool lock). Never unmapped, so a remote
// thread may always read a page's heap pointer.
// A list of the remote cache: blocks of one class that this thread freed while other
// heaps' pages hold them (or no heap's: abandoned), linked through Block::next.
struct RemoteList {
  Block* first;
  std::uint32_t count;
};

struct Heap {
  Page* direct[kDirectSlots] = {};       // first page of the class of size 16*i (fast path)
  PageQueue queues[kClassCount] = {};
  Page* full = nullptr;                       // pages with no free block (doubly linked)
  Segment* segments = nullptr;                 // segments this heap owns
  std::atomic<std::uint32_t> full_hint{0};  // a remote free hit a full page
  std::uint64_t next_purge_ms = 0;
  // The remote cache (remote_cache.cpp). Invariants (heap_walk checks them): list i
  // holds count blocks of class i, each carrying the free key and still counted in
  // its page's `used` (so the page stays in use); count <= remote_cache_limit(i);
  // the lists' bytes add up to remote_bytes <= g_options.remote_cache; while list i is not
  // empty, the direct slots of class i point at the empty page so malloc looks here.
  RemoteList remote[kRemoteClasses] = {};
  std::size_t remote_bytes = 0;
  Heap* pool_next = nullptr;                   // all heaps ever made, for stats and fork
  Heap* free_next = nullptr;                   // heaps waiting for a thread
  bool is_empty_sentinel = false;
  HeapCounters counters{};
};

// ---- process-wide counters (stats.cpp) -------------------------------------------
struct GlobalCounters {
  std::atomic<std::size_t> page_bytes;       // bytes of pages in use
  std::atomic<std::size_t> peak_page_bytes;
  std::atomic<std::size_t> huge_bytes;       // mapped for huge blocks
  std::atomic<std::size_t> huge_count;
  std::atomic<std::size_t> peak_huge_bytes;
  std::atomic<std::size_t> segments;         // small segments mapped
  std::atomic<std::uint64_t> pages_made;
  std::atomic<std::uint64_t> threads;
  std::atomic<std::uint64_t> adoptions;
  std::atomic<std::uint64_t> abandonments;
  std::atomic<std::uint64_t> purged_bytes;
  std::atomic<std::uint64_t> foreign_frees;
};
PK_INLINE void count(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// ---- small helpers ---------------------------------------------------------------
// Any thread reads a page's flags (free of one of its blocks) while the owner may set
// kPageHasAligned for another block: relaxed atomic accesses (a plain byte load, and
// one `or` once per page, on x86-64).
PK_INLINE std::uint8_t page_flags(const Page* page) noexcept { return __atomic_load_n(&page->flags, __ATOMIC_RELAXED); }
PK_INLINE Segment* segment_of(const void* p) noexcept {
  return reinterpret_cast<Segment*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSegmentSize - 1));
}
PK_INLINE Page* page_of(Segment* segment, const void* p) noexcept {
  std::size_t index = (reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(segment)) >> kSliceShift;
  Page* page = &segment->pages[index];
  return page - page->slice_offset;
}
/// The block holding p (p may be an interior pointer on pages with aligned blocks).
PK_INLINE Block* block_of(Page* page, const void* p) noexcept {
  auto* b = static_cast<std::uint8_t*>(const_cast<void*>(p));
  if (PK_LIKELY(!(page_flags(page) & kPageHasAligned))) return reinterpret_cast<Block*>(b);
  std::size_t offset = static_cast<std::size_t>(b - page->start);
  return reinterpret_cast<Block*>(page->start + offset - offset % page->block_size);
}
PK_INLINE std::size_t block_index(const Page* page, const void* block) noexcept {
  return static_cast<std::size_t>(static_cast<const std::uint8_t*>(block) - page->start) / page->block_size;
}

}  // namespace poolkit::malloc_impl
