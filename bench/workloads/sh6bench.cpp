// sh6bench: in the manner of MicroQuill's SmartHeap benchmark. Each thread runs a
// ring buffer of blocks: it allocates at the head with sizes cycling through
// 1..1000 bytes and frees runs from the tail (FIFO, oldest first) and, now and then,
// from the head (LIFO, newest first), so both free orders meet the allocator.
// usage: sh6bench [allocations per thread] [threads]
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kRing = 4096;
constexpr std::size_t kHighWater = 3000;

struct Block {
  void* p;
  std::size_t n;
};

std::uint64_t ring_churn(std::size_t allocations, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::vector<Block> ring(kRing);
  std::size_t head = 0, tail = 0, live = 0;  // live blocks are ring[tail .. head) mod kRing
  std::uint64_t sum = 0;
  auto release = [&](Block& b) {
    sum += static_cast<unsigned char*>(b.p)[b.n - 1];
    std::free(b.p);
  };
  for (std::size_t k = 0; k < allocations; ++k) {
    Block& b = ring[head];
    b.n = 1 + (k * 7) % 1000;
    b.p = std::malloc(b.n);
    static_cast<unsigned char*>(b.p)[b.n - 1] = static_cast<unsigned char>(k);
    head = (head + 1) % kRing;
    ++live;
    if (live >= kHighWater) {
      // Free a run: usually the oldest blocks, one time in four the newest.
      const std::size_t run = rng.range(live / 4, live / 2);
      const bool lifo = rng.next() % 4 == 0;
      for (std::size_t i = 0; i < run; ++i) {
        if (lifo) {
          head = (head + kRing - 1) % kRing;
          release(ring[head]);
        } else {
          release(ring[tail]);
          tail = (tail + 1) % kRing;
        }
      }
      live -= run;
    }
  }
  for (; live > 0; --live) {
    release(ring[tail]);
    tail = (tail + 1) % kRing;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 5000000, 4);
  const std::uint64_t checksum =
      workload::sum_over_threads(args.threads, [&](unsigned t) { return ring_churn(args.size, t + 1); });
  workload::report("sh6bench", checksum);
}
