// c_api_heap.cpp: the "heaps" section of poolkit.h over poolkit::Heap.
#include "c_api_detail.hpp"
#include "c_api_heap.hpp"

using poolkit::c_api::fail;

struct poolkit_heap : poolkit::c_api::PoolHandle<poolkit::Heap> {};

extern "C" {

poolkit_heap* poolkit_heap_create(const poolkit_heap_options* options) {
  auto* h = new (std::nothrow) poolkit_heap{{{}, poolkit::Heap(poolkit::c_api::heap_options(options))}};
  if (!h) errno = ENOMEM;
  return h;
}

poolkit_heap* poolkit_heap_create_in(void* buffer, size_t size, const poolkit_heap_options* options) {
  constexpr std::size_t kRegionAlign = alignof(std::max_align_t) > 16 ? alignof(std::max_align_t) : 16;
  return poolkit::c_api::create_in<poolkit_heap>("poolkit_heap_create_in", buffer, size, kRegionAlign,
                                                 poolkit::c_api::heap_options(options));
}

void poolkit_heap_destroy(poolkit_heap* heap) { poolkit::c_api::destroy(heap); }

void* poolkit_heap_alloc(poolkit_heap* heap, size_t size) {
  if (!heap) return fail(EINVAL);
  void* p = heap->pool.allocate(size);
  return p ? p : fail(ENOMEM);
}

void* poolkit_heap_aligned_alloc(poolkit_heap* heap, size_t align, size_t size) {
  if (!heap || !poolkit::c_api::alignment_ok(align)) return fail(EINVAL);
  void* p = heap->pool.allocate(size, align ? align : poolkit::kDefaultAlignment);
  return p ? p : fail(ENOMEM);
}

void poolkit_heap_free(poolkit_heap* heap, void* p) {
  if (!heap || !p) return;
  const auto bad = heap->pool.bad_frees();
  heap->pool.deallocate(p);
  if (heap->pool.bad_frees() != bad) errno = EINVAL;
}

void* poolkit_heap_resize(poolkit_heap* heap, void* p, size_t size) {
  if (!heap || !p) return fail(EINVAL);
  const auto bad = heap->pool.bad_frees();
  void* q = heap->pool.resize(p, size);
  if (!q) return fail(heap->pool.bad_frees() != bad ? EINVAL : ENOMEM);
  return q;
}

size_t poolkit_heap_usable_size(const poolkit_heap* heap, const void* p) {
  return heap && p ? heap->pool.usable_size(p) : 0;
}

void poolkit_heap_reset(poolkit_heap* heap) {
  if (heap) heap->pool.release();
}

int poolkit_heap_stats(const poolkit_heap* heap, poolkit_stats* out) {
  if (!heap || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(heap->pool.stats());
  return 0;
}

uint64_t poolkit_heap_bad_frees(const poolkit_heap* heap) { return heap ? heap->pool.bad_frees() : 0; }

int poolkit_heap_check(const poolkit_heap* heap) {
  if (!heap) {
    errno = EINVAL;
    return -1;
  }
  return heap->pool.check() ? 0 : -1;
}

}  // extern "C"

// Walks the heap, prints its picture (src/heapmap.cpp).
extern "C" int poolkit_heap_print_heapmap(const poolkit_heap* heap, FILE* out) {
  return poolkit::c_api::print_heapmap(heap, out);
}
