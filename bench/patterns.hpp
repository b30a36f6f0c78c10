// bench/patterns.hpp: the allocation patterns, each a template over a contender
// (contenders.hpp), so every allocator runs exactly the same code. A pattern has a
// name, the Shape it needs, and run(state, contender), which reports items processed
// so that the report can show nanoseconds per operation. Every pattern writes to the
// memory it gets and passes pointers to DoNotOptimize, so no allocation is optimised away.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "contenders.hpp"

namespace poolkit_bench {

inline constexpr std::size_t kAlign = alignof(std::max_align_t);  // what malloc gives
inline constexpr std::uint64_t kSeed = 20261121;                  // same data for every contender

inline std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  return order;
}

/// Stops the benchmark with an error where an allocator returned nullptr.
inline bool failed(benchmark::State& state, const void* p) {
  if (p != nullptr) [[likely]]
    return false;
  state.SkipWithError("allocation failed");
  return true;
}

// ---- pair32: allocate 32 B, write it, free it (LIFO, the free list's best case).
struct PairLifo {
  static constexpr const char* name = "pair32";
  static Shape shape() { return {32, 1 << 20}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    for (auto _ : state) {
      void* p = c.allocate(32, kAlign);
      if (failed(state, p)) break;
      static_cast<unsigned char*>(p)[0] = 1;
      benchmark::DoNotOptimize(p);
      c.deallocate(p, 32, kAlign);
    }
    state.SetItemsProcessed(state.iterations());
  }
};

// ---- bulk32: allocate N blocks of 32 B, then free them all in a random order.
struct BulkRandom {
  static constexpr const char* name = "bulk32_random";
  static constexpr std::size_t kBlocks = 4096;
  static Shape shape() { return {32, 2 * kBlocks * 32}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    std::vector<void*> blocks(kBlocks);
    const std::vector<std::size_t> order = shuffled_indices(kBlocks, kSeed);
    for (auto _ : state) {
      std::size_t got = 0;
      for (; got < kBlocks; ++got) {
        void* p = c.allocate(32, kAlign);
        if (p == nullptr) break;
        static_cast<unsigned char*>(p)[0] = static_cast<unsigned char>(got);
        blocks[got] = p;
      }
      benchmark::DoNotOptimize(blocks.data());
      benchmark::ClobberMemory();
      for (std::size_t i : order)
        if (i < got) c.deallocate(blocks[i], 32, kAlign);
      if (got < kBlocks && failed(state, nullptr)) break;
    }
    state.SetItemsProcessed(state.iterations() * kBlocks);  // one item: one allocate + one free
  }
};

// The exact node size a container asks its allocator for (list and map allocate only
// nodes in libstdc++), found by asking it once: node pools are built for that size.
template <class T>
struct SizeProbe {
  using value_type = T;
  std::size_t* seen;
  explicit SizeProbe(std::size_t* s) : seen(s) {}
  template <class U>
  SizeProbe(const SizeProbe<U>& o) : seen(o.seen) {}
  T* allocate(std::size_t n) {
    *seen = std::max(*seen, n * sizeof(T));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) { std::allocator<T>().deallocate(p, n); }
  template <class U>
  bool operator==(const SizeProbe<U>& o) const { return seen == o.seen; }
};

template <template <class> class Container>
std::size_t node_size() {
  std::size_t seen = 0;
  {
    Container<SizeProbe<int>> c{SizeProbe<int>(&seen)};
    c.insert_one(1);
  }
  return seen;
}

// ---- list: std::list<int> through the allocator: N push_back, erase every other
// node, N/2 push_front, destroy. One item: one node allocated (and later freed).
struct ListNodes {
  static constexpr const char* name = "list";
  static constexpr int kNodes = 1000;
  template <class A>
  struct Wrap {
    std::list<int, typename std::allocator_traits<A>::template rebind_alloc<int>> list;
    explicit Wrap(A a) : list(a) {}
    void insert_one(int v) { list.push_back(v); }
  };
  static Shape shape() { return {node_size<Wrap>(), 4 * kNodes * node_size<Wrap>()}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    for (auto _ : state) {
      std::list<int, decltype(c.template allocator<int>())> list(c.template allocator<int>());
      for (int i = 0; i < kNodes; ++i) list.push_back(i);
      bool odd = false;
      for (auto it = list.begin(); it != list.end(); odd = !odd) it = odd ? list.erase(it) : std::next(it);
      for (int i = 0; i < kNodes / 2; ++i) list.push_front(i);
      benchmark::DoNotOptimize(list.front() + list.back());
    }
    state.SetItemsProcessed(state.iterations() * (kNodes + kNodes / 2));
  }
};

