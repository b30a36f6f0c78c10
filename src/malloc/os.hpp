// os.hpp (private): what the drop-in malloc asks of the operating system (os.cpp):
// memory from one PageSource, the segment map (is this pointer ours?), the clock,
// /proc figures, messages on fd 2 without stdio, and the lock it uses.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "poolkit/detail/spin_lock.hpp"
#include "poolkit/page_source.hpp"
#include "types.hpp"

namespace poolkit::malloc_impl {

// ---- memory, clock, messages (os.cpp) -------------------------------------------
extern constinit PageSource g_os;
// Plain bytes, read and written with __atomic builtins: an array of std::atomic
// could be zeroed by a dynamic initialiser after the first mallocs registered segments.
extern std::uint8_t g_segment_map[kAddressLimit >> kSegmentShift];
// kGuardedFar: a later 4 MiB of a checked-mode guarded mapping whose header is in an
// earlier chunk (checked_guarded.cpp); the fast paths treat it as not ours.
enum SegmentMapValue : std::uint8_t { kNotOurs = 0, kSegmentHere = 1, kSegmentBefore = 2, kGuardedFar = 3 };
void segment_map_set(std::uintptr_t chunk, std::uint8_t value) noexcept;
std::uint64_t now_ms() noexcept;
void* os_alloc_segment_aligned(std::size_t size, std::size_t alignment) noexcept;
void os_free(void* p, std::size_t size) noexcept;
// Moves a mapping of old_size bytes to a fresh `alignment`-aligned place of new_size
// bytes (mremap MREMAP_MAYMOVE | MREMAP_FIXED): its pages move with their page
// tables, no copy and no page fault; the bytes beyond old_size read zero. The old
// range is unmapped. nullptr (p untouched) when it cannot.
void* os_move(void* p, std::size_t old_size, std::size_t new_size, std::size_t alignment) noexcept;
PageSourceStats os_stats() noexcept;  // g_os.stats() less the mappings os_move retired
void os_decommit(void* p, std::size_t size) noexcept;
/// The field-th (1-based) space-separated number of /proc/self/NAME ("stat", "statm"),
/// read without allocating; 0 when unreadable.
std::uint64_t os_proc_self_number(const char* name, int field) noexcept;
std::size_t os_rss_bytes() noexcept;
std::size_t os_peak_rss_bytes() noexcept;
void write_stderr(const char* s) noexcept;
[[noreturn]] void fatal(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void verbose(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void warning(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

// ---- locks ------------------------------------------------------------------
// The library's lock (poolkit/detail/spin_lock.hpp): malloc-safe and constinit, free
// when the process has one thread, a futex sleep instead of a yield loop when held long.
using SpinLock = poolkit::detail::SpinLock;
// Which side of fork() a fork handler releases its locks on. The parent unlocks; the
// child resets, since the parent's other threads (the lock's sleepers) do not exist
// there and a count of them left in the lock would make every unlock wake nobody.
enum class ForkSide { kParent, kChild };
inline void release_after_fork(SpinLock& lock, ForkSide side) noexcept {
  if (side == ForkSide::kChild)
    lock.reset_after_fork();
  else
    lock.unlock();
}
struct LockGuard {
  explicit LockGuard(SpinLock& l) noexcept : lock(l) { lock.lock(); }
  ~LockGuard() { lock.unlock(); }
  SpinLock& lock;
};

/// The segment holding p if p is ours, nullptr otherwise (O(1), one byte load).
PK_INLINE Segment* segment_lookup(const void* p) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  if (PK_UNLIKELY(x >= kAddressLimit)) return nullptr;
  std::uint8_t v = __atomic_load_n(&g_segment_map[x >> kSegmentShift], __ATOMIC_RELAXED);
  if (PK_LIKELY(v == kSegmentHere)) return segment_of(p);
  if (v == kSegmentBefore) return reinterpret_cast<Segment*>((x & ~(kSegmentSize - 1)) - kSegmentSize);
  return nullptr;
}

}  // namespace poolkit::malloc_impl
