// random_cross: every thread allocates blocks of random sizes (log-uniform, 8 B to
// 32 KiB) into one shared array of slots and frees whatever block it displaced,
// most often another thread's: remote frees of every size class at once. Run with
// more threads than cores (8, 16 on 2), scaling problems show as well.
// usage: random_cross [replacements per thread] [threads]
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kSlots = 16384;

struct Block {
  std::size_t n;
  std::uint64_t tag;
};

std::size_t log_uniform(workload::Rng& rng) {
  return static_cast<std::size_t>(8.0 * std::pow(4096.0, rng.unit()));  // 8 B .. 32 KiB
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 1000000, 4);
  std::vector<std::atomic<Block*>> slots(kSlots);
  for (auto& s : slots) s.store(nullptr, std::memory_order_relaxed);
  std::vector<std::uint64_t> sums(args.threads);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < args.threads; ++t) {
    threads.emplace_back([&, t] {
      workload::Rng rng(500 + t);
      std::uint64_t sum = 0;
      for (std::size_t k = 0; k < args.size; ++k) {
        std::size_t n = log_uniform(rng);
        if (n <= sizeof(Block)) n = sizeof(Block) + 1;  // the last byte is past the header
        auto* b = static_cast<Block*>(std::malloc(n));
        if (b == nullptr) std::abort();
        b->n = n;
        b->tag = n * 31;
        static_cast<unsigned char*>(static_cast<void*>(b))[n - 1] = static_cast<unsigned char>(n);
        Block* old = slots[rng.next() % kSlots].exchange(b, std::memory_order_acq_rel);
        if (old != nullptr) {
          if (old->tag != old->n * 31 || static_cast<unsigned char*>(static_cast<void*>(old))[old->n - 1] != static_cast<unsigned char>(old->n)) {
            std::fprintf(stderr, "random_cross: a block lost its contents\n");
            std::abort();
          }
          sum += 1;
          std::free(old);
        }
      }
      sums[t] = sum;
    });
  }
  for (std::thread& t : threads) t.join();
  std::uint64_t checksum = 0;
  for (std::uint64_t s : sums) checksum += s;
  for (auto& s : slots) {
    if (Block* b = s.load()) {
      checksum += 1;
      std::free(b);
    }
  }
  // Every block allocated was freed once: the count does not depend on the interleaving.
  workload::report("random_cross", checksum);
}
