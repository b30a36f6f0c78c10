// fuzz_pools: every pool on its own, driven by fuzz input, against a model: blocks
// aligned, disjoint, contents kept, check() holding; release() at random; foreign and
// interior frees where the pool documents them as harmless.
#include "fuzz_ops.hpp"
#include "fuzz_pools.hpp"

namespace {

using namespace poolkit;

template <class Pool>
void drive(Pool& pool, FuzzedDataProvider& in, std::size_t max_size) {
  fuzz::run_ops(pool, in, max_size, [&pool](int op, FuzzedDataProvider& data, fuzz::Model& model) {
    if (op == 6 && fuzz::kSurvivesBadFrees<Pool>) {
      int local = 0;
      pool.deallocate(&local, sizeof local);
    } else if (op == 7 && fuzz::kSurvivesBadFrees<Pool> && !model.empty()) {
      const auto& b = model.at(data.ConsumeIntegralInRange<std::size_t>(0, model.count() - 1));
      if (b.size >= 2) pool.deallocate(b.p + data.ConsumeIntegralInRange<std::size_t>(1, b.size - 1), b.size);
    } else if (op == 8 && data.ConsumeIntegralInRange<int>(0, 7) == 0) {
      pool.release();
      model.clear();
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 6)) {
    case 0: {
      FixedPool pool(fuzz::small_fixed(in.ConsumeIntegralInRange<std::size_t>(1, 300)));
      drive(pool, in, pool.chunk_size() + 8);
      break;
    }
    case 1: {
      Arena pool(fuzz::small_arena());
      drive(pool, in, 3000);
      break;
    }
    case 2:
    case 3: {
      Heap pool(fuzz::small_heap(in.ConsumeBool()));
      drive(pool, in, 5000);
      break;
    }
    case 4: {
      BuddyPool pool(fuzz::small_buddy());
      drive(pool, in, 5000);
      break;
    }
    case 6: {
      test::PoolSetPool pool(fuzz::small_heap(false), in.ConsumeIntegral<std::uint32_t>());
      drive(pool, in, 5000);
      break;
    }
    case 5: {
      test::SlotPool pool(200, 32);
      drive(pool, in, 220);
      break;
    }
  }
  return 0;
}
