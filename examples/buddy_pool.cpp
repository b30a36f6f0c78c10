// buddy_pool: seed 000's malloc(3000) on a buddy allocator. The request takes a
// 4096-byte block, and the pool's stats show the 1096 bytes (27%) it wastes.
#include <cstdio>
#include <cstring>

#include "poolkit/buddy_pool.hpp"

int main() {
  poolkit::BuddyPool::Options options;
  options.min_order = 4;   // smallest block 16 B
  options.max_order = 20;  // one 1 MiB region
  poolkit::BuddyPool pool(options);

  void* p = pool.allocate(3000);
  std::memset(p, 0, 3000);
  std::printf("malloc(3000) -> %p, a %zu-byte block aligned to its size\n", p, pool.block_size(p));
  poolkit::print_stats(pool.stats(), "buddy pool after one 3000-byte request", stdout);
  const poolkit::PoolStats s = pool.stats();
  std::printf("internal fragmentation: %zu of %zu bytes = %.0f%%\n\n", s.internal_waste(), s.bytes_in_use,
              100.0 * s.internal_fragmentation());

  // Freeing merges each block with its buddy: the region is one block again.
  pool.deallocate(p, 3000);
  std::printf("after free: largest free block %zu bytes, check() %s\n", pool.stats().largest_free,
              pool.check() ? "passes" : "FAILS");
  return pool.check() ? 0 : 1;
}
