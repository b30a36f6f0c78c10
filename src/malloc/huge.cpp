// huge.cpp: blocks above the mmap threshold (POOLKIT_MMAP_THRESHOLD, default and
// maximum 1 MiB = the largest size class), and alignments above 64 KiB: each is
// its own mapping from the PageSource. The mapping starts with a segment header
// (4 MiB-aligned, so free finds it like any segment) and the user block follows at
// the first offset that has the alignment. Alignments of 4 MiB and more put the
// header in the 4 MiB just below the block (kSegmentBefore).
//
// A freed huge block with the default alignment is kept in a small cache (8
// mappings, 256 MiB at most) for the decay (POOLKIT_DECAY_MS); after it, or at
// malloc_trim, it is unmapped. Any later huge request takes the cached mapping
// with the most bytes in common and fits it: a tail more than a quarter too long
// is unmapped, a short one grows in place or moves with mremap (its resident
// pages come along: no copy, no page fault), so a program that frees and
// allocates big buffers of varying sizes faults only for the growth, as with
// glibc's heap, and returns everything after the decay, unlike glibc's heap.
// realloc grows a huge block in place with mremap when the next pages are free,
// and moves its mapping otherwise (no copy).
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

// The cached mapping that saves the most page faults for a mapping of `total`
// bytes: the most bytes in common (min(size, total)); among equals, one that is
// not a tail (a block may be about to grow into it), then the least to spare.
// nullptr when the cache is empty.
Segment* cache_take(std::size_t total) noexcept {
  LockGuard guard(g_huge_cache.lock);
  Segment** best = nullptr;
  for (Segment*& slot : g_huge_cache.slots) {
    if (slot == nullptr) continue;
    if (best == nullptr) {
      best = &slot;
      continue;
    }
    std::size_t s = slot->map_size, b = (*best)->map_size;
    std::size_t common_s = s < total ? s : total, common_b = b < total ? b : total;
    if (common_s != common_b) {
      if (common_s > common_b) best = &slot;
    } else if (slot->huge_is_tail != (*best)->huge_is_tail) {
      if (!slot->huge_is_tail) best = &slot;
    } else if (s < b) {
      best = &slot;
    }
  }
  if (best == nullptr) return nullptr;
  Segment* s = *best;
  *best = nullptr;
  g_huge_cache.bytes -= s->map_size;
  return s;
}

