// segment_cache.cpp: the shared layer between thread heaps and the OS (seed 002,
// part 3): one small cache of empty segments per CPU, picked with detail::cpu_index()
// (glibc answers it from its own rseq area when it registered one; we never
// register rseq ourselves). A heap that empties a segment puts it in its CPU's
// cache; a heap that needs one takes from its CPU's cache first, then from the
// others, then maps a new one. Cached segments are decommitted after the decay
// and unmapped when a cache is full, so a freed peak really leaves the process.
#include "common/assert.hpp"
#include "internal.hpp"
#include "poolkit/detail/cpu_index.hpp"

namespace poolkit::malloc_impl {

namespace {

constexpr std::uint32_t kSegmentsPerCpu = 4;

struct alignas(64) CpuCache {
  SpinLock lock;
  Segment* list = nullptr;  // LIFO, linked through Segment::next
  std::atomic<std::uint32_t> count{0};  // written under lock, peeked without
};

constinit CpuCache g_caches[kMaxCpus];
constinit std::atomic<std::uint64_t> g_next_trim_ms{0};

std::size_t current_cpu() noexcept {
  return detail::cpu_index() % kMaxCpus;
}

}  // namespace

void segment_unmap(Segment* segment) noexcept {
  segment_map_set(reinterpret_cast<std::uintptr_t>(segment), kNotOurs);
  g_counters.segments.fetch_sub(1, std::memory_order_relaxed);
  os_free(segment, kSegmentSize);
}

void segment_cache_put(Segment* segment) noexcept {
  PK_ASSERT(segment->kind == SegmentKind::kSmall && segment->pages_in_use == 0);
  PK_ASSERT(slices_in_use(segment) == 1);  // only the header slice
  segment->owner.store(nullptr, std::memory_order_relaxed);
  segment->cached_at_ms = now_ms();
  CpuCache& cache = g_caches[current_cpu()];
  {
    LockGuard guard(cache.lock);
    if (cache.count.load(std::memory_order_relaxed) < kSegmentsPerCpu) {
      segment->next = cache.list;
      cache.list = segment;
      cache.count.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  segment_unmap(segment);
}

Segment* segment_cache_take() noexcept {
  std::size_t home = current_cpu();
  for (std::size_t i = 0; i < kMaxCpus; ++i) {
    CpuCache& cache = g_caches[(home + i) % kMaxCpus];
    if (cache.count.load(std::memory_order_relaxed) == 0 && i != 0) continue;  // racy peek, only to skip empty caches
    LockGuard guard(cache.lock);
    if (Segment* segment = cache.list) {
      cache.list = segment->next;
      cache.count.fetch_sub(1, std::memory_order_relaxed);
      segment->next = nullptr;
      return segment;
    }
  }
  return nullptr;
}

// Decommits cached segments older than the decay (all of them, and unmaps them, when
// `all`). Runs at most once per decay period unless `all`. True if anything was released.
bool segment_cache_trim(bool all) noexcept {
  huge_cache_trim(all);
  std::uint64_t now = now_ms();
  if (!all) {
    std::uint64_t next = g_next_trim_ms.load(std::memory_order_relaxed);
    if (now < next || !g_next_trim_ms.compare_exchange_strong(next, now + (g_options.decay_ms ? g_options.decay_ms : 1)))
      return false;
  }
  bool released = false;
  for (CpuCache& cache : g_caches) {
    if (cache.count.load(std::memory_order_relaxed) == 0) continue;
    Segment* unmap = nullptr;
    {
      LockGuard guard(cache.lock);
      if (all) {
        unmap = cache.list;
        cache.list = nullptr;
        cache.count.store(0, std::memory_order_relaxed);
      } else {
        for (Segment* s = cache.list; s != nullptr; s = s->next) {
          if (s->dirty_slices != 0 && now - s->cached_at_ms >= g_options.decay_ms) {
            segment_purge(s);
            released = true;
          }
        }
      }
    }
    while (unmap != nullptr) {
      Segment* next = unmap->next;
      segment_unmap(unmap);
      unmap = next;
      released = true;
    }
  }
  return released;
}

void cache_lock_all() noexcept {
  for (CpuCache& cache : g_caches) cache.lock.lock();
}
void cache_unlock_all(ForkSide side) noexcept {
  for (CpuCache& cache : g_caches) release_after_fork(cache.lock, side);
}

}  // namespace poolkit::malloc_impl
