// os.cpp: what the malloc asks of the operating system. Memory comes from one
// constinit PageSource (mmap with MADV_NOHUGEPAGE on segments, syscall time counted);
// the segment map answers "is this pointer ours?" in O(1); messages go to fd 2
// with write(2) and a stack buffer, never stdio (which may call malloc).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // mremap's MREMAP_MAYMOVE | MREMAP_FIXED
#endif
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.hpp"

namespace poolkit::malloc_impl {

// Transparent huge pages stay off on our segments: with THP "always", one touched
// byte would otherwise commit 2 MiB and decommitting 64 KiB slices would split them.
constinit PageSource g_os{PageSource::Options{.brk_threshold = 0, .huge_pages = HugePages::kNever}};

// One byte per 4 MiB of the 47-bit address space (32 MiB of zero pages in .bss,
// committed only where segments live): kSegmentHere where a segment starts,
// kSegmentBefore for the chunk of a huge block aligned beyond a segment.
std::uint8_t g_segment_map[kAddressLimit >> kSegmentShift];

void segment_map_set(std::uintptr_t chunk, std::uint8_t value) noexcept {
  __atomic_store_n(&g_segment_map[chunk >> kSegmentShift], value, __ATOMIC_RELEASE);
}

std::uint64_t now_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

void* os_alloc_segment_aligned(std::size_t size, std::size_t alignment) noexcept {
  return g_os.allocate(size, alignment);
}
void os_free(void* p, std::size_t size) noexcept { g_os.deallocate(p, size); }

namespace {
// Bytes and calls of os_move: the PageSource counted the old mappings when it made
// them and cannot see the kernel retire them, so os_stats() takes them off.
constinit std::atomic<std::size_t> g_moved_bytes{0};
constinit std::atomic<std::uint64_t> g_move_calls{0};
}  // namespace

void* os_move(void* p, std::size_t old_size, std::size_t new_size, std::size_t alignment) noexcept {
  void* dest = g_os.allocate(new_size, alignment);  // the aligned place, replaced below
  if (dest == nullptr) return nullptr;
  int saved = errno;
  void* q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
  errno = saved;
  g_move_calls.fetch_add(1, std::memory_order_relaxed);
  if (q == MAP_FAILED) {
    g_os.deallocate(dest, new_size);
    return nullptr;
  }
  g_moved_bytes.fetch_add(old_size, std::memory_order_relaxed);
  return dest;
}

PageSourceStats os_stats() noexcept {
  PageSourceStats s = g_os.stats();
  s.bytes_mapped -= g_moved_bytes.load(std::memory_order_relaxed);
  s.mremap_calls += g_move_calls.load(std::memory_order_relaxed);
  return s;
}
void os_decommit(void* p, std::size_t size) noexcept {
  g_os.decommit(p, size);
  g_counters.purged_bytes.fetch_add(size, std::memory_order_relaxed);
}

std::uint64_t os_proc_self_number(const char* name, int field) noexcept {
  char path[64] = "/proc/self/";
  std::strncat(path, name, sizeof path - std::strlen(path) - 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* s = buf;
  int at = 1;
  // "pid (comm) state ...": comm may hold spaces, so field 3 starts after the last ')'.
  if (const char* paren = std::strrchr(buf, ')'); paren != nullptr && field > 2) {
    s = paren + 1;
    at = 2;
  }
  for (; *s != 0 && at < field; ++s) {
    if (*s == ' ') ++at;
  }
  std::uint64_t value = 0;
  while (*s >= '0' && *s <= '9') value = value * 10 + static_cast<std::uint64_t>(*s++ - '0');
  return value;
}

// /proc/self/statm, second field: resident pages.
std::size_t os_rss_bytes() noexcept {
  return static_cast<std::size_t>(os_proc_self_number("statm", 2)) * PageSource::page_size();
}

std::size_t os_peak_rss_bytes() noexcept {
  rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

void write_stderr(const char* s) noexcept {
  std::size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

namespace {
void vmessage(const char* prefix, const char* fmt, va_list args) noexcept {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "%s", prefix);
  if (n < 0) n = 0;
  std::vsnprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), fmt, args);
  write_stderr(buf);
}
}  // namespace

void fatal(const char* fmt, ...) noexcept {
  va_list args;
  va_start(args, fmt);
  vmessage("", fmt, args);
  va_end(args);
  abort();
}

void verbose(const char* fmt, ...) noexcept {
  if (!g_options.verbose) return;
  va_list args;
  va_start(args, fmt);
  vmessage("poolkit: ", fmt, args);
  va_end(args);
}

void warning(const char* fmt, ...) noexcept {
  va_list args;
  va_start(args, fmt);
  vmessage("poolkit: warning: ", fmt, args);
  va_end(args);
}

}  // namespace poolkit::malloc_impl
