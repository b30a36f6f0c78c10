// segment.cpp: 4 MiB segments cut into 64 KiB slices, and pages as runs of slices.
// A segment belongs to one heap. When its thread exits, segments that still hold
// live blocks are abandoned (a global list under a lock: a rare, slow event) and
// the next heap that needs a page adopts them, collecting the frees that other
// threads pushed meanwhile. Free slices stay committed ("dirty") until a decay
// has passed (POOLKIT_DECAY_MS), then go back to the OS with madvise.
//
// One segment is one mmap: the process never holds more than (memory / 4 MiB)
// mappings for small blocks, far below vm.max_map_count (65530 by default).
#include <cstring>

#include "common/assert.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

constinit SpinLock g_abandoned_lock;
constinit Segment* g_abandoned = nullptr;  // guarded by g_abandoned_lock
constinit std::atomic<std::size_t> g_abandoned_count{0};

std::uint64_t run_mask(std::size_t first, std::size_t count) noexcept {
  std::uint64_t ones = count >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
  return ones << first;
}

// First run of `count` free slices (bit clear) in `used`; 0 if none (slice 0 is never free).
std::size_t find_free_run(std::uint64_t used, std::size_t count) noexcept {
  if (count == 1) {
    std::uint64_t free = ~used;
    return free ? static_cast<std::size_t>(__builtin_ctzll(free)) : 0;
  }
  for (std::size_t i = 1; i + count <= kSlicesPerSegment;) {
    std::uint64_t window = used & run_mask(i, count);
    if (window == 0) return i;
    i = 64 - static_cast<std::size_t>(__builtin_clzll(window));  // just past the highest used slice in the window
  }
  return 0;
}

void heap_link_segment(Heap* heap, Segment* segment) noexcept {
  segment->prev = nullptr;
  segment->next = heap->segments;
  if (heap->segments) heap->segments->prev = segment;
  heap->segments = segment;
  segment->owner.store(heap, std::memory_order_relaxed);
}

}  // namespace

void heap_unlink_segment(Heap* heap, Segment* segment) noexcept {
  PK_ASSERT(segment->owner.load(std::memory_order_relaxed) == heap);
  PK_ASSERT(segment->prev ? segment->prev->next == segment : heap->segments == segment);
  if (segment->prev) segment->prev->next = segment->next;
  else heap->segments = segment->next;
  if (segment->next) segment->next->prev = segment->prev;
  segment->next = segment->prev = nullptr;
  segment->owner.store(nullptr, std::memory_order_relaxed);
}

