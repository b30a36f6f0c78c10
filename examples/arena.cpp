// arena: bump allocation for a piece of work with a clear end: parse a request,
// build its data in the arena, then drop it all with rewind() or reset().
#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <string>
#include <vector>

#include "poolkit/arena.hpp"
#include "poolkit/memory_resource.hpp"

int main() {
  poolkit::Arena arena({.initial_size = 16 * 1024});
  // Any size, any alignment, one pointer bump each.
  char* name = static_cast<char*>(arena.allocate(6, 1));
  std::memcpy(name, "arena", 6);
  auto* table = static_cast<double*>(arena.allocate(100 * sizeof(double), 64));
  for (int i = 0; i < 100; ++i) table[i] = i * 0.5;
  std::printf("\"%s\" at %p, a 64-byte aligned table at %p, %zu bytes used\n", name, static_cast<void*>(name),
              static_cast<void*>(table), arena.used());

  // A request loop: everything a request builds goes at once, by rewinding to a mark.
  poolkit::PoolResource resource(arena);
  poolkit::Arena::Mark start = arena.mark();
  for (int request = 0; request < 3; ++request) {
    {
      std::pmr::vector<std::pmr::string> words(&resource);
      for (int i = 0; i < 2000; ++i) words.emplace_back("word number " + std::to_string(i) + " of the request");
      std::printf("request %d: %zu words, arena used %zu bytes\n", request, words.size(), arena.used());
    }
    arena.rewind(start);
  }
  poolkit::print_stats(arena.stats(), "Arena after three requests", stdout);
  arena.reset();
  std::printf("after reset(): %zu bytes used, %zu bytes left in the current region\n", arena.used(),
              arena.remaining());
}
