// umbrella_test.cpp: poolkit/poolkit.hpp alone gives a C++ program every component.
#include <poolkit/poolkit.hpp>

#include <cstdio>
#include <memory_resource>
#include <vector>

int main() {
  poolkit::FixedPool fixed(32);
  poolkit::Arena arena;
  poolkit::Heap heap;
  poolkit::BuddyPool buddy;
  poolkit::PoolSet set;
  poolkit::Locked<poolkit::FixedPool> locked(64);
  static_assert(poolkit::Pool<poolkit::FixedPool> && poolkit::Pool<poolkit::Heap>);
  poolkit::PoolResource resource(arena);
  std::pmr::vector<int> numbers({1, 2, 3}, &resource);
  std::vector<int, poolkit::PoolAllocator<int, poolkit::Heap>> on_heap{poolkit::PoolAllocator<int, poolkit::Heap>(heap)};
  on_heap.assign({4, 5, 6});
  void* a = fixed.allocate(32);
  void* b = buddy.allocate(100);
  void* c = set.allocate(7, 50);
  void* d = locked.allocate(64);
  const bool ok = a != nullptr && b != nullptr && c != nullptr && d != nullptr && arena.owns(numbers.data()) &&
                  heap.owns(on_heap.data()) && numbers[2] + on_heap[2] == 9;
  fixed.deallocate(a, 32);
  buddy.deallocate(b, 100);
  set.deallocate(c);
  locked.deallocate(d, 64);
  if (!ok) {
    std::fputs("umbrella_test: a component misbehaved through poolkit.hpp\n", stderr);
    return 1;
  }
  return 0;
}
