// remote_cache.cpp: frees of blocks that another thread's pages hold ("remote" frees).
// A remote free used to go straight onto the page's atomic thread_free list; the
// owner collected it later and handed it out again, cold: the block was last in the
// freeing thread's CPU caches, and the owner's collection walked the list missing on
// every link. Now the freeing thread keeps such blocks, per size class, in a bounded
// cache of its own and hands them out first to its next mallocs of that class (as
// tcmalloc's per-thread caches do with every free; mimalloc has no such cache). A
// list that overflows passes its older half on to the transfer cache, for any thread
// short of the class (transfer_cache.cpp), or, when that is full, gives it back to
// the blocks' pages, the blocks of one page chained and pushed with a single CAS; the
// whole cache goes back to the pages at thread exit and in malloc_trim. Not cached:
// blocks of exited threads' (abandoned) pages, and frees by a thread that has no heap
// (it never allocated).
//
// Bounds (types.hpp): blocks up to kRemoteMaxBlock; a list holds at most
// remote_cache_limit(cls) blocks (an eighth of POOLKIT_REMOTE_CACHE, and
// kRemoteClassBlocks); the cache holds at most POOLKIT_REMOTE_CACHE bytes
// (g_options.remote_cache, fixed at start-up). A cached block stays counted in its
// page's `used`, so its page is never given back under it.
#include "common/assert.hpp"
#include "integrity.hpp"

