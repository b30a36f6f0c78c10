// arena.cpp: Arena's slow paths: new regions, rewind, release, the checks.
// allocate and deallocate are inline in the header.
#include "poolkit/arena.hpp"

#include <cstdio>
#include <new>
#include <stdexcept>

#include "common/assert.hpp"

namespace poolkit {
namespace {

bool broken(const char* what) noexcept {
  std::fprintf(stderr, "poolkit: Arena::check: %s\n", what);
  return false;
}

void* as_ptr(std::uintptr_t x) noexcept { return reinterpret_cast<void*>(x); }

}  // namespace

const char* Arena::validate(const Options& o) noexcept {
  if (o.growth_factor == 0) return "Arena: growth_factor is 0";
  if (o.max_region_size == 0) return "Arena: max_region_size is 0";
  if (o.initial_size > o.max_region_size) return "Arena: initial_size is above max_region_size";
  return nullptr;
}

Arena::Arena(const Options& options) : options_(options) {
  if (const char* why = validate(options)) throw std::invalid_argument(why);
  source_ = options.source ? options.source : &PageSource::system();
  next_region_size_ = options.initial_size;
  if (options.fixed) {
    if (!add_region(sizeof(Region) + 1)) throw std::bad_alloc();
  }
  annotate::pool_created(this);
}

Arena::Arena(void* buffer, std::size_t size, const Options& options) : options_(options) {
  if (const char* why = validate(options)) throw std::invalid_argument(why);
  if (!buffer && size) throw std::invalid_argument("Arena: null buffer with a non-zero size");
  if (size) buffer_claim_.take("Arena", buffer, size, 1, 1);  // any alignment: the arena aligns each block
  source_ = options.source ? options.source : &PageSource::system();
  next_region_size_ = options.initial_size;
  auto b = reinterpret_cast<std::uintptr_t>(buffer);
  buffer_begin_ = buffer_top_ = begin_ = top_ = b;
  buffer_end_ = end_ = b + size;
  if (size) annotate::region_unavailable(buffer, size);
  annotate::pool_created(this);
}

Arena::~Arena() {
  annotate::pool_destroyed(this);  // first: it makes live blocks unaddressable (see ~FixedPool)
  drop_newer_than(nullptr);
  if (spare_) give_back(spare_);
  if (buffer_end_ != buffer_begin_) annotate::region_returned(as_ptr(buffer_begin_), buffer_end_ - buffer_begin_);
}

void Arena::give_back(Region* r) noexcept {
  std::size_t bytes = r->bytes;
  PK_ASSERT(regions_ > 0 && bytes_reserved_ >= bytes);
  --regions_;
  bytes_reserved_ -= bytes;
  annotate::region_returned(r, bytes);
  source_->deallocate(r, bytes);
}

void Arena::enter(Region* r, std::uintptr_t top) noexcept {
  current_ = r;
  begin_ = region_begin(r);
  end_ = region_end(r);
  top_ = top;
  last_ = 0;
  PK_ASSERT(begin_ <= top_ && top_ <= end_);  // the bump pointer stays in its region
}

// Unwinds the chain down to keep (nullptr: all of it): the largest dropped region
// stays as the spare, the others go back to the OS.
void Arena::drop_newer_than(Region* keep) noexcept {
  while (current_ && current_ != keep) {
    Region* r = current_;
    current_ = r->prev;
    annotate::region_unavailable(as_ptr(region_begin(r)), r->bytes - sizeof(Region));
    if (!spare_ || r->bytes > spare_->bytes) {
      if (spare_) give_back(spare_);
      spare_ = r;
    } else {
      give_back(r);
    }
  }
}

bool Arena::add_region(std::size_t need) noexcept {
  note_peak();
  Region* r = nullptr;
  if (spare_ && spare_->bytes >= need) {
    r = spare_;
    spare_ = nullptr;
  } else {
    if (spare_) {  // too small for this request: make room under max_size
      give_back(spare_);
      spare_ = nullptr;
    }
    std::size_t bytes = next_region_size_ > need ? next_region_size_ : need;
    if (!PageSource::round_to_pages(bytes, &bytes)) return false;
    std::size_t total;
    if (options_.max_size && (!checked_add(bytes_reserved_, bytes, &total) || total > options_.max_size)) {
      // The planned size does not fit under the cap: try just what this request needs.
      if (!PageSource::round_to_pages(need, &bytes) || !checked_add(bytes_reserved_, bytes, &total) ||
          total > options_.max_size)
        return false;
    }
    void* memory = source_->allocate(bytes);
    if (!memory) return false;
    r = static_cast<Region*>(memory);
    r->bytes = bytes;
    ++regions_;
    bytes_reserved_ += bytes;
    annotate::region_unavailable(as_ptr(region_begin(r)), bytes - sizeof(Region));
    std::size_t next;
    if (!checked_mul(next_region_size_, options_.growth_factor, &next) || next > options_.max_region_size)
      next = options_.max_region_size;
    next_region_size_ = next;
  }
  // Leave the current region (or the buffer); its tail stays unused.
  if (current_)
    current_->top = top_;
  else if (buffer_begin_)
    buffer_top_ = top_;
  used_before_ += top_ - begin_;
  PK_ASSERT(r->bytes >= need && r != current_);
  r->prev = current_;
  r->top = region_begin(r);
  enter(r, region_begin(r));
  return true;
}

void* Arena::allocate_slow(std::size_t size, std::size_t align) noexcept {
  std::size_t need;
  if (!is_valid_alignment(align) || options_.fixed ||
      !checked_add(size + (size == 0), sizeof(Region) + align - 1, &need) || !add_region(need)) {
    ++failures_;
    return nullptr;
  }
  return allocate(size, align);  // fits in the new region
}

bool Arena::rewind(const Mark& m) noexcept {
  Region* target = current_;
  while (target && target != m.region) target = target->prev;
  if (target != m.region) return false;  // not one of this arena's regions now
  std::uintptr_t lo = 0, hi = 0, end = 0;
  if (target == current_) {
    lo = begin_, hi = top_, end = end_;
  } else if (target) {
    lo = region_begin(target), hi = target->top, end = region_end(target);
  } else if (buffer_begin_) {
    lo = buffer_begin_, hi = buffer_top_, end = buffer_end_;
  }
  if (m.top < lo || m.top > hi || m.live > live_ + deallocations_) return false;
  note_peak();
  discarded_ += live_ > m.live ? live_ - m.live : 0;
  drop_newer_than(target);
  if (end > m.top) annotate::region_unavailable(as_ptr(m.top), end - m.top);
  if (target) {
    enter(target, m.top);
  } else {
    current_ = nullptr;
    begin_ = buffer_begin_, end_ = buffer_end_, top_ = m.top;
    last_ = 0;
  }
  used_before_ = m.used_before;
  live_ = m.live;
  requested_ = m.requested;
  return true;
}

void Arena::release() noexcept {
  note_peak();
  discarded_ += live_;
  live_ = 0;
  requested_ = 0;
  used_before_ = 0;
  // Keep the buffer, or else the oldest region.
  Region* oldest = current_;
  while (oldest && oldest->prev) oldest = oldest->prev;
  Region* keep = buffer_begin_ ? nullptr : oldest;
  drop_newer_than(keep);
  annotate::pool_reset(this);
  if (keep) {
    annotate::region_unavailable(as_ptr(region_begin(keep)), keep->bytes - sizeof(Region));
    enter(keep, region_begin(keep));
  } else {
    if (buffer_end_ != buffer_begin_) annotate::region_unavailable(as_ptr(buffer_begin_), buffer_end_ - buffer_begin_);
    current_ = nullptr;
    begin_ = top_ = buffer_top_ = buffer_begin_;
    end_ = buffer_end_;
    last_ = 0;
  }
}

bool Arena::owns(const void* p) const noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  if (x >= begin_ && x < top_) return true;
  for (const Region* r = current_ ? current_->prev : nullptr; r; r = r->prev)
    if (x >= region_begin(r) && x < r->top) return true;
  return current_ && x >= buffer_begin_ && x < buffer_top_;
}

