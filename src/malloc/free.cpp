// free.cpp: the slow paths of free, and pointers that are not ours.
// A block goes back to its page on the owner's thread: onto `local_free` (no
// atomics). Any other thread keeps it in its remote cache for its own next malloc
// of the class (remote_cache.cpp), or, when the block is not cached, pushes it onto
// the page's atomic `thread_free` with one CAS (no lock, the owner collects later).
// A remote free onto a page its owner parked in the full list also raises the
// owner's full_hint so it looks again.
//
// Foreign pointers: ours(p) is one byte of the segment map. A pointer that is not
// ours is accepted only if it looks like a chunk that glibc's malloc handed out
// before we were loaded (in-use chunk header, inside the program break, or an
// mmapped chunk): the mmapped ones are unmapped, the break ones are left alone
// (glibc's arena is not ours to edit). Anything else gets glibc's message
// "free(): invalid pointer" and an abort, never a silent corruption.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checked.hpp"
#include "common/assert.hpp"
#include "integrity.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

// Where glibc's main arena lives: [start_brk, current break). From /proc/self/stat
// (field 47), read once, only when a foreign pointer shows up.
std::uintptr_t g_start_brk = 0;
bool g_start_brk_read = false;

std::uintptr_t start_brk() noexcept {
  if (g_start_brk_read) return g_start_brk;
  g_start_brk_read = true;
  std::uintptr_t value = os_proc_self_number("stat", 47);  // start_brk
  g_start_brk = value;
  return value;
}

enum class Foreign { kUnknown, kGlibcArena, kGlibcMmapped };

// Looks at glibc's chunk header in front of p: size | flags (bit 1: mmapped).
Foreign classify_foreign(const void* p) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  if (x % 16 != 0 || x < 4096) return Foreign::kUnknown;
  const std::size_t* header = reinterpret_cast<const std::size_t*>(x - 2 * sizeof(std::size_t));
  std::size_t size_field = header[1];
  std::size_t size = size_field & ~std::size_t{7};
  std::size_t page = PageSource::page_size();
  if (size_field & 2) {
    std::size_t prev = header[0];
    if ((x - 16 - prev) % page == 0 && (size + prev) % page == 0 && size >= page) return Foreign::kGlibcMmapped;
    return Foreign::kUnknown;
  }
  std::uintptr_t low = start_brk();
  auto high = reinterpret_cast<std::uintptr_t>(sbrk(0));
  if (low == 0 || x < low || x >= high || size < 32 || size % 16 != 0 || x - 16 + size > high) return Foreign::kUnknown;
  // The next chunk records that this one is in use.
  const std::size_t* next = reinterpret_cast<const std::size_t*>(x - 16 + size);
  if ((next[1] & 1) == 0) return Foreign::kUnknown;
  return Foreign::kGlibcArena;
}

}  // namespace

void free_generic(Segment* segment, Page* page, void* p) noexcept {
  if (PK_UNLIKELY(page_flags(page) & kPageChecked)) {
    checked_free(p, AllocKind::kMalloc, kUnknownSize);
    return;
  }
  if (PK_UNLIKELY(page_flags(page) & kPageHuge)) {
    if (g_options.stats && !t_heap->is_empty_sentinel) count(t_heap->counters.frees_by_class[kClassCount]);
    huge_free(segment, p);
    return;
  }
  free_block(segment, page, block_of(page, p));
}

void free_block(Segment* segment, Page* page, Block* block) noexcept {
  if (PK_UNLIKELY(holds_free_key(block))) free_check_double(segment, page, block, block);
  Heap* heap = t_heap;
  if ((page_flags(page) & kPageCounted) && !heap->is_empty_sentinel) count(heap->counters.frees_by_class[page->size_class]);
  if (page->heap.load(std::memory_order_relaxed) == heap) {
    block->next = page->local_free;
    set_free_key(block);
    page->local_free = block;
    if (page->in_full.load(std::memory_order_relaxed)) page_unfull(heap, page);
    PK_ASSERT(page->used > 0);  // the block was out
    if (--page->used == 0) page_became_unused(heap, page);
  } else if (!remote_cache_put(heap, page, block)) {
    remote_free(page, block);
  }
  if (PK_UNLIKELY(g_options.check >= 2) && !heap->is_empty_sentinel) heap_walk(heap, true);
}

void free_foreign(void* p) noexcept {
  if (PK_UNLIKELY(g_options.check)) {
    checked_free(p, AllocKind::kMalloc, kUnknownSize);  // reports a bad pointer with call stacks
    return;
  }
  if (PK_UNLIKELY(g_options.sample) && checked_free_unmapped(p)) return;
  if (!free_foreign_if_known(p)) fatal("free(): invalid pointer\n");
}

bool free_foreign_if_known(void* p) noexcept {
  switch (classify_foreign(p)) {
    case Foreign::kGlibcMmapped: {
      auto x = reinterpret_cast<std::uintptr_t>(p);
      const std::size_t* header = reinterpret_cast<const std::size_t*>(x - 16);
      std::size_t prev = header[0], size = header[1] & ~std::size_t{7};
      g_counters.foreign_frees.fetch_add(1, std::memory_order_relaxed);
      verbose("free(%p): a block glibc mapped before us, unmapped\n", p);
      munmap(reinterpret_cast<void*>(x - 16 - prev), size + prev);
      return true;
    }
    case Foreign::kGlibcArena:
      g_counters.foreign_frees.fetch_add(1, std::memory_order_relaxed);
      verbose("free(%p): a block of glibc's arena from before us, left to glibc\n", p);
      return true;
    case Foreign::kUnknown:
      break;
  }
  return false;
}

std::size_t foreign_usable_size(const void* p) noexcept {
  Foreign kind = classify_foreign(p);
  if (kind == Foreign::kUnknown) return 0;
  const std::size_t* header = reinterpret_cast<const std::size_t*>(reinterpret_cast<std::uintptr_t>(p) - 16);
  std::size_t size = header[1] & ~std::size_t{7};
  return kind == Foreign::kGlibcMmapped ? size - 16 : size - 8;
}

std::size_t usable_size(const void* p) noexcept {
  if (p == nullptr) return 0;
  if (PK_UNLIKELY(g_options.check)) return checked_usable(p);
  Segment* segment = segment_lookup(p);
  if (segment == nullptr) {
    if (PK_UNLIKELY(g_options.sample) && checked_owns(p)) return checked_usable(p);
    return foreign_usable_size(p);
  }
  if (segment->kind == SegmentKind::kHuge && (segment->pages[0].flags & kPageChecked)) return checked_usable(p);
  if (segment->kind == SegmentKind::kHuge) {
    return segment->huge_capacity - (reinterpret_cast<std::uintptr_t>(p) - segment->huge_user);
  }
  Page* page = page_of(segment, p);
  Block* block = block_of(page, p);
  return reinterpret_cast<std::uintptr_t>(block) + page->block_size - reinterpret_cast<std::uintptr_t>(p);
}

}  // namespace poolkit::malloc_impl
