// huge.cpp: blocks above the mmap threshold (POOLKIT_MMAP_THRESHOLD, default and
// maximum 1 MiB = the largest size class), and alignments above 64 KiB: each is
// its own mapping from the PageSource, given back with munmap on free, so a freed
// huge block never lingers in RSS (seed 002, part 1). The mapping starts with a
// segment header (4 MiB-aligned, so free finds it like any segment) and the user
// block follows at the first offset that has the alignment. Alignments of 4 MiB
// and more put the header in the 4 MiB just below the block (kSegmentBefore).
// realloc grows a huge block in place with mremap when the next pages are free.
//
// A freed huge block with the default alignment is kept in a small cache (8
// mappings, 256 MiB at most) for the decay (POOLKIT_DECAY_MS) and reused by a
// request of up to its size that does not waste more than a third of it: programs
// that allocate and free big buffers in a loop then skip the mmap, the page
// faults and the munmap. After the decay, or at malloc_trim, it is unmapped.
#include <cerrno>
#include <cstring>

#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

constexpr std::size_t kHeaderBytes = (sizeof(Segment) + 63) & ~std::size_t{63};
constexpr std::size_t kCacheSlots = 8;
constexpr std::size_t kCacheMaxBytes = std::size_t{256} << 20;

struct HugeCache {
  SpinLock lock;
  Segment* slots[kCacheSlots] = {};
  std::atomic<std::size_t> bytes{0};  // written under the lock, peeked without
};
constinit HugeCache g_huge_cache;

void unmap_huge(Segment* segment) noexcept { os_free(segment->map_base, segment->map_size); }

// A cached mapping that holds total bytes without wasting more than a third, or nullptr.
Segment* cache_take(std::size_t total) noexcept {
  LockGuard guard(g_huge_cache.lock);
  for (Segment*& slot : g_huge_cache.slots) {
    Segment* s = slot;
    if (s != nullptr && s->map_size >= total && s->map_size - total <= s->map_size / 3) {
      slot = nullptr;
      g_huge_cache.bytes -= s->map_size;
      return s;
    }
  }
  return nullptr;
}

// Keeps a freed mapping; evicts the oldest when full. False: caller unmaps it.
bool cache_put(Segment* segment) noexcept {
  if (g_options.decay_ms == 0 || segment->map_size > kCacheMaxBytes / 2) return false;
  segment->huge_cached_at_ms = now_ms();
  Segment* evicted = nullptr;
  {
    LockGuard guard(g_huge_cache.lock);
    Segment** free_slot = nullptr;
    Segment** oldest = nullptr;
    for (Segment*& slot : g_huge_cache.slots) {
      if (slot == nullptr) free_slot = &slot;
      else if (oldest == nullptr || slot->huge_cached_at_ms < (*oldest)->huge_cached_at_ms) oldest = &slot;
    }
    if (free_slot == nullptr) {
      evicted = *oldest;
      g_huge_cache.bytes -= evicted->map_size;
      free_slot = oldest;
    }
    *free_slot = segment;
    g_huge_cache.bytes += segment->map_size;
    if (g_huge_cache.bytes > kCacheMaxBytes && evicted == nullptr) {
      // Over the byte cap: drop the new one again rather than scan for more victims.
      *free_slot = nullptr;
      g_huge_cache.bytes -= segment->map_size;
      return false;
    }
  }
  if (evicted != nullptr) unmap_huge(evicted);
  return true;
}

void init_header(Segment* segment, void* base, std::size_t map_size, std::uintptr_t user) noexcept {
  segment->kind = SegmentKind::kHuge;
  segment->owner.store(nullptr, std::memory_order_relaxed);
  segment->map_base = base;
  segment->map_size = map_size;
  segment->huge_user = user;
  segment->huge_capacity = reinterpret_cast<std::uintptr_t>(base) + map_size - user;
  segment->huge_live = 1;
  segment->huge_zeroed = 1;
  for (std::size_t i = 0; i < kSlicesPerSegment; ++i) {
    segment->pages[i].slice_offset = static_cast<std::uint8_t>(i);
    segment->pages[i].flags = kPageHuge;
    segment->pages[i].heap.store(nullptr, std::memory_order_relaxed);
    segment->pages[i].in_full.store(0, std::memory_order_relaxed);
  }
}

}  // namespace

