// bench/poolkit_contenders.hpp: poolkit's pools as benchmark contenders (the interface is
// in contenders.hpp). Each pool's header is included only when it exists, so a pool
// that has not landed yet is simply left out of the run; when it lands, its adapter
// below is the one place that says how the benchmarks build it.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "contenders.hpp"
#include "poolkit/allocator.hpp"
#include "poolkit/memory_resource.hpp"
#include "poolkit/pool.hpp"

namespace poolkit_bench {

/// Any poolkit::Pool as a contender; Derived says the name and how to build the pool.
template <poolkit::Pool P>
struct PoolkitPool {
  static constexpr bool poolkit = true;
  static constexpr bool available = true;
  P pool;
  template <class... Args>
  explicit PoolkitPool(Args&&... args) : pool(std::forward<Args>(args)...) {}
  void* allocate(std::size_t size, std::size_t align) noexcept { return pool.allocate(size, align); }
  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    pool.deallocate(p, size, align);
  }
  void reset() noexcept { pool.release(); }
  template <class T>
  poolkit::PoolAllocator<T, P> allocator() {
    return poolkit::PoolAllocator<T, P>(pool);
  }
};

/// Stands in for a pool whose header is not on this branch yet: never registered.
struct NotLanded {
  static constexpr bool poolkit = true;
  static constexpr bool available = false;
};

}  // namespace poolkit_bench