namespace poolkit::malloc_impl {

namespace {

// The lists' bounds, from POOLKIT_REMOTE_CACHE (remote_cache_init, once at start-up,
// before any heap exists: the option is fixed then). 0: the class is not cached.
constinit std::uint32_t g_limits[kRemoteClasses] = {};

PK_INLINE std::uint32_t limit_for(std::size_t cls) noexcept { return cls < kRemoteClasses ? g_limits[cls] : 0; }

// A link of a cached list: the list's end, or a block of class cls in one of our pages
// (so that a use-after-free write into a cached block ends in a clear message). Only
// fields set before the page's first block went out are read (the owner may be
// extending the page, so `reserved`, not `capacity`).
bool remote_link_ok(std::size_t cls, const Block* next) noexcept {
  if constexpr (!kHarden) return true;
  if (next == nullptr) return true;
  if (segment_lookup(next) != segment_of(next) || segment_of(next)->kind != SegmentKind::kSmall) return false;
  const Page* page = page_of(segment_of(next), next);
  return page->size_class == cls && block_index_exact(page, next) < page->reserved;
}

// Takes list cls out of the cache; returns its blocks.
Block* detach(Heap* heap, std::size_t cls) noexcept {
  RemoteList& list = heap->remote[cls];
  Block* blocks = list.first;
  heap->remote_bytes -= std::size_t{list.count} * class_size(cls);
  list = RemoteList{nullptr, 0};
  heap_update_direct(heap, cls);
  return blocks;
}

// Passes on the older half of list cls (its tail: the list is LIFO): to the transfer
// cache, where any thread short of the class takes it (transfer_cache.cpp), or, when
// that is full, home to the blocks' pages.
void give_back_half(Heap* heap, std::size_t cls) noexcept {
  RemoteList& list = heap->remote[cls];
  std::uint32_t keep = list.count / 2;
  std::uint32_t passed = list.count - keep;
  Block* old;
  if (keep == 0) {
    old = detach(heap, cls);
  } else {
    Block* cut = list.first;
    for (std::uint32_t i = 1; i < keep; ++i) cut = cut->next;
    old = cut->next;
    cut->next = nullptr;
    heap->remote_bytes -= std::size_t{passed} * class_size(cls);
    list.count = keep;
  }
  if (!transfer_put(cls, old, passed)) remote_give_back(old);
}

}  // namespace

void remote_cache_init() noexcept {
  std::size_t class_bytes = g_options.remote_cache / kRemoteClassShare;
  for (std::size_t cls = 0; cls < kRemoteClasses; ++cls) {
    std::size_t n = class_bytes / class_size(cls);
    g_limits[cls] = static_cast<std::uint32_t>(n < kRemoteClassBlocks ? n : kRemoteClassBlocks);
  }
}

std::uint32_t remote_cache_limit(std::size_t cls) noexcept { return limit_for(cls); }

void remote_free(Page* page, Block* block) noexcept {
  set_free_key(block);
  remote_free_chain(page, block, block);
}

void remote_free_chain(Page* page, Block* first, Block* last) noexcept {
  Block* head = page->thread_free.load(std::memory_order_relaxed);
  do {
    last->next = head;
  } while (!page->thread_free.compare_exchange_weak(head, first, std::memory_order_seq_cst, std::memory_order_relaxed));
  // Dekker with page_to_full (page.cpp): we push, then read in_full.
  if (page->in_full.load(std::memory_order_seq_cst)) {
    if (Heap* owner = page->heap.load(std::memory_order_acquire)) owner->full_hint.store(1, std::memory_order_release);
  }
}

bool remote_cache_put(Heap* heap, Page* page, Block* block) noexcept {
  std::size_t cls = page->size_class;
  // Checked and counted pages: every free of theirs goes through their own layer.
  if (cls >= kRemoteClasses || heap->is_empty_sentinel || (page_flags(page) & (kPageChecked | kPageCounted))) return false;
  // A page of an exited thread's (abandoned) segment: its blocks go home, so that the
  // next heap to adopt the segment can give it back; cached, they would pin 4 MiB each.
  if (page->heap.load(std::memory_order_relaxed) == nullptr) return false;
  std::uint32_t limit = limit_for(cls);
  if (limit == 0) return false;  // POOLKIT_REMOTE_CACHE leaves the class out
  std::size_t size = class_size(cls);
  RemoteList& list = heap->remote[cls];
  if (list.count == limit) give_back_half(heap, cls);
  if (heap->remote_bytes + size > g_options.remote_cache) {
    // Full with blocks of other classes: start again (rare: mallocs drain the lists).
    remote_cache_flush(heap);
  }
  set_free_key(block);
  block->next = list.first;
  list.first = block;
  ++list.count;
  heap->remote_bytes += size;
  if (list.count == 1) heap_update_direct(heap, cls);
  PK_ASSERT(list.count <= limit && heap->remote_bytes <= g_options.remote_cache);
  return true;
}

Block* remote_cache_take(Heap* heap, std::size_t cls) noexcept {
  RemoteList& list = heap->remote[cls];
  PK_ASSERT(list.first != nullptr && list.count > 0);
  Block* block = list.first;
  Block* next = block->next;
  if (PK_UNLIKELY(!remote_link_ok(cls, next) || (next == nullptr) != (list.count == 1))) {
    heap_corrupt_link(page_of(segment_of(block), block), block, next);
  }
  list.first = next;
  --list.count;
  heap->remote_bytes -= class_size(cls);
  clear_free_key(block);
  if (next == nullptr) heap_update_direct(heap, cls);
  return block;
}

// Gives a list back to the blocks' pages: the blocks of one page are chained together
// and pushed with one CAS. Quadratic in the list's length, which is at most 64.
void remote_give_back(Block* list) noexcept {
  while (list != nullptr) {
    Block* first = list;
    list = list->next;
    Page* page = page_of(segment_of(first), first);
    Block* last = first;
    for (Block** link = &list; *link != nullptr;) {
      Block* b = *link;
      if (page_of(segment_of(b), b) == page) {
        *link = b->next;
        last->next = b;
        last = b;
      } else {
        link = &b->next;
      }
    }
    last->next = nullptr;
    remote_free_chain(page, first, last);
  }
}

void remote_cache_adopt(Heap* heap, std::size_t cls, Block* first, std::uint32_t count) noexcept {
  RemoteList& list = heap->remote[cls];
  PK_ASSERT(list.first == nullptr && count > 0 && count <= limit_for(cls));
  std::size_t bytes = std::size_t{count} * class_size(cls);
  if (heap->remote_bytes + bytes > g_options.remote_cache) remote_cache_flush(heap);
  list = RemoteList{first, count};
  heap->remote_bytes += bytes;
  heap_update_direct(heap, cls);
}

void remote_cache_flush(Heap* heap) noexcept {
  if (heap->remote_bytes == 0) return;
  for (std::size_t cls = 0; cls < kRemoteClasses; ++cls) {
    if (heap->remote[cls].first != nullptr) remote_give_back(detach(heap, cls));
  }
  PK_ASSERT(heap->remote_bytes == 0);
}

bool remote_cache_holds(const Heap* heap, std::size_t cls, const Block* block) noexcept {
  if (cls >= kRemoteClasses) return false;
  std::uint32_t n = 0;
  for (const Block* b = heap->remote[cls].first; b != nullptr && n < kRemoteClassBlocks; b = b->next, ++n) {
    if (b == block) return true;
  }
  return false;
}

}  // namespace poolkit::malloc_impl
