// override.cpp: the exported names. Always: the poolkit_* entry points of
// poolkit/malloc.h. With POOLKIT_MALLOC_OVERRIDE (the shared library and the static
// archive): malloc and its whole family, glibc's __libc_* aliases (so that code
// calling glibc's internal names never mixes allocators), mallinfo2, malloc_trim,
// and every C++ operator new and delete. operator new loops on the new_handler and
// throws std::bad_alloc when there is none; the nothrow forms return nullptr. Both go
// through the program's own C++ runtime (cxx_runtime.hpp): this library links none.
#include <malloc.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "api.hpp"
#include "checked.hpp"
#include "common/new_handler_loop.hpp"
#include "cxx_runtime.hpp"
#include "fast_path.hpp"
#include "poolkit/malloc.h"

#define PK_EXPORT extern "C" __attribute__((visibility("default")))

using namespace poolkit::malloc_impl;
using poolkit::PageSource;
using poolkit::PageSourceStats;

// ---- poolkit_* ------------------------------------------------------------------

PK_EXPORT void* poolkit_malloc(size_t size) noexcept { return fast_malloc(size); }
PK_EXPORT void poolkit_free(void* p) noexcept { fast_free(p); }
PK_EXPORT void* poolkit_calloc(size_t n, size_t size) noexcept { return api_calloc(n, size); }
PK_EXPORT void* poolkit_realloc(void* p, size_t size) noexcept { return api_realloc(p, size); }
PK_EXPORT void* poolkit_reallocarray(void* p, size_t n, size_t size) noexcept { return api_reallocarray(p, n, size); }
PK_EXPORT int poolkit_posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  return api_posix_memalign(out, alignment, size);
}
PK_EXPORT void* poolkit_aligned_alloc(size_t alignment, size_t size) noexcept { return api_aligned_alloc(alignment, size); }
PK_EXPORT void* poolkit_memalign(size_t alignment, size_t size) noexcept { return api_memalign(alignment, size); }
PK_EXPORT void* poolkit_valloc(size_t size) noexcept { return api_valloc(size); }
PK_EXPORT void* poolkit_pvalloc(size_t size) noexcept { return api_pvalloc(size); }
PK_EXPORT size_t poolkit_malloc_usable_size(const void* p) noexcept { return api_usable_size(p); }
PK_EXPORT int poolkit_malloc_trim(size_t) noexcept { return api_trim(); }
PK_EXPORT int poolkit_malloc_check(void) noexcept { return api_check(); }
PK_EXPORT int poolkit_malloc_owns(const void* p) noexcept {
  return p != nullptr && (segment_lookup(p) != nullptr || ((g_options.check | g_options.sample) && checked_owns(p)));
}

PK_EXPORT void poolkit_malloc_stats_print(FILE* out) noexcept {
  if (out == stderr || out == nullptr) {
    stats_print_fd(2);
  } else if (out == stdout) {
    std::fflush(stdout);
    stats_print_fd(1);
  } else {
    std::fflush(out);
    stats_print_fd(fileno(out));
  }
}

PK_EXPORT void poolkit_malloc_get_info(poolkit_malloc_info* info) noexcept {
  PageSourceStats os = os_stats();
  std::size_t heaps = 0;
  for (Heap* h = heap_list(); h != nullptr; h = h->pool_next) ++heaps;
  *info = poolkit_malloc_info{
      .page_bytes = g_counters.page_bytes.load(),
      .huge_bytes = g_counters.huge_bytes.load(),
      .huge_blocks = g_counters.huge_count.load(),
      .segments = g_counters.segments.load(),
      .mapped_bytes = os.bytes_mapped,
      .peak_mapped_bytes = os.peak_mapped,
      .abandoned_segments = abandoned_segment_count(),
      .heaps = heaps,
      .rss_bytes = os_rss_bytes(),
      .mmap_threshold = g_options.mmap_threshold,
      .check_level = g_options.check,
  };
}

#if POOLKIT_MALLOC_OVERRIDE

// ---- the C library's names ----------------------------------------------------------

