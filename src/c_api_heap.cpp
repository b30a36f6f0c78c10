// c_api_heap.cpp: the "heaps" section of poolkit.h over poolkit::Heap.
#include <new>
#include <stdexcept>

#include "c_api_detail.hpp"
#include "c_api_heap.hpp"
#include "poolkit/heapmap.hpp"

using poolkit::c_api::fail;

struct poolkit_heap {
  explicit poolkit_heap(const poolkit::Heap::Options& options) noexcept : heap(options) {}
  poolkit_heap(poolkit::detail::BufferClaim&& handle, void* region, size_t size, const poolkit::Heap::Options& options)
      : handle_claim(static_cast<poolkit::detail::BufferClaim&&>(handle)), heap(region, size, options), in_buffer(true) {}
  poolkit::detail::BufferClaim handle_claim;  // the handle's own bytes, when in a caller's buffer
  poolkit::Heap heap;
  bool in_buffer = false;  // the handle lies at the start of the caller's buffer
};

extern "C" {

poolkit_heap* poolkit_heap_create(const poolkit_heap_options* options) {
  auto* h = new (std::nothrow) poolkit_heap(poolkit::c_api::heap_options(options));
  if (!h) errno = ENOMEM;
  return h;
}

poolkit_heap* poolkit_heap_create_in(void* buffer, size_t size, const poolkit_heap_options* options) {
  poolkit::c_api::BufferSplit split;
  if (!poolkit::c_api::split_buffer("poolkit_heap_create_in", buffer, size, sizeof(poolkit_heap),
                                    alignof(std::max_align_t) > 16 ? alignof(std::max_align_t) : 16, &split))
    return nullptr;
  try {
    return new (buffer) poolkit_heap(static_cast<poolkit::detail::BufferClaim&&>(split.handle), split.region, split.region_size, poolkit::c_api::heap_options(options));
  } catch (const std::invalid_argument& e) {
    return static_cast<poolkit_heap*>(poolkit::c_api::fail_because(EINVAL, "poolkit_heap_create_in", e.what()));
  }
}

void poolkit_heap_destroy(poolkit_heap* heap) {
  if (heap && heap->in_buffer)
    heap->~poolkit_heap();  // the buffer stays the caller's
  else
    delete heap;
}

void* poolkit_heap_alloc(poolkit_heap* heap, size_t size) {
  if (!heap) return fail(EINVAL);
  void* p = heap->heap.allocate(size);
  return p ? p : fail(ENOMEM);
}

void* poolkit_heap_aligned_alloc(poolkit_heap* heap, size_t align, size_t size) {
  if (!heap || !poolkit::c_api::alignment_ok(align)) return fail(EINVAL);
  void* p = heap->heap.allocate(size, align ? align : poolkit::kDefaultAlignment);
  return p ? p : fail(ENOMEM);
}

void poolkit_heap_free(poolkit_heap* heap, void* p) {
  if (!heap || !p) return;
  const auto bad = heap->heap.bad_frees();
  heap->heap.deallocate(p);
  if (heap->heap.bad_frees() != bad) errno = EINVAL;
}

void* poolkit_heap_resize(poolkit_heap* heap, void* p, size_t size) {
  if (!heap || !p) return fail(EINVAL);
  const auto bad = heap->heap.bad_frees();
  void* q = heap->heap.resize(p, size);
  if (!q) return fail(heap->heap.bad_frees() != bad ? EINVAL : ENOMEM);
  return q;
}

size_t poolkit_heap_usable_size(const poolkit_heap* heap, const void* p) {
  return heap && p ? heap->heap.usable_size(p) : 0;
}

void poolkit_heap_reset(poolkit_heap* heap) {
  if (heap) heap->heap.release();
}

int poolkit_heap_stats(const poolkit_heap* heap, poolkit_stats* out) {
  if (!heap || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(heap->heap.stats());
  return 0;
}

uint64_t poolkit_heap_bad_frees(const poolkit_heap* heap) { return heap ? heap->heap.bad_frees() : 0; }

int poolkit_heap_check(const poolkit_heap* heap) {
  if (!heap) {
    errno = EINVAL;
    return -1;
  }
  return heap->heap.check() ? 0 : -1;
}

}  // extern "C"

// Walks the heap, prints its picture (src/heapmap.cpp).
extern "C" int poolkit_heap_print_heapmap(const poolkit_heap* heap, FILE* out) {
  if (!heap || !out) {
    errno = EINVAL;
    return -1;
  }
  poolkit::print_heapmap(heap->heap, out);
  return 0;
}
