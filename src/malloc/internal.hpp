// internal.hpp (private): the data structures of the drop-in malloc and the
// functions the files of src/malloc/ share. docs/malloc.md has the picture:
//
//   thread Heap --(size-class queues)--> Page --(run of slices)--> Segment (4 MiB)
//        --(empty segments)--> per-CPU SegmentCache --> PageSource (mmap)
//
// Nothing in this directory may call malloc: it *is* malloc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "poolkit/page_source.hpp"

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
// A block may hold an interior (aligned) pointer only for alignments up to a slice;
// larger alignments are served by huge segments.
inline constexpr std::size_t kMaxPageAlignment = kSliceSize;

// ---- size classes: 16..128 by 16, then 4 classes per power of two ------------
constexpr std::size_t class_of(std::size_t size) noexcept {
  if (size <= 128) return size <= 16 ? 0 : (size - 1) >> 4;
  unsigned b = static_cast<unsigned>(64 - __builtin_clzll(size - 1));  // 2^(b-1) < size <= 2^b
  return 8 + (b - 8) * 4 + (((size - 1) >> (b - 3)) & 3);
}
constexpr std::size_t class_size(std::size_t cls) noexcept {
  if (cls < 8) return (cls + 1) * 16;
  std::size_t b = 8 + (cls - 8) / 4, k = (cls - 8) % 4;
  return (std::size_t{1} << (b - 1)) + (k + 1) * (std::size_t{1} << (b - 3));
}
static_assert(class_size(kClassCount - 1) == kMaxClassSize);
static_assert(class_of(kMaxClassSize) == kClassCount - 1);

/// Slices in a page of blocks of class `cls`: at least 8 blocks up to 2 MiB pages.
constexpr std::size_t page_slices_for(std::size_t block) noexcept {
  if (block <= kSliceSize / 8) return 1;
  std::size_t slices = (block * 8 + kSliceSize - 1) / kSliceSize;
  return slices > kMaxPageSlices ? kMaxPageSlices : slices;
}

// ---- blocks, pages, segments, heaps -----------------------------------------
struct Block {
  Block* next;
};

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
//   a page in use is in exactly one list of its owner: the queue of its class, or the full list
//   (in_full == 1); pages of an abandoned segment are in no list and have heap == nullptr.
// Only the owning heap's thread touches free, local_free, used, capacity and the links;
// any thread pushes onto thread_free.
struct Page {
  Block* free;                        // allocate from here
  Block* local_free;                  // the owner's frees (collected into free when it runs dry)
  std::atomic<Block*> thread_free;    // other threads' frees, pushed lock-free
  std::uint32_t used;                 // blocks out (including those waiting in thread_free)
  std::uint32_t capacity;             // blocks threaded into lists so far (lazy extension)
  std::uint32_t reserved;             // blocks that fit in the page
  std::uint32_t block_size;
  std::uint8_t size_class;
  std::uint8_t slice_count;           // slices in the page (first slice only)
  std::uint8_t slice_offset;          // 0 on a page's first slice; distance to it on others
  std::uint8_t flags;                 // PageFlags
  std::atomic<std::uint8_t> in_full;  // in the owner's full list (read by remote frees)
  std::atomic<Heap*> heap;            // owner, nullptr when abandoned or free
  Page* next;                         // in a queue or the full list
  Page* prev;
  std::uint8_t* start;                // first block
};

enum class SegmentKind : std::uint32_t { kSmall = 0x706b5331, kHuge = 0x706b4831 };

// A 4 MiB-aligned region. Small segments: slice 0 holds this header and the
// check bitmaps; slices 1..63 are handed out as pages. Huge segments: one block.
// Invariants: bit 0 of used_slices is set; bit i is set iff slice i belongs to a
// page in use; pages[i].slice_offset locates the page of slice i; dirty_slices
// and used_slices are disjoint; owner is the heap whose segments list holds it.
struct Segment {
  SegmentKind kind;
  std::uint32_t pages_in_use;
  std::atomic<Heap*> owner;           // nullptr when abandoned or cached
  Segment* next;                      // owner's list, the abandoned list or a cache
  Segment* prev;
  std::uint64_t used_slices;          // bit i: slice i belongs to a page in use
  std::uint64_t dirty_slices;         // free slices whose memory is still committed
  std::uint64_t purge_at_ms;          // when the dirty slices are decommitted (0: none)
  std::uint64_t cached_at_ms;         // when it entered a cache
  // huge segments
  void* map_base;                     // the whole mapping, for munmap
  std::size_t map_size;
  std::size_t huge_capacity;          // usable bytes from the user pointer
  std::uintptr_t huge_user;           // the user pointer
  std::uint32_t huge_live;            // 1 while allocated (double-free check)
  std::uint32_t huge_zeroed;          // 1 while the block is fresh from mmap (calloc skips memset)
  std::uint64_t huge_cached_at_ms;    // when it entered the huge cache
  Page pages[kSlicesPerSegment];
};

static_assert(sizeof(Segment) <= kSliceSize);

