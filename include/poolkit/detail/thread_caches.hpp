// poolkit/detail/thread_caches.hpp (private to PerCpu): finds this thread's cache of a
// given pool in O(1) without a lock, and hands every cache back to its pool when the
// thread exits. Process-wide, shared by every PerCpu type.
//
//   registry (one lock):  slot 0 {serial 7, pool A}  slot 1 {serial 9, pool B}  ...
//   each thread (TLS):    slot 0 {serial 7, cache}   slot 1 {serial 0, -}       ...
//
// A pool takes a free slot and a serial never used before; a thread's entry for that
// slot is its cache of the pool only while the serials match, so a destroyed pool (its
// slot freed, maybe reused by another pool with a new serial) is never reached through
// a stale entry. At thread exit the entries whose serial still matches the registry
// are handed to their pool (under the registry lock, so the pool cannot be destroyed
// meanwhile), which takes the cached blocks back into its shared depot.
#pragma once

#include <cstddef>
#include <cstdint>

#include "poolkit/detail/spin_lock.hpp"

namespace poolkit::detail {

inline constexpr std::size_t kCacheSlots = 64;  // pools with thread caches alive at once

struct CacheSlot {
  std::uint64_t serial = 0;  // 0: free
  void* pool = nullptr;
  void (*thread_exit)(void* pool, void* cache) noexcept = nullptr;
};

// Invariant: slots[i].serial is 0 or unique over the process's life (< next_serial).
struct CacheRegistry {
  SpinLock lock;
  std::uint64_t next_serial = 1;
  CacheSlot slots[kCacheSlots]{};
};
inline constinit CacheRegistry cache_registry{};

struct TlsCacheRef {
  std::uint64_t serial = 0;
  void* cache = nullptr;
};
// Trivial and constant-initialised: reading it is one TLS-relative load, no init guard.
inline constinit thread_local TlsCacheRef tls_cache_refs[kCacheSlots]{};

/// Hands this thread's live caches to their pools when the thread exits.
struct ThreadExitFlush {
  bool armed = false;
  ~ThreadExitFlush() {
    if (!armed) return;
    cache_registry.lock.lock();
    for (std::size_t i = 0; i < kCacheSlots; ++i) {
      TlsCacheRef& ref = tls_cache_refs[i];
      const CacheSlot& slot = cache_registry.slots[i];
      if (ref.cache != nullptr && ref.serial == slot.serial) slot.thread_exit(slot.pool, ref.cache);
      ref = TlsCacheRef{};
    }
    cache_registry.lock.unlock();
  }
};
inline thread_local ThreadExitFlush thread_exit_flush;

/// Takes a slot for `pool`; false (and no slot) when all are taken.
inline bool register_cache_slot(void* pool, void (*thread_exit)(void*, void*) noexcept,
                                std::size_t* slot, std::uint64_t* serial) noexcept {
  cache_registry.lock.lock();
  bool found = false;
  for (std::size_t i = 0; i < kCacheSlots && !found; ++i) {
    CacheSlot& s = cache_registry.slots[i];
    if (s.serial != 0) continue;
    s = CacheSlot{cache_registry.next_serial++, pool, thread_exit};
    *slot = i;
    *serial = s.serial;
    found = true;
  }
  cache_registry.lock.unlock();
  return found;
}

/// Frees the slot. Once this returns no thread exit calls the pool any more.
inline void unregister_cache_slot(std::size_t slot) noexcept {
  cache_registry.lock.lock();
  cache_registry.slots[slot] = CacheSlot{};
  cache_registry.lock.unlock();
}

/// Makes `cache` this thread's cache of the pool in `slot`, handed back at thread exit.
inline void set_thread_cache(std::size_t slot, std::uint64_t serial, void* cache) noexcept {
  thread_exit_flush.armed = true;  // first use in this thread registers its destructor
  tls_cache_refs[slot] = TlsCacheRef{serial, cache};
}

}  // namespace poolkit::detail