namespace {

Segment* segment_new(Heap* heap) noexcept {
  Segment* segment = segment_cache_take();
  if (segment == nullptr) {
    void* p = os_alloc_segment_aligned(kSegmentSize, kSegmentSize);
    if (p == nullptr) return nullptr;
    segment = static_cast<Segment*>(p);
    segment->dirty_slices = 0;
    segment->purge_at_ms = 0;
    segment_map_set(reinterpret_cast<std::uintptr_t>(p), kSegmentHere);
    g_counters.segments.fetch_add(1, std::memory_order_relaxed);
    verbose("new segment at %p\n", p);
  }
  segment->kind = SegmentKind::kSmall;
  segment->pages_in_use = 0;
  set_slices_in_use(segment, 1);  // slice 0: this header and the check bitmaps
  segment->cached_at_ms = 0;
  segment->huge_live = 0;
  heap_link_segment(heap, segment);
  return segment;
}

Page* take_run(Segment* segment, std::size_t first, std::size_t count) noexcept {
  PK_ASSERT(first >= 1 && count >= 1 && first + count <= kSlicesPerSegment);
  std::uint64_t mask = run_mask(first, count);
  PK_ASSERT((slices_in_use(segment) & mask) == 0);  // the run was free
  set_slices_in_use(segment, slices_in_use(segment) | mask);
  segment->dirty_slices &= ~mask;
  for (std::size_t k = 0; k < count; ++k) segment->pages[first + k].slice_offset = static_cast<std::uint8_t>(k);
  Page* page = &segment->pages[first];
  page->slice_count = static_cast<std::uint8_t>(count);
  page->start = reinterpret_cast<std::uint8_t*>(segment) + first * kSliceSize;
  ++segment->pages_in_use;
  note_page_bytes(static_cast<std::ptrdiff_t>(count * kSliceSize));
  return page;
}

void decommit_runs(Segment* segment, std::uint64_t slices) noexcept {
  while (slices != 0) {
    std::size_t first = static_cast<std::size_t>(__builtin_ctzll(slices));
    std::size_t count = 0;
    while (first + count < 64 && (slices >> (first + count)) & 1) ++count;
    os_decommit(reinterpret_cast<std::uint8_t*>(segment) + first * kSliceSize, count * kSliceSize);
    slices &= ~run_mask(first, count);
  }
}

// A segment with no page in use leaves the heap for the per-CPU cache, except a
// heap's last one (so a thread that frees everything and allocates again keeps it).
void segment_maybe_release(Heap* heap, Segment* segment, bool keep_last) noexcept {
  if (segment->pages_in_use != 0) return;
  if (keep_last && heap->segments == segment && segment->next == nullptr) return;
  heap_unlink_segment(heap, segment);
  segment_cache_put(segment);
}

// Returns the page's slices to its segment (dirty until the decay, or decommitted
// now with POOLKIT_DECAY_MS=0); the segment itself stays with the heap.
void release_slices(Page* page) noexcept {
  Segment* segment = segment_of(page);
  std::size_t first = static_cast<std::size_t>(page - segment->pages);
  std::uint64_t mask = run_mask(first, page->slice_count);
  PK_ASSERT(page->used == 0 && page->slice_offset == 0);
  PK_ASSERT((slices_in_use(segment) & mask) == mask && segment->pages_in_use > 0);
  PK_ASSERT((segment->dirty_slices & mask) == 0);  // dirty and used slices are disjoint
  page->heap.store(nullptr, std::memory_order_relaxed);
  page->free = page->local_free = nullptr;
  set_slices_in_use(segment, slices_in_use(segment) & ~mask);
  --segment->pages_in_use;
  note_page_bytes(-static_cast<std::ptrdiff_t>(page->slice_count * kSliceSize));
  if (g_options.decay_ms == 0) {
    decommit_runs(segment, mask);
  } else {
    std::uint64_t now = now_ms();
    for (std::size_t k = 0; k < page->slice_count; ++k) segment->dirty_at_ms[first + k] = now;
    segment->dirty_slices |= mask;
    if (segment->purge_at_ms == 0) segment->purge_at_ms = now + g_options.decay_ms;
  }
}

// Decommits the dirty slices whose decay has passed by `now`, and only those: a slice
// freed a moment ago stays committed for its own decay, whatever older slices are due.
// (All of them at the first one's time made a thread that churns pages refault the
// slices it had just freed.) With kEveryDirtySlice, all of them (segment_purge).
constexpr std::uint64_t kEveryDirtySlice = UINT64_MAX;
void segment_purge_due(Segment* segment, std::uint64_t now) noexcept {
  std::uint64_t due = 0;
  std::uint64_t next = 0;
  for (std::uint64_t dirty = segment->dirty_slices; dirty != 0; dirty &= dirty - 1) {
    std::size_t i = static_cast<std::size_t>(__builtin_ctzll(dirty));
    std::uint64_t at = segment->dirty_at_ms[i] + g_options.decay_ms;
    if (at <= now) due |= std::uint64_t{1} << i;
    else if (next == 0 || at < next) next = at;
  }
  decommit_runs(segment, due);
  segment->dirty_slices &= ~due;
  segment->purge_at_ms = next;
}

// Calls fn(page) once per page in use (on its first slice), in address order. The
// set is read once up front, so fn may release the page's slices.
template <class Fn>
void for_each_used_page(Segment* segment, Fn fn) noexcept {
  std::uint64_t used = slices_in_use(segment) & ~std::uint64_t{1};  // slice 0: the header
  while (used != 0) {
    std::size_t i = static_cast<std::size_t>(__builtin_ctzll(used));
    Page* page = &segment->pages[i];
    used &= ~run_mask(i, page->slice_count);
    fn(page);
  }
}

}  // namespace

