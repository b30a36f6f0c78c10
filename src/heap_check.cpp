// heap_check.cpp: Heap::check() and its walkers: every region block by block (tags,
// sizes, footers, the previous-is-free bits), the segregated free lists against the
// free blocks, the front cache against the cached blocks, the size-class runs slot by
// slot (heap_runs.cpp), and the counters. O(blocks
// log blocks); tests and the fuzzers call it, never the allocation paths.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "poolkit/heap.hpp"

namespace poolkit {
namespace {

using L = detail::BlockLayout;

bool fail_check(const char* what, std::uintptr_t where) noexcept {
  std::fprintf(stderr, "poolkit::Heap::check: %s (at %p)\n", what, reinterpret_cast<void*>(where));
  return false;
}

}  // namespace

// The blocks of every region whose header has `bit` set, sorted by address, for the
// list walkers to look their nodes up in; false if memory for the list ran out.
bool Heap::sorted_blocks_with(std::uint64_t bit, std::vector<std::uintptr_t>* out) const noexcept {
  try {
    for (const Region* r = regions_; r; r = r->next) {
      for (std::uintptr_t b = r->first_block(); b < r->sentinel(); b += L::size_of(header(b)))
        if (header(b) & bit) out->push_back(b);
    }
  } catch (...) {
    return false;
  }
  std::sort(out->begin(), out->end());
  return true;
}

bool Heap::check_region(const Region* region, std::size_t* used_bytes, std::size_t* used_count,
                        std::size_t* free_count, std::size_t* requested, std::size_t* cached_bytes,
                        RunTotals* runs) const noexcept {
  const bool immediate = options_.coalescing == Coalescing::kImmediate;
  std::uintptr_t block = region->first_block();
  const std::uintptr_t end = region->sentinel();
  bool prev_free = false;
  while (block < end) {
    const std::uint64_t h = header(block);
    const std::size_t size = L::size_of(h);
    if (!L::tag_ok(block, h, secret_)) return fail_check("header tag does not match its address", block);
    if (size < L::kMinBlock || size % L::kGranule || size > end - block)
      return fail_check("block size out of range", block);
    if (L::prev_is_free(h) != prev_free) return fail_check("previous-is-free bit disagrees", block);
    if ((h & L::kRunBit) && (!Runs::is_run_block(h) || L::is_free(h) || L::is_cached(h)))
      return fail_check("run bit set on a block that is not a run", block);
    if (h & L::kRunBit) {
      if (!check_run(block, size, used_bytes, used_count, requested, &runs->free_bytes, &runs->open)) return false;
      ++runs->count;
    } else if (L::is_cached(h)) {
      if (L::is_free(h)) return fail_check("a block both free and cached", block);
      if (Cache::class_of_block(size) >= Cache::kClasses) return fail_check("a cached block too big to cache", block);
      *cached_bytes += size;
    } else if (L::is_free(h)) {
      if (L::load_word(block + size - L::kWord) != size) return fail_check("footer disagrees with header", block);
      if (immediate && prev_free) return fail_check("two neighbouring free blocks", block);
      if (immediate && options_.return_empty_regions && region_count_ > 1 && size == region->span())
        return fail_check("a wholly free region was kept", block);
      ++*free_count;
    } else {
      *used_bytes += size;
      ++*used_count;
      *requested += size - L::kHeaderSize - L::slack_of(h);
    }
    prev_free = L::is_free(h);
    block += size;
  }
  if (block != end) return fail_check("block sizes do not sum to the region", block);
  const std::uint64_t s = header(end);
  if (!L::tag_ok(end, s, secret_) || L::size_of(s) != 0 || L::is_free(s) || L::prev_is_free(s) != prev_free)
    return fail_check("bad sentinel", end);
  return true;
}

bool Heap::check_index() const noexcept {
  using detail::SizeClassMap;
  std::vector<std::uintptr_t> free_blocks;
  if (!sorted_blocks_with(L::kFreeBit, &free_blocks)) return fail_check("out of memory while checking", 0);
  std::size_t count = 0, bytes = 0;
  for (unsigned fl = 0; fl < SizeClassMap::kFlCount; ++fl) {
    const bool fl_bit = index_.fl_bitmap() >> fl & 1;
    if (fl_bit != (index_.sl_bitmap(fl) != 0)) return fail_check("first-level bitmap disagrees", fl);
    for (unsigned sl = 0; sl < SizeClassMap::kSlCount; ++sl) {
      std::uintptr_t b = index_.head(fl, sl);
      if (bool(index_.sl_bitmap(fl) >> sl & 1) != (b != 0)) return fail_check("second-level bitmap disagrees", b);
      std::uintptr_t prev = 0;
      for (; b; prev = b, b = L::next_free(b)) {
        if (!std::binary_search(free_blocks.begin(), free_blocks.end(), b))
          return fail_check("list holds something that is not a free block", b);
        const std::size_t size = L::size_of(header(b));
        const detail::SizeClass c = SizeClassMap::class_of(size);
        if (c.fl != fl || c.sl != sl) return fail_check("free block on the wrong list", b);
        if (L::prev_free(b) != prev) return fail_check("broken back link", b);
        if (++count > free_blocks.size()) return fail_check("a free block is on a list twice", b);
        bytes += size;
      }
    }
  }
  if (count != free_blocks.size()) return fail_check("a free block is on no list", 0);
  if (count != index_.count() || bytes != index_.bytes()) return fail_check("free counters disagree", 0);
  return true;
}

bool Heap::check() const noexcept {
  std::size_t used_bytes = 0, used_count = 0, free_count = 0, requested = 0, reserved = 0, regions = 0,
              cached_bytes = 0;
  RunTotals runs;
  for (const Region* r = regions_; r; r = r->next) {
    if (!check_region(r, &used_bytes, &used_count, &free_count, &requested, &cached_bytes, &runs)) return false;
    reserved += r->size;
    ++regions;
  }
  if (regions != region_count_ || reserved != bytes_reserved_) return fail_check("region counters disagree", 0);
  std::size_t spans = 0;
  for (const Region* r = regions_; r && spans < kSpanTable; r = r->next, ++spans) {
    const RegionSpan& s = spans_[spans];
    if (s.region != r || s.begin != reinterpret_cast<std::uintptr_t>(r) || s.size != r->size)
      return fail_check("region table disagrees with the regions", reinterpret_cast<std::uintptr_t>(r));
  }
  if (spans != span_count_) return fail_check("region table holds the wrong number of regions", 0);
  if (used_bytes != bytes_in_use_ || used_count != live_blocks_ || requested != bytes_requested_)
    return fail_check("live-block counters disagree", 0);
  if (free_count != index_.count()) return fail_check("free-block count disagrees", 0);
  if (cached_bytes != cache_.bytes()) return fail_check("cached bytes disagree with the cached blocks", 0);
  if (runs.count != run_count_ || runs.free_bytes != run_free_bytes_)
    return fail_check("run counters disagree with the runs", 0);
  if (!check_run_lists(&runs.open)) return false;
  if (fixed_ && region_count_ > 1) return fail_check("a heap that never grows has more than one region", 0);
  if (buffer_claim_.held() && (regions_ != buffer_region_ || !buffer_region_ ||
                               reinterpret_cast<std::uintptr_t>(buffer_region_) != buffer_claim_.begin()))
    return fail_check("the caller's buffer is not the heap's one region", 0);
  // Bounded time: nothing whose cost grows with the heap may be pending (the
  // checker above already holds immediate coalescing to "no two free neighbours").
  if (options_.bounded_time &&
      (!fixed_ || cache_.depth() != 0 || runs_ || options_.coalescing != Coalescing::kImmediate ||
       options_.return_empty_regions))
    return fail_check("bounded time, but the heap may grow, cache, defer merges or return regions", 0);
  return check_index() && check_cache();
}

// Every cached block is on the list of its size, once; the counts agree and keep the bound.
bool Heap::check_cache() const noexcept {
  std::vector<std::uintptr_t> cached;
  if (!sorted_blocks_with(L::kCachedBit, &cached)) return fail_check("out of memory while checking", 0);
  std::size_t total = 0;
  for (std::size_t c = 2; c < Cache::kClasses; ++c) {
    std::size_t n = 0;
    for (std::uintptr_t b = cache_.head(c); b; b = L::next_free(b)) {
      if (!std::binary_search(cached.begin(), cached.end(), b))
        return fail_check("cache list holds something that is not a cached block", b);
      if (Cache::class_of_block(L::size_of(header(b))) != c) return fail_check("cached block on the wrong list", b);
      if (++n > cache_.count(c)) return fail_check("cache list longer than its count", b);
    }
    if (n != cache_.count(c)) return fail_check("cache list shorter than its count", c);
    if (n > cache_.depth()) return fail_check("cache class over its bound", c);
    total += n;
  }
  if (total != cached.size()) return fail_check("a cached block is on no cache list", 0);
  return true;
}

void Heap::visit_blocks(void (*fn)(void*, const void*, std::size_t, unsigned), void* ctx) const noexcept {
  // Regions are linked newest first; a picture wants address order.
  std::vector<const Region*> regions;
  for (const Region* r = regions_; r; r = r->next) regions.push_back(r);
  std::sort(regions.begin(), regions.end());
  for (const Region* r : regions) {
    for (std::uintptr_t block = r->first_block(); block < r->sentinel();) {
      const std::uint64_t h = header(block);
      const std::size_t size = L::size_of(h);
      if (size == 0) break;  // a broken heap: check() says where
      if (Runs::is_run_block(h) && !L::is_free(h) && !L::is_cached(h)) {
        visit_run(block, size, fn, ctx);
        block += size;
        continue;
      }
      fn(ctx, reinterpret_cast<const void*>(block), size, L::is_cached(h) ? 3u : L::is_free(h) ? 0u : 1u);
      block += size;
    }
  }
}

}  // namespace poolkit
