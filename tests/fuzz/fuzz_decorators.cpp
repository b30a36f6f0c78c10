// fuzz_decorators: Locked<P> and PerCpu<P> (one thread; shards picked by the input)
// over the pools, driven by fuzz input, against a model; frees of foreign and
// interior pointers must be ignored without harm.
#include "fuzz_ops.hpp"
#include "fuzz_pools.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/locked.hpp"
#include "poolkit/per_cpu.hpp"

namespace {

using namespace poolkit;

// PerCpu with the shard of each allocation chosen by the input.
template <class Inner>
struct Sharded {
  PerCpu<Inner>& pool;
  FuzzedDataProvider& in;
  void* allocate(std::size_t n, std::size_t a) noexcept {
    return pool.allocate_from(in.ConsumeIntegralInRange<std::size_t>(0, 7), n, a);
  }
  void deallocate(void* p, std::size_t n, std::size_t a) noexcept { pool.deallocate(p, n, a); }
  bool owns(const void* p) const noexcept { return pool.owns(p); }
  bool check() noexcept { return pool.check(); }
  PoolStats stats() const noexcept { return pool.stats(); }
};

}  // namespace
template <> inline constexpr bool poolkit::fuzz::kFreeReturnsBlocks<Sharded<poolkit::Arena>> = false;
namespace {

// Frees that every pool must ignore (SlotPool documents them as no-ops).
template <class Inner, class Pool>
auto harmless_misuse(Pool& pool) {
  return [&pool](int op, FuzzedDataProvider& data, fuzz::Model& model) {
    if (!fuzz::kSurvivesBadFrees<Inner> && op != 8) return;
    if (op == 6) {
      int local = 0;
      pool.deallocate(&local, sizeof local);
    } else if (op == 7 && !model.empty()) {
      const auto& b = model.at(data.ConsumeIntegralInRange<std::size_t>(0, model.count() - 1));
      if (b.size >= 2) pool.deallocate(b.p + 1, b.size);
    } else if (op == 8 && data.ConsumeIntegralInRange<int>(0, 7) == 0) {
      pool.release();
      model.clear();
    }
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: {
      Locked<test::SlotPool> pool(320, 64);
      fuzz::run_ops(pool, in, 400, harmless_misuse<test::SlotPool>(pool));
      break;
    }
    case 1: {
      PerCpu<test::SlotPool> pool(3, [](std::size_t i) { return test::SlotPool(128 * (i + 1), 16); });
      Sharded<test::SlotPool> sharded{pool, in};
      fuzz::run_ops(sharded, in, 400, harmless_misuse<test::SlotPool>(pool));
      break;
    }
    case 2: {
      PerCpu<test::MallocPool> pool(4);
      Sharded<test::MallocPool> sharded{pool, in};
      fuzz::run_ops(sharded, in, 4000, harmless_misuse<test::MallocPool>(pool));
      break;
    }
    case 3: {
      GuardOptions o;
      o.use_env = false;
      o.action = GuardAction::count;
      o.checks.leaks = false;
      Locked<Guarded<test::SlotPool>> pool(o, 640, 64);
      fuzz::run_ops(pool, in, 500, harmless_misuse<test::SlotPool>(pool));
      break;
    }
    case 4: {
      PerCpu<Heap> pool(3, [](std::size_t) { return Heap(fuzz::small_heap(false)); });
      Sharded<Heap> sharded{pool, in};
      fuzz::run_ops(sharded, in, 5000, harmless_misuse<Heap>(pool));
      break;
    }
    case 5: {
      PerCpu<FixedPool> pool(2, [](std::size_t) { return FixedPool(fuzz::small_fixed(96)); });
      Sharded<FixedPool> sharded{pool, in};
      fuzz::run_ops(sharded, in, 100, harmless_misuse<FixedPool>(pool));
      break;
    }
    case 6: {
      Locked<BuddyPool> pool(fuzz::small_buddy());
      fuzz::run_ops(pool, in, 5000, harmless_misuse<BuddyPool>(pool));
      break;
    }
    case 7: {
      PerCpu<Arena> pool(2, [](std::size_t) { return Arena(fuzz::small_arena()); });
      Sharded<Arena> sharded{pool, in};
      fuzz::run_ops(sharded, in, 3000, harmless_misuse<Arena>(pool));
      break;
    }
  }
  return 0;
}
