// buddy_pool: seed 000's malloc(3000) on a buddy allocator. The request takes a
// 4096-byte block, and the pool's stats show the 1096 bytes (27%) it wastes.
#include <cstdio>
#include <cstring>

#include "poolkit/buddy_pool.hpp"
#include "poolkit/heapmap.hpp"

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

  // The same request in a 64 KiB pool, as a picture: one character per KiB
  // (docs/buddy_pool.md shows it).
  poolkit::BuddyPool small({.min_order = 4, .max_order = 16});
  void* q = small.allocate(3000);
  poolkit::print_heapmap(small, stdout, {.cell_bytes = 1024, .columns = 64});
  void* r = small.allocate(5000);  // an 8 KiB block: the free 8K buddy
  void* t = small.allocate(100);   // 128 B, split from the free 4K buddy
  std::printf("\nthen malloc(5000) and malloc(100):\n");
  poolkit::print_heapmap(small, stdout, {.cell_bytes = 1024, .columns = 64});
  small.deallocate(t, 100);
  small.deallocate(r, 5000);
  small.deallocate(q, 3000);
  std::printf("\n");

  // Freeing merges each block with its buddy: the region is one block again.
  pool.deallocate(p, 3000);
  std::printf("after free: largest free block %zu bytes, check() %s\n", pool.stats().largest_free,
              pool.check() ? "passes" : "FAILS");
  return pool.check() ? 0 : 1;
}
