// poolkit/allocator.hpp: an STL allocator over any pool, for std::vector,
// std::list, std::map, std::unordered_map and friends without std::pmr.
// Copies share the pool; two allocators are equal when they share a pool.
#pragma once

#include <cstddef>
#include <new>

#include "poolkit/pool.hpp"

namespace poolkit {

template <class T, Pool P>
class PoolAllocator {
 public:
  using value_type = T;
  template <class U>
  struct rebind {
    using other = PoolAllocator<U, P>;
  };

  explicit PoolAllocator(P& pool) noexcept : pool_(&pool) {}
  template <class U>
  PoolAllocator(const PoolAllocator<U, P>& other) noexcept : pool_(&other.pool()) {}

  T* allocate(std::size_t n) {
    std::size_t bytes;
    if (!checked_mul(n, sizeof(T), &bytes)) throw std::bad_array_new_length();
    void* p = pool_->allocate(bytes, alignof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { pool_->deallocate(p, n * sizeof(T), alignof(T)); }

  P& pool() const noexcept { return *pool_; }

  template <class U>
  bool operator==(const PoolAllocator<U, P>& other) const noexcept {
    return pool_ == &other.pool();
  }

 private:
  P* pool_;
};

}  // namespace poolkit
