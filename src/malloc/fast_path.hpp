// fast_path.hpp (private): the inlined hot paths of malloc and free.
// malloc of up to 1 KiB: one TLS load, one table load, pop the page's free list.
// free: one byte of the segment map says "ours", then on the owner's thread a push
// onto the page's local_free list. Everything else is in the out-of-line slow paths.
#pragma once

#include "integrity.hpp"

namespace poolkit::malloc_impl {

PK_INLINE void* fast_malloc(std::size_t size) noexcept {
  Heap* heap = t_heap;
  if (PK_LIKELY(size <= kDirectMax)) {
    Page* page = heap->direct[(size + kMinBlock - 1) / kMinBlock];
    Block* block = page->free;
    if (PK_LIKELY(block != nullptr)) {
      // The link must be the list's end or a block of the page (else malloc_generic reports it).
      Block* next = block->next;
      if (PK_LIKELY(link_ok(page, next)) || next == nullptr) {
        page->free = next;
        clear_free_key(block);
        ++page->used;
        return block;
      }
    }
  }
  return malloc_generic(heap, size);
}

PK_INLINE void fast_free(void* p) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  std::uint8_t kind = x < kAddressLimit ? __atomic_load_n(&g_segment_map[x >> kSegmentShift], __ATOMIC_RELAXED)
                                            : std::uint8_t{kNotOurs};
  if (PK_LIKELY(kind == kSegmentHere)) {
    Segment* segment = segment_of(p);
    Page* page = page_of(segment, p);
    Heap* heap = t_heap;
    if (PK_LIKELY(page->heap.load(std::memory_order_relaxed) == heap &&
                  (page_flags(page) | page->in_full.load(std::memory_order_relaxed)) == 0)) {
      auto* block = static_cast<Block*>(p);
      if (PK_UNLIKELY(holds_free_key(block))) return free_generic(segment, page, p);  // freed before?
      block->next = page->local_free;
      set_free_key(block);
      page->local_free = block;
      if (PK_UNLIKELY(--page->used == 0)) page_became_unused(heap, page);
      return;
    }
    free_generic(segment, page, p);
  } else if (p == nullptr) {
    return;
  } else if (kind == kSegmentBefore) {
    huge_free(segment_lookup(p), p);
  } else {
    free_foreign(p);
  }
}

}  // namespace poolkit::malloc_impl
