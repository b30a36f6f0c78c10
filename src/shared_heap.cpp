// shared_heap.cpp: SharedHeap. The segment starts with a Header (the lock, the free
// lists, the counters, the named objects); the blocks follow, up to a sentinel. Every
// link is an offset from the segment's start, so each process can map it anywhere.
//
// Block at offset b (16-aligned; size a multiple of 16, at least 32):
//   word b       size | kFree | kPrevFree
//   live:  word b+8 = requested | tag(b) << 40; the payload starts at b+16
//   free:  word b+8 = next free offset, word b+16 = previous, last word = size (footer)
// Free lists: one per power of two (class = floor(log2(size))), a bitmap of non-empty
// ones; a search takes the head of the first class whose every block is big enough.
#include "poolkit/shared_heap.hpp"

#include <atomic>
#include <bit>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

#include "poolkit/process_mutex.hpp"

namespace poolkit {
namespace {

constexpr std::uint64_t kMagic = 0x70'6b'73'68'65'61'70'31ull;  // "pksheap1"
constexpr std::uint32_t kVersion = 1;
constexpr std::uint64_t kFree = 1, kPrevFree = 2, kFlags = 15;
constexpr std::uint64_t kMinBlock = 32, kHeader = 16;
constexpr std::uint64_t kRequestedMask = (std::uint64_t{1} << 40) - 1;
constexpr std::size_t kMaxSegment = std::size_t{1} << 40;  // requested sizes fit in 40 bits
constexpr unsigned kClasses = 64;

std::uint64_t tag_of(std::uint64_t block) noexcept { return ((block * 0x9E3779B97F4A7C15ull) >> 40) & 0xFFFFFF; }
unsigned class_of(std::uint64_t size) noexcept { return static_cast<unsigned>(std::bit_width(size) - 1); }
std::uint64_t round16(std::uint64_t n) noexcept { return (n + 15) & ~std::uint64_t{15}; }

bool broken(const char* what, std::uint64_t at) noexcept {
  std::fprintf(stderr, "poolkit: SharedHeap::check: %s (offset %llu)\n", what, static_cast<unsigned long long>(at));
  return false;
}

}  // namespace

// The segment's first bytes. Invariants (check() verifies them):
//  - the blocks tile [heap_begin, heap_end) exactly; a sentinel header (size 0, live)
//    sits at heap_end; each kPrevFree bit equals the free bit of the block before;
//  - no two free blocks are neighbours (frees merge at once);
//  - a block is on heads[c] iff it is free and class_of(size) == c; bit c of bitmap is
//    set iff heads[c] != 0; the lists link both ways;
//  - live_blocks, bytes_in_use, bytes_requested, free_blocks, bytes_free agree with the walk;
//  - in_operation is 1 only while a call holds the lock and changes the heap.
struct SharedHeap::Header {
  std::uint64_t magic;  // kMagic, written last by format(): attach refuses anything else
  std::uint32_t version;
  std::uint32_t header_bytes;
  std::uint64_t size;  // the segment's bytes
  ProcessMutex lock;
  Offset heap_begin;
  Offset heap_end;
  std::uint64_t bitmap;
  Offset heads[kClasses];
  std::uint64_t in_operation;
  std::uint64_t damaged;
  std::uint64_t owner_deaths;
  std::uint64_t bad_frees;
  std::uint64_t bytes_in_use;  // live blocks with their headers
  std::uint64_t bytes_requested;
  std::uint64_t peak_in_use;
  std::uint64_t live_blocks;
  std::uint64_t free_blocks;
  std::uint64_t bytes_free;  // free blocks, whole
  std::uint64_t allocations;
  std::uint64_t deallocations;
  std::uint64_t failures;
  struct Named {
    char name[kMaxNameLength + 1];  // "" for an unused entry
    Offset block;
    std::uint64_t size;
  } names[kNamedObjects];
};

// Holds the lock for one call. When the previous holder died, counts it and, if it
// died changing the heap, checks the heap and marks it damaged when it is broken.
class SharedHeap::Guard {
 public:
  explicit Guard(const SharedHeap& heap) noexcept : heap_(heap), h_(heap.header()) {
    if (h_->lock.lock() == ProcessMutex::Locked::kOwnerDied) {
      ++h_->owner_deaths;
      if (h_->in_operation) {
        h_->in_operation = 0;
        if (!heap_.check_locked()) h_->damaged = 1;
      }
    }
  }
  ~Guard() { h_->lock.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // Brackets the stores of a change: a death between begin and end leaves in_operation
  // set. A killed process's executed stores are all in the shared pages; only the
  // compiler could move a change's stores outside the bracket, and a signal fence
  // (a compiler barrier, no instruction) forbids that.
  void begin_change() noexcept {
    std::atomic_ref<std::uint64_t>(h_->in_operation).store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  void end_change() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_ref<std::uint64_t>(h_->in_operation).store(0, std::memory_order_relaxed);
  }

 private:
  const SharedHeap& heap_;
  Header* h_;
};

std::size_t SharedHeap::min_size() noexcept { return round16(sizeof(Header)) + kMinBlock + kHeader; }

// ---- making and attaching ------------------------------------------------------------

void SharedHeap::format_at(unsigned char* base, std::size_t size) {
  if (!base) throw std::invalid_argument("SharedHeap: the memory is null");
  if (reinterpret_cast<std::uintptr_t>(base) % 16 != 0)
    throw std::invalid_argument("SharedHeap: the memory is not aligned to 16 bytes");
  if (size < min_size())
    throw std::invalid_argument("SharedHeap: " + std::to_string(size) + " bytes is too small: it needs at least " +
                                std::to_string(min_size()));
  if (size >= kMaxSegment) throw std::invalid_argument("SharedHeap: segments of 1 TiB and more are not supported");
  auto* h = new (base) Header{};
  h->version = kVersion;
  h->header_bytes = sizeof(Header);
  h->size = size;
  if (!h->lock.init()) throw std::invalid_argument("SharedHeap: pthread refused a process-shared robust mutex");
  h->heap_begin = round16(sizeof(Header));
  h->heap_end = (size - kHeader) & ~std::uint64_t{15};
  SharedHeap view(base, size, SharedSegment());
  const std::uint64_t span = h->heap_end - h->heap_begin;
  view.word(h->heap_begin) = span | kFree;
  view.word(h->heap_begin + span - 8) = span;
  view.word(h->heap_end) = kPrevFree;  // the sentinel
  view.word(h->heap_end + 8) = 0;
  view.insert_free(h->heap_begin, span);
  h->free_blocks = 1;
  h->bytes_free = span;
  std::atomic_ref<std::uint64_t>(h->magic).store(kMagic, std::memory_order_release);  // last: attach checks it
}

void SharedHeap::check_attachable(const unsigned char* base, std::size_t size) {
  if (!base || reinterpret_cast<std::uintptr_t>(base) % 16 != 0 || size < min_size())
    throw std::invalid_argument("SharedHeap: the memory is null, misaligned or too small to hold a heap");
  const auto* h = reinterpret_cast<const Header*>(base);
  if (h->magic != kMagic) throw std::invalid_argument("SharedHeap: the segment holds no heap (or one still being made)");
  if (h->version != kVersion || h->header_bytes != sizeof(Header))
    throw std::invalid_argument("SharedHeap: the segment's heap is of another version (" + std::to_string(h->version) +
                                ")");
  if (h->size != size)
    throw std::invalid_argument("SharedHeap: the segment's heap was made for " + std::to_string(h->size) +
                                " bytes, the mapping has " + std::to_string(size));
}

SharedHeap SharedHeap::format(void* base, std::size_t size) {
  format_at(static_cast<unsigned char*>(base), size);
  return SharedHeap(base, size, SharedSegment());
}

SharedHeap SharedHeap::attach(void* base, std::size_t size) {
  check_attachable(static_cast<unsigned char*>(base), size);
  return SharedHeap(base, size, SharedSegment());
}

SharedHeap SharedHeap::create(const std::string& name, std::size_t size) {
  if (size < min_size())
    throw std::invalid_argument("SharedHeap: " + std::to_string(size) + " bytes is too small: it needs at least " +
                                std::to_string(min_size()));
  SharedSegment segment = SharedSegment::create(name, size);
  try {
    format_at(static_cast<unsigned char*>(segment.base()), segment.size());
  } catch (...) {
    SharedSegment::remove(name);
    throw;
  }
  void* base = segment.base();
  return SharedHeap(base, size, static_cast<SharedSegment&&>(segment));
}

SharedHeap SharedHeap::open(const std::string& name) {
  SharedSegment segment = SharedSegment::open(name);
  check_attachable(static_cast<unsigned char*>(segment.base()), segment.size());
  void* base = segment.base();
  const std::size_t size = segment.size();
  return SharedHeap(base, size, static_cast<SharedSegment&&>(segment));
}

SharedHeap SharedHeap::anonymous(std::size_t size) {
  if (size < min_size())
    throw std::invalid_argument("SharedHeap: " + std::to_string(size) + " bytes is too small: it needs at least " +
                                std::to_string(min_size()));
  SharedSegment segment = SharedSegment::anonymous(size);
  format_at(static_cast<unsigned char*>(segment.base()), segment.size());
  void* base = segment.base();
  return SharedHeap(base, size, static_cast<SharedSegment&&>(segment));
}

SharedHeap::SharedHeap(SharedHeap&& other) noexcept
    : segment_(static_cast<SharedSegment&&>(other.segment_)), base_(other.base_), size_(other.size_) {
  other.base_ = nullptr;
  other.size_ = 0;
}

// ---- free lists ------------------------------------------------------------------------

void SharedHeap::insert_free(Offset block, std::uint64_t size) noexcept {
  Header* h = header();
  const unsigned c = class_of(size);
  const Offset head = h->heads[c];
  word(block + 8) = head;
  word(block + 16) = 0;
  if (head) word(head + 16) = block;
  h->heads[c] = block;
  h->bitmap |= std::uint64_t{1} << c;
}

void SharedHeap::unlink_free(Offset block, std::uint64_t size) noexcept {
  Header* h = header();
  const unsigned c = class_of(size);
  const Offset next = word(block + 8), prev = word(block + 16);
  if (prev)
    word(prev + 8) = next;
  else
    h->heads[c] = next;
  if (next) word(next + 16) = prev;
  if (!h->heads[c]) h->bitmap &= ~(std::uint64_t{1} << c);
}

// The head of the first class whose every block holds `size`; failing that, the head
// of size's own class if it happens to. Two bit operations, no walk.
SharedHeap::Offset SharedHeap::find_free(std::uint64_t size) const noexcept {
  const Header* h = header();
  const unsigned c = class_of(size);
  const unsigned first = std::has_single_bit(size) ? c : c + 1;
  const std::uint64_t fits = first < kClasses ? h->bitmap & (~std::uint64_t{0} << first) : 0;
  if (fits) return h->heads[std::countr_zero(fits)];
  const Offset head = h->heads[c];
  return head && (word(head) & ~kFlags) >= size ? head : 0;
}

// ---- allocate and free -----------------------------------------------------------------

SharedHeap::Offset SharedHeap::allocate_locked(std::size_t size, std::size_t align) noexcept {
  Header* h = header();
  if (size > h->heap_end - h->heap_begin) return 0;
  std::uint64_t need = round16(size + kHeader);
  if (need < kMinBlock) need = kMinBlock;
  const std::uint64_t search = align <= 16 ? need : need + align + kMinBlock;
  Offset block = find_free(search);
  if (!block) return 0;
  std::uint64_t total = word(block) & ~kFlags;
  std::uint64_t prev_free = word(block) & kPrevFree;
  unlink_free(block, total);
  --h->free_blocks;
  h->bytes_free -= total;
  if (align > 16) {  // a leading gap, empty or a whole free block, puts the payload on align
    const auto base = reinterpret_cast<std::uintptr_t>(base_);
    Offset start = align_up(base + block + kHeader, align) - base - kHeader;
    if (start != block && start - block < kMinBlock) start = align_up(base + block + kHeader + kMinBlock, align) - base - kHeader;
    if (const std::uint64_t gap = start - block) {
      word(block) = gap | kFree | prev_free;
      word(block + gap - 8) = gap;
      insert_free(block, gap);
      ++h->free_blocks;
      h->bytes_free += gap;
      prev_free = kPrevFree;
      block = start;
      total -= gap;
    }
  }
  if (total - need >= kMinBlock) {  // split: the rest stays free (the block after it already says so)
    const Offset rest = block + need;
    word(rest) = (total - need) | kFree;
    word(rest + total - need - 8) = total - need;
    insert_free(rest, total - need);
    ++h->free_blocks;
    h->bytes_free += total - need;
  } else {
    need = total;
    word(block + total) &= ~kPrevFree;
  }
  word(block) = need | prev_free;
  word(block + 8) = size | tag_of(block) << 40;
  h->bytes_in_use += need;
  h->bytes_requested += size;
  if (h->bytes_in_use > h->peak_in_use) h->peak_in_use = h->bytes_in_use;
  ++h->live_blocks;
  ++h->allocations;
  return block;
}

bool SharedHeap::live_block(Offset block) const noexcept {
  const Header* h = header();
  if (block < h->heap_begin || block >= h->heap_end || block % 16 != 0) return false;
  const std::uint64_t w = word(block), size = w & ~kFlags;
  return !(w & kFree) && size >= kMinBlock && size <= h->heap_end - block && (word(block + 8) >> 40) == tag_of(block);
}

bool SharedHeap::free_locked(Offset block) noexcept {
  Header* h = header();
  if (!live_block(block)) return false;
  std::uint64_t size = word(block) & ~kFlags;
  h->bytes_in_use -= size;
  h->bytes_requested -= word(block + 8) & kRequestedMask;
  --h->live_blocks;
  ++h->deallocations;
  word(block + 8) = 0;  // the tag goes: a second free of this pointer is refused
  const Offset next = block + size;
  if (word(next) & kFree) {
    const std::uint64_t n = word(next) & ~kFlags;
    unlink_free(next, n);
    --h->free_blocks;
    h->bytes_free -= n;
    size += n;
  }
  if (word(block) & kPrevFree) {
    const std::uint64_t p = word(block - 8);
    block -= p;
    unlink_free(block, p);
    --h->free_blocks;
    h->bytes_free -= p;
    size += p;
  }
  word(block) = size | kFree;  // the block before a free block is live: no kPrevFree
  word(block + size - 8) = size;
  insert_free(block, size);
  ++h->free_blocks;
  h->bytes_free += size;
  word(block + size) |= kPrevFree;
  return true;
}

void* SharedHeap::allocate(std::size_t size, std::size_t align) noexcept {
  if (!is_valid_alignment(align)) return nullptr;
  Guard guard(*this);
  Header* h = header();
  Offset block = 0;
  if (!h->damaged) {
    guard.begin_change();
    block = allocate_locked(size, align);
    guard.end_change();
  }
  if (!block) {
    ++h->failures;
    return nullptr;
  }
  return base_ + block + kHeader;
}

void SharedHeap::deallocate(void* p, std::size_t, std::size_t) noexcept {
  if (!p) return;
  const auto x = reinterpret_cast<std::uintptr_t>(p), base = reinterpret_cast<std::uintptr_t>(base_);
  Guard guard(*this);
  Header* h = header();
  if (h->damaged) return;
  bool freed = false;
  if (x >= base + h->heap_begin + kHeader && x < base + h->heap_end) {
    guard.begin_change();
    freed = free_locked(x - base - kHeader);
    guard.end_change();
  }
  if (!freed) ++h->bad_frees;
}

bool SharedHeap::owns(const void* p) const noexcept {
  const auto x = reinterpret_cast<std::uintptr_t>(p), base = reinterpret_cast<std::uintptr_t>(base_);
  return base_ && x >= base + header()->heap_begin && x < base + header()->heap_end;
}

void SharedHeap::release() noexcept {
  Guard guard(*this);
  Header* h = header();
  guard.begin_change();
  for (auto& head : h->heads) head = 0;
  h->bitmap = 0;
  const std::uint64_t span = h->heap_end - h->heap_begin;
  word(h->heap_begin) = span | kFree;
  word(h->heap_begin + span - 8) = span;
  word(h->heap_end) = kPrevFree;
  insert_free(h->heap_begin, span);
  h->free_blocks = 1;
  h->bytes_free = span;
  h->bytes_in_use = h->bytes_requested = h->live_blocks = 0;
  for (auto& n : h->names) n = Header::Named{};
  h->damaged = 0;  // every block is gone, the damage with them
  guard.end_change();
}

// ---- offsets and names ------------------------------------------------------------------

SharedHeap::Offset SharedHeap::offset_of(const void* p) const noexcept {
  return p ? static_cast<Offset>(static_cast<const unsigned char*>(p) - base_) : 0;
}

void* SharedHeap::at(Offset offset) const noexcept { return offset ? base_ + offset : nullptr; }

void* SharedHeap::find(const char* name) const noexcept {
  if (!name) return nullptr;
  Guard guard(*this);
  for (const auto& n : header()->names)
    if (n.name[0] && std::strncmp(n.name, name, sizeof n.name) == 0) return base_ + n.block + kHeader;
  return nullptr;
}

void* SharedHeap::find_or_allocate(const char* name, std::size_t size) noexcept {
  if (!name || !name[0] || std::strlen(name) > kMaxNameLength) return nullptr;
  Guard guard(*this);
  Header* h = header();
  Header::Named* unused = nullptr;
  for (auto& n : h->names) {
    if (n.name[0] && std::strcmp(n.name, name) == 0) return n.size >= size ? base_ + n.block + kHeader : nullptr;
    if (!n.name[0] && !unused) unused = &n;
  }
  if (!unused || h->damaged) return nullptr;
  guard.begin_change();
  const Offset block = allocate_locked(size, kDefaultAlignment);
  if (block) {
    std::memset(base_ + block + kHeader, 0, size);
    std::strcpy(unused->name, name);
    unused->block = block;
    unused->size = size;
  }
  guard.end_change();
  return block ? base_ + block + kHeader : nullptr;
}

std::uint64_t SharedHeap::owner_deaths() const noexcept {
  Guard guard(*this);
  return header()->owner_deaths;
}

bool SharedHeap::damaged() const noexcept {
  Guard guard(*this);
  return header()->damaged != 0;
}

std::uint64_t SharedHeap::bad_frees() const noexcept {
  Guard guard(*this);
  return header()->bad_frees;
}

// ---- stats and check --------------------------------------------------------------------

PoolStats SharedHeap::stats() const noexcept {
  Guard guard(*this);
  const Header* h = header();
  PoolStats s;
  s.bytes_requested = h->bytes_requested;
  s.bytes_in_use = h->bytes_in_use;
  s.peak_in_use = h->peak_in_use;
  s.bytes_free = h->bytes_free;
  if (h->bitmap) {  // the head of the highest list: sure to serve a request its size
    const Offset top = h->heads[63 - std::countl_zero(h->bitmap)];
    s.largest_free = (word(top) & ~kFlags) - kHeader;
  }
  s.bytes_reserved = size_;
  s.live_blocks = h->live_blocks;
  s.allocations = h->allocations;
  s.deallocations = h->deallocations;
  s.failures = h->failures;
  s.regions = 1;
  return s;
}

bool SharedHeap::check() const noexcept {
  Guard guard(*this);
  return check_locked();
}

bool SharedHeap::check_locked() const noexcept {
  const Header* h = header();
  if (h->heap_begin % 16 || h->heap_end % 16 || h->heap_end + kHeader > size_ || h->heap_begin >= h->heap_end)
    return broken("the block area's bounds are wrong", h->heap_begin);
  std::uint64_t live = 0, in_use = 0, requested = 0, free_count = 0, free_bytes = 0;
  bool prev_free = false;
  Offset b = h->heap_begin;
  while (b < h->heap_end) {
    const std::uint64_t w = word(b), size = w & ~kFlags;
    if (size < kMinBlock || size % 16 || size > h->heap_end - b) return broken("a block size is impossible", b);
    if (((w & kPrevFree) != 0) != prev_free) return broken("a kPrevFree bit disagrees with the block before", b);
    if (w & kFree) {
      if (prev_free) return broken("two neighbouring free blocks", b);
      if (word(b + size - 8) != size) return broken("a free block's footer is not its size", b);
      ++free_count;
      free_bytes += size;
    } else {
      if ((word(b + 8) >> 40) != tag_of(b)) return broken("a live block's tag is wrong", b);
      ++live;
      in_use += size;
      requested += word(b + 8) & kRequestedMask;
    }
    prev_free = (w & kFree) != 0;
    b += size;
  }
  if (b != h->heap_end) return broken("the blocks overrun the sentinel", b);
  if ((word(b) & ~kFlags) != 0 || (word(b) & kFree)) return broken("the sentinel is not a live zero-size header", b);
  if (((word(b) & kPrevFree) != 0) != prev_free) return broken("the sentinel's kPrevFree bit is wrong", b);
  std::uint64_t listed = 0;
  for (unsigned c = 0; c < kClasses; ++c) {
    if (((h->bitmap >> c) & 1) != (h->heads[c] != 0)) return broken("the bitmap disagrees with a list head", c);
    Offset prev = 0;
    for (Offset n = h->heads[c]; n; prev = n, n = word(n + 8)) {
      if (++listed > free_count) return broken("the free lists hold more than the free blocks (a cycle?)", n);
      if (n < h->heap_begin || n >= h->heap_end || n % 16) return broken("a free-list link points outside", n);
      if (!(word(n) & kFree) || class_of(word(n) & ~kFlags) != c) return broken("a listed block is not free of this class", n);
      if (word(n + 16) != prev) return broken("a free list's back link is wrong", n);
    }
  }
  if (listed != free_count) return broken("a free block is on no list", 0);
  if (live != h->live_blocks || in_use != h->bytes_in_use || requested != h->bytes_requested ||
      free_count != h->free_blocks || free_bytes != h->bytes_free)
    return broken("the counters disagree with the blocks", 0);
  for (const auto& n : h->names)
    if (n.name[0] && !live_block(n.block)) return broken("a named object is not a live block", n.block);
  return true;
}

}  // namespace poolkit
