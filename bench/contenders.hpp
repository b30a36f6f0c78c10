// bench/contenders.hpp: the allocators a user would pick instead of poolkit, each behind
// one small adapter so every pattern (patterns.hpp) runs the same code on all of them.
// poolkit's own pools have their adapters in poolkit_contenders.hpp.
//
// A contender is a class with:
//   static constexpr std::string_view name;   shown in the report
//   static constexpr bool poolkit;             poolkit's (ratios are taken against these) or a peer
//   static constexpr bool available = true;    false for a pool that has not landed yet
//   explicit C(const Shape&);                  builds the allocator for one benchmark run
//   void* allocate(size, align); void deallocate(p, size, align);
// and, for the patterns that need them:
//   template <class T> auto allocator();       an STL allocator for node containers
//   void reset();                              frees everything at once (arena pattern)
// A contender used by the 2-thread pattern must be safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <string_view>

#include <boost/pool/object_pool.hpp>
#include <boost/pool/pool.hpp>
#include <boost/pool/pool_alloc.hpp>
#include <boost/pool/singleton_pool.hpp>
#include <foonathan/memory/memory_pool.hpp>
#include <foonathan/memory/memory_stack.hpp>
#include <foonathan/memory/std_allocator.hpp>

namespace poolkit_bench {

/// What a pattern tells an allocator up front, for those that must be sized.
struct Shape {
  std::size_t block_size = 32;                 // the (largest) size of one request
  std::size_t max_live_bytes = 1 << 20;        // an upper bound on bytes live at once
};

// ---- malloc: glibc in-process; jemalloc, tcmalloc, mimalloc and poolkit's malloc
// through LD_PRELOAD of the same executable (scripts/main.sh), so one name covers all.
struct Malloc {
  static constexpr std::string_view name = "malloc";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  explicit Malloc(const Shape&) {}
  void* allocate(std::size_t size, std::size_t) noexcept { return std::malloc(size); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { std::free(p); }
  template <class T>
  std::allocator<T> allocator() { return {}; }  // operator new -> malloc
};

// ---- std::pmr pool resources (upstream: new_delete_resource, the default).
struct PmrUnsyncPool {
  static constexpr std::string_view name = "pmr::unsynchronized_pool";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  std::pmr::unsynchronized_pool_resource resource;
  explicit PmrUnsyncPool(const Shape&) {}
  void* allocate(std::size_t size, std::size_t align) { return resource.allocate(size, align); }
  void deallocate(void* p, std::size_t size, std::size_t align) { resource.deallocate(p, size, align); }
  template <class T>
  std::pmr::polymorphic_allocator<T> allocator() { return &resource; }
};

struct PmrSyncPool {
  static constexpr std::string_view name = "pmr::synchronized_pool";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  std::pmr::synchronized_pool_resource resource;
  explicit PmrSyncPool(const Shape&) {}
  void* allocate(std::size_t size, std::size_t align) { return resource.allocate(size, align); }
  void deallocate(void* p, std::size_t size, std::size_t align) { resource.deallocate(p, size, align); }
};

// monotonic_buffer_resource in its two common set-ups: with an initial buffer large
// enough for the whole pattern (release() rewinds into it: its fastest form), and with
// only the upstream (release() hands every chunk back to operator delete).
struct PmrMonotonicBuffer {
  static constexpr std::string_view name = "pmr::monotonic[buffer]";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  std::unique_ptr<std::byte[]> buffer;
  std::pmr::monotonic_buffer_resource resource;
  explicit PmrMonotonicBuffer(const Shape& shape)
      : buffer(new std::byte[shape.max_live_bytes]), resource(buffer.get(), shape.max_live_bytes) {}
  void* allocate(std::size_t size, std::size_t align) { return resource.allocate(size, align); }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}
  void reset() noexcept { resource.release(); }
};

struct PmrMonotonicUpstream {
  static constexpr std::string_view name = "pmr::monotonic[upstream]";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  std::pmr::monotonic_buffer_resource resource;
  explicit PmrMonotonicUpstream(const Shape&) {}
  void* allocate(std::size_t size, std::size_t align) { return resource.allocate(size, align); }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}
  void reset() noexcept { resource.release(); }
};