// ---- map: std::map<int,int> through the allocator: N inserts of shuffled keys, then
// N erases in another order. One item: one insert and one erase.
struct MapNodes {
  static constexpr const char* name = "map";
  static constexpr int kNodes = 1000;
  template <class A>
  struct Wrap {
    using Pair = std::pair<const int, int>;
    std::map<int, int, std::less<int>, typename std::allocator_traits<A>::template rebind_alloc<Pair>> map;
    explicit Wrap(A a) : map(a) {}
    void insert_one(int v) { map.emplace(v, v); }
  };
  static Shape shape() { return {node_size<Wrap>(), 4 * kNodes * node_size<Wrap>()}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    const std::vector<std::size_t> insert_order = shuffled_indices(kNodes, kSeed);
    const std::vector<std::size_t> erase_order = shuffled_indices(kNodes, kSeed + 1);
    using Pair = std::pair<const int, int>;
    for (auto _ : state) {
      std::map<int, int, std::less<int>, decltype(c.template allocator<Pair>())> map(
          c.template allocator<Pair>());
      for (std::size_t k : insert_order) map.emplace(int(k), int(k));
      benchmark::DoNotOptimize(map.size());
      for (std::size_t k : erase_order) map.erase(int(k));
      benchmark::DoNotOptimize(map.size());
    }
    state.SetItemsProcessed(state.iterations() * kNodes);
  }
};

// ---- reset: N small allocations of 8..128 B (8-aligned, fixed random sizes), each
// written, then everything freed at once. One item: one allocation.
struct ArenaReset {
  static constexpr const char* name = "reset_small";
  static constexpr std::size_t kAllocs = 1000;
  static Shape shape() { return {128, 2 * kAllocs * 128}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    std::vector<std::size_t> sizes(kAllocs);
    std::mt19937_64 rng(kSeed);
    for (auto& s : sizes) s = 8 * (1 + rng() % 16);
    for (auto _ : state) {
      bool ok = true;
      for (std::size_t s : sizes) {
        void* p = c.allocate(s, 8);
        if (p == nullptr) {
          ok = false;
          break;
        }
        static_cast<unsigned char*>(p)[0] = 1;
        benchmark::DoNotOptimize(p);
      }
      c.reset();
      if (!ok && failed(state, nullptr)) break;
    }
    state.SetItemsProcessed(state.iterations() * kAllocs);
  }
};

// ---- mixed: 1000 live blocks of 16 B..64 KiB (log-uniform sizes); each operation frees
// a random live block and allocates a new one of a random size, writing its first and
// last byte. One item: one free + one allocate.
struct MixedSizes {
  static constexpr const char* name = "mixed_16B_64KiB";
  static constexpr std::size_t kLive = 1000;
  static constexpr std::size_t kTable = 1 << 14;  // precomputed sizes and slots, cycled
  static constexpr std::size_t kOpsPerIteration = 1000;
  static Shape shape() { return {64 * 1024, kLive * 64 * 1024}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    std::mt19937_64 rng(kSeed);
    std::vector<std::size_t> sizes(kTable), slots(kTable);
    std::uniform_real_distribution<double> log_size(std::log2(16.0), std::log2(65536.0));
    for (auto& s : sizes) s = static_cast<std::size_t>(std::exp2(log_size(rng)));
    for (auto& s : slots) s = rng() % kLive;
    std::vector<void*> live(kLive);
    std::vector<std::size_t> live_size(kLive);
    std::size_t next = 0;
    auto fill = [&](std::size_t slot) {
      const std::size_t size = sizes[next++ % kTable];
      auto* p = static_cast<unsigned char*>(c.allocate(size, kAlign));
      if (p != nullptr) {
        p[0] = 1;
        p[size - 1] = 1;
      }
      live[slot] = p;
      live_size[slot] = size;
      return p != nullptr;
    };
    for (std::size_t slot = 0; slot < kLive; ++slot) {
      if (!fill(slot)) {
        state.SkipWithError("allocation failed");
        return;
      }
    }
    for (auto _ : state) {
      for (std::size_t i = 0; i < kOpsPerIteration; ++i) {
        const std::size_t slot = slots[next % kTable];
        c.deallocate(live[slot], live_size[slot], kAlign);
        if (!fill(slot)) {
          state.SkipWithError("allocation failed");
          break;
        }
      }
      benchmark::DoNotOptimize(live.data());
      benchmark::ClobberMemory();
    }
    for (std::size_t slot = 0; slot < kLive; ++slot) c.deallocate(live[slot], live_size[slot], kAlign);
    state.SetItemsProcessed(state.iterations() * kOpsPerIteration);
  }
};

// ---- threads2: two threads share one allocator; each allocates 64 blocks of 32 B and
// frees them in reverse, over and over. Measured in wall time; one item: one pair.
struct TwoThreads {
  static constexpr const char* name = "threads2_pair32";
  static constexpr int kThreads = 2;
  static constexpr std::size_t kBurst = 64;
  static Shape shape() { return {32, 4 * kBurst * 32}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    void* blocks[kBurst];
    for (auto _ : state) {
      std::size_t got = 0;
      for (; got < kBurst; ++got) {
        void* p = c.allocate(32, kAlign);
        if (p == nullptr) break;
        static_cast<unsigned char*>(p)[0] = 1;
        blocks[got] = p;
      }
      benchmark::DoNotOptimize(blocks);
      benchmark::ClobberMemory();
      for (std::size_t i = got; i-- > 0;) c.deallocate(blocks[i], 32, kAlign);
      if (got < kBurst && failed(state, nullptr)) break;
    }
    state.SetItemsProcessed(state.iterations() * kBurst);
  }
};

