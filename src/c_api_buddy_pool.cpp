// c_api_buddy_pool.cpp: the "buddy pools" section of poolkit.h over BuddyPool.
#include <new>
#include <stdexcept>

#include "c_api_detail.hpp"
#include "poolkit/buddy_pool.hpp"

struct poolkit_buddy_pool : poolkit::c_api::PoolHandle<poolkit::BuddyPool> {};

using poolkit::c_api::fail;

extern "C" poolkit_buddy_pool* poolkit_buddy_create(unsigned min_order, unsigned max_order) {
  poolkit::BuddyPool::Options options;
  options.min_order = min_order;
  options.max_order = max_order;
  if (min_order < poolkit::BuddyPool::kMinOrderLimit || max_order > poolkit::BuddyPool::kMaxOrderLimit ||
      min_order > max_order || max_order - min_order > poolkit::BuddyPool::kMaxOrderSpan)
    return static_cast<poolkit_buddy_pool*>(fail(EINVAL));
  auto* handle = new (std::nothrow) poolkit_buddy_pool{{{}, poolkit::BuddyPool(options)}};
  if (!handle) return static_cast<poolkit_buddy_pool*>(fail(ENOMEM));
  if (!handle->pool.valid()) {
    delete handle;
    return static_cast<poolkit_buddy_pool*>(fail(ENOMEM));
  }
  return handle;
}

extern "C" poolkit_buddy_pool* poolkit_buddy_create_in(void* buffer, size_t size, unsigned min_order) {
  poolkit::BuddyPool::Options options;
  options.min_order = min_order;
  return poolkit::c_api::create_in<poolkit_buddy_pool>("poolkit_buddy_create_in", buffer, size, 16, options);
}

extern "C" void poolkit_buddy_destroy(poolkit_buddy_pool* pool) { poolkit::c_api::destroy(pool); }

extern "C" void* poolkit_buddy_alloc(poolkit_buddy_pool* pool, size_t size, size_t align) {
  if (!pool || !poolkit::c_api::alignment_ok(align)) return fail(EINVAL);
  void* p = pool->pool.allocate(size, align ? align : poolkit::kDefaultAlignment);
  return p ? p : fail(ENOMEM);
}

extern "C" void poolkit_buddy_free(poolkit_buddy_pool* pool, void* p, size_t size) {
  if (!p) return;
  if (!pool) {
    errno = EINVAL;
    return;
  }
  const poolkit::BuddyFreeErrors before = pool->pool.free_errors();
  pool->pool.deallocate(p, size);
  const poolkit::BuddyFreeErrors& after = pool->pool.free_errors();
  if (after.double_frees != before.double_frees || after.foreign != before.foreign ||
      after.interior != before.interior)
    errno = EINVAL;
}

extern "C" void poolkit_buddy_reset(poolkit_buddy_pool* pool) {
  if (pool) pool->pool.release();
}

extern "C" int poolkit_buddy_stats(const poolkit_buddy_pool* pool, poolkit_stats* out) {
  if (!pool || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(pool->pool.stats());
  return 0;
}

// Walks the pool, prints its picture (src/heapmap.cpp).
extern "C" int poolkit_buddy_print_heapmap(const poolkit_buddy_pool* pool, FILE* out) {
  return poolkit::c_api::print_heapmap(pool, out);
}
