// mem_pool.cpp: seed 001's pool API (compat/mem_pool.h) over one BuddyPool per m_pool.
#include "mem_pool.h"

#include <bit>
#include <cerrno>
#include <cstddef>
#include <new>

#include "poolkit/buddy_pool.hpp"

namespace {

using poolkit::BuddyPool;

// The natural alignment of each tagged type, indexed by m_pool_type.
constexpr std::size_t kAlignment[M_POOL_TYPE_COUNT] = {
    alignof(std::int8_t),  alignof(std::int16_t),  alignof(std::int32_t), alignof(std::int64_t),
    alignof(std::uint8_t), alignof(std::uint16_t), alignof(std::uint32_t), alignof(std::uint64_t),
    alignof(float),        alignof(double),        alignof(long double),  alignof(char),
    alignof(void*),        alignof(std::size_t),   alignof(std::max_align_t)};

BuddyPool* impl(const m_pool* pool) { return static_cast<BuddyPool*>(pool->impl); }

int fail(int error) {
  errno = error;
  return -1;
}

}  // namespace

extern "C" int pool_init(m_pool* pool) {
  if (!pool) return fail(EINVAL);
  if (pool->impl) return fail(EBUSY);
  const std::size_t wanted = pool->size ? pool->size : M_POOL_DEFAULT_SIZE;
  if (wanted > (std::size_t{1} << BuddyPool::kMaxOrderLimit)) return fail(EINVAL);
  BuddyPool::Options options;
  options.min_order = BuddyPool::kMinOrderLimit;  // 16-byte pieces
  options.max_order = poolkit::log2_floor(std::bit_ceil(wanted));
  if (options.max_order < options.min_order) options.max_order = options.min_order;
  if (options.max_order - options.min_order > BuddyPool::kMaxOrderSpan)  // very large pools
    options.min_order = options.max_order - BuddyPool::kMaxOrderSpan;
  auto* buddy = new (std::nothrow) BuddyPool(options);
  if (!buddy || !buddy->valid()) {
    delete buddy;
    return fail(ENOMEM);
  }
  pool->impl = buddy;
  pool->base_address = reinterpret_cast<std::uintptr_t>(buddy->region());
  pool->top_address = pool->base_address + buddy->max_block();
  return 0;
}

extern "C" int pool_alloc(m_pool* pool, void** out, size_t size, m_pool_type type) {
  if (out) *out = nullptr;
  if (!pool || !pool->impl || !out || static_cast<unsigned>(type) >= M_POOL_TYPE_COUNT)
    return fail(EINVAL);
  void* p = impl(pool)->allocate(size, kAlignment[type]);
  if (!p) return fail(ENOMEM);
  *out = p;
  return 0;
}

extern "C" int pool_free(void** p, size_t size, m_pool* pool) {
  if (!p || !pool || !pool->impl) return fail(EINVAL);
  if (!*p) return 0;
  // Only the start of a live piece is accepted: block_size is 0 for anything else.
  if (impl(pool)->block_size(*p) == 0) return fail(EINVAL);
  impl(pool)->deallocate(*p, size);
  *p = nullptr;
  return 0;
}

extern "C" void pool_destroy(m_pool* pool) {
  if (!pool || !pool->impl) return;
  delete impl(pool);
  *pool = m_pool{};
}
