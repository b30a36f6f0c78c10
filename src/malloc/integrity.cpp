// integrity.cpp: the default mode's checks of the free lists (integrity.hpp): the
// free key, the link check's constants, and the two reports.
#include "integrity.hpp"

#include <sys/auxv.h>

#include <bit>
#include <cstring>

namespace poolkit::malloc_impl {

// Until integrity_init runs (the first heap), a fixed odd constant serves.
std::uintptr_t g_free_key = 0x5a17c0de9e3779b9ull;

void integrity_init() noexcept {
  // AT_RANDOM: 16 random bytes the kernel gives every process (no syscall, no malloc).
  const void* random = reinterpret_cast<const void*>(getauxval(AT_RANDOM));
  std::uintptr_t key = 0;
  if (random != nullptr) std::memcpy(&key, static_cast<const std::uint8_t*>(random) + 8, sizeof key);
  g_free_key = key | 1;  // never 0: malloc clears the key to 0
}

namespace {

// The inverse of an odd number mod 2^64: Newton's iteration doubles the number of
// correct low bits each step (3 to start, 6 steps for 64).
constexpr std::uint64_t odd_inverse(std::uint64_t odd) noexcept {
  std::uint64_t inverse = odd;
  for (int i = 0; i < 6; ++i) inverse *= 2 - odd * inverse;
  return inverse;
}

// block_index_exact's test, for every size class: every block boundary among the
// most blocks a page holds gives its index, every offset between two boundaries
// (16-byte steps, as blocks are 16-aligned) gives a value no page's capacity reaches.
constexpr bool exact_division_holds() noexcept {
  for (std::size_t cls = 0; cls < kClassCount; ++cls) {
    std::uint64_t size = class_size(cls);
    auto shift = static_cast<unsigned>(__builtin_ctzll(size));
    std::uint64_t mul = odd_inverse(size >> shift);
    if ((size >> shift) * mul != 1) return false;
    for (std::uint64_t i = 0; i < 64; ++i) {
      std::uint64_t index = i < 32 ? i : kMaxBlocksPerPage - 64 + i;
      if (std::rotr(index * size * mul, static_cast<int>(shift)) != index) return false;
      for (std::uint64_t off = 16; off < size && off < 256; off += 16) {
        if (std::rotr((index * size + off) * mul, static_cast<int>(shift)) < kMaxBlocksPerPage) return false;
      }
    }
  }
  return true;
}
static_assert(exact_division_holds());

}  // namespace

void page_init_link_check(Page* page, std::size_t block_size) noexcept {
  auto shift = static_cast<unsigned>(__builtin_ctzll(block_size));
  page->link_mul = odd_inverse(block_size >> shift);
  page->link_shift = static_cast<std::uint8_t>(shift);
}

void heap_corrupt_link(const Page* page, const Block* block, const Block* next) noexcept {
  fatal("poolkit: heap corruption: the free block %p (blocks of %u B, page %p at %p) links to %p, which is not a "
        "free block of its page: something wrote to the block after it was freed or past the end of the "
        "block before it, or freed a pointer into a block (POOLKIT_CHECK=1 finds where)\n",
        static_cast<const void*>(block), page->block_size, static_cast<const void*>(page),
        static_cast<const void*>(page->start), static_cast<const void*>(next));
}

namespace {

// Whether `block` is on the list starting at `head`; checks every link on the way.
bool on_list(const Page* page, const Block* head, const Block* block) noexcept {
  for (const Block* b = head; b != nullptr; b = b->next) {
    if (b == block) return true;
    if (b->next != nullptr && !link_ok(page, b->next)) heap_corrupt_link(page, b, b->next);
  }
  return false;
}

}  // namespace

void free_check_double(Segment* segment, Page* page, Block* block, const void* user) noexcept {
  Heap* heap = t_heap;
  // The calling thread's remote cache, as glibc looks in the calling thread's tcache.
  if (!heap->is_empty_sentinel && remote_cache_holds(heap, page->size_class, block)) {
    fatal("poolkit: double free of %p (blocks of %u B, held in this thread's remote cache)\n", user, page->block_size);
  }
  // Only the owner may read a page's lists; another thread's free is not checked further.
  if (segment->owner.load(std::memory_order_relaxed) != heap || heap->is_empty_sentinel) return;
  std::size_t first = static_cast<std::size_t>(page - segment->pages);
  bool page_in_use = (slices_in_use(segment) >> first) & 1;
  if (!page_in_use) {
    fatal("poolkit: double free of %p (blocks of %u B): its page %p was already given back, all its blocks free\n", user,
          page->block_size, static_cast<const void*>(page));
  }
  if (page->heap.load(std::memory_order_relaxed) != heap) return;
  if (on_list(page, page->free, block) || on_list(page, page->local_free, block)) {
    fatal("poolkit: double free of %p (blocks of %u B, page %p)\n", user, page->block_size, static_cast<const void*>(page));
  }
}

}  // namespace poolkit::malloc_impl