PK_EXPORT void* malloc(size_t size) noexcept { return fast_malloc(size); }
PK_EXPORT void free(void* p) noexcept { fast_free(p); }
PK_EXPORT void* calloc(size_t n, size_t size) noexcept { return api_calloc(n, size); }
PK_EXPORT void* realloc(void* p, size_t size) noexcept { return api_realloc(p, size); }
PK_EXPORT void* reallocarray(void* p, size_t n, size_t size) noexcept { return api_reallocarray(p, n, size); }
PK_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  return api_posix_memalign(out, alignment, size);
}
PK_EXPORT void* aligned_alloc(size_t alignment, size_t size) noexcept { return api_aligned_alloc(alignment, size); }
PK_EXPORT void* memalign(size_t alignment, size_t size) noexcept { return api_memalign(alignment, size); }
PK_EXPORT void* valloc(size_t size) noexcept { return api_valloc(size); }
PK_EXPORT void* pvalloc(size_t size) noexcept { return api_pvalloc(size); }
PK_EXPORT size_t malloc_usable_size(void* p) noexcept { return api_usable_size(p); }
PK_EXPORT int malloc_trim(size_t) noexcept { return api_trim(); }
PK_EXPORT void malloc_stats(void) noexcept { stats_print_fd(2); }
PK_EXPORT void cfree(void* p) noexcept { fast_free(p); }

// glibc's own entry points: code that calls them directly must reach us too.
PK_EXPORT void* __libc_malloc(size_t size) noexcept { return fast_malloc(size); }
PK_EXPORT void __libc_free(void* p) noexcept { fast_free(p); }
PK_EXPORT void* __libc_calloc(size_t n, size_t size) noexcept { return api_calloc(n, size); }
PK_EXPORT void* __libc_realloc(void* p, size_t size) noexcept { return api_realloc(p, size); }
PK_EXPORT void* __libc_memalign(size_t alignment, size_t size) noexcept { return api_memalign(alignment, size); }
PK_EXPORT void* __libc_valloc(size_t size) noexcept { return api_valloc(size); }
PK_EXPORT void* __libc_pvalloc(size_t size) noexcept { return api_pvalloc(size); }
PK_EXPORT int __posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  return api_posix_memalign(out, alignment, size);
}

// M_MMAP_THRESHOLD is honoured (within 4 KiB..1 MiB); other tunables are accepted and ignored.
PK_EXPORT int mallopt(int param, int value) noexcept {
  if (param == M_MMAP_THRESHOLD && value >= 4096) {
    std::size_t v = static_cast<std::size_t>(value);
    g_options.mmap_threshold = v > kMaxClassSize ? kMaxClassSize : v;
  }
  return 1;
}

namespace {
template <class Info, class Field>
Info fill_mallinfo() noexcept {
  Info info{};
  std::size_t arena = g_counters.segments.load() * kSegmentSize;
  std::size_t pages = g_counters.page_bytes.load();
  info.arena = static_cast<Field>(arena);
  info.ordblks = static_cast<Field>(g_counters.segments.load());
  info.hblks = static_cast<Field>(g_counters.huge_count.load());
  info.hblkhd = static_cast<Field>(g_counters.huge_bytes.load());
  info.usmblks = static_cast<Field>(g_counters.peak_page_bytes.load() + g_counters.peak_huge_bytes.load());
  info.uordblks = static_cast<Field>(pages);
  info.fordblks = static_cast<Field>(arena > pages ? arena - pages : 0);
  info.keepcost = 0;
  return info;
}
}  // namespace

// arena: bytes of segments; uordblks: bytes of pages in use (blocks and their free
// neighbours on the same pages); fordblks: the rest of the segments; hblks/hblkhd:
// huge blocks and their bytes; usmblks: peak bytes in pages and huge blocks.
PK_EXPORT struct mallinfo2 mallinfo2(void) noexcept { return fill_mallinfo<struct mallinfo2, size_t>(); }
PK_EXPORT struct mallinfo mallinfo(void) noexcept {
  return fill_mallinfo<struct mallinfo, int>();
}

// ---- C++ --------------------------------------------------------------------------

