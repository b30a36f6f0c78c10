// heap.cpp: one heap per thread, reached through an initial-exec TLS pointer
// (t_heap: one %fs-relative load, no __tls_get_addr, no lazy TLS allocation).
// A thread starts on the empty sentinel heap, whose pages have no free blocks, so
// its first malloc takes the slow path and gets a real heap from the heap pool.
// At thread exit (a pthread key destructor) the heap hands its memory back: empty
// pages to their segments, empty segments to the per-CPU cache, the rest abandoned
// for other threads to adopt; the heap struct returns to the pool for the next
// thread (its remote cache first goes back to the blocks' pages). Empty segments
// stay committed in the cache for the decay, as freed pages
// do within a thread. Heap structs are never unmapped, so a remote free may always
// read one.
#include <pthread.h>

#include <new>
#include <utility>

#include "common/assert.hpp"
#include "integrity.hpp"

namespace poolkit::malloc_impl {

namespace {

template <std::size_t... I>
constexpr Heap make_sentinel(std::index_sequence<I...>) noexcept {
  return Heap{.direct = {((void)I, &g_empty_page)...}, .is_empty_sentinel = true};
}

constexpr std::size_t kMetaChunk = 1 << 20;

constinit SpinLock g_heap_lock;
Heap* g_all_heaps = nullptr;   // every heap ever made (pool_next), newest first
Heap* g_free_heaps = nullptr;  // heaps of exited threads (free_next)
std::uint8_t* g_meta_cursor = nullptr;
std::uint8_t* g_meta_end = nullptr;
pthread_key_t g_heap_key;

// Under g_heap_lock.
Heap* carve_heap() noexcept {
  constexpr std::size_t size = (sizeof(Heap) + 63) & ~std::size_t{63};
  if (g_meta_cursor == nullptr || g_meta_cursor + size > g_meta_end) {
    auto* chunk = static_cast<std::uint8_t*>(g_os.allocate(kMetaChunk));
    if (chunk == nullptr) return nullptr;
    g_meta_cursor = chunk;
    g_meta_end = chunk + kMetaChunk;
  }
  auto* heap = new (g_meta_cursor) Heap{};
  g_meta_cursor += size;
  heap->pool_next = g_all_heaps;
  g_all_heaps = heap;
  return heap;
}

void reset_lists(Heap* heap) noexcept {
  for (Page*& slot : heap->direct) slot = &g_empty_page;
  for (PageQueue& queue : heap->queues) queue = PageQueue{nullptr, nullptr};
  heap->full = nullptr;
  heap->segments = nullptr;
  heap->full_hint.store(0, std::memory_order_relaxed);
  heap->next_purge_ms = 0;
  PK_ASSERT(heap->remote_bytes == 0);  // teardown gave the remote cache back
  for (RemoteList& list : heap->remote) list = RemoteList{nullptr, 0};
}

void collect_page_fully(Page* page) noexcept {
  page_collect(page);
  if (page->local_free != nullptr) {
    Block* tail = page->local_free;
    while (tail->next != nullptr) {
      if (PK_UNLIKELY(!link_ok(page, tail->next))) heap_corrupt_link(page, tail, tail->next);
      tail = tail->next;
    }
    tail->next = page->free;
    page->free = page->local_free;
    page->local_free = nullptr;
  }
}

void thread_done(void* value) noexcept {
  auto* heap = static_cast<Heap*>(value);
  if (heap == nullptr || heap->is_empty_sentinel) return;
  heap_teardown(heap);
  t_heap = &g_empty_heap;
}

}  // namespace

constinit Heap g_empty_heap = make_sentinel(std::make_index_sequence<kDirectSlots>{});
__thread Heap* t_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

void heap_module_init() noexcept { pthread_key_create(&g_heap_key, thread_done); }

Heap* heap_for_thread() noexcept {
  Heap* heap = t_heap;
  if (!heap->is_empty_sentinel) return heap;
  process_init();
  {
    LockGuard guard(g_heap_lock);
    heap = g_free_heaps;
    if (heap != nullptr) g_free_heaps = heap->free_next;
    else heap = carve_heap();
  }
  if (heap == nullptr) return nullptr;
  reset_lists(heap);
  heap->free_next = nullptr;
  g_counters.threads.fetch_add(1, std::memory_order_relaxed);
  t_heap = heap;  // before pthread_setspecific, which may itself call calloc
  pthread_setspecific(g_heap_key, heap);
  return heap;
}

// Gives back every page whose blocks all came home; keeps a queue's first page if asked.
void heap_collect_all(Heap* heap, bool keep_first) noexcept {
  while (heap->full != nullptr) page_unfull(heap, heap->full);
  for (PageQueue& queue : heap->queues) {
    for (Page* page = queue.first; page != nullptr;) {
      Page* next = page->next;
      collect_page_fully(page);
      if (page->used == 0 && !(keep_first && page == queue.first)) {
        queue_remove(heap, page);
        segment_page_free(heap, page);
      }
      page = next;
    }
  }
}

void heap_teardown(Heap* heap) noexcept {
  PK_ASSERT(!heap->is_empty_sentinel);
  PK_ASSERT_EXPENSIVE(heap_walk(heap, false) == 0);
  remote_cache_flush(heap);  // other heaps' blocks first: some may empty pages of ours
  heap_collect_all(heap, false);
  // Only the slices whose decay has passed: an empty segment goes to the per-CPU
  // cache still committed, for the next thread, and the cache's trim decommits it
  // after the decay. Decommitting everything here made each thread that followed an
  // exited one fault its pages in anew: with 16 threads on 2 cores (glibc_thread:16t)
  // 21,000 page faults against mimalloc's 12,000. An abandoned segment is purged at
  // once: no decay reaches it until some heap adopts it.
  heap_purge(heap, false);
  for (Segment* segment = heap->segments; segment != nullptr;) {
    Segment* next = segment->next;
    if (segment->pages_in_use == 0) {
      heap_unlink_segment(heap, segment);
      segment_cache_put(segment);
    } else {
      segment_purge(segment);
      segment_abandon(heap, segment);
    }
    segment = next;
  }
  reset_lists(heap);
  LockGuard guard(g_heap_lock);
  heap->free_next = g_free_heaps;
  g_free_heaps = heap;
}

Heap* heap_list() noexcept { return g_all_heaps; }
void heap_pool_lock() noexcept { g_heap_lock.lock(); }
void heap_pool_unlock(ForkSide side) noexcept { release_after_fork(g_heap_lock, side); }

}  // namespace poolkit::malloc_impl