struct PageQueue {
  Page* first;
  Page* last;
};

// Per-thread counters, only written with POOLKIT_STATS (relaxed, read at exit).
struct HeapCounters {
  std::atomic<std::uint64_t> calls[8];  // CallKind
  std::atomic<std::uint64_t> allocs_by_class[kClassCount + 1];  // last: huge
  std::atomic<std::uint64_t> frees_by_class[kClassCount + 1];
  std::atomic<std::uint64_t> bytes_requested;
};
enum CallKind { kCallMalloc, kCallFree, kCallCalloc, kCallRealloc, kCallAligned, kCallUsable, kCallCount };

// A thread's heap. Only its thread touches it, except full_hint (remote frees)
// and the pool links (under the heap pool lock). Never unmapped, so a remote
// thread may always read a page's heap pointer.
struct Heap {
  Page* direct[kDirectSlots] = {};       // first page of the class of size 16*i (fast path)
  PageQueue queues[kClassCount] = {};
  Page* full = nullptr;                       // pages with no free block (doubly linked)
  Segment* segments = nullptr;                 // segments this heap owns
  std::atomic<std::uint32_t> full_hint{0};  // a remote free hit a full page
  std::uint64_t next_purge_ms = 0;
  Heap* pool_next = nullptr;                   // all heaps ever made, for stats and fork
  Heap* free_next = nullptr;                   // heaps waiting for a thread
  bool in_use = false;
  bool is_empty_sentinel = false;
  HeapCounters counters{};
};

// ---- options (options.cpp) ---------------------------------------------------
struct Options {
  int stats;                  // POOLKIT_STATS
  int check;                  // POOLKIT_CHECK: 1 guards + double free, 2 also a heap walk per call
  int verbose;                // POOLKIT_VERBOSE
  std::uint64_t decay_ms;     // POOLKIT_DECAY_MS
  std::size_t mmap_threshold; // POOLKIT_MMAP_THRESHOLD
  // checked mode (checked.hpp)
  int check_pages;            // POOLKIT_CHECK=3: every block on its own guarded pages
  int check_action;           // POOLKIT_CHECK_ACTION: CheckAction
  int leaks;                  // POOLKIT_LEAKS: blocks still live at exit, by allocation stack
  int stack_depth;            // POOLKIT_STACK_DEPTH: frames kept per call stack (0: none)
  std::size_t quarantine;     // POOLKIT_QUARANTINE: bytes of freed blocks held back
  std::size_t sample;         // POOLKIT_SAMPLE: one block in N on its own guarded pages (0: off)
};
enum CheckAction { kActionAbort = 0, kActionLog = 1, kActionExit = 2 };
extern constinit Options g_options;
void options_init() noexcept;
void options_reread_if_early() noexcept;

