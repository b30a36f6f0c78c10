// larson: Larson and Krishnan's server simulation. Each thread owns an array of
// blocks and keeps replacing random ones (free, then malloc of a random size); at
// the end of a generation its array passes to a new thread, so most blocks are
// freed by a thread other than the one that allocated them.
// usage: larson [replacements per thread per generation] [threads]
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kSlots = 1000;
constexpr std::size_t kGenerations = 8;
constexpr std::size_t kMinSize = 8, kMaxSize = 1000;

struct Slot {
  void* p = nullptr;
  std::size_t n = 0;
  std::uint64_t tag = 0;
};

std::uint64_t churn(std::vector<Slot>& slots, std::size_t replacements, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < replacements; ++k) {
    Slot& s = slots[rng.next() % kSlots];
    sum += workload::verify(s.p, s.n, s.tag);
    std::free(s.p);
    s.n = rng.range(kMinSize, kMaxSize);
    s.tag = rng.next();
    s.p = std::malloc(s.n);
    workload::fill(s.p, s.n, s.tag);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 1000000, 4);
  std::vector<std::vector<Slot>> arrays(args.threads, std::vector<Slot>(kSlots));
  workload::Rng init(1);
  for (auto& slots : arrays) {
    for (Slot& s : slots) {
      s.n = init.range(kMinSize, kMaxSize);
      s.tag = init.next();
      s.p = std::malloc(s.n);
      workload::fill(s.p, s.n, s.tag);
    }
  }
  std::vector<std::uint64_t> sums(args.threads * kGenerations);
  for (std::size_t gen = 0; gen < kGenerations; ++gen) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < args.threads; ++t) {
      // A fresh thread takes over the array another thread filled last generation.
      threads.emplace_back([&, gen, t] {
        const std::size_t index = gen * args.threads + t;
        sums[index] = churn(arrays[(t + gen) % args.threads], args.size, index + 7);
      });
    }
    for (auto& th : threads) th.join();
  }
  std::uint64_t checksum = 0;
  for (std::uint64_t s : sums) checksum += s;
  for (auto& slots : arrays) {
    for (Slot& s : slots) {
      checksum += workload::verify(s.p, s.n, s.tag);
      std::free(s.p);
    }
  }
  workload::report("larson", checksum);
}