// ---- threadsN_batch32: N threads share one allocator; each allocates 1000 blocks of
// 32 B (writing each), then frees them all, oldest first, over and over. Wall time; one
// item: one block allocated and freed. threads8 runs 8 threads on however many cores
// the machine has (2 here): oversubscribed, so a lock holder is often descheduled.
template <int N>
struct ThreadsBatch {
  static constexpr const char* name = N == 2 ? "threads2_batch32" : "threads8_batch32";
  static constexpr int kThreads = N;
  static constexpr std::size_t kBatch = 1000;
  static Shape shape() { return {32, 2 * N * kBatch * 32}; }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    std::vector<void*> blocks(kBatch);
    for (auto _ : state) {
      std::size_t got = 0;
      for (; got < kBatch; ++got) {
        void* p = c.allocate(32, kAlign);
        if (p == nullptr) break;
        static_cast<unsigned char*>(p)[0] = 1;
        blocks[got] = p;
      }
      benchmark::DoNotOptimize(blocks.data());
      benchmark::ClobberMemory();
      for (std::size_t i = 0; i < got; ++i) c.deallocate(blocks[i], 32, kAlign);
      if (got < kBatch && failed(state, nullptr)) break;
    }
    state.SetItemsProcessed(state.iterations() * kBatch);
  }
};

// A single-producer single-consumer ring of pointers: the producer/consumer pattern's
// hand-off, the same for every contender. Pointers move in chunks (one index update
// per chunk), so that the hand-off's own cache-line traffic stays small next to the
// allocator's. A wait spins briefly, then yields the CPU.
class PointerRing {
 public:
  static constexpr std::size_t kSize = 4096;  // a power of two
  void push(void* const* p, std::size_t n) noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    for (unsigned spins = 0; tail + n - head_.load(std::memory_order_acquire) > kSize; ++spins) wait(spins);
    for (std::size_t i = 0; i < n; ++i) slots_[(tail + i) % kSize] = p[i];
    tail_.store(tail + n, std::memory_order_release);
  }
  void pop(void** p, std::size_t n) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    for (unsigned spins = 0; tail_.load(std::memory_order_acquire) - head < n; ++spins) wait(spins);
    for (std::size_t i = 0; i < n; ++i) p[i] = slots_[(head + i) % kSize];
    head_.store(head + n, std::memory_order_release);
  }

 private:
  static void wait(unsigned spins) noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (spins > 64) std::this_thread::yield();
  }
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) void* slots_[kSize];
};

// ---- threads2_prodcons32: thread 0 allocates 32 B blocks, writes them and hands them
// to thread 1 through a ring, 64 at a time; thread 1 reads each and frees it. Every
// block is freed by the thread that did not allocate it. Wall time; one item: one
// block through both, in CPU time (both threads' added up), not wall time: wall time of
// two threads that wait for each other measures the scheduler on a loaded machine
// (when one is descheduled the other only waits), CPU time measures the work done.
// (Both threads run the same number of iterations, so the ring is
// empty at the end; a failed allocation is handed on as nullptr so that the consumer
// never waits forever.)
struct ProducerConsumer {
  static constexpr const char* name = "threads2_prodcons32";
  static constexpr int kThreads = 2;
  static constexpr bool kCpuTime = true;
  static constexpr std::size_t kChunk = 64;
  static constexpr std::size_t kPerIteration = 4 * kChunk;
  static Shape shape() { return {32, 2 * PointerRing::kSize * 32}; }
  static PointerRing& ring() {
    static PointerRing instance;
    return instance;
  }
  template <class C>
  static void run(benchmark::State& state, C& c) {
    PointerRing& r = ring();
    void* chunk[kChunk];
    bool failures = false;
    if (state.thread_index() == 0) {
      for (auto _ : state) {
        for (std::size_t k = 0; k < kPerIteration; k += kChunk) {
          for (std::size_t i = 0; i < kChunk; ++i) {
            void* p = c.allocate(32, kAlign);
            if (p != nullptr) static_cast<unsigned char*>(p)[0] = static_cast<unsigned char>(i);
            else failures = true;
            chunk[i] = p;
          }
          r.push(chunk, kChunk);
        }
      }
      state.SetItemsProcessed(state.iterations() * kPerIteration);
    } else {
      unsigned sum = 0;
      for (auto _ : state) {
        for (std::size_t k = 0; k < kPerIteration; k += kChunk) {
          r.pop(chunk, kChunk);
          for (void* p : chunk) {
            if (p == nullptr) continue;
            sum += static_cast<unsigned char*>(p)[0];
            c.deallocate(p, 32, kAlign);
          }
        }
      }
      benchmark::DoNotOptimize(sum);
    }
    if (failures) state.SkipWithError("allocation failed");
  }
};

}  // namespace poolkit_bench
