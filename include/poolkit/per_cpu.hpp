// poolkit/per_cpu.hpp: PerCpu<P>, one inner pool (a shard) per CPU, each behind its
// own mutex; a thread allocates from the shard of the CPU it runs on (sched_getcpu()).
// Pick it over Locked<P> when many threads allocate at once: threads on different
// CPUs rarely touch the same lock or the same cache lines.
//
//   shard 0 [mutex|pool]  shard 1 [mutex|pool]  ...  shard N-1   (one cache line apart)
//        ^ sched_getcpu() % N picks one; if it is exhausted the others are tried in turn
//
// A block freed on another CPU goes back to the shard that owns it. To find it we ask
// owns() of the freeing CPU's shard first, then of the others. We chose that over a
// header per block holding the shard number: a header would change every block's size
// (a FixedPool of 32-byte blocks could no longer serve 32-byte requests) and cost
// memory on every block, while owns() is cheap on every poolkit pool (an address range
// check) and the first shard asked is usually right. Worst case: N lock/owns probes.
#pragma once

#include <sched.h>

#include <algorithm>
#include <concepts>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "poolkit/pool.hpp"

namespace poolkit {

template <Pool P>
class PerCpu {
 public:
  /// shards == 0 means one per CPU the machine has. make_shard(i) builds shard i's pool.
  template <class MakeShard>
    requires std::invocable<MakeShard&, std::size_t>
  PerCpu(std::size_t shards, MakeShard make_shard) {
    if (shards == 0) shards = default_shards();
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i)
      shards_.push_back(std::make_unique<Shard>(make_shard, i));
  }
  /// `shards` shards (0: one per CPU), each pool built from the same arguments.
  template <class... Args>
    requires std::constructible_from<P, const Args&...>
  explicit PerCpu(std::size_t shards = 0, const Args&... inner_args)
      : PerCpu(shards, [&](std::size_t) { return P(inner_args...); }) {}

  PerCpu(const PerCpu&) = delete;
  PerCpu& operator=(const PerCpu&) = delete;

  static std::size_t default_shards() noexcept {
    unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
  }

  std::size_t shard_count() const noexcept { return shards_.size(); }

  /// The shard this thread would use now.
  std::size_t current_shard() const noexcept {
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : static_cast<std::size_t>(cpu) % shards_.size();
  }

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    return allocate_from(current_shard(), size, align);
  }

  /// Allocates from shard `first` (mod the count), then the others in turn when it
  /// cannot. For tests and callers that pin shards themselves.
  void* allocate_from(std::size_t first, std::size_t size,
                      std::size_t align = kDefaultAlignment) noexcept {
    const std::size_t n = shards_.size();
    for (std::size_t k = 0; k < n; ++k) {
      Shard& s = *shards_[(first + k) % n];
      std::lock_guard lock(s.mutex);
      if (void* p = s.pool.allocate(size, align)) return p;
    }
    return nullptr;
  }

  /// Returns p to the shard that owns it (the current CPU's shard is asked first);
  /// a pointer no shard owns is ignored.
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if (!p) return;
    const std::size_t n = shards_.size(), first = current_shard();
    for (std::size_t k = 0; k < n; ++k) {
      Shard& s = *shards_[(first + k) % n];
      std::lock_guard lock(s.mutex);
      if (s.pool.owns(p)) {
        s.pool.deallocate(p, size, align);
        return;
      }
    }
  }

  bool owns(const void* p) const noexcept { return owner(p) != kNone; }

  /// The shard holding p, or kNone.
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t owner(const void* p) const noexcept {
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      std::lock_guard lock(shards_[i]->mutex);
      if (shards_[i]->pool.owns(p)) return i;
    }
    return kNone;
  }

  void release() noexcept {
    for (auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      s->pool.release();
    }
  }

  /// The shards' statistics added up (peak_in_use: the sum of the shards' peaks,
  /// an upper bound of the true peak; largest_free: the largest of any shard).
  PoolStats stats() const noexcept {
    PoolStats total;
    total.fixed_size_blocks = !shards_.empty();
    for (const auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      PoolStats x = s->pool.stats();
      total.bytes_requested += x.bytes_requested;
      total.bytes_in_use += x.bytes_in_use;
      total.peak_in_use += x.peak_in_use;
      total.bytes_free += x.bytes_free;
      total.largest_free = std::max(total.largest_free, x.largest_free);
      total.bytes_reserved += x.bytes_reserved;
      total.live_blocks += x.live_blocks;
      total.allocations += x.allocations;
      total.deallocations += x.deallocations;
      total.failures += x.failures;
      total.regions += x.regions;
      total.fixed_size_blocks = total.fixed_size_blocks && x.fixed_size_blocks;
      total.calls_counted = total.calls_counted && x.calls_counted;
    }
    return total;
  }

  /// Every shard's check() (when P has one), each under its lock.
  bool check() noexcept {
    bool ok = !shards_.empty();
    for (auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      if constexpr (requires(P& q) { { q.check() } -> std::convertible_to<bool>; })
        ok = s->pool.check() && ok;
    }
    return ok;
  }

  /// Runs f(pool) on shard i under its lock.
  template <class F>
  decltype(auto) with_shard(std::size_t i, F&& f) {
    Shard& s = *shards_[i];
    std::lock_guard lock(s.mutex);
    return std::forward<F>(f)(s.pool);
  }

 private:
  // Invariant: every block handed out and not yet freed is owned by exactly one
  // shard's pool, the one that allocated it.
  struct alignas(64) Shard {
    // make(i) returns the pool by value: built in place (pools need not be movable).
    template <class F>
    Shard(F& make, std::size_t i) : pool(make(i)) {}
    mutable std::mutex mutex;
    P pool;
  };

  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace poolkit
