// page_source: memory straight from the OS, and what it cost in system calls.
#include <cstdio>
#include <cstring>

#include "poolkit/page_source.hpp"
#include "poolkit/pool_stats.hpp"

int main() {
  poolkit::PageSource source;
  void* region = source.allocate(1 << 20, 1 << 20);  // 1 MiB, aligned to 1 MiB
  std::memset(region, 0, 1 << 20);
  std::printf("1 MiB region at %p (aligned to 1 MiB)\n", region);
  source.deallocate(region, 1 << 20);
  auto s = source.stats();
  std::printf("mmap calls %llu, munmap calls %llu, %llu ns in system calls, peak %s\n",
              (unsigned long long)s.mmap_calls, (unsigned long long)s.munmap_calls,
              (unsigned long long)s.syscall_nanoseconds, poolkit::format_bytes(s.peak_mapped).c_str());
}
