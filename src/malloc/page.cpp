// page.cpp: pages of one size class and the allocation slow path.
// A page has three free lists (mimalloc's free-list sharding): `free` to allocate
// from, `local_free` for the owner's frees, and the atomic `thread_free` that other
// threads push onto without a lock. The fast path (fast_path.hpp) pops `free`;
// when it runs dry, malloc_generic collects the other two lists, extends the page
// lazily (4..16 KiB of new blocks at a time, so untouched blocks commit no memory),
// moves pages with nothing left to the heap's full list, adopts abandoned segments,
// and only then takes a new page from a segment.
#include <cerrno>
#include <cstring>

#include "checked.hpp"
#include "common/assert.hpp"
#include "integrity.hpp"

namespace poolkit::malloc_impl {

constinit Page g_empty_page{};

namespace {

constexpr std::size_t kExtendBytes = 4 * 1024;

constexpr std::size_t first_direct_slot(std::size_t cls) noexcept {
  return cls == 0 ? 0 : class_size(cls - 1) / kMinBlock + 1;
}
constexpr std::size_t last_direct_slot(std::size_t cls) noexcept { return class_size(cls) / kMinBlock; }
constexpr std::size_t kDirectClasses = class_of(kDirectMax) + 1;


void page_extend(Page* page) noexcept {
  std::size_t size = page->block_size;
  PK_ASSERT(page->capacity < page->reserved);
  std::size_t left = page->reserved - page->capacity;
  std::size_t n = kExtendBytes / size;
  if (n < 1) n = 1;
  if (n > left) n = left;
  std::uint8_t* first = page->start + std::size_t{page->capacity} * size;
  std::uint8_t* p = first;
  for (std::size_t i = 0; i + 1 < n; ++i, p += size) reinterpret_cast<Block*>(p)->next = reinterpret_cast<Block*>(p + size);
  reinterpret_cast<Block*>(p)->next = page->free;
  page->free = reinterpret_cast<Block*>(first);
  page->capacity += static_cast<std::uint32_t>(n);
}

void page_init(Heap* heap, Page* page, std::size_t cls) noexcept {
  std::size_t size = class_size(cls);
  std::size_t reserved = page->slice_count * kSliceSize / size;
  if (reserved > kMaxBlocksPerPage) reserved = kMaxBlocksPerPage;
  page->free = nullptr;
  page->local_free = nullptr;
  page->thread_free.store(nullptr, std::memory_order_relaxed);
  page->used = 0;
  page->capacity = 0;
  page->reserved = static_cast<std::uint32_t>(reserved);
  page->block_size = static_cast<std::uint32_t>(size);
  page_init_link_check(page, size);
  page->size_class = static_cast<std::uint8_t>(cls);
  page->flags = page_flags_for_mode();
  page->in_full.store(0, std::memory_order_relaxed);
  page->next = page->prev = nullptr;
  page->heap.store(heap, std::memory_order_release);
  count(g_counters.pages_made);
}

void page_to_full(Heap* heap, Page* page) noexcept {
  queue_remove(heap, page);
  page->next = heap->full;
  page->prev = nullptr;
  if (heap->full) heap->full->prev = page;
  heap->full = page;
  // Dekker with remote_free: it pushes, then reads in_full; we set in_full, then
  // read thread_free. One of us sees the other, so no free is stranded here.
  page->in_full.store(1, std::memory_order_seq_cst);
  if (page->thread_free.load(std::memory_order_seq_cst) != nullptr) page_unfull(heap, page);
}

// The first page of class cls with a free block, after collecting the frees of its
// pages. With shared, before fresh blocks are threaded (page_extend) or a new page is
// cut, a batch of the transfer cache goes into the remote cache instead: then it
// returns nullptr with heap->remote[cls] filled.
Page* find_page(Heap* heap, std::size_t cls, bool shared) noexcept {
  heap_collect_full(heap);
  for (;;) {
    PageQueue* queue = &heap->queues[cls];
    for (Page* page = queue->first; page != nullptr;) {
      Page* next = page->next;
      page_collect(page);
      if (page->free == nullptr && page->capacity < page->reserved) {
        if (shared && transfer_take(heap, cls)) return nullptr;
        page_extend(page);
      }
      if (page->free != nullptr) {
        if (page != queue->first) {
          queue_remove(heap, page);
          queue_push_front(heap, page);
        }
        return page;
      }
      page_to_full(heap, page);
      // A remote free raced in: the page went back to the front of the queue.
      page = page->in_full.load(std::memory_order_relaxed) ? next : queue->first;
    }
    // Nothing in the queue: blocks of exited threads first, then a new page.
    if (!segment_adopt_one(heap)) break;
  }
  if (shared && transfer_take(heap, cls)) return nullptr;
  // The page first, from slices still committed if there are any, then the purge of
  // what the decay has passed: the other order decommitted the very slices the page
  // was about to take again, and a thread that had waited for a core past the decay
  // (16 threads on 2 cores) faulted them all in anew.
  Page* page = segment_page_alloc(heap, page_slices_for(class_size(cls)));
  heap_purge(heap, false);
  if (page == nullptr) return nullptr;
  page_init(heap, page, cls);
  page_extend(page);
  queue_push_front(heap, page);
  return page;
}

// The small-allocation path of malloc_generic and heap_alloc_aligned: a block of
// class cls from the first page of its queue (finding or making a page when that
// one is dry), the user pointer placed in it by place(page, block), then the
// check guard and the counters. nullptr and ENOMEM when no page can be had.
// With use_remote, the class's remote cache goes first: the blocks this thread freed
// last, still in its CPU's caches (remote_cache.cpp); then the class's pages, then a
// batch of the transfer cache, then fresh blocks. (Not for interior pointers: place
// would mark another heap's page.)
template <class Place>
PK_INLINE void* alloc_in_class(Heap* heap, std::size_t cls, std::size_t size, bool use_remote, Place place) noexcept {
  bool shared = use_remote && cls < kRemoteClasses;
  if (shared && heap->remote[cls].first != nullptr) return remote_cache_take(heap, cls);
  Page* page = heap->queues[cls].first;
  if (page == nullptr || page->free == nullptr) {
    page = find_page(heap, cls, shared);
    if (shared && heap->remote[cls].first != nullptr) return remote_cache_take(heap, cls);  // a shared batch
  }
  if (page == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  PK_ASSERT(page->heap.load(std::memory_order_relaxed) == heap && page->size_class == cls);
  Block* block = page_pop(page);
  PK_ASSERT(page->used <= page->capacity);
  PK_ASSERT(block_index(page, block) < page->capacity);
  void* user = place(page, block);
  if (page->flags & kPageCounted) {
    count(heap->counters.allocs_by_class[cls]);
    count(heap->counters.bytes_requested, size);
  }
  return user;
}

}  // namespace

// The fast path only sees pages through Heap::direct; in stats and check modes it
// stays pointing at the empty page so every call takes the generic path. (Sampling
// keeps the fast path: it samples among the calls that reach the generic path.) So
// it does while the class has blocks in the remote cache, which malloc_generic
// hands out first.
void heap_update_direct(Heap* heap, std::size_t cls) noexcept {
  if (cls >= kDirectClasses || g_options.stats || g_options.check) return;
  Page* first = heap->queues[cls].first;
  if (first == nullptr || (cls < kRemoteClasses && heap->remote[cls].first != nullptr)) first = &g_empty_page;
  std::size_t s = first_direct_slot(cls);
  if (heap->direct[s] == first) return;
  for (; s <= last_direct_slot(cls); ++s) heap->direct[s] = first;
}

std::uint8_t page_flags_for_mode() noexcept {
  return static_cast<std::uint8_t>((g_options.check ? kPageChecked : 0) | (g_options.stats ? kPageCounted : 0));
}

void queue_push_front(Heap* heap, Page* page) noexcept {
  PK_ASSERT(page->in_full.load(std::memory_order_relaxed) == 0 && page->next == nullptr && page->prev == nullptr);
  PageQueue* queue = &heap->queues[page->size_class];
  page->prev = nullptr;
  page->next = queue->first;
  if (queue->first) queue->first->prev = page;
  else queue->last = page;
  queue->first = page;
  heap_update_direct(heap, page->size_class);
}

void queue_remove(Heap* heap, Page* page) noexcept {
  PageQueue* queue = &heap->queues[page->size_class];
  PK_ASSERT(page->in_full.load(std::memory_order_relaxed) == 0);
  PK_ASSERT(page->prev ? page->prev->next == page : queue->first == page);
  PK_ASSERT(page->next ? page->next->prev == page : queue->last == page);
  bool was_first = queue->first == page;
  if (page->prev) page->prev->next = page->next;
  else queue->first = page->next;
  if (page->next) page->next->prev = page->prev;
  else queue->last = page->prev;
  page->next = page->prev = nullptr;
  if (was_first) heap_update_direct(heap, page->size_class);
}

// Back to the end of its queue (as mimalloc does): a page that regained one block
// should not displace the page at the front that malloc is emptying.
void page_unfull(Heap* heap, Page* page) noexcept {
  PK_ASSERT(page->in_full.load(std::memory_order_relaxed) == 1);
  PK_ASSERT(page->prev ? page->prev->next == page : heap->full == page);
  if (page->prev) page->prev->next = page->next;
  else heap->full = page->next;
  if (page->next) page->next->prev = page->prev;
  page->in_full.store(0, std::memory_order_relaxed);
  PageQueue* queue = &heap->queues[page->size_class];
  page->next = nullptr;
  page->prev = queue->last;
  if (queue->last) queue->last->next = page;
  else queue->first = page;
  queue->last = page;
  if (queue->first == page) heap_update_direct(heap, page->size_class);
}

void heap_collect_full(Heap* heap) noexcept {
  if (heap->full_hint.load(std::memory_order_relaxed) == 0) return;
  if (heap->full_hint.exchange(0, std::memory_order_acquire) == 0) return;
  for (Page* page = heap->full; page != nullptr;) {
    Page* next = page->next;
    if (page->thread_free.load(std::memory_order_relaxed) != nullptr) page_unfull(heap, page);
    page = next;
  }
}

void page_collect(Page* page) noexcept {
  if (page->local_free != nullptr && page->free == nullptr) {
    page->free = page->local_free;
    page->local_free = nullptr;
  }
  if (page->thread_free.load(std::memory_order_relaxed) == nullptr) return;
  Block* head = page->thread_free.exchange(nullptr, std::memory_order_acquire);
  if (head == nullptr) return;
  std::uint32_t n = 1;
  Block* tail = head;
  while (tail->next != nullptr) {
    if (PK_UNLIKELY(!link_ok(page, tail->next))) heap_corrupt_link(page, tail, tail->next);
    tail = tail->next;
    ++n;
  }
  tail->next = page->free;
  page->free = head;
  PK_ASSERT(n <= page->used);  // a block freed by another thread was out
  page->used -= n;
}

// Called by the owner when the last block of a page came back.
void page_became_unused(Heap* heap, Page* page) noexcept {
  PK_ASSERT(page->used == 0 && page->heap.load(std::memory_order_relaxed) == heap);
  PageQueue* queue = &heap->queues[page->size_class];
  // Keep a class's only page: a malloc/free loop must not map and unmap it each time.
  if (queue->first == page && page->next == nullptr) return;
  queue_remove(heap, page);
  segment_page_free(heap, page);
}

void* malloc_generic(Heap* heap, std::size_t size) noexcept {
  if (PK_UNLIKELY(heap->is_empty_sentinel)) {
    heap = heap_for_thread();
    if (heap == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  // Checked mode frames every block (checked.hpp). POOLKIT_SAMPLE guards one in N of
  // the calls that come here (a page's free list ran dry, or a size above 4 KiB), so
  // the fast path pays nothing for it.
  if (PK_UNLIKELY(g_options.check | g_options.sample)) {
    if (g_options.check) return checked_alloc(size, 0, AllocKind::kMalloc, false);
    if (size <= kSampleMax && sample_this_one()) return checked_alloc(size, 0, AllocKind::kMalloc, true);
  }
  return malloc_inner(heap, size);
}

void* malloc_inner(Heap* heap, std::size_t size) noexcept {
  if (PK_UNLIKELY(g_options.check >= 2)) heap_walk(heap, true);
  std::size_t need = size;
  if (need > g_options.mmap_threshold) {
    void* p = huge_alloc(size, 0);
    if (p && g_options.stats) {
      count(heap->counters.allocs_by_class[kClassCount]);
      count(heap->counters.bytes_requested, size);
    }
    return p;
  }
  return alloc_in_class(heap, class_of(need), size, true, [](Page*, Block* block) -> void* { return block; });
}

// Alignments above 16 on pages: a class whose blocks are all aligned when its size
// is a multiple of the alignment (pages start on 64 KiB), otherwise an over-sized
// block and an interior pointer (the page is marked so free finds the block start).
void* heap_alloc_aligned(Heap* heap, std::size_t size, std::size_t alignment) noexcept {
  if (PK_UNLIKELY(heap->is_empty_sentinel)) {
    heap = heap_for_thread();
    if (heap == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (alignment <= kMinBlock) return malloc_generic(heap, size);
  if (g_options.check) return checked_alloc(size, alignment, AllocKind::kMalloc, false);
  std::size_t need = size < alignment ? alignment : size;
  if (alignment <= kMaxPageAlignment && need <= g_options.mmap_threshold && class_size(class_of(need)) % alignment == 0) {
    return malloc_generic(heap, need);  // every block of this class is aligned
  }
  std::size_t padded;
  if (alignment > kMaxPageAlignment || __builtin_add_overflow(need, alignment - 1, &padded) ||
      padded > g_options.mmap_threshold) {
    void* p = huge_alloc(size, alignment);
    if (p && g_options.stats) count(heap->counters.allocs_by_class[kClassCount]);
    return p;
  }
  if (PK_UNLIKELY(g_options.check >= 2)) heap_walk(heap, true);
  return alloc_in_class(heap, class_of(padded), size, false, [alignment](Page* page, Block* block) -> void* {
    void* user = align_up(static_cast<void*>(block), alignment);
    // free must find the block start; other threads read the flags meanwhile (page_flags)
    if (user != block && !(page->flags & kPageHasAligned))
      __atomic_fetch_or(&page->flags, kPageHasAligned, __ATOMIC_RELAXED);
    return user;
  });
}

}  // namespace poolkit::malloc_impl
