// glibc_simple: in the manner of glibc's bench-malloc-simple. One thread allocates
// a run of blocks of one size and then frees them all, for several sizes (16 B ..
// 1 KiB) and run lengths (25 .. 1600 blocks): the plain fast path, nothing else.
// usage: glibc_simple [repetitions of each size and run length]
#include <vector>

#include "workload.hpp"

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 20000, 1);
  constexpr std::size_t kSizes[] = {16, 64, 256, 1024};
  constexpr std::size_t kRuns[] = {25, 100, 400, 1600};
  std::vector<void*> blocks(1600);
  std::uint64_t checksum = 0;
  for (std::size_t size : kSizes) {
    for (std::size_t run : kRuns) {
      // Fewer repetitions of the long runs keep every combination's share equal.
      const std::size_t reps = args.size * 25 / run;
      for (std::size_t r = 0; r < reps; ++r) {
        for (std::size_t i = 0; i < run; ++i) {
          blocks[i] = std::malloc(size);
          static_cast<unsigned char*>(blocks[i])[0] = static_cast<unsigned char>(i);
        }
        for (std::size_t i = 0; i < run; ++i) {
          checksum += static_cast<unsigned char*>(blocks[i])[0];
          std::free(blocks[i]);
        }
      }
    }
  }
  workload::report("glibc_simple", checksum);
}
