// page_source.cpp: mmap, munmap, brk and madvise behind PageSource (see the header
// for the brk policy). No function here allocates from the heap: the drop-in
// malloc sits on top of this file. Nor does any need libstdc++ (no std::mutex, no
// std::chrono, no guarded statics): the malloc's shared library links none.
#include "poolkit/page_source.hpp"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // mremap
#endif
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "poolkit/align.hpp"

namespace poolkit {
namespace {

// One program break per process, so one lock for every PageSource that uses it.
pthread_mutex_t g_break_lock = PTHREAD_MUTEX_INITIALIZER;
class BreakLockGuard {
 public:
  BreakLockGuard() noexcept { pthread_mutex_lock(&g_break_lock); }
  ~BreakLockGuard() { pthread_mutex_unlock(&g_break_lock); }
  BreakLockGuard(const BreakLockGuard&) = delete;
  BreakLockGuard& operator=(const BreakLockGuard&) = delete;
};
// Bounds of the part of the break that poolkit grew (for in_break_region).
std::atomic<std::uintptr_t> g_break_low{UINTPTR_MAX};
std::atomic<std::uintptr_t> g_break_high{0};

// Times one system call into a counter.
class SyscallTimer {
 public:
  explicit SyscallTimer(std::atomic<std::uint64_t>& total) noexcept : total_(total), start_(now_ns()) {}
  ~SyscallTimer() { total_.fetch_add(now_ns() - start_, std::memory_order_relaxed); }
  SyscallTimer(const SyscallTimer&) = delete;
  SyscallTimer& operator=(const SyscallTimer&) = delete;

