// glibc_thread: in the manner of glibc's bench-malloc-thread. Each thread keeps a
// working set of 1024 blocks and replaces a random one at each step, with sizes
// log-uniform between 4 B and 32 KiB (as many 8-16 B requests as 16-32 KiB ones).
// usage: glibc_thread [replacements per thread] [threads]
#include <cmath>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kWorkingSet = 1024;
constexpr std::size_t kSizeTable = 1 << 13;

std::vector<std::size_t> log_uniform_sizes() {
  workload::Rng rng(5);
  std::vector<std::size_t> sizes(kSizeTable);
  for (auto& s : sizes) s = static_cast<std::size_t>(4.0 * std::exp(rng.unit() * std::log(32768.0 / 4.0)));
  return sizes;
}

std::uint64_t churn(std::size_t steps, const std::vector<std::size_t>& sizes, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::vector<void*> blocks(kWorkingSet, nullptr);
  std::vector<std::size_t> lengths(kWorkingSet, 0);
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < steps; ++k) {
    const std::size_t i = rng.next() % kWorkingSet;
    if (blocks[i] != nullptr) sum += static_cast<unsigned char*>(blocks[i])[lengths[i] - 1];
    std::free(blocks[i]);
    lengths[i] = sizes[rng.next() % kSizeTable];
    blocks[i] = std::malloc(lengths[i]);
    static_cast<unsigned char*>(blocks[i])[lengths[i] - 1] = static_cast<unsigned char>(k);
  }
  for (std::size_t i = 0; i < kWorkingSet; ++i) {
    if (blocks[i] != nullptr) sum += static_cast<unsigned char*>(blocks[i])[lengths[i] - 1];
    std::free(blocks[i]);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 3000000, 4);
  const std::vector<std::size_t> sizes = log_uniform_sizes();
  const std::uint64_t checksum =
      workload::sum_over_threads(args.threads, [&](unsigned t) { return churn(args.size, sizes, t + 1); });
  workload::report("glibc_thread", checksum);
}
