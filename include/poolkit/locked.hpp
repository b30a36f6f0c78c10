// poolkit/locked.hpp: Locked<P>, any pool made safe to share between threads by one
// lock around every call. Pick it when a few threads share a pool and contention is
// low; for one-size blocks shared by busy threads, PerCpu<P> caches blocks per thread.
//
// The lock is detail::SpinLock (spin_lock.hpp), not std::mutex: a pool call holds it
// for a few dozen instructions, so taking it inline (one compare-and-swap, no call into
// libpthread, no owner or kind bookkeeping) is what an uncontended call pays, and a
// waiter spins briefly before it sleeps on a futex, so on an oversubscribed machine
// (more threads than cores) it does not burn its time slice while the holder is
// descheduled. ThreadSanitizer sees its acquire/release atomics, no annotation needed.
#pragma once

#include <mutex>
#include <utility>

#include "poolkit/detail/spin_lock.hpp"
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
  mutable detail::SpinLock mutex_;
  P inner_;
};

}  // namespace poolkit
