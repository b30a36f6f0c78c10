// heap.cpp: Heap, the boundary-tag allocator with a two-level segregated fit index.
// The block layout and its bits are described in detail/boundary_tag.hpp, the
// size classes in detail/size_class_map.hpp; check() and its walkers are in heap_check.cpp,
// the size-class runs for medium blocks in heap_runs.cpp.
#include "poolkit/heap.hpp"

#include <algorithm>
#include <new>

#include "common/assert.hpp"
#include "poolkit/detail/annotations.hpp"

namespace poolkit {
namespace {

using L = detail::BlockLayout;

// The largest request: its block, plus an alignment gap, plus the region header,
// still has a size that fits the header's 42-bit size field.
constexpr std::size_t kMaxRequest = L::kMaxBlock - 4 * kMaxAlignment;

// The block size for a request of `size` bytes; false if it cannot be met.
bool block_size_for(std::size_t size, std::size_t* out) noexcept {
  if (size > kMaxRequest) return false;
  std::size_t n = align_up(size + L::kHeaderSize, L::kGranule);
  *out = n < L::kMinBlock ? L::kMinBlock : n;
  return true;
}

// Writes a byte in every page of [p, p + n), before the heap puts anything there: the
// page faults of fresh memory happen now, in the constructor, not in a later call.
void touch_pages(void* p, std::size_t n) noexcept {
  auto* bytes = static_cast<volatile unsigned char*>(p);
  for (std::size_t at = 0; at < n; at += PageSource::page_size()) bytes[at] = 0;
}

}  // namespace

// What the options mean once bounded_time has overridden the choices it excludes.
Heap::Options Heap::effective(Options o) noexcept {
  if (o.growth == 0) o.growth = 1;
  if (o.bounded_time) {
    o.coalescing = Coalescing::kImmediate;  // deferred: a pass walks every block
    o.front_cache = false;                  // a flush walks every cached block
    o.size_class_runs = false;              // bounded time is the bare boundary-tag heap
    o.return_empty_regions = false;         // a munmap
  }
  return o;
}

Heap::Heap(Options options) noexcept
    : options_(effective(options)),
      source_(options.source ? options.source : &PageSource::system()),
      secret_((reinterpret_cast<std::uintptr_t>(this) * 0xD6E8FEB86659FD93ull) ^ 0x2545F4914F6CDD1Dull),
      next_region_size_(options.region_size),
      cache_(options_.front_cache ? options_.front_cache_depth : 0),
      runs_(options_.front_cache && options_.size_class_runs) {
  annotate::pool_created(this);
  if (!options_.bounded_time) return;
  // The one region, now, every page written once: later calls take no page fault
  // for fresh memory and never reach the source (fixed_ stops growth). No memory:
  // the heap stays empty and every allocate fails.
  fixed_ = true;
  std::size_t size;
  if (options_.region_size < kMinBuffer || !PageSource::round_to_pages(options_.region_size, &size)) return;
  void* memory = source_->allocate(size);
  if (!memory) return;
  touch_pages(memory, size);
  adopt_region(memory, size);
}

Heap::Heap(void* buffer, std::size_t size, Options options) : Heap([&] {
  Options o = effective(options);  // the choices bounded_time makes, without its reservation
  o.return_empty_regions = false;  // the buffer is the caller's, not the source's
  o.bounded_time = false;
  return o;
}()) {
  options_.bounded_time = options.bounded_time;
  fixed_ = true;
  buffer_claim_.take("Heap", buffer, size, L::kGranule, kMinBuffer);
  // The region's span (size - 32) must be a multiple of 16.
  const std::size_t usable = size & ~(L::kGranule - 1);
  if (options_.bounded_time) touch_pages(buffer, usable);  // a static array may never have been written
  buffer_region_ = adopt_region(buffer, usable);
}

Heap::~Heap() {
  annotate::pool_destroyed(this);  // first: it makes live blocks unaddressable (see ~FixedPool)
  while (regions_) return_region(regions_);
}

// ---- allocation -------------------------------------------------------------

void* Heap::allocate_prefixed_slow(std::size_t prefix, std::size_t size, std::size_t align) noexcept {
  std::size_t total;
  if (!is_valid_alignment(align) || prefix % L::kGranule != 0 || !checked_add(prefix, size, &total)) {
    ++failures_;
    return nullptr;
  }
  return allocate_block(prefix, total, align);
}

void* Heap::allocate_block(std::size_t prefix, std::size_t total, std::size_t align) noexcept {
  std::size_t needed;
  if (!block_size_for(total, &needed)) {
    ++failures_;
    return nullptr;
  }
  if (align <= L::kGranule && needed <= Cache::kMaxBlock) {  // prefixed requests use the cache too
    const std::size_t c = Cache::class_of_block(needed);
    if (const std::uintptr_t block = cache_.head(c)) return pop_cached(c, block, total);
  }
  // Medium blocks: a slot of a size-class run, if a run has room or one can be cut from
  // a free block; otherwise (no free block big enough for a run) a plain block.
  if (runs_ && align <= L::kGranule && needed > Cache::kMaxBlock && total <= Runs::kMaxRequest) {
    if (void* p = run_allocate(Runs::class_of(needed + L::kWord), needed, total)) return p;
  }
  // Room for a leading gap that is either empty or a whole free block.
  const std::size_t search = align <= L::kGranule ? needed : needed + align + L::kMinBlock;
  std::uintptr_t block = index_.find(search);
  if (!block) block = find_or_grow(search);
  if (!block) {
    ++failures_;
    return nullptr;
  }
  return carve(block, prefix, needed, align, total);
}

// A block of at least `size` bytes for a new run, from a free block already in the index
// (a run never makes the heap grow); 0 if there is none. Its header is written, nothing
// is accounted.
std::uintptr_t Heap::carve_run_block(std::size_t size) noexcept {
  const std::uintptr_t block = index_.find(size);
  if (!block) return 0;
  return L::block_of(reinterpret_cast<std::uintptr_t>(carve(block, 0, size, L::kGranule, 0, true)));
}

// The slow path of a search: empty the front cache, coalesce (deferred mode) or grow.
std::uintptr_t Heap::find_or_grow(std::size_t search) noexcept {
  if (cache_.bytes() != 0) {
    flush_cache();
    if (std::uintptr_t block = index_.find(search)) return block;
  }
  if (options_.coalescing == Coalescing::kDeferred && worth_coalescing(search)) {
    coalesce();
    if (std::uintptr_t block = index_.find(search)) return block;
  }
  // Before growing, give back regions that are wholly free (release() keeps one,
  // which may be too small for this request): the heap never holds an empty
  // region beside another.
  if (options_.return_empty_regions) return_empty_regions();
  Region* region = add_region(search);
  return region ? region->first_block() : 0;
}

void Heap::return_empty_regions() noexcept {
  for (Region* r = regions_; r;) {
    Region* next = r->next;
    const std::uintptr_t block = r->first_block();
    const std::uint64_t h = header(block);
    if (L::is_free(h) && L::size_of(h) == r->span()) {
      index_.remove(block, r->span());
      return_region(r);
    }
    r = next;
  }
}

// Deferred coalescing walks every block of every region, so it runs only when it
// can help (enough free bytes in all) and its cost is paid for: at least one free
// per 16 blocks walked since the last pass. Otherwise the heap grows instead.
bool Heap::worth_coalescing(std::size_t search) const noexcept {
  if (index_.count() < 2 || index_.bytes() < search) return false;
  return frees_since_coalesce_ * 16 >= live_blocks_ + index_.count();
}

// Takes the free `block` off its list and cuts from it a used block of `needed`
// bytes whose payload + prefix is aligned; the leading gap and the tail, when big
// enough, go back on the lists as free blocks.
void* Heap::carve(std::uintptr_t block, std::size_t prefix, std::size_t needed, std::size_t align,
                  std::size_t requested, bool run) noexcept {
  const std::uint64_t h = header(block);
  std::size_t size = L::size_of(h);
  bool prev_free = L::prev_is_free(h);
  PK_ASSERT(L::is_free(h) && size >= needed);  // the index hands out free blocks big enough

  if (align <= L::kGranule && size - needed >= L::kMinBlock) {
    // The common case: the tail stays free and usually in the same size class, so
    // it takes over the block's list node.
    const std::uintptr_t rest = block + needed;
    index_.replace(block, size, rest, size - needed);
    write_header(rest, size - needed, L::kFreeBit);
    L::write_footer(rest, size - needed);
    return finish_carve(block, needed, prev_free, requested, run);
  }
  index_.remove(block, size);

  if (align > L::kGranule) {
    const std::uintptr_t payload = L::payload_of(block);
    std::size_t gap = align_up(payload + prefix, align) - prefix - payload;
    if (gap != 0 && gap < L::kMinBlock) gap += align;
    if (gap) {
      write_header(block, gap, L::kFreeBit | (prev_free ? L::kPrevFreeBit : 0));
      L::write_footer(block, gap);
      index_.insert(block, gap);
      block += gap;
      size -= gap;
      prev_free = true;
    }
  }

  if (size - needed >= L::kMinBlock) {
    const std::uintptr_t rest = block + needed;
    write_header(rest, size - needed, L::kFreeBit);  // the block after it already says "previous free"
    L::write_footer(rest, size - needed);
    index_.insert(rest, size - needed);
    size = needed;
  } else {
    set_prev_free_bit(block + size, false);
  }
  return finish_carve(block, size, prev_free, requested, run);
}

// Writes the header of the block being handed out and accounts for it. A run's block
// is not a live block: its header says "run" and its slots are accounted one by one.
void* Heap::finish_carve(std::uintptr_t block, std::size_t size, bool prev_free, std::size_t requested,
                         bool run) noexcept {
  if (run) {
    write_header(block, size, L::kRunBit | (prev_free ? L::kPrevFreeBit : 0), Runs::kRunSlack);
    return reinterpret_cast<void*>(L::payload_of(block));
  }
  const std::size_t usable = size - L::kHeaderSize;
  // The boundary tag keeps the slack in 6 bits and the size in granules.
  PK_ASSERT(size % L::kGranule == 0 && size >= L::kMinBlock && usable >= requested && usable - requested < 64);
  write_header(block, size, prev_free ? L::kPrevFreeBit : 0, usable - requested);
  note_allocated(size, requested);
  void* p = reinterpret_cast<void*>(L::payload_of(block));
  annotate::block_allocated(this, p, usable);
  return p;
}

void Heap::set_prev_free_bit(std::uintptr_t block, bool prev_free) noexcept {
  std::uint64_t h = header(block);
  L::store_word(block, prev_free ? h | L::kPrevFreeBit : h & ~L::kPrevFreeBit);
}

// ---- freeing ----------------------------------------------------------------

// Everything the inline fast path did not take: null, bad pointers, blocks outside
// the last region used, big blocks, and a size class that is full (flushed first).
void Heap::deallocate_slow(void* p, std::size_t, std::size_t) noexcept {
  if (!p) return;
  if (free_common(reinterpret_cast<std::uintptr_t>(p))) return;
  const std::uintptr_t block = L::block_of(reinterpret_cast<std::uintptr_t>(p));
  Region* region;
  SlotRef slot;
  if (!validate(p, &region, &slot)) return;
  if (slot.run) {  // a live slot of a run
    run_free(region, block, header(block), slot.run, slot.index);
    return;
  }
  const std::size_t c = Cache::class_of_block(L::size_of(header(block)));
  if (c < Cache::kClasses && cache_.depth() != 0) {
    if (!cache_.has_room(c)) flush_class(c);  // may merge a neighbour: read the header after it
    push_cached(c, block, header(block));
    return;
  }
  free_block(region, block);
}

// The common frees the inline path leaves (a block outside the region used last, or a
// slot of a run), in one pass: the region from the table (without moving the region used
// last), the checks classify starts with (header_at), the header's bits; then a cacheable
// block with room in its class goes on the front cache, a slot to its run (run_of_slot
// checks the rest, as for classify). False, with nothing written, for anything else (big
// blocks, a full class, double frees, bad pointers), which the general path then checks
// and reports.
bool Heap::free_common(std::uintptr_t payload) noexcept {
  Region* region = region_in_table(payload);
  if (!region) return false;
  const std::uint64_t h = header_at(region, payload);
  if (h == 0 || (h & (L::kFreeBit | L::kCachedBit)) != 0) return false;
  const std::uintptr_t block = L::block_of(payload);
  if (h & L::kRunBit) {
    std::size_t index;
    const std::uintptr_t run = run_of_slot(region, block, h, &index);
    if (!run) return false;
    run_free(region, block, h, run, index);
    return true;
  }
  const std::size_t c = Cache::class_of_block(L::size_of(h));
  if (!cache_.has_room(c)) return false;
  push_cached(c, block, h);
  return true;
}

void Heap::flush_cache() noexcept {
  for (std::size_t c = 2; c < Cache::kClasses; ++c) flush_class(c);
}

// Really frees every block of class c: each merges with its free neighbours (or,
// deferred, joins the index). Their accounting was done when they were cached.
void Heap::flush_class(std::size_t c) noexcept {
  for (std::uintptr_t block = cache_.take_all(c); block;) {
    const std::uintptr_t next = L::next_free(block);
    L::store_word(block, header(block) & ~L::kCachedBit);
    ++frees_since_coalesce_;
    release_block(find_region(block), block);
    block = next;
  }
}

void Heap::free_block(Region* region, std::uintptr_t block) noexcept {
  const std::uint64_t h = header(block);
  const std::size_t size = L::size_of(h);
  note_freed(size, size - L::kHeaderSize - L::slack_of(h));
  annotate::block_freed(this, reinterpret_cast<void*>(L::payload_of(block)), size - L::kHeaderSize);
  release_block(region, block);
}

// Makes a used block (already accounted for and annotated as freed) free.
void Heap::release_block(Region* region, std::uintptr_t block) noexcept {
  const std::uint64_t h = header(block);
  const std::size_t size = L::size_of(h);
  PK_ASSERT(L::tag_ok(block, h, secret_) && !L::is_free(h));
  if (options_.coalescing == Coalescing::kDeferred) {
    write_header(block, size, L::kFreeBit | (h & L::kPrevFreeBit));
    L::write_footer(block, size);
    set_prev_free_bit(block + size, true);
    index_.insert(block, size);
    // Unmerged fragments may not outgrow the live blocks without bound. A pass
    // costs O(blocks) and comes after at least 3 x live + 256 frees.
    if (index_.count() > 4 * live_blocks_ + 256) coalesce();
    return;
  }

  // Immediate: merge with the free neighbours. Where the merged block stays in the
  // size class of the free neighbour it grew from, that neighbour's list node is
  // reused (FreeIndex::replace) instead of an unlink and a link.
  const std::uintptr_t next = block + size;
  const std::uint64_t next_h = header(next);  // the sentinel is never free
  const std::size_t next_size = L::is_free(next_h) ? L::size_of(next_h) : 0;
  if (L::prev_is_free(h)) {
    // This header ends up inside the merged block: mark it free so that a second
    // free of the same pointer is still seen as a double free.
    L::store_word(block, h | L::kFreeBit);
    const std::size_t prev_size = L::prev_footer(block);
    const std::uintptr_t prev = block - prev_size;
    // The footer before this header and the left neighbour's header agree.
    PK_ASSERT(L::is_free(header(prev)) && L::size_of(header(prev)) == prev_size);
    const std::size_t total = prev_size + size + next_size;
    if (next_size) index_.remove(next, next_size);
    if (region_returnable(region, prev, total)) {
      index_.remove(prev, prev_size);
      return_region(region);
      return;
    }
    index_.replace(prev, prev_size, prev, total);
    write_header(prev, total, L::kFreeBit);  // its own left neighbour is in use
    L::write_footer(prev, total);
    if (!next_size) set_prev_free_bit(next, true);
  } else if (next_size) {
    const std::size_t total = size + next_size;
    if (region_returnable(region, block, total)) {
      index_.remove(next, next_size);
      return_region(region);
      return;
    }
    index_.replace(next, next_size, block, total);
    write_header(block, total, L::kFreeBit);
    L::write_footer(block, total);
  } else {
    if (region_returnable(region, block, size)) {
      return_region(region);
      return;
    }
    write_header(block, size, L::kFreeBit);
    L::write_footer(block, size);
    set_prev_free_bit(next, true);
    index_.insert(block, size);
  }
}

// ---- resize -----------------------------------------------------------------

void* Heap::resize(void* p, std::size_t size) noexcept {
  if (!p) return nullptr;
  Region* region;
  if (!validate(p, &region)) return nullptr;
  std::size_t needed;
  if (!block_size_for(size, &needed)) return nullptr;

  const std::uintptr_t block = L::block_of(reinterpret_cast<std::uintptr_t>(p));
  const std::uint64_t h = header(block);
  if (h & L::kRunBit) return run_resize(block, size) ? p : nullptr;  // a slot: within its stride
  const std::size_t old_size = L::size_of(h);
  const std::size_t old_requested = old_size - L::kHeaderSize - L::slack_of(h);
  std::size_t new_size = old_size;

  if (needed <= old_size) {
    if (old_size - needed >= L::kMinBlock) {  // shrink: the tail becomes a free block
      const std::uintptr_t rest = block + needed;
      std::size_t rest_size = old_size - needed;
      annotate::metadata_close(reinterpret_cast<void*>(rest), rest_size);  // no longer the user's
      const std::uintptr_t next = block + old_size;
      const std::uint64_t next_h = header(next);
      if (options_.coalescing == Coalescing::kImmediate && L::is_free(next_h)) {
        index_.remove(next, L::size_of(next_h));
        rest_size += L::size_of(next_h);
      } else {
        set_prev_free_bit(next, true);
      }
      write_header(rest, rest_size, L::kFreeBit);
      L::write_footer(rest, rest_size);
      index_.insert(rest, rest_size);
      new_size = needed;
    }
  } else {  // grow into the next block if it is free and big enough
    const std::uintptr_t next = block + old_size;
    const std::uint64_t next_h = header(next);
    if (!L::is_free(next_h) || old_size + L::size_of(next_h) < needed) return nullptr;
    index_.remove(next, L::size_of(next_h));
    const std::size_t total = old_size + L::size_of(next_h);
    if (total - needed >= L::kMinBlock) {
      write_header(block + needed, total - needed, L::kFreeBit);
      L::write_footer(block + needed, total - needed);
      index_.insert(block + needed, total - needed);
      new_size = needed;
    } else {
      set_prev_free_bit(block + total, false);
      new_size = total;
    }
    annotate::metadata_open(reinterpret_cast<void*>(next), new_size - old_size);  // now the user's
  }
  write_header(block, new_size, h & L::kPrevFreeBit, new_size - L::kHeaderSize - size);
  annotate::block_resized(this, p, old_size - L::kHeaderSize, new_size - L::kHeaderSize);
  bytes_in_use_ = bytes_in_use_ - old_size + new_size;
  bytes_requested_ = bytes_requested_ - old_requested + size;
  peak_in_use_ = std::max(peak_in_use_, bytes_in_use_);
  return p;
}

// ---- pointers: lookup and validation -----------------------------------------

// The region among the newest kSpanTable that holds addr, or nullptr (it may still be
// an older one): reads the table only and moves nothing.
Heap::Region* Heap::region_in_table(std::uintptr_t addr) const noexcept {
  for (std::size_t i = 0; i < span_count_; ++i) {
    if (addr - spans_[i].begin < spans_[i].size) return spans_[i].region;
  }
  return nullptr;
}

Heap::Region* Heap::find_region(std::uintptr_t addr) const noexcept {
  if (Region* r = region_in_table(addr)) {
    if (r != last_hit_) {
      last_hit_ = r;
      set_hot(r);
    }
    return r;
  }
  if (region_count_ == span_count_) return nullptr;
  for (Region* r = regions_; r; r = r->next) {  // the older regions, beyond the table
    if (addr - reinterpret_cast<std::uintptr_t>(r) < r->size) {
      last_hit_ = r;
      set_hot(r);
      return r;
    }
  }
  return nullptr;
}

void Heap::rebuild_spans() noexcept {
  span_count_ = 0;
  for (Region* r = regions_; r && span_count_ < kSpanTable; r = r->next)
    spans_[span_count_++] = {reinterpret_cast<std::uintptr_t>(r), r->size, r};
}

void Heap::set_hot(const Region* r) const noexcept {
  hot_begin_ = r ? r->first_block() : 0;
  hot_span_ = r ? r->span() : 0;
}

// The checks every lookup of a pointer in `region` starts with (classify and free_common):
// the payload is 16-aligned, its block lies in the region's block area, the header's tag
// matches the block's address and its size fits between there and the sentinel. The
// header if all hold, else 0 (a header that passes is never 0: its size is at least
// kMinBlock).
std::uint64_t Heap::header_at(const Region* region, std::uintptr_t payload) const noexcept {
  if (payload % L::kGranule != 0) return 0;
  const std::uintptr_t block = L::block_of(payload);
  if (block < region->first_block() || block >= region->sentinel()) return 0;
  const std::uint64_t h = L::peek_word(block);  // may be the user's bytes: read without side effects
  if (!L::tag_ok(block, h, secret_)) return 0;
  const std::size_t size = L::size_of(h);
  if (size < L::kMinBlock || size > region->sentinel() - block) return 0;
  return h;
}

Heap::BlockState Heap::classify(const Region* region, std::uintptr_t payload, SlotRef* slot) const noexcept {
  const std::uint64_t h = header_at(region, payload);
  if (h == 0) return BlockState::kInterior;
  const std::uintptr_t block = L::block_of(payload);
  if (h & L::kRunBit) {  // a slot of a run, or a run's own header (no block of the user's)
    if (Runs::is_run_block(h)) return BlockState::kInterior;
    // A freed slot's header keeps its free bit after its run has gone back to the heap:
    // freeing it again is a double free, whether or not the run is still there.
    if (L::is_free(h)) return BlockState::kFree;
    SlotRef found;
    found.run = run_of_slot(region, block, h, &found.index);
    if (!found.run) return BlockState::kInterior;
    if (slot) *slot = found;
  }
  return L::is_free(h) || L::is_cached(h) ? BlockState::kFree : BlockState::kLive;
}

Heap::BlockState Heap::inspect(const void* p) const noexcept {
  if (!p) return BlockState::kForeign;
  const Region* region = find_region(reinterpret_cast<std::uintptr_t>(p));
  return region ? classify(region, reinterpret_cast<std::uintptr_t>(p)) : BlockState::kForeign;
}

bool Heap::validate(const void* p, Region** region, SlotRef* slot) noexcept {
  *region = find_region(reinterpret_cast<std::uintptr_t>(p));
  if (!*region) {
    report_bad(p, BadFree::kForeignPointer);
    return false;
  }
  switch (classify(*region, reinterpret_cast<std::uintptr_t>(p), slot)) {
    case BlockState::kLive:
      return true;
    case BlockState::kFree:
      report_bad(p, BadFree::kDoubleFree);
      return false;
    default:
      report_bad(p, BadFree::kInteriorPointer);
      return false;
  }
}

void Heap::report_bad(const void* p, BadFree what) noexcept {
  ++bad_frees_;
  if (options_.on_bad_free) options_.on_bad_free(*this, p, what, options_.bad_free_context);
}

std::size_t Heap::usable_size(const void* p) const noexcept {
  if (inspect(p) != BlockState::kLive) return 0;
  return L::size_of(header(L::block_of(reinterpret_cast<std::uintptr_t>(p)))) - L::kHeaderSize;
}

std::size_t Heap::requested_size(const void* p) const noexcept {
  if (inspect(p) != BlockState::kLive) return 0;
  const std::uint64_t h = header(L::block_of(reinterpret_cast<std::uintptr_t>(p)));
  return L::size_of(h) - L::kHeaderSize - L::slack_of(h);
}

bool Heap::live_sizes_slow(const void* p, std::size_t* usable, std::size_t* requested) const noexcept {
  if (inspect(p) != BlockState::kLive) return false;
  const std::uint64_t h = header(L::block_of(reinterpret_cast<std::uintptr_t>(p)));
  *usable = L::size_of(h) - L::kHeaderSize;
  *requested = *usable - L::slack_of(h);
  return true;
}

bool Heap::owns(const void* p) const noexcept {
  return p && find_region(reinterpret_cast<std::uintptr_t>(p)) != nullptr;
}

// ---- regions ----------------------------------------------------------------

Heap::Region* Heap::add_region(std::size_t min_span) noexcept {
  if (fixed_) return nullptr;  // a buffer, or bounded time: the one region is all there is
  std::size_t need;
  if (!checked_add(min_span, sizeof(Region) + L::kWord, &need) || !PageSource::round_to_pages(need, &need))
    return nullptr;
  std::size_t size = std::max(next_region_size_, need);
  if (!PageSource::round_to_pages(size, &size)) return nullptr;
  if (options_.max_bytes) {
    if (bytes_reserved_ + size > options_.max_bytes) size = need;  // the least that serves the request
    if (bytes_reserved_ + size > options_.max_bytes) return nullptr;
  }
  void* memory = source_->allocate(size);
  if (!memory) return nullptr;
  Region* region = adopt_region(memory, size);
  std::size_t grown;
  if (checked_mul(next_region_size_, options_.growth, &grown))
    next_region_size_ = std::max(next_region_size_, std::min(grown, options_.max_region_size));
  return region;
}

// Makes memory (16-aligned, size a multiple of 16 and at least kMinBuffer) a region:
// one free block on its list.
Heap::Region* Heap::adopt_region(void* memory, std::size_t size) noexcept {
  PK_ASSERT(reinterpret_cast<std::uintptr_t>(memory) % L::kGranule == 0 && size % L::kGranule == 0 &&
            size >= kMinBuffer);
  auto* region = new (memory) Region{nullptr, regions_, size};
  if (regions_) regions_->prev = region;
  regions_ = region;
  ++region_count_;
  rebuild_spans();
  bytes_reserved_ += size;
  init_region(region);
  return region;
}

// Makes the region one free block and puts it on its list.
void Heap::init_region(Region* region) noexcept {
  annotate::region_unavailable(reinterpret_cast<void*>(region->first_block()), region->size - sizeof(Region));
  const std::uintptr_t block = region->first_block();
  write_header(block, region->span(), L::kFreeBit);
  L::write_footer(block, region->span());
  write_header(region->sentinel(), 0, L::kPrevFreeBit);
  index_.insert(block, region->span());
}

void Heap::return_region(Region* region) noexcept {
  if (region->prev) region->prev->next = region->next;
  else regions_ = region->next;
  if (region->next) region->next->prev = region->prev;
  if (last_hit_ == region) {
    last_hit_ = nullptr;
    set_hot(nullptr);
  }
  --region_count_;
  rebuild_spans();
  bytes_reserved_ -= region->size;
  const std::size_t size = region->size;
  annotate::region_returned(region, size);
  if (region == buffer_region_) {
    buffer_region_ = nullptr;  // the caller's: never the source's
    return;
  }
  source_->deallocate(region, size);
}

// True if `block` (free) spans its whole region and the region should go back to the OS.
bool Heap::region_returnable(const Region* region, std::uintptr_t block, std::size_t size) const noexcept {
  return options_.return_empty_regions && region_count_ > 1 && block == region->first_block() &&
         size == region->span();
}

void Heap::coalesce() noexcept {
  flush_cache();
  frees_since_coalesce_ = 0;
  for (Region* r = regions_; r;) {
    Region* next = r->next;
    coalesce_region(r);
    r = next;
  }
  PK_ASSERT_EXPENSIVE(check());
}

// Merges each run of free neighbours in one region; true if the region was returned.
bool Heap::coalesce_region(Region* region) noexcept {
  std::uintptr_t block = region->first_block();
  const std::uintptr_t end = region->sentinel();
  while (block < end) {
    const std::uint64_t h = header(block);
    std::size_t size = L::size_of(h);
    if (!L::is_free(h)) {
      block += size;
      continue;
    }
    std::uintptr_t next = block + size;
    std::uint64_t next_h = header(next);
    if (L::is_free(next_h) || size == region->span()) {
      index_.remove(block, size);
      while (L::is_free(next_h)) {
        index_.remove(next, L::size_of(next_h));
        size += L::size_of(next_h);
        next = block + size;
        next_h = header(next);
      }
      if (region_returnable(region, block, size)) {
        return_region(region);
        return true;
      }
      write_header(block, size, L::kFreeBit | (h & L::kPrevFreeBit));
      L::write_footer(block, size);
      index_.insert(block, size);
    }
    block = next;
  }
  return false;
}

void Heap::release() noexcept {
  index_.clear();
  cache_.reset(cache_.depth());
  for (auto& head : run_lists_) head = 0;
  run_free_bytes_ = run_count_ = 0;
  if (options_.return_empty_regions) {
    while (regions_ && regions_->next) return_region(regions_);  // the oldest is last: keep it
  }
  for (Region* r = regions_; r; r = r->next) init_region(r);
  bytes_requested_ = bytes_in_use_ = live_blocks_ = 0;
  annotate::pool_reset(this);
}

// ---- stats (the checkers are in heap_check.cpp) ---------------------------------

void Heap::note_allocated(std::size_t block_size, std::size_t requested) noexcept {
  bytes_in_use_ += block_size;
  bytes_requested_ += requested;
  peak_in_use_ = std::max(peak_in_use_, bytes_in_use_);
  ++live_blocks_;
  ++allocations_;
}

void Heap::note_freed(std::size_t block_size, std::size_t requested) noexcept {
  PK_ASSERT(live_blocks_ > 0 && bytes_in_use_ >= block_size && bytes_requested_ >= requested);
  bytes_in_use_ -= block_size;
  bytes_requested_ -= requested;
  --live_blocks_;
  ++deallocations_;
  ++frees_since_coalesce_;
}

PoolStats Heap::stats() const noexcept {
  PoolStats s;
  s.bytes_requested = bytes_requested_;
  s.bytes_in_use = bytes_in_use_;
  s.peak_in_use = peak_in_use_;
  // Free slots of runs are in neither bytes_free nor largest_free (run_free_bytes() has
  // them): largest_free keeps its fit guarantee (every request up to it succeeds), which a
  // slot, serving one class only, would break, and a slot is not a free piece to the rest.
  s.bytes_free = index_.bytes() - index_.count() * L::kHeaderSize + cache_.bytes() -
                 cache_.blocks() * L::kHeaderSize;  // cached blocks are free to their owner
  const std::uintptr_t top = index_.top_head();
  s.largest_free = top ? L::size_of(header(top)) - L::kHeaderSize : 0;
  s.bytes_reserved = bytes_reserved_;
  s.live_blocks = live_blocks_;
  s.allocations = allocations_;
  s.deallocations = deallocations_;
  s.failures = failures_;
  s.regions = region_count_;
  return s;
}

}  // namespace poolkit
