// realloc_growth: buffers that grow by realloc. Many small buffers interleaved grow
// a few bytes at a time (so in-place growth is not free) and now and then shrink; then
// a few buffers grow by doubling to 32 MiB (the large, mremap-able path). Contents
// are checked after every move.
// usage: realloc_growth [small growth steps]
#include <algorithm>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kBuffers = 64;
constexpr std::size_t kSmallCap = 256 * 1024;
constexpr std::size_t kLargeCap = 32 * 1024 * 1024;
constexpr std::size_t kStepsPerDoublingRound = 500000;

unsigned char pattern(std::size_t i, std::size_t buffer) { return static_cast<unsigned char>(i * 31 + buffer); }

// realloc to `n`, checking that the first and last kept bytes survived.
unsigned char* resize(unsigned char* p, std::size_t old_n, std::size_t n, std::size_t buffer) {
  auto* q = static_cast<unsigned char*>(std::realloc(p, n));
  const std::size_t kept = std::min(old_n, n);
  if (q == nullptr || (kept > 0 && (q[0] != pattern(0, buffer) || q[kept - 1] != pattern(kept - 1, buffer)))) {
    std::fprintf(stderr, "realloc_growth: realloc lost the contents\n");
    std::abort();
  }
  for (std::size_t i = kept; i < n; ++i) q[i] = pattern(i, buffer);
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 2000000, 1);
  workload::Rng rng(11);
  std::vector<unsigned char*> buffers(kBuffers, nullptr);
  std::vector<std::size_t> lengths(kBuffers, 0);
  std::uint64_t checksum = 0;
  for (std::size_t k = 0; k < args.size; ++k) {
    const std::size_t b = rng.next() % kBuffers;
    std::size_t n = lengths[b];
    if (rng.next() % 64 == 0) {
      n = std::max<std::size_t>(1, n / 2);  // shrink now and then (never to 0: n - 1 is read)
    } else {
      n += rng.range(1, 64);
    }
    if (n > kSmallCap) n = rng.range(1, 64);  // start over small
    buffers[b] = resize(buffers[b], lengths[b], n, b);
    lengths[b] = n;
    if (n > 0) checksum += buffers[b][n - 1];  // n == 0: realloc(NULL, 0) made an empty block
  }
  for (std::size_t b = 0; b < kBuffers; ++b) std::free(buffers[b]);

  // Doubling, as a vector grows: 4 buffers side by side up to 32 MiB, a few times.
  const std::size_t rounds = std::max<std::size_t>(1, args.size / kStepsPerDoublingRound);
  for (std::size_t rep = 0; rep < rounds; ++rep) {
    std::vector<unsigned char*> big(4, nullptr);
    std::vector<std::size_t> big_n(4, 0);
    for (std::size_t n = 64; n <= kLargeCap; n *= 2) {
      for (std::size_t b = 0; b < big.size(); ++b) {
        big[b] = resize(big[b], big_n[b], n, b);
        big_n[b] = n;
        checksum += big[b][n - 1];
      }
    }
    for (unsigned char* p : big) std::free(p);
  }
  workload::report("realloc_growth", checksum);
}
