// cache_scratch: passive and active false sharing. The main thread allocates one
// small object per thread in a row (likely on one cache line) and hands each to a
// thread, which frees it and then keeps allocating, writing and freeing objects of
// that size. An allocator that gives threads blocks on a shared line slows them all.
// usage: cache_scratch [iterations per thread] [threads]
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kObjectSize = 8;
constexpr std::size_t kWritesPerObject = 2000;

std::uint64_t scratch(char* handed_over, std::size_t iterations) {
  std::free(handed_over);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < iterations; ++i) {
    volatile char* obj = static_cast<char*>(std::malloc(kObjectSize));
    for (std::size_t b = 0; b < kObjectSize; ++b) obj[b] = 0;
    for (std::size_t w = 0; w < kWritesPerObject; ++w) {
      for (std::size_t b = 0; b < kObjectSize; ++b) obj[b] = static_cast<char>(obj[b] + 1);
    }
    sum += static_cast<unsigned char>(obj[kObjectSize - 1]);
    std::free(const_cast<char*>(obj));
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 40000, 4);
  std::vector<char*> objects(args.threads);
  for (auto& o : objects) {
    o = static_cast<char*>(std::malloc(kObjectSize));
    std::memset(o, 0, kObjectSize);
  }
  const std::uint64_t checksum =
      workload::sum_over_threads(args.threads, [&](unsigned t) { return scratch(objects[t], args.size); });
  workload::report("cache_scratch", checksum);
}
