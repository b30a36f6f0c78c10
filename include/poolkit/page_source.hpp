// poolkit/page_source.hpp: memory from the operating system, in whole pages.
// The bottom layer under every pool and the drop-in malloc: mmap/munmap for
// regions, optional growth of the data segment (brk) for small ones, madvise to
// hand pages back, transparent huge pages on request, any power-of-two alignment.
// Failure is nullptr with errno = ENOMEM; nothing here ever aborts or calls malloc.
//
// brk: a process has one program break, and glibc's malloc already moves it.
// glibc copes with a foreign sbrk (it treats its own next extension as
// non-contiguous), but nobody can shrink the break below someone else's memory.
// So brk is off by default (brk_threshold = 0). When a user turns it on, requests
// below the threshold grow the break under a process-wide lock, brk regions are
// never given back by moving the break: on deallocate their pages are returned
// with madvise(MADV_DONTNEED) and the region is kept for reuse. 128 KiB, the
// suggested threshold (kSuggestedBrkThreshold), is glibc's M_MMAP_THRESHOLD
// default: below it a system call per region costs more than brk's single
// contiguous segment; above it a mapping can be returned whole.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "poolkit/memory_source.hpp"

namespace poolkit {

/// What the page source did, for stats and POOLKIT_STATS.
struct PageSourceStats {
  std::size_t bytes_mapped = 0;       // live bytes from mmap
  std::size_t peak_mapped = 0;
  std::size_t bytes_from_brk = 0;     // bytes the break was grown by (never shrinks)
  std::uint64_t mmap_calls = 0;
  std::uint64_t munmap_calls = 0;
  std::uint64_t brk_calls = 0;
  std::uint64_t madvise_calls = 0;
  std::uint64_t mremap_calls = 0;
  std::uint64_t failures = 0;
  std::uint64_t syscall_nanoseconds = 0;  // wall time spent inside those calls
};

enum class HugePages {
  kDefault,  // leave the kernel's transparent-huge-page policy alone
  kNever,    // madvise(MADV_NOHUGEPAGE): keeps RSS exact where THP is "always"
  kAlways,   // madvise(MADV_HUGEPAGE) on regions of 2 MiB and more
};

/// The default MemorySource of every pool. Its own allocate/deallocate are plain
/// (non-virtual) calls, so the drop-in malloc pays no indirection; pools holding a
/// MemorySource* reach them through do_allocate/do_deallocate.
class PageSource final : public MemorySource {
 public:
  static constexpr std::size_t kSuggestedBrkThreshold = 128 * 1024;
  static constexpr std::size_t kHugePageSize = 2 * 1024 * 1024;

  struct Options {
    std::size_t brk_threshold = 0;  // requests below this grow the break; 0: never use brk
    HugePages huge_pages = HugePages::kDefault;
  };

  // constexpr so that a PageSource can be a constinit global: the drop-in malloc
  // needs one before any constructor has run.
  constexpr PageSource() noexcept = default;
  constexpr explicit PageSource(Options options) noexcept : options_(options) {}
  PageSource(const PageSource&) = delete;
  PageSource& operator=(const PageSource&) = delete;

  /// The process-wide default: mmap only, kernel THP policy.
  static PageSource& system() noexcept;

  /// The OS page size (4096 on x86-64), read once.
  static std::size_t page_size() noexcept;

  /// At least `size` bytes (rounded up to pages), aligned to `alignment` (any
  /// power of two; below a page means a page). Zero-filled. nullptr + ENOMEM on
  /// failure, EINVAL for a bad alignment, ENOMEM for a size that overflows.
  void* allocate(std::size_t size, std::size_t alignment = 0) noexcept;

  /// Returns a region from allocate() with the same size. nullptr does nothing.
  void deallocate(void* p, std::size_t size) noexcept;

  /// Grows a mapped region from allocate() to new_size bytes without moving it
  /// (mremap without MREMAP_MAYMOVE). False, with the region unchanged, when the
  /// pages after it are taken or the region came from brk.
  bool grow_in_place(void* p, std::size_t old_size, std::size_t new_size) noexcept;

  /// Gives the pages of [p, p+size) back to the OS (MADV_DONTNEED) while keeping
  /// the range reserved: the next touch reads zeros. p and size page-aligned.
  bool decommit(void* p, std::size_t size) noexcept;

  /// Rounds size up to whole pages; false if it overflows.
  static bool round_to_pages(std::size_t size, std::size_t* out) noexcept;

  PageSourceStats stats() const noexcept;
  const Options& options() const noexcept { return options_; }

 protected:
  void* do_allocate(std::size_t size, std::size_t alignment) noexcept override { return allocate(size, alignment); }
  void do_deallocate(void* p, std::size_t size) noexcept override { deallocate(p, size); }

 private:
  void* map(std::size_t size, std::size_t alignment) noexcept;
  void* grow_break(std::size_t size) noexcept;
  bool in_break_region(const void* p) const noexcept;
  void note_mapped(std::size_t bytes) noexcept;

  Options options_{};
  std::atomic<std::size_t> bytes_mapped_{0};
  std::atomic<std::size_t> peak_mapped_{0};
  std::atomic<std::size_t> bytes_from_brk_{0};
  std::atomic<std::uint64_t> mmap_calls_{0};
  std::atomic<std::uint64_t> munmap_calls_{0};
  std::atomic<std::uint64_t> brk_calls_{0};
  std::atomic<std::uint64_t> madvise_calls_{0};
  std::atomic<std::uint64_t> mremap_calls_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> syscall_ns_{0};
  // brk regions given back, kept for reuse: an intrusive LIFO list whose nodes
  // live in the first page of each region (the rest of it is decommitted).
  struct BreakRegion {
    BreakRegion* next;
    std::size_t size;
  };
  BreakRegion* break_free_ = nullptr;  // guarded by the process-wide break lock
};

}  // namespace poolkit
