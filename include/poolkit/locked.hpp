// poolkit/locked.hpp: Locked<P>, any pool made safe to share between threads by one
// mutex around every call. Pick it when a few threads share a pool and contention is
// low; for many threads allocating at once, PerCpu<P> spreads them over shards.
//
// Why std::mutex and not a spinlock: glibc's mutex costs one uncontended atomic
// exchange, the same as a spinlock, and under contention it sleeps in the kernel
// (futex) instead of burning a core while the holder is preempted, which on an
// oversubscribed machine (more threads than cores) is the common case for a spinlock
// to lose badly. ThreadSanitizer also understands std::mutex without annotations.
#pragma once

#include <mutex>
#include <utility>

#include "poolkit/pool.hpp"

namespace poolkit {

template <Pool P>
class Locked {
 public:
  template <class... Args>
  explicit Locked(Args&&... inner_args) : inner_(std::forward<Args>(inner_args)...) {}

  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    std::lock_guard lock(mutex_);
    return inner_.allocate(size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if (!p) return;
    std::lock_guard lock(mutex_);
    inner_.deallocate(p, size, align);
  }
  bool owns(const void* p) const noexcept {
    std::lock_guard lock(mutex_);
    return inner_.owns(p);
  }
  void release() noexcept {
    std::lock_guard lock(mutex_);
    inner_.release();
  }
  PoolStats stats() const noexcept {
    std::lock_guard lock(mutex_);
    return inner_.stats();
  }
  /// The inner pool's check() under the lock (true if it has none).
  bool check() noexcept {
    std::lock_guard lock(mutex_);
    if constexpr (requires(P& q) { { q.check() } -> std::convertible_to<bool>; })
      return inner_.check();
    else
      return true;
  }

  /// Runs f(inner pool) under the lock, for operations the pool contract lacks
  /// (Guarded::leaks(), a pool's own extras). Returns what f returns.
  template <class F>
  decltype(auto) with_lock(F&& f) {
    std::lock_guard lock(mutex_);
    return std::forward<F>(f)(inner_);
  }

  /// The inner pool without the lock: only while no other thread uses this pool.
  P& unlocked() noexcept { return inner_; }

 private:
  mutable std::mutex mutex_;
  P inner_;
};

}  // namespace poolkit
