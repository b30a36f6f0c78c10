// bench/workloads/workload.hpp: what every workload program shares: its two
// arguments (size and threads), a small fast random generator, and the checksum
// line it prints so that no allocation can be optimised away and run.sh can check
// that every allocator computed the same result.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace workload {

struct Args {
  std::size_t size;      // iterations or problem size, meaning per workload
  unsigned threads;      // worker threads (single-threaded workloads ignore it)
};

/// `program [size] [threads]`, with the workload's defaults for what is missing.
inline Args parse_args(int argc, char** argv, std::size_t default_size, unsigned default_threads) {
  Args args{default_size, default_threads};
  if (argc > 1) args.size = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2) args.threads = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  if (args.size == 0 || args.threads == 0 || argc > 3) {
    std::fprintf(stderr, "usage: %s [size>0] [threads>0]\n", argv[0]);
    std::exit(2);
  }
  return args;
}

/// xorshift64*: deterministic per seed, cheap enough not to show in the timings.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform in [lo, hi].
  std::size_t range(std::size_t lo, std::size_t hi) { return lo + next() % (hi - lo + 1); }
  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

/// Writes a recognisable pattern into the block: its first and last byte, and a tag
/// word at offset 8 when it is big enough (cheap, and the memory is really used).
inline void fill(void* p, std::size_t n, std::uint64_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  if (n == 0) return;
  b[0] = static_cast<unsigned char>(tag);
  b[n - 1] = static_cast<unsigned char>(tag >> 8);
  if (n > 16) std::memcpy(b + 8, &tag, 8);
}

/// Reads back what fill() wrote; aborts when the allocator corrupted the block.
inline std::uint64_t verify(const void* p, std::size_t n, std::uint64_t tag) {
  const auto* b = static_cast<const unsigned char*>(p);
  if (n == 0) return 0;
  bool ok = b[0] == static_cast<unsigned char>(tag) && b[n - 1] == static_cast<unsigned char>(tag >> 8);
  if (n > 16) {
    std::uint64_t stored;
    std::memcpy(&stored, b + 8, 8);
    ok = ok && stored == tag;
  }
  if (!ok) {
    std::fprintf(stderr, "workload: block %p of %zu bytes lost its contents\n", p, n);
    std::abort();
  }
  return tag ^ n;
}

/// Runs body(t) on `threads` threads at once, t = 0..threads-1, and returns the sum
/// of what they return: the set-up every multi-threaded workload shares.
template <class Body>
std::uint64_t sum_over_threads(unsigned threads, Body body) {
  std::vector<std::uint64_t> sums(threads);
  std::vector<std::thread> running;
  for (unsigned t = 0; t < threads; ++t) running.emplace_back([&sums, &body, t] { sums[t] = body(t); });
  for (std::thread& thread : running) thread.join();
  std::uint64_t total = 0;
  for (std::uint64_t s : sums) total += s;
  return total;
}

/// Keeps the compiler from seeing through a pointer (and eliding its allocation).
inline void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

/// The one line every workload prints; run.sh compares it across allocators.
inline void report(const char* name, std::uint64_t checksum) {
  std::printf("%s checksum %016llx\n", name, static_cast<unsigned long long>(checksum));
}

}  // namespace workload
