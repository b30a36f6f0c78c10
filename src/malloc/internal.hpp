// internal.hpp (private): the functions the files of src/malloc/ share, one
// section per file that defines them. The data structures are in types.hpp, the
// OS layer in os.hpp, the options and their table in options.hpp; every cross-file declaration of src/malloc/ is here or there.
//
// Nothing in this directory may call malloc: it *is* malloc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "options.hpp"
#include "os.hpp"
#include "types.hpp"

namespace poolkit::malloc_impl {

// ---- segments and the shared layer (segment.cpp, segment_cache.cpp) -------------
Page* segment_page_alloc(Heap* heap, std::size_t slices) noexcept;
void segment_page_free(Heap* heap, Page* page) noexcept;
void heap_unlink_segment(Heap* heap, Segment* segment) noexcept;  // also clears its links and owner
void segment_abandon(Heap* heap, Segment* segment) noexcept;
bool segment_adopt_one(Heap* heap) noexcept;
void heap_purge(Heap* heap, bool force) noexcept;
void segment_purge(Segment* segment) noexcept;
Segment* segment_cache_take() noexcept;
void segment_cache_put(Segment* segment) noexcept;
bool segment_cache_trim(bool all) noexcept;
void cache_lock_all() noexcept;    // fork: every per-CPU cache lock
void cache_unlock_all(ForkSide side) noexcept;
std::size_t abandoned_segment_count() noexcept;
void abandoned_lock() noexcept;    // fork: the abandoned list's lock
void abandoned_unlock(ForkSide side) noexcept;
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
void heap_update_direct(Heap* heap, std::size_t cls) noexcept;  // after a queue or remote list changed
std::uint8_t page_flags_for_mode() noexcept;

// ---- heaps (heap.cpp, init.cpp) ------------------------------------------------
extern constinit Heap g_empty_heap;
extern __thread Heap* t_heap __attribute__((tls_model("initial-exec")));
Heap* heap_for_thread() noexcept;  // creates the thread's heap if needed
void heap_teardown(Heap* heap) noexcept;
void heap_collect_all(Heap* heap, bool keep_first) noexcept;
void heap_module_init() noexcept;  // the thread-exit key (init.cpp calls it once)
void process_init() noexcept;
bool process_ready() noexcept;
Heap* heap_list() noexcept;
void heap_pool_lock() noexcept;
void heap_pool_unlock(ForkSide side) noexcept;

// ---- huge blocks (huge.cpp) ------------------------------------------------------
void* huge_alloc(std::size_t size, std::size_t alignment) noexcept;
void huge_free(Segment* segment, void* p) noexcept;
bool huge_resize_in_place(Segment* segment, void* p, std::size_t size) noexcept;
void* huge_realloc(Segment* segment, void* p, std::size_t size) noexcept;  // nullptr: copy it
bool huge_cache_trim(bool all) noexcept;
void huge_cache_lock() noexcept;
void huge_cache_unlock(ForkSide side) noexcept;

// ---- free (free.cpp) -----------------------------------------------------------
void free_generic(Segment* segment, Page* page, void* p) noexcept;
void free_foreign(void* p) noexcept;
bool free_foreign_if_known(void* p) noexcept;  // a glibc block from before us: freed, true
void free_block(Segment* segment, Page* page, Block* block) noexcept;  // no checked layer
std::size_t usable_size(const void* p) noexcept;
std::size_t foreign_usable_size(const void* p) noexcept;

// ---- the remote cache (remote_cache.cpp) ---------------------------------------
void remote_cache_init() noexcept;  // the lists' bounds from POOLKIT_REMOTE_CACHE (process_init)
std::uint32_t remote_cache_limit(std::size_t cls) noexcept;  // blocks list cls may hold (0: not cached)
bool remote_cache_put(Heap* heap, Page* page, Block* block) noexcept;  // false: not cached, free it remotely
Block* remote_cache_take(Heap* heap, std::size_t cls) noexcept;  // list cls not empty
void remote_cache_flush(Heap* heap) noexcept;  // every list back to the blocks' pages
bool remote_cache_holds(const Heap* heap, std::size_t cls, const Block* block) noexcept;
void remote_free(Page* page, Block* block) noexcept;  // onto the page's thread_free
void remote_free_chain(Page* page, Block* first, Block* last) noexcept;  // first..last: blocks of page
void remote_give_back(Block* list) noexcept;  // blocks of any pages, each back onto its page's thread_free
void remote_cache_adopt(Heap* heap, std::size_t cls, Block* first, std::uint32_t count) noexcept;  // list cls empty

// ---- the transfer cache (transfer_cache.cpp) -------------------------------------
bool transfer_put(std::size_t cls, Block* first, std::uint32_t count) noexcept;  // false: full, keep them
bool transfer_take(Heap* heap, std::size_t cls) noexcept;  // a batch into the empty remote list cls
bool transfer_flush() noexcept;  // every batch back to its blocks' pages; true if there was one
using TransferVisitor = void (*)(void* context, std::size_t cls, Block* first, std::uint32_t count) noexcept;
void transfer_visit(TransferVisitor visit, void* context) noexcept;  // every batch, under its class's lock (heap walk)
void transfer_lock_all() noexcept;  // fork
void transfer_unlock_all(ForkSide side) noexcept;

// ---- the heap walk (check.cpp); checked mode is in checked.hpp ------------------
int heap_walk(Heap* heap, bool report) noexcept;

// ---- stats (stats.cpp) -----------------------------------------------------------
extern constinit GlobalCounters g_counters;
void note_page_bytes(std::ptrdiff_t delta) noexcept;
void note_huge(std::ptrdiff_t bytes, int count) noexcept;
void stats_print_fd(int fd) noexcept;
void stats_at_exit() noexcept;

}  // namespace poolkit::malloc_impl