// ---- FixedPool: one block size, a free list.
#if __has_include("poolkit/fixed_pool.hpp")
#include "poolkit/fixed_pool.hpp"
namespace poolkit_bench {
struct FixedPoolC : PoolkitPool<poolkit::FixedPool> {
  static constexpr std::string_view name = "poolkit::FixedPool";
  explicit FixedPoolC(const Shape& shape) : PoolkitPool(shape.block_size) {}
};
// The same pool through std::pmr (PoolResource), the route a pmr user takes: one
// virtual call per allocation, like pmr::unsynchronized_pool_resource.
struct FixedPoolPmrC {
  static constexpr std::string_view name = "poolkit::FixedPool[pmr]";
  static constexpr bool poolkit = true;
  static constexpr bool available = true;
  poolkit::FixedPool pool;
  poolkit::PoolResource<poolkit::FixedPool> resource;
  explicit FixedPoolPmrC(const Shape& shape) : pool(shape.block_size), resource(pool) {}
  void* allocate(std::size_t size, std::size_t align) { return resource.allocate(size, align); }
  void deallocate(void* p, std::size_t size, std::size_t align) { resource.deallocate(p, size, align); }
  template <class T>
  std::pmr::polymorphic_allocator<T> allocator() {
    return &resource;
  }
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct FixedPoolC : NotLanded {
  static constexpr std::string_view name = "poolkit::FixedPool";
};
struct FixedPoolPmrC : NotLanded {
  static constexpr std::string_view name = "poolkit::FixedPool[pmr]";
};
}  // namespace poolkit_bench
#endif

// ---- ObjectPool<T>: typed objects on a FixedPool (create / destroy), against boost::object_pool.
#if __has_include("poolkit/object_pool.hpp")
#include "poolkit/object_pool.hpp"
namespace poolkit_bench {
struct ObjectPoolC {
  struct Block32 {
    alignas(16) unsigned char bytes[32];
  };
  static constexpr std::string_view name = "poolkit::ObjectPool";
  static constexpr bool poolkit = true;
  static constexpr bool available = true;
  poolkit::ObjectPool<Block32> pool;
  explicit ObjectPoolC(const Shape&) {}
  void* allocate(std::size_t, std::size_t) noexcept { return pool.try_create(); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { pool.destroy(static_cast<Block32*>(p)); }
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct ObjectPoolC : NotLanded {
  static constexpr std::string_view name = "poolkit::ObjectPool";
};
}  // namespace poolkit_bench
#endif

// ---- Arena: bump allocation, reset() frees everything at once. Two set-ups, like
// monotonic_buffer_resource's: growing regions from the OS, and a caller's buffer.
#if __has_include("poolkit/arena.hpp")
#include "poolkit/arena.hpp"
namespace poolkit_bench {
struct ArenaC : PoolkitPool<poolkit::Arena> {
  static constexpr std::string_view name = "poolkit::Arena";
  explicit ArenaC(const Shape&) {}
};
struct ArenaBufferC {
  static constexpr std::string_view name = "poolkit::Arena[buffer]";
  static constexpr bool poolkit = true;
  static constexpr bool available = true;
  std::unique_ptr<std::byte[]> buffer;
  poolkit::Arena arena;
  explicit ArenaBufferC(const Shape& shape)
      : buffer(new std::byte[shape.max_live_bytes]), arena(buffer.get(), shape.max_live_bytes) {}
  void* allocate(std::size_t size, std::size_t align) noexcept { return arena.allocate(size, align); }
  void deallocate(void* p, std::size_t size, std::size_t align) noexcept { arena.deallocate(p, size, align); }
  void reset() noexcept { arena.reset(); }
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct ArenaC : NotLanded {
  static constexpr std::string_view name = "poolkit::Arena";
};
struct ArenaBufferC : NotLanded {
  static constexpr std::string_view name = "poolkit::Arena[buffer]";
};
}  // namespace poolkit_bench
#endif

// ---- Heap: boundary tags, segregated free lists, coalescing.
#if __has_include("poolkit/heap.hpp")
#include "poolkit/heap.hpp"
namespace poolkit_bench {
struct HeapC : PoolkitPool<poolkit::Heap> {
  static constexpr std::string_view name = "poolkit::Heap";
  explicit HeapC(const Shape&) {}
};
// Frees only mark blocks free; neighbours merge when a search would fail.
struct HeapDeferredC : PoolkitPool<poolkit::Heap> {
  static constexpr std::string_view name = "poolkit::Heap[deferred]";
  explicit HeapDeferredC(const Shape&)
      : PoolkitPool(poolkit::Heap::Options{.coalescing = poolkit::Heap::Coalescing::kDeferred}) {}
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct HeapC : NotLanded {
  static constexpr std::string_view name = "poolkit::Heap";
};
struct HeapDeferredC : NotLanded {
  static constexpr std::string_view name = "poolkit::Heap[deferred]";
};
}  // namespace poolkit_bench
#endif

// ---- PoolSet: numbered pools on one Heap; benchmarked through the View of pool 0
// (the set itself needs a pool id per allocation; the View is its poolkit::Pool face).
#if __has_include("poolkit/pool_set.hpp")
#include "poolkit/pool_set.hpp"
namespace poolkit_bench {
struct PoolSetOwner {
  poolkit::PoolSet set;
};
struct PoolSetC : PoolSetOwner, PoolkitPool<poolkit::PoolSet::View> {
  static constexpr std::string_view name = "poolkit::PoolSet";
  explicit PoolSetC(const Shape&) : PoolkitPool<poolkit::PoolSet::View>(set, 0u) {}
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct PoolSetC : NotLanded {
  static constexpr std::string_view name = "poolkit::PoolSet";
};
}  // namespace poolkit_bench
#endif

// ---- BuddyPool: power-of-two blocks split and merged with their buddies.
#if __has_include("poolkit/buddy_pool.hpp")
#include "poolkit/buddy_pool.hpp"
namespace poolkit_bench {
// The region: twice the live bytes the pattern can hold (power-of-two rounding).
struct BuddyPoolC : PoolkitPool<poolkit::BuddyPool> {
  static constexpr std::string_view name = "poolkit::BuddyPool";
  explicit BuddyPoolC(const Shape& shape)
      : PoolkitPool(poolkit::BuddyPool::Options{
            .min_order = 4, .max_order = poolkit::log2_floor(poolkit::round_up_pow2(2 * shape.max_live_bytes))}) {}
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct BuddyPoolC : NotLanded {
  static constexpr std::string_view name = "poolkit::BuddyPool";
};
}  // namespace poolkit_bench
#endif

// ---- Locked<FixedPool> and PerCpu<FixedPool>: the thread-safe decorators.
#if __has_include("poolkit/locked.hpp") && __has_include("poolkit/fixed_pool.hpp")
#include "poolkit/locked.hpp"
namespace poolkit_bench {
struct LockedFixedC : PoolkitPool<poolkit::Locked<poolkit::FixedPool>> {
  static constexpr std::string_view name = "poolkit::Locked<FixedPool>";
  explicit LockedFixedC(const Shape& shape) : PoolkitPool(shape.block_size) {}
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct LockedFixedC : NotLanded {
  static constexpr std::string_view name = "poolkit::Locked<FixedPool>";
};
}  // namespace poolkit_bench
#endif

#if __has_include("poolkit/per_cpu.hpp") && __has_include("poolkit/fixed_pool.hpp")
#include "poolkit/per_cpu.hpp"
namespace poolkit_bench {
struct PerCpuFixedC : PoolkitPool<poolkit::PerCpu<poolkit::FixedPool>> {
  static constexpr std::string_view name = "poolkit::PerCpu<FixedPool>";
  explicit PerCpuFixedC(const Shape& shape) : PoolkitPool(std::size_t{0}, shape.block_size) {}  // a shard per CPU
};
}  // namespace poolkit_bench
#else
namespace poolkit_bench {
struct PerCpuFixedC : NotLanded {
  static constexpr std::string_view name = "poolkit::PerCpu<FixedPool>";
};
}  // namespace poolkit_bench
#endif
