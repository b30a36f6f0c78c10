// examples/heap.cpp: a general-purpose Heap: mixed sizes freed in any order, an
// aligned block, an in-place resize, std::pmr containers on top, and the stats.
#include <algorithm>
#include <cstdio>
#include <memory_resource>
#include <random>
#include <string>
#include <vector>

#include "poolkit/heap.hpp"
#include "poolkit/heapmap.hpp"
#include "poolkit/memory_resource.hpp"

int main() {
  poolkit::Heap heap;

  // Mixed sizes, freed in random order: freed blocks merge with free neighbours.
  std::mt19937 rng(42);
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i) blocks.push_back(heap.allocate(16 + rng() % 2000));
  std::shuffle(blocks.begin(), blocks.end(), rng);
  for (std::size_t i = 0; i < blocks.size(); i += 2) heap.deallocate(blocks[i]);
  poolkit::print_stats(heap.stats(), "heap after freeing every other block", stdout);
  // The holes, as a picture (docs/heap.md shows it).
  poolkit::print_heapmap(heap, stdout, {.cell_bytes = 1024, .columns = 64});

  // A page-aligned block: the gap in front of it becomes a free block, not waste.
  void* page = heap.allocate(3000, 4096);
  std::printf("aligned block at %p, %zu bytes usable\n", page, heap.usable_size(page));

  // resize grows in place when the next block is free, and never moves the block.
  void* grown = heap.resize(page, 5000);
  std::printf("resize to 5000: %s\n", grown ? "grew in place" : "next block in use: untouched");

  // std::pmr containers drawing on the heap.
  {
    poolkit::PoolResource<poolkit::Heap> resource(heap);
    std::pmr::vector<std::pmr::string> names(&resource);
    for (int i = 0; i < 1000; ++i) names.emplace_back("name number " + std::to_string(i) + " of many");
    std::printf("%zu strings, last: %s\n", names.size(), names.back().c_str());
  }

  for (std::size_t i = 1; i < blocks.size(); i += 2) heap.deallocate(blocks[i]);
  heap.deallocate(page);
  poolkit::print_stats(heap.stats(), "heap at the end", stdout);
  return heap.check() ? 0 : 1;
}
