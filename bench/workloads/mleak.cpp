// mleak: a program that leaks. Rounds of short-lived threads allocate batches of
// small blocks, free all but one block in a thousand and drop the rest: the heap
// must stay compact around the leaked blocks and not grow with the thread churn.
// usage: mleak [batches per thread] [threads per round]
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kRounds = 20;
constexpr std::size_t kBatch = 1000;

std::uint64_t leak_some(std::size_t batches, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::vector<void*> blocks(kBatch);
  std::vector<std::size_t> lengths(kBatch);
  std::uint64_t sum = 0;
  for (std::size_t b = 0; b < batches; ++b) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      lengths[i] = rng.range(16, 1024);
      blocks[i] = std::malloc(lengths[i]);
      static_cast<unsigned char*>(blocks[i])[lengths[i] - 1] = static_cast<unsigned char>(i);
    }
    const std::size_t leaked = rng.next() % kBatch;
    for (std::size_t i = 0; i < kBatch; ++i) {
      sum += static_cast<unsigned char*>(blocks[i])[lengths[i] - 1];
      if (i == leaked) {
        workload::escape(blocks[i]);  // dropped on purpose: the leak
      } else {
        std::free(blocks[i]);
      }
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 200, 4);
  std::vector<std::uint64_t> sums(kRounds * args.threads);
  for (std::size_t round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < args.threads; ++t) {
      const std::size_t index = round * args.threads + t;
      threads.emplace_back([&, index] { sums[index] = leak_some(args.size, index + 1); });
    }
    for (auto& th : threads) th.join();
  }
  std::uint64_t checksum = 0;
  for (std::uint64_t s : sums) checksum += s;
  workload::report("mleak", checksum);
}
