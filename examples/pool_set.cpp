// examples/pool_set.cpp: numbered pools on one heap. Each "request" of a toy server
// allocates into its own pool; a finished request is released in one call, in time
// proportional to its own blocks, while the others keep theirs.
#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <vector>

#include "poolkit/memory_resource.hpp"
#include "poolkit/pool_set.hpp"

int main() {
  poolkit::PoolSet set;

  // Three requests in flight, each with its own pool id.
  for (std::uint32_t request = 1; request <= 3; ++request) {
    for (int i = 0; i < 100 * int(request); ++i) {
      auto* p = static_cast<char*>(set.allocate(request, 24 + i % 200));
      std::memset(p, 'a' + int(request), 24);
    }
  }
  // A block can be freed on its own, without naming its pool.
  void* early = set.allocate(2, 1000);
  set.deallocate(early);

  poolkit::print_stats(set.stats(2), "request 2", stdout);
  set.release(2);  // request 2 is done: all of its blocks, nothing else
  std::printf("after release(2): request 1 has %zu blocks, request 2 has %zu, request 3 has %zu\n",
              set.stats(1).live_blocks, set.stats(2).live_blocks, set.stats(3).live_blocks);

  // One pool as a std::pmr resource: the containers' memory goes with release(id).
  auto view = set.view(4);
  {
    poolkit::PoolResource<poolkit::PoolSet::View> resource(view);
    std::pmr::vector<int> numbers(&resource);
    for (int i = 0; i < 10000; ++i) numbers.push_back(i);
    std::printf("pool 4 holds %zu blocks for a vector of %zu ints\n", view.stats().live_blocks,
                numbers.size());
  }

  set.release();
  poolkit::print_stats(set.stats(), "the whole set at the end", stdout);
  return set.check() ? 0 : 1;
}
