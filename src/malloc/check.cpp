// check.cpp: the heap walk. POOLKIT_CHECK=2 (or a build with POOLKIT_MALLOC_DEBUG)
// walks the calling thread's heap on every call and checks every invariant of every
// page and segment. The checks on the blocks themselves (canaries, quarantine, guard
// pages, call stacks) are checked mode's, in checked_*.cpp.
#include <cstring>

#include "integrity.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

// ---- the heap walk --------------------------------------------------------------

namespace {

struct Walk {
  bool report;
  int errors = 0;
  void fail(const char* what, const void* where, const char* part = "") noexcept {
    if (errors++ < 8 && report) warning("heap walk: %s%s (%p)\n", part, what, where);
  }
};

// Counts a free list into `seen`; false on a block outside the page, misplaced, or seen twice.
std::size_t walk_list(Walk& walk, Page* page, Block* list, std::uint64_t* seen) noexcept {
  std::size_t n = 0;
  for (Block* b = list; b != nullptr; b = b->next) {
    auto* p = reinterpret_cast<std::uint8_t*>(b);
    if (p < page->start || p >= page->start + std::size_t{page->capacity} * page->block_size ||
        static_cast<std::size_t>(p - page->start) % page->block_size != 0) {
      walk.fail("free list points outside its page", b);
      return n;
    }
    std::size_t i = block_index(page, b);
    if (seen[i / 64] & (std::uint64_t{1} << (i % 64))) {
      walk.fail("block on a free list twice", b);
      return n;
    }
    seen[i / 64] |= std::uint64_t{1} << (i % 64);
    if (++n > page->capacity) break;
  }
  return n;
}

void walk_page(Walk& walk, Heap* heap, Page* page) noexcept {
  if (page->heap.load(std::memory_order_relaxed) != heap) walk.fail("page in a heap's list owned by another heap", page);
  if (page->capacity > page->reserved || page->reserved > kMaxBlocksPerPage) walk.fail("page capacity", page);
  if (page->block_size != class_size(page->size_class)) walk.fail("page block size", page);
  std::uint64_t seen[kMaxBlocksPerPage / 64] = {};
  std::size_t in_free = walk_list(walk, page, page->free, seen);
  std::size_t in_local = walk_list(walk, page, page->local_free, seen);
  std::size_t in_thread = walk_list(walk, page, page->thread_free.load(std::memory_order_acquire), seen);
  // used counts the blocks waiting in thread_free too (they are collected later),
  // so whatever other threads push meanwhile, used + free + local_free == capacity.
  if (page->used + in_free + in_local != page->capacity || in_thread > page->used) {
    walk.fail("used + free blocks != capacity", page);
    if (walk.report)
      warning("  page %p: blocks of %u B, used %u, capacity %u, reserved %u, free %zu, local %zu, thread %zu\n",
              static_cast<void*>(page->start), page->block_size, page->used, page->capacity, page->reserved, in_free,
              in_local, in_thread);
  }
}

void walk_segment(Walk& walk, Heap* heap, Segment* segment) noexcept {
  if (segment->kind != SegmentKind::kSmall) walk.fail("segment kind", segment);
  if (segment->owner.load(std::memory_order_relaxed) != heap) walk.fail("segment owner", segment);
  std::uint64_t used = slices_in_use(segment);
  if ((used & 1) == 0) walk.fail("segment header slice not marked used", segment);
  if (used & segment->dirty_slices) walk.fail("slice both used and dirty", segment);
  // The purge comes no later than the oldest dirty slice's decay (segment_purge_due).
  for (std::uint64_t dirty = segment->dirty_slices; dirty != 0; dirty &= dirty - 1) {
    std::size_t i = static_cast<std::size_t>(__builtin_ctzll(dirty));
    if (segment->purge_at_ms == 0 || segment->purge_at_ms > segment->dirty_at_ms[i] + g_options.decay_ms)
      walk.fail("a dirty slice the purge would not reach in time", segment);
  }
  std::uint32_t pages = 0;
  std::uint64_t covered = 1;
  for (std::size_t i = 1; i < kSlicesPerSegment; ++i) {
    if (!((used >> i) & 1)) continue;
    Page* page = &segment->pages[i];
    if (page->slice_offset != 0) continue;
    ++pages;
    if (page->slice_count == 0 || i + page->slice_count > kSlicesPerSegment) {
      walk.fail("page slice count", page);
      continue;
    }
    for (std::size_t k = 0; k < page->slice_count; ++k) {
      if (segment->pages[i + k].slice_offset != k) walk.fail("slice does not point to its page", page);
      covered |= std::uint64_t{1} << (i + k);
    }
  }
  if (covered != used) walk.fail("used slices do not match pages", segment);
  if (pages != segment->pages_in_use) walk.fail("pages_in_use does not match", segment);
}

// A block of a remote cache or a transfer batch: a free block of class cls in a small
// segment's page. nullptr, or what is wrong. Reads only the fields other pages set before
// their blocks were handed out (start, block_size, size_class, reserved).
const char* cached_block_fault(std::size_t cls, Block* b) noexcept {
  Segment* segment = segment_lookup(b);
  if (segment == nullptr || segment != segment_of(b) || segment->kind != SegmentKind::kSmall)
    return "a block outside the small segments";
  Page* page = page_of(segment, b);
  std::size_t offset = static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(b) - page->start);
  if (page->size_class != cls || offset % page->block_size != 0 || offset / page->block_size >= page->reserved)
    return "a block of another class or off a block boundary";
  if (kHarden && b->key != g_free_key) return "a block without the free key";
  return nullptr;
}

