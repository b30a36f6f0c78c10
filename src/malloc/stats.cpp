// stats.cpp: what the allocator counts and the summary POOLKIT_STATS=1 prints at exit.
// Always counted (slow paths only, atomics): bytes in pages and huge blocks and their
// peaks, segments, threads, abandoned and adopted segments, and the PageSource's
// system calls with the time spent in them. Counted only with POOLKIT_STATS (every
// call then takes the generic path): calls, and allocations and frees per size class.
// Printed with snprintf into a stack buffer and write(2), never stdio.
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/format_bytes.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

constinit GlobalCounters g_counters{};

namespace {

void raise_peak(std::atomic<std::size_t>& peak, std::size_t now) noexcept {
  std::size_t old = peak.load(std::memory_order_relaxed);
  while (now > old && !peak.compare_exchange_weak(old, now, std::memory_order_relaxed)) {
  }
}

// "12.5 MiB" into a stack buffer, as the library's stats text writes it.
using detail::format_bytes_into;

struct Writer {
  int fd;
  char buf[4096];
  std::size_t used = 0;
  void line(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    char tmp[256];
    va_list args;
    va_start(args, fmt);
    int n = std::vsnprintf(tmp, sizeof tmp, fmt, args);
    va_end(args);
    if (n < 0) return;
    std::size_t len = static_cast<std::size_t>(n) < sizeof tmp ? static_cast<std::size_t>(n) : sizeof tmp - 1;
    if (used + len > sizeof buf) flush();
    std::memcpy(buf + used, tmp, len);
    used += len;
  }
  void flush() noexcept {
    std::size_t off = 0;
    while (off < used) {
      ssize_t w = write(fd, buf + off, used - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    used = 0;
  }
};

struct Totals {
  std::uint64_t calls[kCallCount] = {};
  std::uint64_t allocs[kClassCount + 1] = {};
  std::uint64_t frees[kClassCount + 1] = {};
  std::uint64_t bytes_requested = 0;
  std::size_t heaps = 0;
};

Totals sum_heaps() noexcept {
  Totals t;
  for (Heap* h = heap_list(); h != nullptr; h = h->pool_next) {
    ++t.heaps;
    for (int k = 0; k < kCallCount; ++k) t.calls[k] += h->counters.calls[k].load(std::memory_order_relaxed);
    for (std::size_t c = 0; c <= kClassCount; ++c) {
      t.allocs[c] += h->counters.allocs_by_class[c].load(std::memory_order_relaxed);
      t.frees[c] += h->counters.frees_by_class[c].load(std::memory_order_relaxed);
    }
    t.bytes_requested += h->counters.bytes_requested.load(std::memory_order_relaxed);
  }
  return t;
}

}  // namespace

void note_page_bytes(std::ptrdiff_t delta) noexcept {
  std::size_t now = g_counters.page_bytes.fetch_add(static_cast<std::size_t>(delta), std::memory_order_relaxed) +
                    static_cast<std::size_t>(delta);
  if (delta > 0) raise_peak(g_counters.peak_page_bytes, now);
}

void note_huge(std::ptrdiff_t bytes, int count) noexcept {
  std::size_t now = g_counters.huge_bytes.fetch_add(static_cast<std::size_t>(bytes), std::memory_order_relaxed) +
                    static_cast<std::size_t>(bytes);
  g_counters.huge_count.fetch_add(static_cast<std::size_t>(static_cast<std::ptrdiff_t>(count)), std::memory_order_relaxed);
  if (bytes > 0) raise_peak(g_counters.peak_huge_bytes, now);
}

void stats_print_fd(int fd) noexcept {
  Writer out{fd, {}, 0};
  Totals t = sum_heaps();
  PageSourceStats os = os_stats();
  char a[32], b[32], c[32], d[32];
  std::uint64_t allocs = 0, frees = 0;
  std::size_t live_block_bytes = 0;
  for (std::size_t cls = 0; cls <= kClassCount; ++cls) {
    allocs += t.allocs[cls];
    frees += t.frees[cls];
    if (cls < kClassCount && t.allocs[cls] > t.frees[cls]) live_block_bytes += (t.allocs[cls] - t.frees[cls]) * class_size(cls);
  }
  out.line("poolkit malloc statistics (pid %d)\n", static_cast<int>(getpid()));
  if (g_options.stats) {
    out.line("  calls          %llu allocations (%llu calloc, %llu realloc, %llu aligned), %llu frees\n",
             static_cast<unsigned long long>(allocs), static_cast<unsigned long long>(t.calls[kCallCalloc]),
             static_cast<unsigned long long>(t.calls[kCallRealloc]), static_cast<unsigned long long>(t.calls[kCallAligned]),
             static_cast<unsigned long long>(frees));
  }
  out.line("  threads        %llu heaps handed out, %zu heap structs, %zu segments abandoned, %llu adopted\n",
           static_cast<unsigned long long>(g_counters.threads.load()), t.heaps, abandoned_segment_count(),
           static_cast<unsigned long long>(g_counters.adoptions.load()));
  std::size_t page_bytes = g_counters.page_bytes.load();
  out.line("  in use         %s in pages, %s in %zu huge blocks; %zu segments of 4 MiB\n",
           format_bytes_into(a, sizeof a, page_bytes), format_bytes_into(b, sizeof b, g_counters.huge_bytes.load()),
           g_counters.huge_count.load(), g_counters.segments.load());
  out.line("  peak           %s in pages, %s huge, %s mapped\n", format_bytes_into(a, sizeof a, g_counters.peak_page_bytes.load()),
           format_bytes_into(b, sizeof b, g_counters.peak_huge_bytes.load()), format_bytes_into(c, sizeof c, os.peak_mapped));
  out.line("  RSS            %s now, %s peak; %s decommitted after decay\n", format_bytes_into(a, sizeof a, os_rss_bytes()),
           format_bytes_into(b, sizeof b, os_peak_rss_bytes()), format_bytes_into(c, sizeof c, g_counters.purged_bytes.load()));
  if (g_options.stats && page_bytes > 0) {
    std::size_t unused = page_bytes > live_block_bytes ? page_bytes - live_block_bytes : 0;
    out.line("  fragmentation  %s of live blocks in %s of pages: %zu.%zu%% of page memory not in a live block\n",
             format_bytes_into(a, sizeof a, live_block_bytes), format_bytes_into(b, sizeof b, page_bytes), unused * 100 / page_bytes,
             unused * 1000 / page_bytes % 10);
  }
  if (g_options.stats) {
    std::size_t handed = 0;
    for (std::size_t cls = 0; cls < kClassCount; ++cls) handed += t.allocs[cls] * class_size(cls);
    out.line("  requested      %s asked for in all, %s handed out in size classes\n",
             format_bytes_into(a, sizeof a, t.bytes_requested), format_bytes_into(b, sizeof b, handed));
  }
  std::uint64_t ns = os.syscall_nanoseconds;
  out.line("  system calls   mmap %llu, munmap %llu, madvise %llu, mremap %llu: %llu.%03llu ms\n",
           static_cast<unsigned long long>(os.mmap_calls), static_cast<unsigned long long>(os.munmap_calls),
           static_cast<unsigned long long>(os.madvise_calls), static_cast<unsigned long long>(os.mremap_calls),
           static_cast<unsigned long long>(ns / 1000000), static_cast<unsigned long long>(ns / 1000 % 1000));
  if (g_counters.foreign_frees.load()) {
    out.line("  foreign frees  %llu (blocks glibc handed out before us)\n",
             static_cast<unsigned long long>(g_counters.foreign_frees.load()));
  }
  if (g_options.stats) {
    out.line("  by size class     block      allocations        frees         live   bytes handed out\n");
    for (std::size_t cls = 0; cls <= kClassCount; ++cls) {
      if (t.allocs[cls] == 0 && t.frees[cls] == 0) continue;
      std::uint64_t live = t.allocs[cls] > t.frees[cls] ? t.allocs[cls] - t.frees[cls] : 0;
      if (cls < kClassCount) {
        out.line("                 %10s %16llu %12llu %12llu   %s\n", format_bytes_into(a, sizeof a, class_size(cls)),
                 static_cast<unsigned long long>(t.allocs[cls]), static_cast<unsigned long long>(t.frees[cls]),
                 static_cast<unsigned long long>(live), format_bytes_into(d, sizeof d, t.allocs[cls] * class_size(cls)));
      } else {
        out.line("                 %10s %16llu %12llu %12llu\n", "huge", static_cast<unsigned long long>(t.allocs[cls]),
                 static_cast<unsigned long long>(t.frees[cls]), static_cast<unsigned long long>(live));
      }
    }
  }
  out.flush();
}

void stats_at_exit() noexcept { stats_print_fd(2); }

}  // namespace poolkit::malloc_impl
