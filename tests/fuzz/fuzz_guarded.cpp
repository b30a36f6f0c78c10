// fuzz_guarded: Guarded<P> over each inner pool, driven by fuzz input, against a model;
// misuse operations (double free, interior and foreign pointers, and outside ASan
// overflows and writes after free) must each produce exactly the report expected.
#include <deque>
#include <utility>

#include "fuzz_ops.hpp"
#include "fuzz_pools.hpp"
#include "poolkit/guarded.hpp"

namespace {

using namespace poolkit;
using poolkit::fuzz::fail;

template <class Inner, class... Args>
void run(FuzzedDataProvider& in, Args... inner_args) {
  GuardOptions o;
  o.name = "fuzz";
  o.use_env = false;
  o.action = GuardAction::count;
  o.quarantine_blocks = 8;
  o.quarantine_bytes = SIZE_MAX;  // eviction by count only, so the harness knows what is quarantined
  Guarded<Inner> pool(o, inner_args...);
  std::deque<std::pair<void*, std::size_t>> quarantined;  // the last frees, newest at the back
  std::uint64_t expected[kGuardErrorKinds] = {};
  auto expect = [&](GuardError k) {
    ++expected[static_cast<unsigned>(k)];
    if (pool.errors(k) != expected[static_cast<unsigned>(k)]) fail("wrong report count");
  };

  struct Checked {
    Guarded<Inner>& g;
    std::deque<std::pair<void*, std::size_t>>& q;
    void* allocate(std::size_t n, std::size_t a) noexcept {
      void* p = g.allocate(n, a);
      sync();  // an allocation the inner pool could not meet drains the quarantine
      return p;
    }
    void deallocate(void* p, std::size_t n, std::size_t a) noexcept {
      g.deallocate(p, n, a);
      q.emplace_back(p, n);
      sync();
    }
    // The quarantine is a FIFO: what it holds is the newest quarantined_blocks() frees.
    void sync() {
      while (q.size() > g.quarantined_blocks()) q.pop_front();
    }
    bool owns(const void* p) const noexcept { return g.owns(p); }
    bool check() noexcept { return g.check(); }
    PoolStats stats() const noexcept { return g.stats(); }
  } checked{pool, quarantined};

  fuzz::run_ops(checked, in, 512, [&](int op, FuzzedDataProvider& data, fuzz::Model& model) {
    switch (op) {
      case 6:  // double free of a block still in the quarantine
        if (!quarantined.empty()) {
          void* p = quarantined[data.ConsumeIntegralInRange<std::size_t>(0, quarantined.size() - 1)].first;
          pool.deallocate(p, 0);
          expect(GuardError::double_free);
        }
        break;
      case 7:  // a pointer into the middle of a live block
        if (!model.empty()) {
          const auto& b = model.at(data.ConsumeIntegralInRange<std::size_t>(0, model.count() - 1));
          if (b.size >= 2) {
            pool.deallocate(b.p + data.ConsumeIntegralInRange<std::size_t>(1, b.size - 1), b.size);
            expect(GuardError::interior_pointer);
          }
        }
        break;
      case 8: {  // a pointer from elsewhere
        int local = 0;
        pool.deallocate(&local, sizeof local);
        expect(GuardError::foreign_pointer);
        break;
      }
      case 9:  // outside ASan (which would stop at the write itself): overrun or write after free
        if constexpr (!annotate::kAsan) {
          if (data.ConsumeBool() && !model.empty()) {
            fuzz::ModelBlock b = model.take(data.ConsumeIntegralInRange<std::size_t>(0, model.count() - 1));
            b.p[b.size] ^= 0xff;
            checked.deallocate(b.p, b.size, b.align);
            expect(GuardError::overflow);
          } else if (!quarantined.empty() && quarantined.back().second > 0) {
            auto* p = static_cast<unsigned char*>(quarantined.back().first);
            auto before = pool.errors(GuardError::write_after_free);
            unsigned char saved = p[0];
            p[0] ^= 0x11;
            if (pool.check()) fail("check() missed a write after free", p);
            p[0] = saved;
            if (pool.errors(GuardError::write_after_free) != before + 1) fail("write after free not counted once");
            expected[static_cast<unsigned>(GuardError::write_after_free)] += 1;
          }
        }
        break;
    }
  });
  pool.drain_quarantine();
  for (unsigned k = 0; k < kGuardErrorKinds; ++k)
    if (pool.errors(static_cast<GuardError>(k)) != expected[k]) fail("unexpected report");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: run<test::MallocPool>(in); break;
    case 1: run<test::SlotPool>(in, 640, 64); break;
    case 2: run<FixedPool>(in, fuzz::small_fixed(576)); break;
    case 3: run<Arena>(in, fuzz::small_arena()); break;
    case 4: run<Heap>(in, fuzz::small_heap(false)); break;
    case 5: run<Heap>(in, fuzz::small_heap(true)); break;
    case 6: run<BuddyPool>(in, fuzz::small_buddy()); break;
    case 7: run<test::PoolSetPool>(in, fuzz::small_heap(false), 3u); break;
  }
  return 0;
}
