// poolkit/memory_resource.hpp: any pool as a std::pmr::memory_resource.
// Throws std::bad_alloc where the pool returns nullptr, as the standard asks,
// unless a fallback resource is given: then requests the pool cannot meet (too
// large for a FixedPool, say) go to the fallback, and their frees follow them.
#pragma once

#include <memory_resource>
#include <new>

#include "poolkit/pool.hpp"

namespace poolkit {

template <Pool P>
class PoolResource final : public std::pmr::memory_resource {
 public:
  explicit PoolResource(P& pool, std::pmr::memory_resource* fallback = nullptr) noexcept
      : pool_(&pool), fallback_(fallback) {}

  P& pool() const noexcept { return *pool_; }
  std::pmr::memory_resource* fallback() const noexcept { return fallback_; }

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    if (void* p = pool_->allocate(bytes, align)) return p;
    if (fallback_) return fallback_->allocate(bytes, align);
    throw std::bad_alloc();
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    if (fallback_ && !pool_->owns(p)) {
      fallback_->deallocate(p, bytes, align);
      return;
    }
    pool_->deallocate(p, bytes, align);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  P* pool_;
  std::pmr::memory_resource* fallback_;
};

}  // namespace poolkit
