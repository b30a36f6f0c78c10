// fuzz_pools.hpp: the pools the harnesses drive (the test support pools, and every
// real pool on main) and how each is built small enough to be exhausted by a fuzz input.
#pragma once

#include "fuzz_ops.hpp"
#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/pool_set.hpp"
#include "support_pools.hpp"

namespace poolkit::fuzz {

inline FixedPool::Options small_fixed(std::size_t chunk) {
  return FixedPool::Options{.chunk_size = chunk, .chunk_align = 64, .first_block_chunks = 8,
                            .max_block_chunks = 64};
}
inline Arena::Options small_arena() {
  Arena::Options o;
  o.initial_size = 4096;
  o.max_size = 1 << 20;
  return o;
}
inline Heap::Options small_heap(bool deferred) {
  Heap::Options o;
  o.region_size = 16 * 1024;
  o.max_bytes = 1 << 20;
  if (deferred) o.coalescing = Heap::Coalescing::kDeferred;
  return o;
}
inline BuddyPool::Options small_buddy() {
  BuddyPool::Options o;
  o.min_order = 4;
  o.max_order = 16;
  return o;
}

template <> inline constexpr bool kFreeReturnsBlocks<Arena> = false;

/// Whether a pool documents foreign and interior frees as harmless (ignored or
/// counted). FixedPool only checks them in debug builds, so the fuzzers spare it.
template <class P> inline constexpr bool kSurvivesBadFrees = true;
template <> inline constexpr bool kSurvivesBadFrees<FixedPool> = false;

}  // namespace poolkit::fuzz
