// integrity.hpp (private): the default mode's cheap defences of the free lists
// (issue 10 item 3), so that a damaged list ends in a clear message, never in a
// SIGSEGV inside the allocator:
//  - every link popped from a page's free list must be a block of that page, on a
//    block boundary, among the blocks threaded so far (or the list's end): one
//    multiply, one rotate, one compare (block_index_exact);
//  - a freed block carries a key word (as glibc's tcache does): free of a block that
//    already carries it looks for the block in its page's lists and reports a double
//    free when it is there. malloc clears the key of every block it hands out.
// The checked mode (POOLKIT_CHECK) does more; these are on in every mode, unless the
// malloc is built with -DPOOLKIT_MALLOC_HARDEN=OFF (they cost ~15 instructions per
// malloc/free pair: docs/malloc.md has the measurements).
#pragma once

#include <bit>

#include "internal.hpp"

#ifndef POOLKIT_MALLOC_HARDEN
#define POOLKIT_MALLOC_HARDEN 1
#endif

namespace poolkit::malloc_impl {

inline constexpr bool kHarden = POOLKIT_MALLOC_HARDEN != 0;

/// The word freed blocks carry after their link: random per process (never 0).
extern std::uintptr_t g_free_key __attribute__((visibility("hidden")));  // no GOT load
void integrity_init() noexcept;

/// Sets page->link_mul and link_shift for blocks of `block_size` bytes.
void page_init_link_check(Page* page, std::size_t block_size) noexcept;

/// Ends the process: `block` (free, in `page`) links to `next`, not a block of the page.
[[noreturn]] void heap_corrupt_link(const Page* page, const Block* block, const Block* next) noexcept;

/// free() of `block` found the free key in it: returns if it is not in the page's
/// lists after all (the key was user data), ends the process on a double free.
void free_check_double(Segment* segment, Page* page, Block* block, const void* user) noexcept;

/// The index of `p` among the page's threaded blocks, or a value >= page->capacity
/// when p is outside them or not on a block boundary. Exact division test: with
/// block_size = m * 2^k (m odd) and link_mul = m^-1 mod 2^64, d = p - start is a
/// multiple of block_size iff rotr(d * link_mul, k) == d / block_size, and any other
/// d gives a value above 2^64 / block_size, far above any capacity.
PK_INLINE std::uint64_t block_index_exact(const Page* page, const void* p) noexcept {
  std::uint64_t d = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(page->start);
  return std::rotr(d * page->link_mul, page->link_shift);
}

PK_INLINE bool link_ok(const Page* page, const Block* next) noexcept {
  if constexpr (!kHarden) return true;
  return block_index_exact(page, next) < page->capacity;
}

/// Whether free should look for `block` in its page's lists: it holds the free key.
PK_INLINE bool holds_free_key(const Block* block) noexcept { return kHarden && block->key == g_free_key; }

/// Marks a block free (free), or handed out (malloc).
PK_INLINE void set_free_key(Block* block) noexcept {
  if constexpr (kHarden) block->key = g_free_key;
}
PK_INLINE void clear_free_key(Block* block) noexcept {
  if constexpr (kHarden) block->key = 0;
}

/// Pops the first block of page->free (not empty): checks its link, clears its key.
PK_INLINE Block* page_pop(Page* page) noexcept {
  Block* block = page->free;
  Block* next = block->next;
  if (PK_UNLIKELY(next != nullptr && !link_ok(page, next))) heap_corrupt_link(page, block, next);
  page->free = next;
  clear_free_key(block);
  ++page->used;
  return block;
}

}  // namespace poolkit::malloc_impl