PoolStats Arena::stats() const noexcept {
  PoolStats s;
  std::size_t spare_free = spare_ ? spare_->bytes - sizeof(Region) : 0;
  std::size_t here = end_ - top_;
  s.bytes_requested = requested_;
  s.bytes_in_use = used();
  s.peak_in_use = peak_ > used() ? peak_ : used();
  s.bytes_free = here + spare_free;
  s.largest_free = here > spare_free ? here : spare_free;
  s.bytes_reserved = bytes_reserved_ + (buffer_end_ - buffer_begin_);
  s.live_blocks = live_;
  s.allocations = live_ + deallocations_ + discarded_;
  s.deallocations = deallocations_;
  s.failures = failures_;
  s.regions = regions_;
  return s;
}

bool Arena::check() const noexcept {
  if (!(begin_ <= top_ && top_ <= end_)) return broken("top is outside the current region");
  if (current_) {
    if (begin_ != region_begin(current_) || end_ != region_end(current_))
      return broken("begin/end are not the current region's");
  } else if (begin_ != buffer_begin_ || end_ != buffer_end_) {
    return broken("begin/end are not the buffer's");
  }
  std::size_t used = 0, regions = 0, bytes = 0;
  if (current_) {
    ++regions;
    bytes += current_->bytes;
    for (const Region* r = current_->prev; r; r = r->prev) {
      if (r->top < region_begin(r) || r->top > region_end(r)) return broken("an older region's top is outside it");
      used += r->top - region_begin(r);
      ++regions;
      bytes += r->bytes;
    }
    if (buffer_top_ < buffer_begin_ || buffer_top_ > buffer_end_) return broken("the buffer's top is outside it");
    used += buffer_top_ - buffer_begin_;
  }
  if (used != used_before_) return broken("used_before_ disagrees with the regions");
  if (spare_) {
    ++regions;
    bytes += spare_->bytes;
  }
  if (regions != regions_ || bytes != bytes_reserved_) return broken("region count or reserved bytes disagree");
  if (requested_ > used_before_ + (top_ - begin_)) return broken("more bytes requested than used");
  return true;
}

}  // namespace poolkit
