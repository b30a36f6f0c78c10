// bench/main.cpp: the registry. One line per pattern lists its contenders, poolkit's
// first (the first poolkit pool listed is the one the report takes ratios against);
// adding a pool or a peer to a pattern is adding its name to that line. Benchmarks are
// named "pattern/contender". Run through scripts/main.sh, which also runs this binary
// under LD_PRELOAD of each other malloc (only the "/malloc" benchmarks).
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "contenders.hpp"
#include "latency.hpp"
#include "patterns.hpp"
#include "poolkit_contenders.hpp"

namespace poolkit_bench {
namespace {

template <class Pattern, class C>
void run_fresh(benchmark::State& state) {
  state.SetLabel(C::poolkit ? "poolkit" : "peer");
  C contender(Pattern::shape());
  // Its address escapes, so the allocator's state lives in memory as in a real program
  // (a pool held by some object), not in registers across the benchmark loop.
  benchmark::DoNotOptimize(&contender);
  Pattern::run(state, contender);
}

// The multi-threaded pattern shares one contender between its threads: built before
// the threads start, destroyed after they end.
template <class Pattern, class C>
std::optional<C>& shared_contender() {
  static std::optional<C> instance;
  return instance;
}
template <class Pattern, class C>
void build_shared(const benchmark::State&) {
  shared_contender<Pattern, C>().emplace(Pattern::shape());
}
template <class Pattern, class C>
void destroy_shared(const benchmark::State&) {
  shared_contender<Pattern, C>().reset();
}
template <class Pattern, class C>
void run_shared(benchmark::State& state) {
  state.SetLabel(C::poolkit ? "poolkit" : "peer");
  Pattern::run(state, *shared_contender<Pattern, C>());
}

template <class Pattern, class C>
void register_one() {
  if constexpr (C::available) {
    const std::string name = std::string(Pattern::name) + "/" + std::string(C::name);
    if constexpr (requires { Pattern::kThreads; }) {
      auto* b = benchmark::RegisterBenchmark(name.c_str(), run_shared<Pattern, C>)
                    ->Setup(build_shared<Pattern, C>)
                    ->Teardown(destroy_shared<Pattern, C>)
                    ->Threads(Pattern::kThreads);
      if constexpr (!requires { Pattern::kCpuTime; }) b->UseRealTime();  // else: CPU time of all threads
    } else {
      benchmark::RegisterBenchmark(name.c_str(), run_fresh<Pattern, C>);
    }
  }
}

template <class Pattern, class... Cs>
void pattern() {
  (register_one<Pattern, Cs>(), ...);
}

// Tail latency: the same pattern on Timed<C>, every call timed (latency.hpp). Named
// "tail_<pattern>/<contender>"; its time per operation is not a median the report uses.
template <class Pattern, class C>
void run_tail(benchmark::State& state) {
  state.SetLabel(C::poolkit ? "poolkit" : "peer");
  Timed<C> contender(Pattern::shape());
  benchmark::DoNotOptimize(&contender);
  Pattern::run(state, contender);
  contender.report(state);
}

template <class Pattern, class... Cs>
void tail_pattern() {
  auto one = []<class C>() {
    if constexpr (C::available) {
      const std::string name = "tail_" + std::string(Pattern::name) + "/" + std::string(C::name);
      benchmark::RegisterBenchmark(name.c_str(), run_tail<Pattern, C>);
    }
  };
  (one.template operator()<Cs>(), ...);
}

void register_all() {
  // clang-format off
  pattern<PairLifo,   FixedPoolC, ObjectPoolC, PoolSetC, HeapC, BuddyPoolC, LockedFixedC,
                      BoostPool, BoostObjectPool, BoostFastPool, FoonathanPool,
                      PmrUnsyncPool, PmrSyncPool, Malloc>();
  pattern<BulkRandom, FixedPoolC, ObjectPoolC, PoolSetC, HeapC, BuddyPoolC,
                      BoostPool, BoostObjectPool, BoostFastPool, FoonathanPool,
                      PmrUnsyncPool, Malloc>();
  pattern<ListNodes,  FixedPoolC, FixedPoolPmrC, HeapC,
                      BoostFastPool, FoonathanPool, PmrUnsyncPool, Malloc>();
  pattern<MapNodes,   FixedPoolC, FixedPoolPmrC, HeapC,
                      BoostFastPool, FoonathanPool, PmrUnsyncPool, Malloc>();
  pattern<ArenaReset, ArenaC, ArenaBufferC, PoolSetC,
                      PmrMonotonicBuffer, PmrMonotonicUpstream, FoonathanStack>();
  pattern<MixedSizes, HeapC, HeapDeferredC, BuddyPoolC, PoolSetC,
                      PmrUnsyncPool, Malloc>();
  // The single-threaded patterns that call the allocator directly, with each call timed.
  tail_pattern<PairLifo,   FixedPoolC, ObjectPoolC, PoolSetC, HeapC, BuddyPoolC,
                           BoostPool, BoostObjectPool, BoostFastPool, FoonathanPool, PmrUnsyncPool, Malloc>();
  tail_pattern<BulkRandom, FixedPoolC, ObjectPoolC, PoolSetC, HeapC, BuddyPoolC,
                           BoostPool, BoostObjectPool, BoostFastPool, FoonathanPool, PmrUnsyncPool, Malloc>();
  tail_pattern<ArenaReset, ArenaC, ArenaBufferC, PoolSetC,
                           PmrMonotonicBuffer, PmrMonotonicUpstream, FoonathanStack>();
  tail_pattern<MixedSizes, HeapC, HeapDeferredC, BuddyPoolC, PoolSetC, PmrUnsyncPool, Malloc>();
  pattern<TwoThreads, PerCpuFixedC, LockedFixedC,
                      BoostFastPoolLocked, FoonathanPoolLocked, PmrSyncPool, Malloc>();
  pattern<ThreadsBatch<2>, PerCpuFixedC, LockedFixedC,
                      BoostFastPoolLocked, FoonathanPoolLocked, PmrSyncPool, Malloc>();
  pattern<ProducerConsumer, PerCpuFixedC, LockedFixedC,
                      BoostFastPoolLocked, FoonathanPoolLocked, PmrSyncPool, Malloc>();
  pattern<ThreadsBatch<8>, PerCpuFixedC, LockedFixedC,
                      BoostFastPoolLocked, FoonathanPoolLocked, PmrSyncPool, Malloc>();
  // clang-format on
}

/// The shared object that defines the malloc this process calls: shows that an
/// LD_PRELOAD run really measured the allocator it names.
std::string malloc_library() {
  Dl_info info{};
  void* (*fn)(std::size_t) = &std::malloc;
  if (dladdr(reinterpret_cast<void*>(fn), &info) != 0 && info.dli_fname != nullptr) return info.dli_fname;
  return "unknown";
}

}  // namespace
}  // namespace poolkit_bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("malloc_library", poolkit_bench::malloc_library());
  benchmark::AddCustomContext("compiler", POOLKIT_BENCH_COMPILER);
  benchmark::AddCustomContext("cxx_flags", POOLKIT_BENCH_CXX_FLAGS);
  benchmark::AddCustomContext("build_type", POOLKIT_BENCH_BUILD_TYPE);
  poolkit_bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
