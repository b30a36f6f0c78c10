// bench/latency.hpp: the time of each call, for the tail-latency rows of the report.
// Timed<C> runs a contender with every allocate, deallocate and reset timed by the
// cycle counter (rdtsc, fenced) into a CallHistogram; the tail_* benchmarks
// (bench/main.cpp) run the single-threaded patterns on it and report the 99th and
// 99.9th percentile and the maximum in nanoseconds. The timing costs ~10-20 ns a call,
// so these runs never feed the medians; docs/benchmarks.md says what the figures mean.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "contenders.hpp"

namespace poolkit_bench {

// Start and end of a timed region: fences keep the call inside the two reads.
inline std::uint64_t ticks_begin() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
inline std::uint64_t ticks_end() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  unsigned aux;
  const std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// Nanoseconds per tick, measured once against steady_clock over 20 ms.
inline double ns_per_tick() {
  static const double value = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = ticks_begin();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const std::uint64_t c1 = ticks_end();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    return c1 > c0 ? ns / double(c1 - c0) : 1.0;
  }();
  return value;
}

/// The cost of an empty timed region (the least of many): subtracted from each call.
inline std::uint64_t timer_floor() {
  static const std::uint64_t value = [] {
    std::uint64_t least = UINT64_MAX;
    for (int i = 0; i < 10000; ++i) {
      const std::uint64_t t0 = ticks_begin();
      least = std::min(least, ticks_end() - t0);
    }
    return least;
  }();
  return value;
}

/// Counts of call times in log-linear buckets: exact below 1024 ticks, then 64 per
/// power of two (each bucket within 1.6% of its values). Constant memory and O(1) per
/// call, so a run of millions of calls keeps every one of them.
class CallHistogram {
 public:
  void add(std::uint64_t ticks) noexcept {
    ++counts_[bucket(ticks)];
    ++total_;
    max_ = std::max(max_, ticks);
  }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }
  /// The least tick count that at least fraction q of the calls took no more than
  /// (the upper bound of the bucket where the count crosses q).
  std::uint64_t quantile(double q) const noexcept {
    const auto want = static_cast<std::uint64_t>(q * double(total_));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen > want) return std::min(upper(b), max_);
    }
    return max_;
  }

 private:
  static constexpr std::size_t kExact = 1024, kSub = 64, kBuckets = kExact + (64 - 10) * kSub;
  static std::size_t bucket(std::uint64_t t) noexcept {
    if (t < kExact) return t;
    const unsigned e = static_cast<unsigned>(std::bit_width(t)) - 1;  // >= 10
    return kExact + (e - 10) * kSub + ((t >> (e - 6)) & (kSub - 1));
  }
  static std::uint64_t upper(std::size_t b) noexcept {
    if (b < kExact) return b;
    const std::size_t e = (b - kExact) / kSub + 10, sub = (b - kExact) % kSub;
    return ((std::uint64_t{1} << e) | (std::uint64_t(sub) << (e - 6))) + (std::uint64_t{1} << (e - 6)) - 1;
  }
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(kBuckets);
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

/// A contender with each call timed. The pattern's own code runs unchanged on it.
template <class C>
struct Timed {
  static constexpr std::string_view name = C::name;
  static constexpr bool poolkit = C::poolkit;
  static constexpr bool available = C::available;
  C inner;
  CallHistogram calls;
  std::uint64_t floor = timer_floor();

  explicit Timed(const Shape& shape) : inner(shape) {}
  void* allocate(std::size_t size, std::size_t align) {
    const std::uint64_t t0 = ticks_begin();
    void* p = inner.allocate(size, align);
    record(ticks_end() - t0);
    return p;
  }
  void deallocate(void* p, std::size_t size, std::size_t align) {
    const std::uint64_t t0 = ticks_begin();
    inner.deallocate(p, size, align);
    record(ticks_end() - t0);
  }
  void reset()
    requires requires(C& c) { c.reset(); }
  {
    const std::uint64_t t0 = ticks_begin();
    inner.reset();
    record(ticks_end() - t0);
  }
  void record(std::uint64_t ticks) noexcept { calls.add(ticks > floor ? ticks - floor : 0); }

  /// The tail as benchmark counters: p99_ns, p999_ns, max_ns, calls.
  void report(benchmark::State& state) const {
    const double ns = ns_per_tick();
    state.counters["p99_ns"] = double(calls.quantile(0.99)) * ns;
    state.counters["p999_ns"] = double(calls.quantile(0.999)) * ns;
    state.counters["max_ns"] = double(calls.max()) * ns;
    state.counters["calls"] = double(calls.total());
  }
};

}  // namespace poolkit_bench
