// pool_misuse: a small program that misuses one pool once, for tool_reports_test to
// run under valgrind memcheck or ASan and check that the tool reports the bug.
//   pool_misuse <pool> <bug>    bug: use_after_free | overflow | none
#include <cstdio>
#include <cstring>
#include <string_view>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/heap.hpp"
#include "support_pools.hpp"

namespace {

// volatile: the compiler must not drop or move the bad access.
template <class Pool>
int misuse(Pool& pool, std::string_view bug) {
  constexpr std::size_t kSize = 40;
  auto* p = static_cast<unsigned char*>(pool.allocate(kSize, 16));
  if (!p) return 2;
  std::memset(p, 1, kSize);
  volatile unsigned char* v = p;
  if (bug == "use_after_free") {
    pool.deallocate(p, kSize, 16);
    v[0] = 42;
    return 0;
  }
  if (bug == "overflow") v[kSize] = 42;
  pool.deallocate(p, kSize, 16);
  return 0;
}

poolkit::GuardOptions quiet() {
  poolkit::GuardOptions o;
  o.use_env = false;
  o.action = poolkit::GuardAction::count;  // the tool, not Guarded, must report it
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: pool_misuse <pool> <use_after_free|overflow|none>\n");
    return 2;
  }
  std::string_view pool = argv[1], bug = argv[2];
  if (pool == "SlotPool") {
    poolkit::test::SlotPool p(64, 16);
    return misuse(p, bug);
  }
  if (pool == "Guarded<SlotPool>") {
    poolkit::Guarded<poolkit::test::SlotPool> p(quiet(), 256, 16);
    return misuse(p, bug);
  }
  if (pool == "Guarded<MallocPool>") {
    poolkit::Guarded<poolkit::test::MallocPool> p(quiet());
    return misuse(p, bug);
  }
  if (pool == "FixedPool") {
    poolkit::FixedPool p(40);
    return misuse(p, bug);
  }
  if (pool == "Arena") {
    poolkit::Arena p(poolkit::Arena::Options{});
    return misuse(p, bug);
  }
  if (pool == "Heap") {
    poolkit::Heap p(poolkit::Heap::Options{});
    return misuse(p, bug);
  }
  if (pool == "BuddyPool") {
    poolkit::BuddyPool p(poolkit::BuddyPool::Options{});
    return misuse(p, bug);
  }
  if (pool == "PoolSet") {
    poolkit::test::PoolSetPool p;
    return misuse(p, bug);
  }
  if (pool == "Guarded<FixedPool>") {
    poolkit::Guarded<poolkit::FixedPool> p(quiet(), 128);
    return misuse(p, bug);
  }
  if (pool == "Guarded<Heap>") {
    poolkit::Guarded<poolkit::Heap> p(quiet(), poolkit::Heap::Options{});
    return misuse(p, bug);
  }
  std::fprintf(stderr, "pool_misuse: unknown pool %s\n", argv[1]);
  return 2;
}
