// consumer.cpp: uses an installed poolkit through find_package(poolkit).
#include <poolkit/arena.hpp>
#include <poolkit/fixed_pool.hpp>
#include <poolkit/memory_resource.hpp>
#include <poolkit/object_pool.hpp>

#include <cstdio>
#include <memory_resource>
#include <vector>

struct Point {
  int x, y;
};

int main() {
  poolkit::ObjectPool<Point> points;
  auto p = points.make_unique(Point{3, 4});
  poolkit::Arena arena;
  poolkit::PoolResource resource(arena);
  std::pmr::vector<int> v({1, 2, 3}, &resource);
  poolkit::FixedPool pool(32);
  void* chunk = pool.allocate(32);
  pool.deallocate(chunk, 32);
  // Release builds count no calls (calls_counted is false); live blocks and the peak
  // are exact in every build.
  const poolkit::PoolStats stats = pool.stats();
  if (p->x + p->y != 7 || v.size() != 3 || !arena.owns(v.data()) || stats.live_blocks != 0 ||
      stats.peak_in_use < 32)
    return 1;
  std::printf("C++ consumer: ObjectPool, Arena and FixedPool work from the installed tree\n");
  return 0;
}