// ---- os.cpp ------------------------------------------------------------------
extern constinit PageSource g_os;
// Plain bytes, read and written with __atomic builtins: an array of std::atomic
// could be zeroed by a dynamic initialiser after the first mallocs registered segments.
extern std::uint8_t g_segment_map[kAddressLimit >> kSegmentShift];
// kGuardedFar: a later 4 MiB of a checked-mode guarded mapping whose header is in an
// earlier chunk (checked_guarded.cpp); the fast paths treat it as not ours.
enum SegmentMapValue : std::uint8_t { kNotOurs = 0, kSegmentHere = 1, kSegmentBefore = 2, kGuardedFar = 3 };
void segment_map_set(std::uintptr_t chunk, std::uint8_t value) noexcept;
std::uint64_t now_ms() noexcept;
void* os_alloc_segment_aligned(std::size_t size, std::size_t alignment) noexcept;
void os_free(void* p, std::size_t size) noexcept;
void os_decommit(void* p, std::size_t size) noexcept;
std::size_t os_rss_bytes() noexcept;
std::size_t os_peak_rss_bytes() noexcept;
void write_stderr(const char* s) noexcept;
[[noreturn]] void fatal(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void verbose(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void warning(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

// ---- locks (os.cpp) ------------------------------------------------------------
// A spin lock that yields; never allocates, safe to reset in a forked child.
struct SpinLock {
  std::atomic<bool> locked{false};
  void lock() noexcept;
  bool try_lock() noexcept { return !locked.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked.store(false, std::memory_order_release); }
};
struct LockGuard {
  explicit LockGuard(SpinLock& l) noexcept : lock(l) { lock.lock(); }
  ~LockGuard() { lock.unlock(); }
  SpinLock& lock;
};

// ---- segments and the shared layer (segment.cpp, segment_cache.cpp) -------------
Page* segment_page_alloc(Heap* heap, std::size_t slices) noexcept;
void segment_page_free(Heap* heap, Page* page) noexcept;
void segment_abandon(Heap* heap, Segment* segment) noexcept;
bool segment_adopt_one(Heap* heap) noexcept;
void heap_purge(Heap* heap, bool force) noexcept;
void segment_purge(Segment* segment) noexcept;
void abandoned_for_each(void (*fn)(Segment*, void*), void* arg) noexcept;
Segment* segment_cache_take() noexcept;
void segment_cache_put(Segment* segment) noexcept;
bool segment_cache_trim(bool all) noexcept;
void shared_layer_lock_all() noexcept;
void shared_layer_unlock_all() noexcept;
std::size_t abandoned_segment_count() noexcept;
void segment_unmap(Segment* segment) noexcept;

// ---- pages (page.cpp) ----------------------------------------------------------
extern constinit Page g_empty_page;
void* malloc_generic(Heap* heap, std::size_t size) noexcept;
void* malloc_inner(Heap* heap, std::size_t size) noexcept;  // no checked layer; heap is a real heap
void* heap_alloc_aligned(Heap* heap, std::size_t size, std::size_t alignment) noexcept;
void page_collect(Page* page) noexcept;
void page_unfull(Heap* heap, Page* page) noexcept;
void page_became_unused(Heap* heap, Page* page) noexcept;
void queue_push_front(Heap* heap, Page* page) noexcept;
void queue_remove(Heap* heap, Page* page) noexcept;
void heap_collect_full(Heap* heap) noexcept;
std::uint8_t page_flags_for_mode() noexcept;

// ---- heaps (heap.cpp, init.cpp) ------------------------------------------------
extern constinit Heap g_empty_heap;
extern __thread Heap* t_heap __attribute__((tls_model("initial-exec")));
Heap* heap_for_thread() noexcept;  // creates the thread's heap if needed
void heap_teardown(Heap* heap) noexcept;
void heap_collect_all(Heap* heap, bool keep_first) noexcept;
void process_init() noexcept;
bool process_ready() noexcept;
Heap* heap_list() noexcept;
void heap_pool_lock() noexcept;
void heap_pool_unlock() noexcept;

// ---- huge blocks (huge.cpp) ------------------------------------------------------
void* huge_alloc(std::size_t size, std::size_t alignment) noexcept;
void huge_free(Segment* segment, void* p) noexcept;
bool huge_resize_in_place(Segment* segment, void* p, std::size_t size) noexcept;
bool huge_cache_trim(bool all) noexcept;
void huge_cache_lock() noexcept;
void huge_cache_unlock() noexcept;

// ---- free (free.cpp) -----------------------------------------------------------
void free_generic(Segment* segment, Page* page, void* p) noexcept;
void free_foreign(void* p) noexcept;
bool free_foreign_if_known(void* p) noexcept;  // a glibc block from before us: freed, true
void free_block(Segment* segment, Page* page, Block* block) noexcept;  // no checked layer
std::size_t usable_size(const void* p) noexcept;
std::size_t foreign_usable_size(const void* p) noexcept;

// ---- checking (check.cpp) ------------------------------------------------------
int heap_walk(Heap* heap, bool report) noexcept;

// ---- stats (stats.cpp) -----------------------------------------------------------
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
extern constinit GlobalCounters g_counters;
void note_page_bytes(std::ptrdiff_t delta) noexcept;
void note_huge(std::ptrdiff_t bytes, int count) noexcept;
PK_INLINE void count(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void stats_print_fd(int fd) noexcept;
void stats_at_exit() noexcept;

// ---- small helpers ---------------------------------------------------------------
PK_INLINE Segment* segment_of(const void* p) noexcept {
  return reinterpret_cast<Segment*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSegmentSize - 1));
}
PK_INLINE Page* page_of(Segment* segment, const void* p) noexcept {
  std::size_t index = (reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(segment)) >> kSliceShift;
  Page* page = &segment->pages[index];
  return page - page->slice_offset;
}
/// The segment holding p if p is ours, nullptr otherwise (O(1), one byte load).
PK_INLINE Segment* segment_lookup(const void* p) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  if (PK_UNLIKELY(x >= kAddressLimit)) return nullptr;
  std::uint8_t v = __atomic_load_n(&g_segment_map[x >> kSegmentShift], __ATOMIC_RELAXED);
  if (PK_LIKELY(v == kSegmentHere)) return segment_of(p);
  if (v == kSegmentBefore) return reinterpret_cast<Segment*>((x & ~(kSegmentSize - 1)) - kSegmentSize);
  return nullptr;
}
/// The block holding p (p may be an interior pointer on pages with aligned blocks).
PK_INLINE Block* block_of(Page* page, const void* p) noexcept {
  auto* b = static_cast<std::uint8_t*>(const_cast<void*>(p));
  if (PK_LIKELY(!(page->flags & kPageHasAligned))) return reinterpret_cast<Block*>(b);
  std::size_t offset = static_cast<std::size_t>(b - page->start);
  return reinterpret_cast<Block*>(page->start + offset - offset % page->block_size);
}
PK_INLINE std::size_t block_index(const Page* page, const void* block) noexcept {
  return static_cast<std::size_t>(static_cast<const std::uint8_t*>(block) - page->start) / page->block_size;
}

}  // namespace poolkit::malloc_impl