void segment_purge(Segment* segment) noexcept { segment_purge_due(segment, kEveryDirtySlice); }

// A free run of committed (dirty) slices first, in any segment of the heap: reusing
// them costs no page fault, and the slices not taken are purged after the decay.
Page* segment_page_alloc(Heap* heap, std::size_t slices) noexcept {
  for (Segment* segment = heap->segments; segment != nullptr; segment = segment->next) {
    if (segment->dirty_slices == 0) continue;
    // Treating clean free slices as used leaves the runs that are wholly dirty.
    std::uint64_t not_dirty = slices_in_use(segment) | ~segment->dirty_slices;
    if (std::size_t first = find_free_run(not_dirty, slices)) return take_run(segment, first, slices);
  }
  for (Segment* segment = heap->segments; segment != nullptr; segment = segment->next) {
    if (std::size_t first = find_free_run(slices_in_use(segment), slices)) return take_run(segment, first, slices);
  }
  Segment* segment = segment_new(heap);
  if (segment == nullptr) return nullptr;
  return take_run(segment, 1, slices);
}

void segment_page_free(Heap* heap, Page* page) noexcept {
  Segment* segment = segment_of(page);
  release_slices(page);
  segment_maybe_release(heap, segment, true);
}

void heap_purge(Heap* heap, bool force) noexcept {
  std::uint64_t now = now_ms();
  if (!force && now < heap->next_purge_ms) return;
  heap->next_purge_ms = now + (g_options.decay_ms / 2 ? g_options.decay_ms / 2 : 1);
  for (Segment* segment = heap->segments; segment != nullptr; segment = segment->next) {
    if (segment->dirty_slices == 0) continue;
    if (force) segment_purge(segment);
    else if (segment->purge_at_ms <= now) segment_purge_due(segment, now);
  }
  segment_cache_trim(false);
}

void segment_abandon(Heap* heap, Segment* segment) noexcept {
  PK_ASSERT(segment->pages_in_use != 0 && segment->kind == SegmentKind::kSmall);
  heap_unlink_segment(heap, segment);
  for_each_used_page(segment, [](Page* page) {
    page->next = page->prev = nullptr;
    page->in_full.store(0, std::memory_order_relaxed);
    page->heap.store(nullptr, std::memory_order_release);
  });
  LockGuard guard(g_abandoned_lock);
  segment->next = g_abandoned;
  g_abandoned = segment;
  g_abandoned_count.fetch_add(1, std::memory_order_relaxed);
  g_counters.abandonments.fetch_add(1, std::memory_order_relaxed);
}

bool segment_adopt_one(Heap* heap) noexcept {
  if (g_abandoned_count.load(std::memory_order_relaxed) == 0) return false;
  Segment* segment;
  {
    LockGuard guard(g_abandoned_lock);
    segment = g_abandoned;
    if (segment == nullptr) return false;
    g_abandoned = segment->next;
    g_abandoned_count.fetch_sub(1, std::memory_order_relaxed);
  }
  g_counters.adoptions.fetch_add(1, std::memory_order_relaxed);
  heap_link_segment(heap, segment);
  for_each_used_page(segment, [heap](Page* page) {
    page->heap.store(heap, std::memory_order_release);
    page_collect(page);
    if (page->used == 0) release_slices(page);
    else queue_push_front(heap, page);
  });
  PK_ASSERT_EXPENSIVE(heap_walk(heap, false) == 0);
  segment_maybe_release(heap, segment, true);
  return true;
}

std::size_t abandoned_segment_count() noexcept { return g_abandoned_count.load(std::memory_order_relaxed); }

void abandoned_lock() noexcept { g_abandoned_lock.lock(); }
void abandoned_unlock(ForkSide side) noexcept { release_after_fork(g_abandoned_lock, side); }

}  // namespace poolkit::malloc_impl
