// alloc.cpp: the allocation calls beyond plain malloc, with glibc's conventions:
// calloc and reallocarray check the multiplication (ENOMEM); realloc(NULL, n) is
// malloc, realloc(p, 0) frees p and returns NULL, realloc stays in place while the
// new size fits the block and uses at least half of it (huge blocks: mremap);
// posix_memalign returns EINVAL for an alignment that is not a power of two times
// sizeof(void*); aligned_alloc sets EINVAL for one that is not a power of two (C17,
// glibc 2.38); memalign rounds a non-power-of-two alignment up, as glibc does.
#include <cerrno>
#include <cstring>

#include "api.hpp"
#include "checked.hpp"
#include "fast_path.hpp"

namespace poolkit::malloc_impl {

namespace {
void count_call(CallKind kind) noexcept {
  Heap* heap = t_heap;
  if (!heap->is_empty_sentinel) count(heap->counters.calls[kind]);
}
}  // namespace

void* api_calloc(std::size_t n, std::size_t size) noexcept {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (PK_UNLIKELY(g_options.stats)) count_call(kCallCalloc);
  void* p = fast_malloc(total);
  if (p == nullptr) return nullptr;
  Segment* segment = segment_of(p);
  // A fresh huge mapping is already zero (not so a checked block: filled with a pattern).
  if (total > g_options.mmap_threshold && !g_options.check && segment_lookup(p) == segment &&
      segment->kind == SegmentKind::kHuge && segment->huge_zeroed && !(segment->pages[0].flags & kPageChecked))
    return p;
  std::memset(p, 0, total);
  return p;
}

void* api_realloc(void* p, std::size_t size) noexcept {
  if (p == nullptr) return fast_malloc(size);
  if (size == 0) {
    fast_free(p);
    return nullptr;
  }
  if (PK_UNLIKELY(g_options.stats)) count_call(kCallRealloc);
  if (PK_UNLIKELY(g_options.check)) return checked_realloc(p, size);
  Segment* segment = segment_lookup(p);
  std::size_t old;
  if (segment == nullptr) {
    if (PK_UNLIKELY(g_options.sample) && checked_owns(p)) return checked_realloc(p, size);  // a sampled block
    old = foreign_usable_size(p);
    if (old == 0) fatal("realloc(): invalid pointer\n");
  } else if (segment->kind == SegmentKind::kHuge) {
    if (segment->pages[0].flags & kPageChecked) return checked_realloc(p, size);  // a sampled block
    if (size > g_options.mmap_threshold) {
      if (void* q = huge_realloc(segment, p, size)) return q;
    }
    old = segment->huge_capacity - (reinterpret_cast<std::uintptr_t>(p) - segment->huge_user);
  } else {
    Page* page = page_of(segment, p);
    Block* block = block_of(page, p);
    std::size_t room = reinterpret_cast<std::uintptr_t>(block) + page->block_size - reinterpret_cast<std::uintptr_t>(p);
    old = room;
    if (size <= room && size >= room / 2) return p;
  }
  void* q = fast_malloc(size);
  if (q == nullptr) return nullptr;  // errno is ENOMEM, p untouched
  std::memcpy(q, p, old < size ? old : size);
  fast_free(p);
  return q;
}

void* api_reallocarray(void* p, std::size_t n, std::size_t size) noexcept {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return api_realloc(p, total);
}

// alignment: a power of two.
void* api_aligned(std::size_t alignment, std::size_t size) noexcept {
  if (PK_UNLIKELY(g_options.stats)) count_call(kCallAligned);
  if (alignment <= kMinBlock) return fast_malloc(size);
  return heap_alloc_aligned(t_heap, size, alignment);
}

int api_posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || !is_pow2(alignment)) return EINVAL;
  int saved = errno;
  void* p = api_aligned(alignment, size);
  errno = saved;
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* api_aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  if (!is_pow2(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return api_aligned(alignment, size);
}

void* api_memalign(std::size_t alignment, std::size_t size) noexcept {
  if (alignment > (SIZE_MAX >> 1) + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (alignment == 0) alignment = 1;
  if (!is_pow2(alignment)) alignment = round_up_pow2(alignment);
  return api_aligned(alignment, size);
}

void* api_valloc(std::size_t size) noexcept { return api_aligned(PageSource::page_size(), size); }

void* api_pvalloc(std::size_t size) noexcept {
  std::size_t rounded;
  if (!PageSource::round_to_pages(size, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  return api_aligned(PageSource::page_size(), rounded);
}

std::size_t api_usable_size(const void* p) noexcept { return usable_size(p); }

int api_trim() noexcept {
  std::uint64_t before = g_counters.purged_bytes.load() + os_stats().munmap_calls;
  // Segments of exited threads may hold nothing but frees nobody collected: adopt
  // them all, so that the collection below can give their pages back.
  if (g_options.check | g_options.sample) checked_flush_quarantine();
  Heap* heap = heap_for_thread();
  if (heap != nullptr) {
    remote_cache_flush(heap);  // other threads' blocks back to their pages
    transfer_flush();          // and the batches every thread shares
    while (segment_adopt_one(heap)) {
    }
    heap_collect_all(heap, false);
    heap_purge(heap, true);
  }
  segment_cache_trim(true);
  std::uint64_t after = g_counters.purged_bytes.load() + os_stats().munmap_calls;
  verbose("malloc_trim: %s\n", after != before ? "memory returned to the OS" : "nothing to return");
  return after != before ? 1 : 0;
}

int api_check() noexcept {
  int errors = heap_walk(t_heap, true);
  if (g_options.check) errors += checked_verify_all(true);
  return errors;
}

}  // namespace poolkit::malloc_impl
