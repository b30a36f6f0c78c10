// fixed_pool.cpp: FixedPool's slow paths: new blocks, release, the checks. The hot
// paths are inline in the header.
#include "poolkit/fixed_pool.hpp"

#include <algorithm>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <vector>

#include "common/assert.hpp"

namespace poolkit {
namespace {

// Reads and writes of a free chunk's link, opened for the memory checkers.
template <class Chunk>
Chunk* link_of(Chunk* c) noexcept {
  annotate::metadata_open(c, sizeof(Chunk));
  Chunk* next = c->next;
  annotate::metadata_close(c, sizeof(Chunk));
  return next;
}
template <class Chunk>
void set_link(Chunk* c, Chunk* next) noexcept {
  annotate::metadata_open(c, sizeof(Chunk));
  c->next = next;
  annotate::metadata_close(c, sizeof(Chunk));
}

template <class Chunk>
Chunk* merge_by_address(Chunk* a, Chunk* b) noexcept {
  Chunk* head = nullptr;
  Chunk* tail = nullptr;
  while (a || b) {
    Chunk* take;
    if (!b || (a && a < b)) {
      take = a;
      a = link_of(a);
    } else {
      take = b;
      b = link_of(b);
    }
    if (tail)
      set_link(tail, take);
    else
      head = take;
    tail = take;
  }
  if (tail) set_link(tail, static_cast<Chunk*>(nullptr));
  return head;
}

// Merge sort of the first n (>= 1) nodes of list by address; list moves past them.
// Recursion depth is log2(n); no memory is allocated.
template <class Chunk>
Chunk* sort_prefix(Chunk*& list, std::size_t n) noexcept {
  if (n == 1) {
    Chunk* c = list;
    list = link_of(c);
    set_link(c, static_cast<Chunk*>(nullptr));
    return c;
  }
  Chunk* a = sort_prefix(list, n / 2);
  Chunk* b = sort_prefix(list, n - n / 2);
  return merge_by_address(a, b);
}

bool broken(const char* what) noexcept {
  std::fprintf(stderr, "poolkit: FixedPool::check: %s\n", what);
  return false;
}

}  // namespace

bool FixedPool::checks_by_default() noexcept {
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

const char* FixedPool::validate(const Options& o) noexcept {
  if (o.chunk_size == 0) return "FixedPool: chunk_size is 0";
  if (!is_valid_alignment(o.chunk_align)) return "FixedPool: chunk_align is not a power of two up to 4096";
  if (o.growth_factor == 0) return "FixedPool: growth_factor is 0";
  if (o.checks != Checks::kLibraryDefault && o.checks != Checks::kOff && o.checks != Checks::kOn)
    return "FixedPool: checks is not one of Checks::kLibraryDefault, kOff, kOn";
  if (o.fixed_capacity == 0 && o.max_block_chunks != 0 && o.first_block_chunks > o.max_block_chunks)
    return "FixedPool: first_block_chunks is above max_block_chunks";
  return nullptr;
}

FixedPool::FixedPool(const Options& o) {
  if (const char* why = validate(o)) throw std::invalid_argument(why);
  std::size_t align = o.chunk_align < alignof(FreeChunk) ? alignof(FreeChunk) : o.chunk_align;
  std::size_t size = o.chunk_size < sizeof(FreeChunk) ? sizeof(FreeChunk) : o.chunk_size;
  if (!checked_align_up(size, align, &chunk_size_)) throw std::bad_alloc();
  // Chunks sit at page-aligned base + i * stride: they are aligned to the stride's
  // lowest set bit, which is at least the alignment asked for.
  std::size_t natural = chunk_size_ & (~chunk_size_ + 1);
  chunk_align_ = natural < kMaxAlignment ? natural : kMaxAlignment;
  checked_ = o.checks == Checks::kOn || (o.checks == Checks::kLibraryDefault && checks_by_default());
  // chunk_size_ + 1 cannot wrap: checked_align_up kept it below SIZE_MAX - align.
  fast_size_bound_ = checked_ ? 0 : chunk_size_ + 1;
  slow_free_max_ = checked_ ? UINTPTR_MAX : 0;
  source_ = o.source ? o.source : &PageSource::system();
  fixed_capacity_ = o.fixed_capacity;
  growth_factor_ = o.growth_factor;
  if (fixed_capacity_) {
    next_block_chunks_ = max_block_chunks_ = fixed_capacity_;
  } else {
    // Default blocks fill their pages exactly, header included.
    std::size_t first = (kDefaultFirstBlockBytes - sizeof(Block)) / chunk_size_;
    next_block_chunks_ = o.first_block_chunks ? o.first_block_chunks : (first < 8 ? 8 : first);
    std::size_t cap = (kDefaultMaxBlockBytes - sizeof(Block)) / chunk_size_;
    max_block_chunks_ = o.max_block_chunks ? o.max_block_chunks : cap;
    if (max_block_chunks_ < next_block_chunks_) max_block_chunks_ = next_block_chunks_;
  }
  std::size_t capacity_bytes;
  if (fixed_capacity_ && !checked_mul(fixed_capacity_, chunk_size_, &capacity_bytes)) throw std::bad_alloc();
  if (fixed_capacity_) {
    // Embedded and real-time users: all memory now, none later.
    if (!add_block()) throw std::bad_alloc();
    start_fixed();
  }
  annotate::pool_created(this);
}

FixedPool::FixedPool(void* buffer, std::size_t size, const Options& o)
    : FixedPool([&] {
        if (const char* why = validate(o)) throw std::invalid_argument(why);
        Options none = o;
        none.fixed_capacity = 0;  // the delegated constructor reserves nothing
        none.first_block_chunks = none.max_block_chunks = 0;
        return none;
      }()) {
  const std::size_t asked = o.chunk_align < alignof(FreeChunk) ? alignof(FreeChunk) : o.chunk_align;
  std::size_t min_size, capacity_bytes;
  const std::size_t min_chunks = o.fixed_capacity ? o.fixed_capacity : 1;
  if (!checked_mul(min_chunks, chunk_size_, &capacity_bytes) || !checked_add(capacity_bytes, sizeof(Block), &min_size))
    throw std::invalid_argument("FixedPool: fixed_capacity chunks do not fit in any buffer");
  buffer_claim_.take("FixedPool", buffer, size, asked, min_size);
  // Chunks get the buffer's own alignment or the stride's, whichever is less.
  const auto address = reinterpret_cast<std::uintptr_t>(buffer);
  const std::size_t buffer_align = address & (~address + 1);
  if (buffer_align < chunk_align_) chunk_align_ = buffer_align;
  const std::size_t chunks = o.fixed_capacity ? o.fixed_capacity : (size - sizeof(Block)) / chunk_size_;
  fixed_capacity_ = next_block_chunks_ = max_block_chunks_ = chunks;
  adopt_block(static_cast<std::byte*>(buffer), chunks, size);
  start_fixed();
}

void FixedPool::start_fixed() noexcept {
  current_ = first_;
  bump_ = first_->base;
  bump_end_ = first_->base + first_->chunks * chunk_size_;
}

FixedPool::~FixedPool() {
  // The mempool first: destroying it makes the blocks still live unaddressable, and a
  // buffer must go back to its owner addressable (region_returned below).
  annotate::pool_destroyed(this);
  for (Block* b = first_; b;) {
    Block* next = b->next;
    std::byte* base = b->base;
    std::size_t bytes = b->bytes;
    annotate::region_returned(base, bytes);
    if (!on_buffer()) source_->deallocate(base, bytes);  // a buffer pool's one block is the caller's
    b = next;
  }
}

bool FixedPool::add_block() noexcept {
  std::size_t chunks = next_block_chunks_;
  std::size_t bytes;
  if (!checked_mul(chunks, chunk_size_, &bytes) || !checked_add(bytes, sizeof(Block), &bytes) ||
      !PageSource::round_to_pages(bytes, &bytes))
    return false;
  void* region = source_->allocate(bytes);
  if (!region) return false;
  PK_ASSERT(reinterpret_cast<std::uintptr_t>(region) % chunk_align_ == 0);  // chunks need no padding
  // A growing pool puts the page-rounding slack to use; a fixed one holds exactly its capacity.
  if (grows()) chunks = (bytes - sizeof(Block)) / chunk_size_;
  adopt_block(static_cast<std::byte*>(region), chunks, bytes);
  if (grows()) {
    std::size_t next;
    if (!checked_mul(next_block_chunks_, growth_factor_, &next) || next > max_block_chunks_)
      next = max_block_chunks_;
    next_block_chunks_ = next;
  }
  return true;
}

// Makes [base, base + bytes) a block of `chunks` chunks, its header after the last one.
void FixedPool::adopt_block(std::byte* base, std::size_t chunks, std::size_t bytes) noexcept {
  PK_ASSERT(chunks * chunk_size_ + sizeof(Block) <= bytes);
  auto* block = reinterpret_cast<Block*>(base + chunks * chunk_size_);
  *block = Block{nullptr, base, base, chunks, bytes};
  annotate::region_unavailable(base, chunks * chunk_size_);
  if (last_)
    last_->next = block;
  else
    first_ = block;
  last_ = block;
  ++blocks_;
  total_chunks_ += chunks;
  bytes_reserved_ += bytes;
}

void* FixedPool::allocate_slow(std::size_t size, std::size_t align) noexcept {
  if (size > chunk_size_ || !is_pow2(align) || align > chunk_align_) {
    ++failures_;
    return nullptr;
  }
  if (FreeChunk* chunk = free_) {  // only a checked pool gets here with a free chunk
    PK_ASSERT(checked_);
    free_ = link_of(chunk);
    annotate::block_allocated(this, chunk, size);
    note_allocated(size);
    return chunk;
  }
  // The inline path takes every good request while the free list has a chunk: carve
  // the next chunk of the current block, else move to the next block kept by
  // release(), or grow.
  if (bump_ == bump_end_) {
    if (!(current_ && current_->next)) {
      if (!grows() || !add_block()) {
        ++failures_;
        return nullptr;
      }
    }
    Block* next = current_ ? current_->next : first_;
    if (current_) current_->carved_end = bump_;
    current_ = next;
    bump_ = next->carved_end;
    bump_end_ = next->base + next->chunks * chunk_size_;
  }
  PK_ASSERT(bump_ < bump_end_ && std::size_t(bump_end_ - bump_) % chunk_size_ == 0);
  void* p = bump_;
  bump_ += chunk_size_;
  annotate::block_allocated(this, p, size);
  if (checked_) note_allocated(size);
  return p;
}

// Null, and every free of a checked pool.
void FixedPool::deallocate_slow(void* p, std::size_t size) noexcept {
  if (!p) return;
  PK_ASSERT(checked_);  // the inline path takes an unchecked pool's frees
  if (!accept_free(p)) return;
  annotate::block_freed(this, p, chunk_size_);
  auto* chunk = static_cast<FreeChunk*>(p);
  set_link(chunk, free_);
  free_ = chunk;
  note_freed(size);
  PK_ASSERT(allocations_ >= deallocations_ + released_);
}

const FixedPool::Block* FixedPool::find_block(const void* p) const noexcept {
  auto* x = static_cast<const std::byte*>(p);
  for (const Block* b = first_; b; b = b->next)
    if (x >= b->base && x < b->base + b->chunks * chunk_size_) return b;
  return nullptr;
}

bool FixedPool::accept_free(void* p) noexcept {
  const Block* b = find_block(p);
  auto* x = static_cast<std::byte*>(p);
  if (!b || x >= carved_end(b) || std::size_t(x - b->base) % chunk_size_ != 0 || p == free_) {
    ++rejected_frees_;
    return false;
  }
  return true;
}

bool FixedPool::owns(const void* p) const noexcept {
  return find_block(p) != nullptr;
}

void FixedPool::release() noexcept {
  if (checked_) {
    released_ = allocations_ - deallocations_;
    bytes_requested_ = 0;
  }
  std::size_t carved = carved_chunks();
  if (carved > peak_carved_) peak_carved_ = carved;
  free_ = nullptr;
  for (Block* b = first_; b; b = b->next) {
    annotate::region_unavailable(b->base, b->chunks * chunk_size_);
    b->carved_end = b->base;
  }
  annotate::pool_reset(this);
  current_ = first_;
  bump_ = first_ ? first_->base : nullptr;
  bump_end_ = first_ ? first_->base + first_->chunks * chunk_size_ : nullptr;
}

std::size_t FixedPool::carved_chunks() const noexcept {
  std::size_t carved = 0;
  for (const Block* b = first_; b; b = b->next) carved += std::size_t(carved_end(b) - b->base) / chunk_size_;
  return carved;
}

// Stops at limit: a longer list has a cycle (a double free in a release build), and
// stats() must not hang on it.
std::size_t FixedPool::free_list_length(std::size_t limit) const noexcept {
  std::size_t n = 0;
  for (FreeChunk* c = free_; c && n < limit; c = link_of(c)) ++n;
  return n;
}

std::size_t FixedPool::live_chunks() const noexcept {
  std::size_t carved = carved_chunks();
  return carved - free_list_length(carved);
}

PoolStats FixedPool::stats() const noexcept {
  PoolStats s;
  const std::size_t live = live_chunks();
  const std::size_t free_chunks = total_chunks_ - live;
  // The peak of live chunks is the peak of carved ones (see the invariants).
  std::size_t peak = peak_carved_ > live ? peak_carved_ : live;
  std::size_t carved = carved_chunks();
  if (carved > peak) peak = carved;
  s.bytes_in_use = live * chunk_size_;
  s.bytes_requested = checked_ ? bytes_requested_ : s.bytes_in_use;
  s.peak_in_use = peak * chunk_size_;
  s.bytes_free = free_chunks * chunk_size_;
  s.largest_free = free_chunks ? chunk_size_ : 0;
  s.bytes_reserved = bytes_reserved_;
  s.live_blocks = live;
  s.allocations = allocations_;
  s.deallocations = deallocations_;
  s.failures = failures_;
  s.regions = blocks_;
  s.fixed_size_blocks = true;
  s.calls_counted = checked_;
  return s;
}

bool FixedPool::check() const noexcept {
  std::size_t blocks = 0, chunks = 0, carved = 0;
  bool past_current = false;
  const Block* last = nullptr;
  for (const Block* b = first_; b; b = b->next) {
    ++blocks;
    chunks += b->chunks;
    std::byte* end = b->base + b->chunks * chunk_size_;
    std::byte* cut = carved_end(b);
    if (cut < b->base || cut > end || std::size_t(cut - b->base) % chunk_size_ != 0)
      return broken("a block's carve point is outside it or not on a chunk boundary");
    if (b == current_) {
      if (bump_end_ != end) return broken("bump_end_ is not the current block's end");
    } else if (!past_current && cut != end) {
      return broken("a block before the current one is not fully carved");
    } else if (past_current && cut != b->base) {
      return broken("a block after the current one is carved");
    }
    if (b == current_) past_current = true;
    carved += std::size_t(cut - b->base) / chunk_size_;
    last = b;
  }
  if (last != last_) return broken("last_ is not the end of the block list");
  if (on_buffer() && (blocks != 1 || reinterpret_cast<std::uintptr_t>(first_->base) != buffer_claim_.begin() ||
                      first_->bytes > buffer_claim_.end() - buffer_claim_.begin() || grows()))
    return broken("a buffer pool's one block is not the caller's buffer, or the pool may grow");
  if (blocks != blocks_ || chunks != total_chunks_) return broken("block or chunk counts disagree");
  if (first_ && !past_current) return broken("current_ is not on the block list");
  if (!first_ && (bump_ || bump_end_ || current_)) return broken("a bump pointer without blocks");
  std::size_t free_count = 0;
  for (FreeChunk* c = free_; c; c = link_of(c)) {
    if (++free_count > carved) return broken("free list longer than the carved chunks: a cycle (double free?)");
    const Block* b = find_block(c);
    auto* x = reinterpret_cast<std::byte*>(c);
    if (!b || x >= carved_end(b) || std::size_t(x - b->base) % chunk_size_ != 0)
      return broken("a free-list node is not a carved chunk of this pool");
  }
  if (checked_ && free_count + counted_live() != carved)
    return broken("free + live chunks != carved chunks (live as counted by allocate and deallocate)");
  return true;
}

void FixedPool::for_each_live_chunk_impl(void (*fn)(void*, void*), void* ctx) {
  std::size_t free_count = 0;
  for (FreeChunk* c = free_; c; c = link_of(c)) ++free_count;
  FreeChunk* list = free_;
  FreeChunk* sorted = free_count ? sort_prefix(list, free_count) : nullptr;
  free_ = sorted;
  // Blocks in address order (selection: there are few), each swept against the sorted free list.
  FreeChunk* next_free = sorted;
  const Block* previous = nullptr;
  for (std::size_t i = 0; i < blocks_; ++i) {
    const Block* b = nullptr;
    for (const Block* x = first_; x; x = x->next)
      if ((!previous || x->base > previous->base) && (!b || x->base < b->base)) b = x;
    previous = b;
    for (std::byte* c = b->base; c < carved_end(b); c += chunk_size_) {
      if (reinterpret_cast<std::byte*>(next_free) == c) {
        next_free = link_of(next_free);
        continue;
      }
      fn(ctx, c);
    }
  }
}

void FixedPool::visit_chunks(void (*fn)(void*, const void*, std::size_t, unsigned), void* ctx) const {
  // The free list is left as it is (a const walk): its chunks are looked up, sorted.
  std::vector<const std::byte*> free_chunks;
  for (FreeChunk* c = free_; c; c = link_of(c)) free_chunks.push_back(reinterpret_cast<const std::byte*>(c));
  std::sort(free_chunks.begin(), free_chunks.end());
  std::vector<const Block*> blocks;
  for (const Block* b = first_; b; b = b->next) blocks.push_back(b);
  std::sort(blocks.begin(), blocks.end(), [](const Block* x, const Block* y) { return x->base < y->base; });
  for (const Block* b : blocks) {
    const std::byte* carved = carved_end(b);
    for (std::size_t i = 0; i < b->chunks; ++i) {
      const std::byte* c = b->base + i * chunk_size_;
      const unsigned state = c >= carved ? 2u : std::binary_search(free_chunks.begin(), free_chunks.end(), c) ? 0u : 1u;
      fn(ctx, c, chunk_size_, state);
    }
  }
}

}  // namespace poolkit
