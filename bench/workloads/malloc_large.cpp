// malloc_large: large buffers, 5 to 25 MiB, with up to 20 alive at once. Each new
// buffer has every page written, so the cost of fresh pages (mmap, page faults)
// against reused ones shows, and so does the RSS of buffers freed but not returned.
// usage: malloc_large [buffers allocated]
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kLive = 20;
constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kPage = 4096;

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 500, 1);
  workload::Rng rng(3);
  std::vector<unsigned char*> buffers(kLive, nullptr);
  std::vector<std::size_t> lengths(kLive, 0);
  std::uint64_t checksum = 0;
  for (std::size_t k = 0; k < args.size; ++k) {
    const std::size_t slot = rng.next() % kLive;
    if (buffers[slot] != nullptr) checksum += buffers[slot][lengths[slot] - 1];
    std::free(buffers[slot]);
    lengths[slot] = rng.range(5 * kMiB, 25 * kMiB);
    buffers[slot] = static_cast<unsigned char*>(std::malloc(lengths[slot]));
    for (std::size_t off = 0; off < lengths[slot]; off += kPage) buffers[slot][off] = static_cast<unsigned char>(k);
    buffers[slot][lengths[slot] - 1] = static_cast<unsigned char>(k + 1);
  }
  for (std::size_t slot = 0; slot < kLive; ++slot) {
    if (buffers[slot] != nullptr) checksum += buffers[slot][lengths[slot] - 1];
    std::free(buffers[slot]);
  }
  workload::report("malloc_large", checksum);
}