// Keeps a freed mapping, idle since idle_since_ms; evicts the oldest when full.
// False: caller unmaps it.
bool cache_put(Segment* segment, std::uint64_t idle_since_ms) noexcept {
  if (g_options.decay_ms == 0 || segment->map_size > kCacheMaxBytes / 2) return false;
  segment->huge_cached_at_ms = idle_since_ms;
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

// Takes the cached mapping that begins where segment's mapping ends, if there is
// one (a tail cut off before): together they are one range of mapped pages, so
// the mapping grows by it without a system call. Its size, or 0.
std::size_t cache_take_adjacent(Segment* segment) noexcept {
  auto* end = reinterpret_cast<Segment*>(static_cast<std::uint8_t*>(segment->map_base) + segment->map_size);
  LockGuard guard(g_huge_cache.lock);
  for (Segment*& slot : g_huge_cache.slots) {
    if (slot == end) {
      std::size_t size = end->map_size;
      g_huge_cache.bytes -= size;
      slot = nullptr;
      return size;
    }
  }
  return 0;
}

// Shortens a mapping (map_base == segment) of more than map_size bytes: whole
// 4 MiB beyond the block are cut off as a mapping of their own and cached, idle
// since idle_since_ms (or unmapped if the cache is full); without such a cut, the
// spare pages are unmapped when they are more than half the block.
void cut_to(Segment* segment, std::size_t map_size, std::uint64_t idle_since_ms) noexcept {
  std::size_t have = segment->map_size;
  auto* base = reinterpret_cast<std::uint8_t*>(segment);
  std::size_t cut = (map_size + kSegmentSize - 1) & ~(kSegmentSize - 1);  // the next 4 MiB boundary
  if (cut + kSegmentSize / 2 <= have) {
    auto* tail = reinterpret_cast<Segment*>(base + cut);
    tail->kind = SegmentKind::kHuge;
    tail->map_base = tail;
    tail->map_size = have - cut;
    tail->huge_is_tail = 1;
    segment->map_size = cut;
    // The spare below the cut stays: the block can grow into the tail while it is cached.
    if (!cache_put(tail, idle_since_ms)) unmap_huge(tail);
    return;
  }
  if (have - map_size > map_size / 2) {
    os_free(base + map_size, have - map_size);
    have = map_size;
  }
  segment->map_size = have;
}

// Makes a cached mapping (map_base == segment) map_size bytes long, near enough:
// too long, cut_to; too short, it takes the cached tail after it, grows in place,
// or moves (os_move: its pages come along, no copy and no fault). The mapping,
// perhaps at a new address; nullptr when it could not grow (it is then unmapped).
Segment* cache_fit(Segment* segment, std::size_t map_size) noexcept {
  while (segment->map_size < map_size) {
    std::size_t more = cache_take_adjacent(segment);
    if (more == 0) break;
    segment->map_size += more;
  }
  if (segment->map_size >= map_size) {
    cut_to(segment, map_size, segment->huge_cached_at_ms);  // the tail idles as long as the whole
    return segment;
  }
  std::size_t have = segment->map_size;
  auto* base = reinterpret_cast<std::uint8_t*>(segment);
  if (g_os.grow_in_place(base, have, map_size)) {
    segment->map_size = map_size;
    return segment;
  }
  void* moved = os_move(base, have, map_size, kSegmentSize);
  if (moved == nullptr) {
    unmap_huge(segment);
    return nullptr;
  }
  auto* s = static_cast<Segment*>(moved);
  s->map_base = moved;
  s->map_size = map_size;
  return s;
}

void init_header(Segment* segment, void* base, std::size_t map_size, std::uintptr_t user) noexcept {
  // A tail cut off another block carries that block's bytes here: every field is set.
  segment->kind = SegmentKind::kHuge;
  segment->pages_in_use = 0;
  segment->owner.store(nullptr, std::memory_order_relaxed);
  segment->next = segment->prev = nullptr;
  set_slices_in_use(segment, 0);
  segment->dirty_slices = 0;
  segment->purge_at_ms = 0;
  segment->cached_at_ms = 0;
  segment->huge_is_tail = 0;
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
    Segment* cached = cache_take(map_size);
    if (cached != nullptr) cached = cache_fit(cached, map_size);
    if (cached != nullptr) {
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
  segment->huge_is_tail = 0;
  if (!cacheable || !cache_put(segment, now_ms())) unmap_huge(segment);
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
void huge_cache_unlock(ForkSide side) noexcept { release_after_fork(g_huge_cache.lock, side); }

// Stays while the new size fits with at most a third of the mapping spare; shrinks
// by unmapping the tail; grows into the cached tail that follows it (cut off
// before), or with mremap when the following pages are free.
bool huge_resize_in_place(Segment* segment, void* p, std::size_t size) noexcept {
  std::uintptr_t user = reinterpret_cast<std::uintptr_t>(p);
  std::size_t head = user - reinterpret_cast<std::uintptr_t>(segment->map_base);
  std::size_t wanted;
  if (__builtin_add_overflow(head, size, &wanted) || !PageSource::round_to_pages(wanted, &wanted)) return false;
  std::size_t old_size = segment->map_size;
  if (wanted <= old_size && old_size - wanted <= wanted / 2) return true;  // fits, at most a third spare
  if (wanted < old_size) {
    os_free(static_cast<std::uint8_t*>(segment->map_base) + wanted, old_size - wanted);
  } else {
    bool ours = segment->map_base == segment;  // a mapping that cut_to may shorten
    while (ours && segment->map_size < wanted) {
      std::size_t more = cache_take_adjacent(segment);
      if (more == 0) break;
      segment->map_size += more;
    }
    if (segment->map_size >= wanted) {
      cut_to(segment, wanted, now_ms());
      wanted = segment->map_size;
    } else if (!g_os.grow_in_place(segment->map_base, segment->map_size, wanted)) {
      note_huge(static_cast<std::ptrdiff_t>(segment->map_size) - static_cast<std::ptrdiff_t>(old_size), 0);
      segment->huge_capacity = reinterpret_cast<std::uintptr_t>(segment->map_base) + segment->map_size - user;
      return false;
    }
  }
  segment->map_size = wanted;
  segment->huge_capacity = reinterpret_cast<std::uintptr_t>(segment->map_base) + wanted - user;
  note_huge(static_cast<std::ptrdiff_t>(wanted) - static_cast<std::ptrdiff_t>(old_size), 0);
  return true;
}

// realloc of a huge block to size (above the mmap threshold): in place when it
// can, else, for a block at the default offset, its mapping moves (os_move) and
// the block keeps its bytes without a copy. nullptr: the caller copies.
void* huge_realloc(Segment* segment, void* p, std::size_t size) noexcept {
  if (huge_resize_in_place(segment, p, size)) return p;
  bool movable = segment->map_base == segment && segment->huge_user - reinterpret_cast<std::uintptr_t>(segment) == kHeaderBytes &&
                 reinterpret_cast<std::uintptr_t>(p) == segment->huge_user;
  std::size_t map_size;
  if (!movable || __builtin_add_overflow(size, kHeaderBytes, &map_size) || !PageSource::round_to_pages(map_size, &map_size))
    return nullptr;
  std::size_t old_size = segment->map_size;
  // Off the segment map first: once moved, the old range may be mapped by another thread.
  segment_map_set(reinterpret_cast<std::uintptr_t>(segment), kNotOurs);
  void* moved = os_move(segment, old_size, map_size, kSegmentSize);
  if (moved == nullptr) {
    segment_map_set(reinterpret_cast<std::uintptr_t>(segment), kSegmentHere);
    return nullptr;
  }
  auto* s = static_cast<Segment*>(moved);
  std::uintptr_t user = reinterpret_cast<std::uintptr_t>(s) + kHeaderBytes;
  std::uint32_t zeroed = s->huge_zeroed;
  init_header(s, s, map_size, user);
  s->huge_zeroed = zeroed;
  segment_map_set(reinterpret_cast<std::uintptr_t>(s), kSegmentHere);
  note_huge(static_cast<std::ptrdiff_t>(map_size) - static_cast<std::ptrdiff_t>(old_size), 0);
  return reinterpret_cast<void*>(user);
}

}  // namespace poolkit::malloc_impl