 private:
  static std::uint64_t now_ns() noexcept {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1000000000u + static_cast<std::uint64_t>(t.tv_nsec);
  }
  std::atomic<std::uint64_t>& total_;
  std::uint64_t start_;
};

}  // namespace

PageSource& PageSource::system() noexcept {
  static PageSource source;
  return source;
}

std::size_t PageSource::page_size() noexcept {
  // Cached without a guarded static; a race only asks sysconf twice.
  static constinit std::atomic<std::size_t> cached{0};
  std::size_t size = cached.load(std::memory_order_relaxed);
  if (size == 0) {
    size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    cached.store(size, std::memory_order_relaxed);
  }
  return size;
}

bool PageSource::round_to_pages(std::size_t size, std::size_t* out) noexcept {
  return checked_align_up(size == 0 ? 1 : size, page_size(), out);
}

void PageSource::note_mapped(std::size_t bytes) noexcept {
  std::size_t now = bytes_mapped_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::size_t peak = peak_mapped_.load(std::memory_order_relaxed);
  while (now > peak && !peak_mapped_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void* PageSource::allocate(std::size_t size, std::size_t alignment) noexcept {
  const std::size_t page = page_size();
  if (alignment == 0) alignment = page;
  if (!is_pow2(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  if (alignment < page) alignment = page;
  std::size_t bytes;
  if (!round_to_pages(size, &bytes)) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    errno = ENOMEM;
    return nullptr;
  }
  if (bytes < options_.brk_threshold && alignment == page) {
    if (void* p = grow_break(bytes)) return p;
  }
  return map(bytes, alignment);
}

void* PageSource::map(std::size_t bytes, std::size_t alignment) noexcept {
  const std::size_t page = page_size();
  // Over-map by (alignment - page) and trim both ends to get the alignment.
  std::size_t span = bytes;
  if (alignment > page && !checked_add(bytes, alignment - page, &span)) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    errno = ENOMEM;
    return nullptr;
  }
  void* raw;
  {
    SyscallTimer timer(syscall_ns_);
    raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  mmap_calls_.fetch_add(1, std::memory_order_relaxed);
  if (raw == MAP_FAILED) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    errno = ENOMEM;
    return nullptr;
  }
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = align_up(base, alignment);
  if (span != bytes) {
    SyscallTimer timer(syscall_ns_);
    if (aligned > base) munmap(raw, aligned - base);
    std::uintptr_t tail = aligned + bytes;
    if (base + span > tail) munmap(reinterpret_cast<void*>(tail), base + span - tail);
  }
  void* p = reinterpret_cast<void*>(aligned);
  if (options_.huge_pages != HugePages::kDefault && bytes >= kHugePageSize) {
    SyscallTimer timer(syscall_ns_);
    madvise(p, bytes, options_.huge_pages == HugePages::kAlways ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    madvise_calls_.fetch_add(1, std::memory_order_relaxed);
  }
  note_mapped(bytes);
  return p;
}

void* PageSource::grow_break(std::size_t bytes) noexcept {
  BreakLockGuard guard;
  // First fit among regions given back earlier.
  for (BreakRegion** link = &break_free_; *link; link = &(*link)->next) {
    BreakRegion* region = *link;
    if (region->size >= bytes) {
      *link = region->next;
      // Zero-filled, as from the OS: only the list node was written after decommit.
      region->next = nullptr;
      region->size = 0;
      return region;
    }
  }
  void* old_break;
  {
    SyscallTimer timer(syscall_ns_);
    old_break = sbrk(0);
    if (old_break == reinterpret_cast<void*>(-1)) return nullptr;
    // Page-align the start: the break may sit anywhere after glibc's use.
    auto start = align_up(reinterpret_cast<std::uintptr_t>(old_break), page_size());
    std::size_t pad = start - reinterpret_cast<std::uintptr_t>(old_break);
    if (sbrk(static_cast<intptr_t>(pad + bytes)) == reinterpret_cast<void*>(-1)) return nullptr;
    old_break = reinterpret_cast<void*>(start);
  }
  brk_calls_.fetch_add(1, std::memory_order_relaxed);
  bytes_from_brk_.fetch_add(bytes, std::memory_order_relaxed);
  auto low = reinterpret_cast<std::uintptr_t>(old_break);
  if (low < g_break_low.load(std::memory_order_relaxed)) g_break_low.store(low, std::memory_order_relaxed);
  if (low + bytes > g_break_high.load(std::memory_order_relaxed))
    g_break_high.store(low + bytes, std::memory_order_relaxed);
  return old_break;
}

bool PageSource::in_break_region(const void* p) const noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  return x >= g_break_low.load(std::memory_order_relaxed) && x < g_break_high.load(std::memory_order_relaxed);
}

void PageSource::deallocate(void* p, std::size_t size) noexcept {
  if (!p) return;
  std::size_t bytes;
  if (!round_to_pages(size, &bytes)) return;
  if (in_break_region(p)) {
    // The break cannot shrink under others' memory: give the pages back, keep the range.
    decommit(p, bytes);
    BreakLockGuard guard;
    auto* region = static_cast<BreakRegion*>(p);
    region->size = bytes;
    region->next = break_free_;
    break_free_ = region;
    return;
  }
  {
    SyscallTimer timer(syscall_ns_);
    munmap(p, bytes);
  }
  munmap_calls_.fetch_add(1, std::memory_order_relaxed);
  bytes_mapped_.fetch_sub(bytes, std::memory_order_relaxed);
}

bool PageSource::grow_in_place(void* p, std::size_t old_size, std::size_t new_size) noexcept {
  std::size_t old_bytes, new_bytes;
  if (!p || in_break_region(p) || !round_to_pages(old_size, &old_bytes) || !round_to_pages(new_size, &new_bytes))
    return false;
  if (new_bytes <= old_bytes) return new_bytes == old_bytes;
  void* q;
  {
    SyscallTimer timer(syscall_ns_);
    int saved = errno;
    q = mremap(p, old_bytes, new_bytes, 0);
    errno = saved;  // a refusal is an answer, not an error for the caller's errno
  }
  mremap_calls_.fetch_add(1, std::memory_order_relaxed);
  if (q == MAP_FAILED) return false;
  note_mapped(new_bytes - old_bytes);
  return true;
}

bool PageSource::decommit(void* p, std::size_t size) noexcept {
  int rc;
  {
    SyscallTimer timer(syscall_ns_);
    rc = madvise(p, size, MADV_DONTNEED);
  }
  madvise_calls_.fetch_add(1, std::memory_order_relaxed);
  return rc == 0;
}

PageSourceStats PageSource::stats() const noexcept {
  PageSourceStats s;
  s.bytes_mapped = bytes_mapped_.load(std::memory_order_relaxed);
  s.peak_mapped = peak_mapped_.load(std::memory_order_relaxed);
  s.bytes_from_brk = bytes_from_brk_.load(std::memory_order_relaxed);
  s.mmap_calls = mmap_calls_.load(std::memory_order_relaxed);
  s.munmap_calls = munmap_calls_.load(std::memory_order_relaxed);
  s.brk_calls = brk_calls_.load(std::memory_order_relaxed);
  s.madvise_calls = madvise_calls_.load(std::memory_order_relaxed);
  s.mremap_calls = mremap_calls_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.syscall_nanoseconds = syscall_ns_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace poolkit