// The remote cache (types.hpp, Heap): every block a free block of its class in a page
// in use, the counts and bytes as recorded and within bounds, the fast path sent to
// malloc_generic while a list holds blocks.
void walk_remote_cache(Walk& walk, Heap* heap) noexcept {
  std::size_t bytes = 0;
  for (std::size_t cls = 0; cls < kRemoteClasses; ++cls) {
    const RemoteList& list = heap->remote[cls];
    std::uint32_t n = 0;
    for (Block* b = list.first; b != nullptr; b = b->next) {
      if (const char* fault = cached_block_fault(cls, b)) {
        walk.fail(fault, b, "remote cache: ");
        return;
      }
      if (++n > remote_cache_limit(cls)) {
        walk.fail("remote cache: a list longer than its bound", b);
        return;
      }
    }
    if (n != list.count) walk.fail("remote cache: a list's count is wrong", heap);
    bytes += std::size_t{n} * class_size(cls);
    // (The class's last direct slot: all of its slots point at the same page.)
    if (n != 0 && class_size(cls) <= kDirectMax && heap->direct[class_size(cls) / kMinBlock] != &g_empty_page)
      walk.fail("remote cache: malloc would skip a list", heap);
  }
  if (bytes != heap->remote_bytes || bytes > g_options.remote_cache) walk.fail("remote cache: its bytes are wrong", heap);
}

// The transfer cache (transfer_cache.cpp): every batch a list of `count` free blocks
// of its class, no longer than a remote list, within the class's bounds.
void walk_transfer_cache(Walk& walk) noexcept {
  transfer_visit([](void* context, std::size_t cls, Block* first, std::uint32_t count) noexcept {
    Walk& w = *static_cast<Walk*>(context);
    std::uint32_t n = 0;
    for (Block* b = first; b != nullptr; b = b->next) {
      if (const char* fault = cached_block_fault(cls, b)) {
        w.fail(fault, b, "transfer cache: ");
        return;
      }
      if (++n > count) break;
    }
    if (n != count || count == 0 || count > remote_cache_limit(cls)) w.fail("transfer cache: a batch's count is wrong", first);
  }, &walk);
}

}  // namespace

int heap_walk(Heap* heap, bool report) noexcept {
  if (heap == nullptr || heap->is_empty_sentinel) return 0;
  Walk walk{report};
  std::size_t pages_listed = 0;
  for (std::size_t cls = 0; cls < kClassCount; ++cls) {
    for (Page* page = heap->queues[cls].first; page != nullptr; page = page->next) {
      if (page->size_class != cls) walk.fail("page in the queue of another class", page);
      if (page->in_full.load(std::memory_order_relaxed)) walk.fail("page in a queue marked full", page);
      walk_page(walk, heap, page);
      ++pages_listed;
    }
  }
  for (Page* page = heap->full; page != nullptr; page = page->next) {
    if (!page->in_full.load(std::memory_order_relaxed)) walk.fail("page in the full list not marked full", page);
    walk_page(walk, heap, page);
    ++pages_listed;
  }
  std::size_t pages_owned = 0;
  for (Segment* segment = heap->segments; segment != nullptr; segment = segment->next) {
    walk_segment(walk, heap, segment);
    pages_owned += segment->pages_in_use;
  }
  if (pages_listed != pages_owned) walk.fail("pages in lists != pages in the heap's segments", heap);
  walk_remote_cache(walk, heap);
  walk_transfer_cache(walk);
  if (walk.errors && report && g_options.check >= 2) fatal("poolkit: heap walk found %d errors\n", walk.errors);
  return walk.errors;
}

}  // namespace poolkit::malloc_impl
