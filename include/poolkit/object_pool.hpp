// poolkit/object_pool.hpp: typed objects on a FixedPool. create(args...) constructs
// a T in a chunk, destroy(p) runs ~T and returns the chunk in O(1), make_unique
// hands out a std::unique_ptr whose deleter returns the object to the pool.
// Pick it over FixedPool when you think in objects rather than bytes.
//
// Objects still alive when the pool is destroyed or released are NOT destroyed:
// their memory is simply reclaimed (as with std::pmr pools). Finding them costs a
// sweep of every chunk and running their destructors in address order is unsafe
// when one object's destructor destroys another of the same pool; so it is explicit:
// call destroy_all() for Boost's object_pool behaviour.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "poolkit/fixed_pool.hpp"

namespace poolkit {

template <class T>
class ObjectPool {
 public:
  static_assert(alignof(T) <= kMaxAlignment, "ObjectPool supports alignments up to 4096");

  /// Returns an object to its pool; what make_unique's unique_ptr calls.
  struct Deleter {
    ObjectPool* pool = nullptr;
    void operator()(T* p) const noexcept { pool->destroy(p); }
  };
  using UniquePtr = std::unique_ptr<T, Deleter>;

  /// A pool of sizeof(T) chunks aligned for T; options may set capacity and growth
  /// (their chunk_size and chunk_align are replaced).
  explicit ObjectPool(FixedPool::Options options = {}) : pool_(for_t(options)) {}

  /// A new T(args...); throws std::bad_alloc when the pool is exhausted and
  /// whatever T's constructor throws (the chunk goes back to the pool first).
  template <class... Args>
  [[nodiscard]] T* create(Args&&... args) {
    void* p = pool_.allocate(sizeof(T), alignof(T));
    if (!p) throw std::bad_alloc();
    return construct_in(p, std::forward<Args>(args)...);
  }

  /// Like create, but nullptr instead of std::bad_alloc when the pool is exhausted.
  template <class... Args>
  [[nodiscard]] T* try_create(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>) {
    void* p = pool_.allocate(sizeof(T), alignof(T));
    if (!p) return nullptr;
    return construct_in(p, std::forward<Args>(args)...);
  }

  /// create() owned by a std::unique_ptr that destroys it back into this pool.
  template <class... Args>
  [[nodiscard]] UniquePtr make_unique(Args&&... args) {
    return UniquePtr(create(std::forward<Args>(args)...), Deleter{this});
  }

  /// Runs ~T and returns the chunk: O(1). nullptr does nothing. The object must come
  /// from this pool (debug builds ignore foreign pointers, see FixedPool::deallocate).
  void destroy(T* p) noexcept {
    if (!p) return;
    p->~T();
    pool_.deallocate(p, sizeof(T), alignof(T));
  }

  /// Destroys every live object (address order), then releases the pool: O(chunks).
  /// A destructor here must not destroy other objects of this pool.
  void destroy_all() noexcept {
    if constexpr (!std::is_trivially_destructible_v<T>)
      pool_.for_each_live_chunk([](void* p) { std::launder(static_cast<T*>(p))->~T(); });
    pool_.release();
  }

  /// Reclaims every chunk without running destructors.
  void release() noexcept { pool_.release(); }

  bool owns(const T* p) const noexcept { return pool_.owns(p); }
  PoolStats stats() const noexcept { return pool_.stats(); }
  bool check() const noexcept { return pool_.check(); }
  FixedPool& pool() noexcept { return pool_; }
  const FixedPool& pool() const noexcept { return pool_; }

 private:
  static FixedPool::Options for_t(FixedPool::Options options) noexcept {
    options.chunk_size = sizeof(T);
    options.chunk_align = alignof(T);
    return options;
  }

  // T(args...) where T has such a constructor, else T{args...} (aggregates: clang 14
  // lacks C++20's parenthesized aggregate initialization).
  template <class... Args>
  static T* construct(void* p, Args&&... args) {
    if constexpr (std::is_constructible_v<T, Args...>)
      return ::new (p) T(std::forward<Args>(args)...);
    else
      return ::new (p) T{std::forward<Args>(args)...};
  }

  template <class... Args>
  T* construct_in(void* p, Args&&... args) {
    if constexpr (std::is_nothrow_constructible_v<T, Args...>) {
      return construct(p, std::forward<Args>(args)...);
    } else {
      try {
        return construct(p, std::forward<Args>(args)...);
      } catch (...) {
        pool_.deallocate(p, sizeof(T), alignof(T));
        throw;
      }
    }
  }

  FixedPool pool_;
};

}  // namespace poolkit
