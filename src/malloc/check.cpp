// check.cpp: POOLKIT_CHECK and the heap walk.
// With POOLKIT_CHECK=1 every block carries, after the bytes asked for, at least 8
// guard bytes (0xFD) and, in its last 8 bytes, the size asked for encoded with the
// block's address; a bitmap per page (in the segment's first slice) holds one bit
// per block: set while allocated. free checks the bit (double free: "poolkit:
// double free of 0x... (block of 48 B)") and the guard (overflow), and aborts.
// POOLKIT_CHECK=2 (or a build with POOLKIT_MALLOC_DEBUG) also walks the calling
// thread's heap on every call and checks every invariant of every page and segment.
#include <cstring>

#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

constexpr std::uint8_t kGuardByte = 0xFD;
constexpr std::uint64_t kSizeKey = 0x9e3779b97f4a7c15ull;

std::atomic<std::uint64_t>* check_bits(Page* page) noexcept {
  Segment* segment = segment_of(page);
  std::size_t index = static_cast<std::size_t>(page - segment->pages);
  return reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<std::uint8_t*>(segment) + kCheckBitsOffset +
                                                       index * kCheckBitsPerSlice);
}

std::uint64_t* trailer(Page* page, void* block) noexcept {
  return reinterpret_cast<std::uint64_t*>(static_cast<std::uint8_t*>(block) + page->block_size - 8);
}

std::uint64_t encode(std::size_t size, const void* user) noexcept {
  return size ^ kSizeKey ^ reinterpret_cast<std::uintptr_t>(user);
}

// The size asked for, or SIZE_MAX if the trailer was overwritten.
std::size_t decoded_size(Page* page, void* block, const void* user) noexcept {
  std::size_t size = *trailer(page, block) ^ kSizeKey ^ reinterpret_cast<std::uintptr_t>(user);
  std::size_t room = page->block_size - kCheckOverhead -
                     static_cast<std::size_t>(static_cast<const std::uint8_t*>(user) - static_cast<std::uint8_t*>(block));
  return size <= room ? size : SIZE_MAX;
}

bool guard_intact(Page* page, void* block, const void* user, std::size_t size) noexcept {
  const std::uint8_t* p = static_cast<const std::uint8_t*>(user) + size;
  const std::uint8_t* end = static_cast<std::uint8_t*>(block) + page->block_size - 8;
  for (; p < end; ++p)
    if (*p != kGuardByte) return false;
  return true;
}

void write_guard(Page* page, void* block, void* user, std::size_t size) noexcept {
  std::uint8_t* p = static_cast<std::uint8_t*>(user) + size;
  std::uint8_t* end = static_cast<std::uint8_t*>(block) + page->block_size - 8;
  std::memset(p, kGuardByte, static_cast<std::size_t>(end - p));
  *trailer(page, block) = encode(size, user);
}

}  // namespace

void* check_on_alloc(Page* page, void* block, void* user, std::size_t size) noexcept {
  std::size_t index = block_index(page, block);
  std::uint64_t bit = std::uint64_t{1} << (index % 64);
  if (check_bits(page)[index / 64].fetch_or(bit, std::memory_order_relaxed) & bit)
    fatal("poolkit: heap corruption: block %p handed out twice (block of %u B)\n", block, page->block_size);
  write_guard(page, block, user, size);
  return user;
}

void check_on_free(Page* page, void* block, void* user) noexcept {
  std::size_t offset = static_cast<std::size_t>(static_cast<std::uint8_t*>(block) - page->start);
  if (offset % page->block_size != 0 || block_index(page, block) >= page->capacity)
    fatal("free(): invalid pointer\npoolkit: %p is not a block (blocks of %u B)\n", user, page->block_size);
  std::size_t index = block_index(page, block);
  std::uint64_t bit = std::uint64_t{1} << (index % 64);
  if ((check_bits(page)[index / 64].fetch_and(~bit, std::memory_order_relaxed) & bit) == 0)
    fatal("poolkit: double free of %p (block of %u B)\n", user, page->block_size);
  std::size_t size = decoded_size(page, block, user);
  if (size == SIZE_MAX)
    fatal("poolkit: heap corruption: the end of block %p was overwritten (block of %u B)\n", user, page->block_size);
  if (!guard_intact(page, block, user, size))
    fatal("poolkit: buffer overflow: bytes written past the %zu B of block %p (block of %u B)\n", size, user,
          page->block_size);
}

std::size_t check_usable(Page* page, const void* user) noexcept {
  Block* block = block_of(page, user);
  std::size_t size = decoded_size(page, block, user);
  return size == SIZE_MAX ? 0 : size;
}

void check_rewrite(Page* page, void* user, std::size_t size) noexcept {
  write_guard(page, block_of(page, user), user, size);
}

// ---- the heap walk --------------------------------------------------------------

namespace {

struct Walk {
  bool report;
  int errors = 0;
  void fail(const char* what, const void* where) noexcept {
    if (errors++ < 8 && report) warning("heap walk: %s (%p)\n", what, where);
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
  if (page->flags & kPageChecked) {
    std::atomic<std::uint64_t>* bits = check_bits(page);
    for (std::size_t i = 0; i < page->capacity; ++i) {
      bool listed = seen[i / 64] & (std::uint64_t{1} << (i % 64));
      bool allocated = bits[i / 64].load(std::memory_order_relaxed) & (std::uint64_t{1} << (i % 64));
      if (listed && allocated)
        walk.fail("a free block marked allocated", page->start + i * page->block_size);
      if (!listed && allocated && !(page->flags & kPageHasAligned)) {
        void* block = page->start + i * page->block_size;
        std::size_t size = decoded_size(page, block, block);
        bool broken = size == SIZE_MAX || !guard_intact(page, block, block, size);
        // A remote free may be writing its link into this block right now: then the bit is gone.
        bool still = bits[i / 64].load(std::memory_order_acquire) & (std::uint64_t{1} << (i % 64));
        if (broken && still) walk.fail("guard bytes overwritten", block);
      }
    }
  }
}

void walk_segment(Walk& walk, Heap* heap, Segment* segment) noexcept {
  if (segment->kind != SegmentKind::kSmall) walk.fail("segment kind", segment);
  if (segment->owner.load(std::memory_order_relaxed) != heap) walk.fail("segment owner", segment);
  if ((segment->used_slices & 1) == 0) walk.fail("segment header slice not marked used", segment);
  if (segment->used_slices & segment->dirty_slices) walk.fail("slice both used and dirty", segment);
  std::uint32_t pages = 0;
  std::uint64_t covered = 1;
  for (std::size_t i = 1; i < kSlicesPerSegment; ++i) {
    if (!((segment->used_slices >> i) & 1)) continue;
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
  if (covered != segment->used_slices) walk.fail("used slices do not match pages", segment);
  if (pages != segment->pages_in_use) walk.fail("pages_in_use does not match", segment);
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
  if (walk.errors && report && g_options.check >= 2) fatal("poolkit: heap walk found %d errors\n", walk.errors);
  return walk.errors;
}

}  // namespace poolkit::malloc_impl
