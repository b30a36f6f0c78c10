// bench/heap_coalescing.cpp: Heap with immediate against deferred coalescing (and
// glibc malloc for scale) on two patterns, reporting time per operation and the
// memory each leaves: reserved KiB and external fragmentation as counters.
//  - heap_churn: 1000 live blocks of 16 B..64 KiB (log-uniform), one random block
//    replaced per operation: merges happen all the time.
//  - heap_bursts: the same 64 blocks (16 B..4 KiB) allocated then freed newest
//    first, repeated (a frame's scratch objects): with immediate coalescing every
//    free merges and the next allocation splits again; deferred hands back the
//    same blocks.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "poolkit/heap.hpp"

namespace {

std::vector<std::size_t> log_uniform_sizes(std::size_t n, std::size_t lo, std::size_t hi) {
  std::mt19937_64 rng(20261121);
  std::uniform_real_distribution<double> e(std::log2(double(lo)), std::log2(double(hi)));
  std::vector<std::size_t> sizes(n);
  for (auto& s : sizes) s = static_cast<std::size_t>(std::exp2(e(rng)));
  return sizes;
}

struct HeapAlloc {
  static constexpr bool kPoolkit = true;
  explicit HeapAlloc(poolkit::Heap::Coalescing c) : heap(options(c)) {}
  static poolkit::Heap::Options options(poolkit::Heap::Coalescing c) {
    poolkit::Heap::Options o;
    o.coalescing = c;
    return o;
  }
  void* allocate(std::size_t n) noexcept { return heap.allocate(n); }
  void deallocate(void* p) noexcept { heap.deallocate(p); }
  void report(benchmark::State& state) const {
    const auto s = heap.stats();
    state.counters["reserved_KiB"] = double(s.bytes_reserved) / 1024.0;
    state.counters["ext_frag_pct"] = 100.0 * s.external_fragmentation();
    state.counters["free_blocks"] = double(heap.free_blocks());
  }
  poolkit::Heap heap;
};

struct MallocAlloc {
  static constexpr bool kPoolkit = false;
  void* allocate(std::size_t n) noexcept { return std::malloc(n); }
  void deallocate(void* p) noexcept { std::free(p); }
  void report(benchmark::State&) const {}
};

template <class A>
void churn(benchmark::State& state, A& a) {
  state.SetLabel(A::kPoolkit ? "poolkit" : "peer");
  const auto sizes = log_uniform_sizes(1 << 16, 16, 64 << 10);
  std::vector<void*> live(1000);
  std::size_t k = 0;
  for (auto& p : live) p = a.allocate(sizes[k++ % sizes.size()]);
  std::mt19937_64 rng(7);
  for (auto _ : state) {
    const std::size_t i = rng() % live.size();
    a.deallocate(live[i]);
    live[i] = a.allocate(sizes[k++ % sizes.size()]);
    static_cast<char*>(live[i])[0] = 1;
    benchmark::DoNotOptimize(live[i]);
  }
  a.report(state);
  for (void* p : live) a.deallocate(p);
  state.SetItemsProcessed(state.iterations());
}

template <class A>
void bursts(benchmark::State& state, A& a) {
  state.SetLabel(A::kPoolkit ? "poolkit" : "peer");
  const auto sizes = log_uniform_sizes(64, 16, 4096);  // the same 64 sizes every burst
  std::vector<void*> burst(64);
  void* pin = a.allocate(64);  // keeps the region from going back to the OS between bursts
  for (auto _ : state) {
    for (std::size_t i = 0; i < burst.size(); ++i) {
      void*& p = burst[i];
      p = a.allocate(sizes[i]);
      static_cast<char*>(p)[0] = 1;
    }
    benchmark::DoNotOptimize(burst.data());
    for (std::size_t i = burst.size(); i-- > 0;) a.deallocate(burst[i]);
  }
  a.report(state);
  a.deallocate(pin);
  state.SetItemsProcessed(state.iterations() * 64);
}

void heap_churn_immediate(benchmark::State& s) {
  HeapAlloc a(poolkit::Heap::Coalescing::kImmediate);
  churn(s, a);
}
void heap_churn_deferred(benchmark::State& s) {
  HeapAlloc a(poolkit::Heap::Coalescing::kDeferred);
  churn(s, a);
}
void heap_churn_malloc(benchmark::State& s) {
  MallocAlloc a;
  churn(s, a);
}
void heap_bursts_immediate(benchmark::State& s) {
  HeapAlloc a(poolkit::Heap::Coalescing::kImmediate);
  bursts(s, a);
}
void heap_bursts_deferred(benchmark::State& s) {
  HeapAlloc a(poolkit::Heap::Coalescing::kDeferred);
  bursts(s, a);
}
void heap_bursts_malloc(benchmark::State& s) {
  MallocAlloc a;
  bursts(s, a);
}

}  // namespace

// Named "pattern/contender" like the rest of poolkit_bench, so report.py lists them.
BENCHMARK(heap_churn_immediate)->Name("heap_churn/poolkit::Heap[immediate]");
BENCHMARK(heap_churn_deferred)->Name("heap_churn/poolkit::Heap[deferred]");
BENCHMARK(heap_churn_malloc)->Name("heap_churn/malloc");
BENCHMARK(heap_bursts_immediate)->Name("heap_bursts/poolkit::Heap[immediate]");
BENCHMARK(heap_bursts_deferred)->Name("heap_bursts/poolkit::Heap[deferred]");
BENCHMARK(heap_bursts_malloc)->Name("heap_bursts/malloc");