void* huge_alloc(std::size_t size, std::size_t alignment) noexcept {
  if (alignment < kMinBlock) alignment = kMinBlock;
  if (size == 0) size = 1;
  std::size_t offset, total;
  bool far = alignment >= kSegmentSize;
  offset = far ? alignment : ((kHeaderBytes + alignment - 1) & ~(alignment - 1));
  if (__builtin_add_overflow(size, offset, &total) || total > (SIZE_MAX >> 1)) {
    errno = ENOMEM;
    return nullptr;
  }
  std::size_t map_size;
  if (!PageSource::round_to_pages(total, &map_size)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (offset == kHeaderBytes) {
    if (Segment* cached = cache_take(map_size)) {
      std::uintptr_t user = reinterpret_cast<std::uintptr_t>(cached) + offset;
      std::size_t cached_size = cached->map_size;
      init_header(cached, cached, cached_size, user);
      cached->huge_zeroed = 0;
      segment_map_set(reinterpret_cast<std::uintptr_t>(cached), kSegmentHere);
      note_huge(static_cast<std::ptrdiff_t>(cached_size), 1);
      huge_cache_trim(false);
      return reinterpret_cast<void*>(user);
    }
  }
  auto* base = static_cast<std::uint8_t*>(os_alloc_segment_aligned(map_size, far ? alignment : kSegmentSize));
  if (base == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  std::uintptr_t user = reinterpret_cast<std::uintptr_t>(base) + offset;
  auto* segment = reinterpret_cast<Segment*>(far ? user - kSegmentSize : reinterpret_cast<std::uintptr_t>(base));
  init_header(segment, base, map_size, user);
  segment_map_set(user & ~(kSegmentSize - 1), far ? kSegmentBefore : kSegmentHere);
  note_huge(static_cast<std::ptrdiff_t>(map_size), 1);
  return reinterpret_cast<void*>(user);
}

void huge_free(Segment* segment, void* p) noexcept {
  if (reinterpret_cast<std::uintptr_t>(p) != segment->huge_user) fatal("free(): invalid pointer\n");
  if (segment->huge_live != 1) fatal("poolkit: double free of %p (huge block)\n", p);
  segment->huge_live = 0;
  segment_map_set(segment->huge_user & ~(kSegmentSize - 1), kNotOurs);
  note_huge(-static_cast<std::ptrdiff_t>(segment->map_size), -1);
  bool cacheable = segment->map_base == segment && segment->huge_user - reinterpret_cast<std::uintptr_t>(segment) == kHeaderBytes;
  if (!cacheable || !cache_put(segment)) unmap_huge(segment);
  huge_cache_trim(false);
}

// Unmaps cached mappings older than the decay (all of them when `all`).
bool huge_cache_trim(bool all) noexcept {
  if (!all && g_huge_cache.bytes.load(std::memory_order_relaxed) == 0) return false;  // racy peek; the lock decides
  std::uint64_t now = now_ms();
  Segment* expired[kCacheSlots];
  std::size_t n = 0;
  {
    LockGuard guard(g_huge_cache.lock);
    for (Segment*& slot : g_huge_cache.slots) {
      if (slot != nullptr && (all || now - slot->huge_cached_at_ms >= g_options.decay_ms)) {
        g_huge_cache.bytes -= slot->map_size;
        expired[n++] = slot;
        slot = nullptr;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) unmap_huge(expired[i]);
  return n != 0;
}

void huge_cache_lock() noexcept { g_huge_cache.lock.lock(); }
void huge_cache_unlock() noexcept { g_huge_cache.lock.unlock(); }

// Shrinks by unmapping the tail, grows with mremap when the following pages are free.
bool huge_resize_in_place(Segment* segment, void* p, std::size_t size) noexcept {
  std::uintptr_t user = reinterpret_cast<std::uintptr_t>(p);
  std::size_t head = user - reinterpret_cast<std::uintptr_t>(segment->map_base);
  std::size_t wanted;
  if (__builtin_add_overflow(head, size, &wanted) || !PageSource::round_to_pages(wanted, &wanted)) return false;
  std::size_t old_size = segment->map_size;
  if (wanted == old_size) return true;
  if (wanted < old_size) {
    os_free(static_cast<std::uint8_t*>(segment->map_base) + wanted, old_size - wanted);
  } else if (!g_os.grow_in_place(segment->map_base, old_size, wanted)) {
    return false;
  }
  segment->map_size = wanted;
  segment->huge_capacity = reinterpret_cast<std::uintptr_t>(segment->map_base) + wanted - user;
  note_huge(static_cast<std::ptrdiff_t>(wanted) - static_cast<std::ptrdiff_t>(old_size), 0);
  return true;
}

}  // namespace poolkit::malloc_impl