// ---- Boost.Pool (header-only, Boost 1.74 from Debian).
struct BoostPool {
  static constexpr std::string_view name = "boost::pool";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  boost::pool<> pool;
  explicit BoostPool(const Shape& shape) : pool(shape.block_size) {}
  void* allocate(std::size_t, std::size_t) { return pool.malloc(); }
  void deallocate(void* p, std::size_t, std::size_t) { pool.free(p); }
};

// construct/destroy (value-initialising, as poolkit::ObjectPool::try_create does).
// object_pool frees with ordered_free (it keeps its free list sorted so that its
// destructor can find live objects), which walks the free list: O(free blocks) per free.
struct BoostObjectPool {
  struct Block32 {
    alignas(16) unsigned char bytes[32];
  };
  static constexpr std::string_view name = "boost::object_pool";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  boost::object_pool<Block32> pool;
  explicit BoostObjectPool(const Shape&) {}
  void* allocate(std::size_t, std::size_t) { return pool.construct(); }
  void deallocate(void* p, std::size_t, std::size_t) { pool.destroy(static_cast<Block32*>(p)); }
};

// fast_pool_allocator draws from a process-wide singleton_pool per size. Single-threaded
// patterns use it without its mutex (null_mutex: its fastest form), the 2-thread
// pattern with its default mutex (BoostFastPoolLocked).
template <class Mutex>
struct BoostFastPoolWith {
  static constexpr std::string_view name =
      std::is_same_v<Mutex, boost::details::pool::null_mutex> ? "boost::fast_pool_allocator"
                                                                : "boost::fast_pool_allocator[mutex]";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  using Singleton32 = boost::singleton_pool<boost::fast_pool_allocator_tag, 32,
                                            boost::default_user_allocator_new_delete, Mutex>;
  explicit BoostFastPoolWith(const Shape&) {}  // raw patterns ask 32 B; containers rebind
  void* allocate(std::size_t, std::size_t) { return Singleton32::malloc(); }
  void deallocate(void* p, std::size_t, std::size_t) { Singleton32::free(p); }
  template <class T>
  boost::fast_pool_allocator<T, boost::default_user_allocator_new_delete, Mutex> allocator() {
    return {};
  }
};
using BoostFastPool = BoostFastPoolWith<boost::details::pool::null_mutex>;
using BoostFastPoolLocked = BoostFastPoolWith<std::mutex>;

// ---- foonathan/memory 0.7 (Debian's build: debug checks off, templates compiled in the .so).
namespace fm = foonathan::memory;

struct FoonathanPool {
  static constexpr std::string_view name = "foonathan::memory_pool";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  fm::memory_pool<> pool;
  explicit FoonathanPool(const Shape& shape) : pool(shape.block_size, 64 * 1024) {}
  void* allocate(std::size_t, std::size_t) { return pool.allocate_node(); }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { pool.deallocate_node(p); }
  template <class T>
  fm::std_allocator<T, fm::memory_pool<>> allocator() { return {pool}; }
};

// The same pool behind a std::mutex: what a foonathan user shares between threads
// (foonathan's own thread_safe_allocator wraps any allocator in a mutex this way).
struct FoonathanPoolLocked {
  static constexpr std::string_view name = "foonathan::memory_pool[mutex]";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  std::mutex mutex;
  fm::memory_pool<> pool;
  explicit FoonathanPoolLocked(const Shape& shape) : pool(shape.block_size, 64 * 1024) {}
  void* allocate(std::size_t, std::size_t) {
    std::lock_guard lock(mutex);
    return pool.allocate_node();
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept {
    std::lock_guard lock(mutex);
    pool.deallocate_node(p);
  }
};

struct FoonathanStack {
  static constexpr std::string_view name = "foonathan::memory_stack";
  static constexpr bool poolkit = false;
  static constexpr bool available = true;
  fm::memory_stack<> stack;
  fm::memory_stack<>::marker start;
  explicit FoonathanStack(const Shape&) : stack(64 * 1024), start(stack.top()) {}
  void* allocate(std::size_t size, std::size_t align) { return stack.allocate(size, align); }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}
  void reset() noexcept { stack.unwind(start); }
};

}  // namespace poolkit_bench
