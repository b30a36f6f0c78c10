// c_api_pool_set.cpp: the "pool sets" section of poolkit.h over poolkit::PoolSet.
#include <new>
#include <stdexcept>

#include "c_api_detail.hpp"
#include "c_api_heap.hpp"
#include "poolkit/pool_set.hpp"

using poolkit::c_api::fail;

struct poolkit_pool_set {
  explicit poolkit_pool_set(const poolkit::Heap::Options& options) noexcept : set(options) {}
  poolkit_pool_set(poolkit::detail::BufferClaim&& handle, void* region, size_t size, const poolkit::Heap::Options& options)
      : handle_claim(static_cast<poolkit::detail::BufferClaim&&>(handle)), set(region, size, options), in_buffer(true) {}
  poolkit::detail::BufferClaim handle_claim;  // the handle's own bytes, when in a caller's buffer
  poolkit::PoolSet set;
  bool in_buffer = false;  // the handle lies at the start of the caller's buffer
};

extern "C" {

poolkit_pool_set* poolkit_pool_set_create(const poolkit_heap_options* options) {
  auto* s = new (std::nothrow) poolkit_pool_set(poolkit::c_api::heap_options(options));
  if (!s) errno = ENOMEM;
  return s;
}

poolkit_pool_set* poolkit_pool_set_create_in(void* buffer, size_t size, const poolkit_heap_options* options) {
  poolkit::c_api::BufferSplit split;
  if (!poolkit::c_api::split_buffer("poolkit_pool_set_create_in", buffer, size, sizeof(poolkit_pool_set), 16, &split))
    return nullptr;
  try {
    return new (buffer) poolkit_pool_set(static_cast<poolkit::detail::BufferClaim&&>(split.handle), split.region, split.region_size, poolkit::c_api::heap_options(options));
  } catch (const std::invalid_argument& e) {
    return static_cast<poolkit_pool_set*>(
        poolkit::c_api::fail_because(EINVAL, "poolkit_pool_set_create_in", e.what()));
  }
}

void poolkit_pool_set_destroy(poolkit_pool_set* set) {
  if (set && set->in_buffer)
    set->~poolkit_pool_set();  // the buffer stays the caller's
  else
    delete set;
}

void* poolkit_pool_set_alloc(poolkit_pool_set* set, uint32_t pool, size_t size) {
  if (!set) return fail(EINVAL);
  void* p = set->set.allocate(pool, size);
  return p ? p : fail(ENOMEM);
}

void* poolkit_pool_set_aligned_alloc(poolkit_pool_set* set, uint32_t pool, size_t align, size_t size) {
  if (!set || !poolkit::c_api::alignment_ok(align)) return fail(EINVAL);
  void* p = set->set.allocate(pool, size, align ? align : poolkit::kDefaultAlignment);
  return p ? p : fail(ENOMEM);
}

void poolkit_pool_set_free(poolkit_pool_set* set, void* p) {
  if (!set || !p) return;
  const auto bad = set->set.bad_frees();
  set->set.deallocate(p);
  if (set->set.bad_frees() != bad) errno = EINVAL;
}

void poolkit_pool_set_release_pool(poolkit_pool_set* set, uint32_t pool) {
  if (set) set->set.release(pool);
}

void poolkit_pool_set_release_all(poolkit_pool_set* set) {
  if (set) set->set.release();
}

int poolkit_pool_set_stats(const poolkit_pool_set* set, poolkit_stats* out) {
  if (!set || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(set->set.stats());
  return 0;
}

int poolkit_pool_set_pool_stats(const poolkit_pool_set* set, uint32_t pool, poolkit_stats* out) {
  if (!set || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(set->set.stats(pool));
  return 0;
}

}  // extern "C"
