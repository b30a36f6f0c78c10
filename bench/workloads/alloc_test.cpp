// alloc_test: in the manner of Sergey Ignatchenko's alloc-test. Each thread keeps a
// table of slots and repeatedly replaces the block in a slot picked with a skewed
// (Pareto-like) distribution, with a size drawn from a Pareto distribution: a few
// hot slots churn constantly while most live long, and most sizes are small.
// usage: alloc_test [replacements per thread] [threads]
#include <algorithm>
#include <cmath>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kSlots = 1 << 16;
constexpr std::size_t kSizeTable = 1 << 12;

// Sizes from a Pareto distribution (shape 1.2, minimum 8 bytes, capped at 64 KiB),
// drawn once into a table so that pow() stays out of the measured loop.
std::vector<std::size_t> pareto_sizes() {
  workload::Rng rng(99);
  std::vector<std::size_t> sizes(kSizeTable);
  for (auto& s : sizes) {
    const double u = 1.0 - rng.unit();  // (0, 1]
    s = std::min<std::size_t>(64 * 1024, static_cast<std::size_t>(8.0 / std::pow(u, 1.0 / 1.2)));
  }
  return sizes;
}

struct Slot {
  void* p = nullptr;
  std::size_t n = 0;
  std::uint64_t tag = 0;
};

std::uint64_t churn(std::size_t replacements, const std::vector<std::size_t>& sizes, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::vector<Slot> slots(kSlots);
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < replacements; ++k) {
    const double u = rng.unit();
    Slot& s = slots[static_cast<std::size_t>(u * u * u * kSlots)];  // skewed towards slot 0
    if (s.p != nullptr) {
      sum += workload::verify(s.p, s.n, s.tag);
      std::free(s.p);
    }
    s.n = sizes[rng.next() % kSizeTable];
    s.tag = rng.next();
    s.p = std::malloc(s.n);
    workload::fill(s.p, s.n, s.tag);
  }
  for (Slot& s : slots) {
    if (s.p != nullptr) sum += workload::verify(s.p, s.n, s.tag);
    std::free(s.p);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 4000000, 2);
  const std::vector<std::size_t> sizes = pareto_sizes();
  const std::uint64_t checksum =
      workload::sum_over_threads(args.threads, [&](unsigned t) { return churn(args.size, sizes, t + 1); });
  workload::report("alloc_test", checksum);
}
