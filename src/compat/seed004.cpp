// seed004.cpp: seed 004's allocate / deallocate / deallocate_pool over one
// process-wide PoolSet behind a mutex. The set is never destroyed, so frees from
// other static destructors at exit stay valid.
#include "poolkit/compat/seed004.h"

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <new>

#include "poolkit/pool_set.hpp"

namespace {

struct Seed004 {
  std::mutex lock;
  poolkit::PoolSet set;
};

Seed004& instance() noexcept {
  alignas(Seed004) static unsigned char storage[sizeof(Seed004)];
  static Seed004* const state = new (storage) Seed004();
  return *state;
}

poolkit::PoolSet::PoolId pool_id(int pool) noexcept { return static_cast<std::uint32_t>(pool); }

}  // namespace

extern "C" void* allocate(int pool, int size) {
  if (size < 0) {
    errno = EINVAL;
    return nullptr;
  }
  Seed004& s = instance();
  std::lock_guard<std::mutex> guard(s.lock);
  void* p = s.set.allocate(pool_id(pool), static_cast<std::size_t>(size));
  if (!p) errno = ENOMEM;
  return p;
}

extern "C" void deallocate(void* ptr) {
  if (!ptr) return;
  Seed004& s = instance();
  std::lock_guard<std::mutex> guard(s.lock);
  s.set.deallocate(ptr);
}

extern "C" void deallocate_pool(int pool) {
  Seed004& s = instance();
  std::lock_guard<std::mutex> guard(s.lock);
  s.set.release(pool_id(pool));
}