namespace {

// Checked mode records which family made a block (new, new[], malloc) and the size
// asked for, so a mismatched or wrongly sized delete is reported.
PK_INLINE void* allocate_for_new(std::size_t size, std::size_t alignment, AllocKind kind) noexcept {
  if (PK_UNLIKELY(g_options.check)) return checked_alloc(size, alignment, kind, false);
  return alignment > kMinBlock ? api_aligned(alignment, size) : fast_malloc(size);
}

// The throwing forms' new_handler loop. This library is built without exceptions:
// they pass through its frames on the unwind tables alone, so no lock or other state
// needing clean-up may be held here.
PK_NOINLINE void* new_slow(std::size_t size, std::size_t alignment, AllocKind kind) {
  return poolkit::detail::new_handler_loop([=] { return allocate_for_new(size, alignment, kind); },
                                           cxx_new_handler, cxx_throw_bad_alloc);
}
// The nothrow forms: with no handler installed, nullptr at once. With one (it may
// throw), the runtime's own nothrow form runs the loop above inside its try.
PK_NOINLINE void* new_nothrow_slow(std::size_t size, std::size_t alignment, AllocKind kind) noexcept {
  if (cxx_new_handler() == nullptr) return nullptr;
  return cxx_nothrow_new(size, alignment, kind == AllocKind::kNewArray);
}

PK_INLINE void* new_fast(std::size_t size, AllocKind kind) {
  void* p = allocate_for_new(size, 0, kind);
  return PK_LIKELY(p != nullptr) ? p : new_slow(size, 0, kind);
}
PK_INLINE void* new_aligned(std::size_t size, std::align_val_t alignment, AllocKind kind) {
  void* p = allocate_for_new(size, static_cast<std::size_t>(alignment), kind);
  return PK_LIKELY(p != nullptr) ? p : new_slow(size, static_cast<std::size_t>(alignment), kind);
}
PK_INLINE void* new_nothrow(std::size_t size, std::size_t alignment, AllocKind kind) noexcept {
  void* p = allocate_for_new(size, alignment, kind);
  return PK_LIKELY(p != nullptr) ? p : new_nothrow_slow(size, alignment, kind);
}

PK_INLINE void delete_fast(void* p, AllocKind kind, std::size_t size = kUnknownSize) noexcept {
  if (PK_UNLIKELY(g_options.check)) checked_free(p, kind, size);
  else fast_free(p);
}

constexpr AllocKind kOne = AllocKind::kNew;
constexpr AllocKind kArray = AllocKind::kNewArray;

}  // namespace

#define PK_CXX_EXPORT __attribute__((visibility("default")))

PK_CXX_EXPORT void* operator new(std::size_t size) { return new_fast(size, kOne); }
PK_CXX_EXPORT void* operator new[](std::size_t size) { return new_fast(size, kArray); }
PK_CXX_EXPORT void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return new_nothrow(size, 0, kOne); }
PK_CXX_EXPORT void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return new_nothrow(size, 0, kArray);
}
PK_CXX_EXPORT void* operator new(std::size_t size, std::align_val_t a) { return new_aligned(size, a, kOne); }
PK_CXX_EXPORT void* operator new[](std::size_t size, std::align_val_t a) { return new_aligned(size, a, kArray); }
PK_CXX_EXPORT void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(size, static_cast<std::size_t>(a), kOne);
}
PK_CXX_EXPORT void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(size, static_cast<std::size_t>(a), kArray);
}

PK_CXX_EXPORT void operator delete(void* p) noexcept { delete_fast(p, kOne); }
PK_CXX_EXPORT void operator delete[](void* p) noexcept { delete_fast(p, kArray); }
PK_CXX_EXPORT void operator delete(void* p, std::size_t size) noexcept { delete_fast(p, kOne, size); }
PK_CXX_EXPORT void operator delete[](void* p, std::size_t size) noexcept { delete_fast(p, kArray, size); }
PK_CXX_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { delete_fast(p, kOne); }
PK_CXX_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { delete_fast(p, kArray); }
PK_CXX_EXPORT void operator delete(void* p, std::align_val_t) noexcept { delete_fast(p, kOne); }
PK_CXX_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { delete_fast(p, kArray); }
PK_CXX_EXPORT void operator delete(void* p, std::size_t size, std::align_val_t) noexcept { delete_fast(p, kOne, size); }
PK_CXX_EXPORT void operator delete[](void* p, std::size_t size, std::align_val_t) noexcept {
  delete_fast(p, kArray, size);
}
PK_CXX_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { delete_fast(p, kOne); }
PK_CXX_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  delete_fast(p, kArray);
}

#endif  // POOLKIT_MALLOC_OVERRIDE
