// c_api_fixed_pool.cpp: the "fixed-size pools" section of poolkit.h over FixedPool.
#include <stdexcept>

#include "c_api_detail.hpp"
#include "poolkit/fixed_pool.hpp"

using poolkit::FixedPool;
using poolkit::c_api::fail;

struct poolkit_fixed_pool : poolkit::c_api::PoolHandle<FixedPool> {};

namespace {

// False for options the C API refuses (NULL, a bad alignment) or FixedPool does.
bool to_options(const poolkit_fixed_pool_options* options, FixedPool::Options* o) noexcept {
  if (!options || !poolkit::c_api::alignment_ok(options->chunk_align)) return false;
  o->chunk_size = options->chunk_size;
  o->chunk_align = options->chunk_align ? options->chunk_align : poolkit::kDefaultAlignment;
  o->fixed_capacity = options->fixed_capacity;
  o->first_block_chunks = options->first_block_chunks;
  o->max_block_chunks = options->max_block_chunks;
  o->growth_factor = options->growth_factor ? options->growth_factor : 2;
  return FixedPool::validate(*o) == nullptr;
}

}  // namespace

extern "C" poolkit_fixed_pool* poolkit_fixed_pool_create(const poolkit_fixed_pool_options* options) {
  FixedPool::Options o;
  if (!to_options(options, &o)) return static_cast<poolkit_fixed_pool*>(fail(EINVAL));
  try {
    return new poolkit_fixed_pool{{{}, FixedPool(o)}};
  } catch (const std::invalid_argument&) {
    return static_cast<poolkit_fixed_pool*>(fail(EINVAL));
  } catch (...) {
    return static_cast<poolkit_fixed_pool*>(fail(ENOMEM));
  }
}

extern "C" poolkit_fixed_pool* poolkit_fixed_pool_create_in(void* buffer, size_t size,
                                                            const poolkit_fixed_pool_options* options) {
  constexpr const char* kName = "poolkit_fixed_pool_create_in";
  FixedPool::Options o;
  if (!to_options(options, &o)) {
    const char* why = options ? FixedPool::validate(o) : "the options are NULL";
    return static_cast<poolkit_fixed_pool*>(
        poolkit::c_api::fail_because(EINVAL, kName, why ? why : "chunk_align is not a power of two up to 4096"));
  }
  const std::size_t align = o.chunk_align > alignof(poolkit_fixed_pool) ? o.chunk_align : alignof(poolkit_fixed_pool);
  return poolkit::c_api::create_in<poolkit_fixed_pool>(kName, buffer, size, align, o);
}

extern "C" void poolkit_fixed_pool_destroy(poolkit_fixed_pool* pool) { poolkit::c_api::destroy(pool); }

extern "C" void* poolkit_fixed_pool_alloc(poolkit_fixed_pool* pool) {
  if (!pool) return fail(EINVAL);
  FixedPool& p = pool->pool;
  void* chunk = p.allocate(p.chunk_size(), p.chunk_align());
  return chunk ? chunk : fail(ENOMEM);
}

extern "C" void poolkit_fixed_pool_free(poolkit_fixed_pool* pool, void* p) {
  if (!pool) {
    if (p) errno = EINVAL;
    return;
  }
  pool->pool.deallocate(p, pool->pool.chunk_size(), pool->pool.chunk_align());
}

extern "C" void poolkit_fixed_pool_reset(poolkit_fixed_pool* pool) {
  if (!pool) {
    errno = EINVAL;
    return;
  }
  pool->pool.release();
}

extern "C" int poolkit_fixed_pool_stats(const poolkit_fixed_pool* pool, poolkit_stats* out) {
  if (!pool || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(pool->pool.stats());
  return 0;
}

extern "C" size_t poolkit_fixed_pool_chunk_size(const poolkit_fixed_pool* pool) {
  if (!pool) {
    errno = EINVAL;
    return 0;
  }
  return pool->pool.chunk_size();
}

extern "C" int poolkit_fixed_pool_owns(const poolkit_fixed_pool* pool, const void* p) {
  return pool && p && pool->pool.owns(p) ? 1 : 0;
}

// Walks the pool, prints its picture (src/heapmap.cpp).
extern "C" int poolkit_fixed_pool_print_heapmap(const poolkit_fixed_pool* pool, FILE* out) {
  return poolkit::c_api::print_heapmap(pool, out);
}
