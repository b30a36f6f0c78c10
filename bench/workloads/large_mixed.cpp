// large_mixed: large blocks of every size from 256 KiB to 32 MiB (log-uniform), 16
// alive at once, every page written; each step frees one and allocates another,
// or grows one by half with realloc (to 32 MiB at most), or shrinks it to a
// quarter. What glibc's dynamic mmap threshold is good at: blocks freed and
// allocated again at other sizes, and realloc growth.
// usage: large_mixed [steps]
#include <cmath>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kLive = 16;
constexpr std::size_t kMin = 256 * 1024;
constexpr std::size_t kMax = 32 * 1024 * 1024;
constexpr std::size_t kPage = 4096;

std::size_t log_uniform(workload::Rng& rng) {
  return static_cast<std::size_t>(static_cast<double>(kMin) * std::pow(double(kMax) / double(kMin), rng.unit()));
}

// Writes every page of [from, to) and the last byte.
void write_pages(unsigned char* p, std::size_t from, std::size_t to, unsigned char value) {
  for (std::size_t off = from; off < to; off += kPage) p[off] = value;
  p[to - 1] = value;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 300, 1);
  workload::Rng rng(17);
  std::vector<unsigned char*> blocks(kLive, nullptr);
  std::vector<std::size_t> sizes(kLive, 0);
  std::uint64_t checksum = 0;
  for (std::size_t k = 0; k < args.size; ++k) {
    const std::size_t slot = rng.next() % kLive;
    unsigned char* p = blocks[slot];
    const std::size_t n = sizes[slot];
    const unsigned choice = static_cast<unsigned>(rng.next() % 4);
    if (p != nullptr) checksum += p[0] + p[n - 1];
    if (p != nullptr && choice == 0 && n < kMax) {  // grow by half, keeping the bytes
      const std::size_t grown = std::min(kMax, n + n / 2);
      p = static_cast<unsigned char*>(std::realloc(p, grown));
      if (p == nullptr || p[0] != static_cast<unsigned char>(slot)) std::abort();
      write_pages(p, n, grown, static_cast<unsigned char>(slot));
      blocks[slot] = p;
      sizes[slot] = grown;
    } else if (p != nullptr && choice == 1 && n / 4 >= kMin) {  // shrink to a quarter
      p = static_cast<unsigned char*>(std::realloc(p, n / 4));
      if (p == nullptr || p[0] != static_cast<unsigned char>(slot)) std::abort();
      p[n / 4 - 1] = static_cast<unsigned char>(slot);
      sizes[slot] = n / 4;
      blocks[slot] = p;
    } else {  // free and allocate another size
      std::free(p);
      sizes[slot] = log_uniform(rng);
      blocks[slot] = static_cast<unsigned char*>(std::malloc(sizes[slot]));
      if (blocks[slot] == nullptr) std::abort();
      write_pages(blocks[slot], 0, sizes[slot], static_cast<unsigned char>(slot));
    }
  }
  for (std::size_t slot = 0; slot < kLive; ++slot) {
    if (blocks[slot] != nullptr) checksum += blocks[slot][0] + blocks[slot][sizes[slot] - 1] + sizes[slot] % 251;
    std::free(blocks[slot]);
  }
  workload::report("large_mixed", checksum);
}
