// pool_set.cpp: PoolSet, numbered pools on one Heap. Each block carries a 32-byte
// header (its pool, the links of its pool's list, a check word); the header is
// pool metadata, so it is closed to ASan/valgrind except while the set uses it.
#include "poolkit/pool_set.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>

#include "common/assert.hpp"
#include "poolkit/detail/annotations.hpp"

namespace poolkit {
namespace {

// Opens a block header for the duration of a scope.
class OpenHeader {
 public:
  explicit OpenHeader(void* h) noexcept : h_(h) { annotate::metadata_open(h_, PoolSet::kHeaderSize); }
  ~OpenHeader() { annotate::metadata_close(h_, PoolSet::kHeaderSize); }
  OpenHeader(const OpenHeader&) = delete;
  OpenHeader& operator=(const OpenHeader&) = delete;

 private:
  void* h_;
};

}  // namespace

PoolSet::PoolSet(Heap::Options heap_options) noexcept
    : heap_(heap_options),
      secret_((reinterpret_cast<std::uintptr_t>(this) * 0x9FB21C651E98DF25ull) ^ 0xC2B2AE3D27D4EB4Full) {}

PoolSet::PoolSet(void* buffer, std::size_t size, Heap::Options heap_options) try
    : heap_(buffer, size, heap_options),
      secret_((reinterpret_cast<std::uintptr_t>(this) * 0x9FB21C651E98DF25ull) ^ 0xC2B2AE3D27D4EB4Full) {
} catch (const std::invalid_argument& e) {
  throw std::invalid_argument(std::string("PoolSet: ") + e.what());
}

PoolSet::~PoolSet() = default;  // the heap returns every region

std::uint64_t PoolSet::check_word(const void* header) const noexcept {
  return ((reinterpret_cast<std::uintptr_t>(header) ^ secret_) * 0xFF51AFD7ED558CCDull) | 1;
}

std::size_t PoolSet::footprint(const BlockHeader* h) const noexcept {
  // What the heap counts in its bytes_in_use for this block.
  return heap_.usable_size(h) + Heap::kBlockOverhead;
}

PoolSet::PoolEntry* PoolSet::entry(PoolId pool) noexcept {
  if (last_entry_ && last_entry_->id == pool) return last_entry_;
  try {
    auto [it, inserted] = pools_.try_emplace(pool);
    PoolEntry* e = &it->second;
    if (inserted) {
      e->id = pool;
      e->blocks.prev = e->blocks.next = &e->blocks;
    }
    return last_entry_ = e;
  } catch (...) {
    return nullptr;
  }
}

void* PoolSet::allocate(PoolId pool, std::size_t size, std::size_t align) noexcept {
  PoolEntry* e = last_entry_ && last_entry_->id == pool ? last_entry_ : entry(pool);
  if (!e) {
    ++failures_;
    return nullptr;
  }
  void* block = heap_.allocate_prefixed(kHeaderSize, size, align);
  if (!block) {
    ++e->failures;
    return nullptr;
  }
  auto* h = static_cast<BlockHeader*>(block);
  {
    OpenHeader open(h);
    h->link.prev = e->blocks.prev;
    h->link.next = &e->blocks;
    h->pool = e;
    h->check = check_word(h);
  }
  if (e->blocks.prev != &e->blocks) {
    OpenHeader open_last(e->blocks.prev);
    e->blocks.prev->next = &h->link;
  } else {
    e->blocks.next = &h->link;
  }
  e->blocks.prev = &h->link;
  ++e->live;
  ++e->allocations;
  e->bytes_requested += size;
  e->bytes_in_use += heap_.usable_size_of_new(h) + Heap::kBlockOverhead;  // footprint(h), trusted
  e->peak_in_use = std::max(e->peak_in_use, e->bytes_in_use);
  bytes_requested_ += size;
  return static_cast<char*>(block) + kHeaderSize;
}

// The header of the live block at p, or nullptr (p foreign, interior or freed).
PoolSet::BlockHeader* PoolSet::live_header(const void* p, std::size_t* usable,
                                            std::size_t* requested) const noexcept {
  if (!p || reinterpret_cast<std::uintptr_t>(p) % 16 != 0) return nullptr;
  auto* h = reinterpret_cast<BlockHeader*>(const_cast<char*>(static_cast<const char*>(p)) - kHeaderSize);
  // The heap reads nothing unless h is in its regions; every live heap block is one of ours.
  std::size_t usable_bytes, requested_bytes;
  if (!heap_.live_sizes(h, &usable_bytes, &requested_bytes)) return nullptr;
  OpenHeader open(h);
  if (h->check != check_word(h)) return nullptr;
  if (usable) *usable = usable_bytes;
  if (requested) *requested = requested_bytes;
  return h;
}

// Takes h off its pool's list and clears its check word; the neighbours' headers
// are opened only while their links change.
void PoolSet::unlink(BlockHeader* h) noexcept {
  Link* prev;
  Link* next;
  PoolEntry* e;
  {
    OpenHeader open(h);
    prev = h->link.prev;
    next = h->link.next;
    e = h->pool;
    h->check = 0;
  }
  // Both neighbours point back at h (invariant: a circular doubly-linked list).
  if (prev == &e->blocks) {
    PK_ASSERT(prev->next == &h->link);
    prev->next = next;
  } else {
    OpenHeader open(prev);
    PK_ASSERT(prev->next == &h->link);
    prev->next = next;
  }
  if (next == &e->blocks) {
    PK_ASSERT(next->prev == &h->link);
    next->prev = prev;
  } else {
    OpenHeader open(next);
    PK_ASSERT(next->prev == &h->link);
    next->prev = prev;
  }
}

void PoolSet::deallocate(void* p) noexcept {
  if (!p) return;
  std::size_t usable, heap_requested;
  BlockHeader* h = live_header(p, &usable, &heap_requested);
  if (!h) {
    ++bad_frees_;
    return;
  }
  PoolEntry* e;
  {
    OpenHeader open(h);
    e = h->pool;
  }
  const std::size_t requested = heap_requested - kHeaderSize;
  const std::size_t block_bytes = usable + Heap::kBlockOverhead;  // footprint(h), looked up once
  PK_ASSERT(e->bytes_in_use >= block_bytes && e->bytes_requested >= requested);  // counted at allocate
  e->bytes_in_use -= block_bytes;
  e->bytes_requested -= requested;
  bytes_requested_ -= requested;
  PK_ASSERT(e->live > 0);
  --e->live;
  ++e->deallocations;
  unlink(h);
  heap_.deallocate(h);
}

void PoolSet::release(PoolId pool) noexcept {
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  PoolEntry& e = it->second;
  for (Link* link = e.blocks.next; link != &e.blocks;) {
    Link* next;
    {
      OpenHeader open(link);
      next = link->next;
      reinterpret_cast<BlockHeader*>(link)->check = 0;
    }
    heap_.deallocate(link);
    link = next;
  }
  e.blocks.prev = e.blocks.next = &e.blocks;
  bytes_requested_ -= e.bytes_requested;
  e.live = e.bytes_requested = e.bytes_in_use = 0;
}

void PoolSet::release() noexcept {
  heap_.release();
  for (auto& [id, e] : pools_) {
    e.blocks.prev = e.blocks.next = &e.blocks;
    e.live = e.bytes_requested = e.bytes_in_use = 0;
  }
  bytes_requested_ = 0;
}

std::optional<PoolSet::PoolId> PoolSet::pool_of(const void* p) const noexcept {
  BlockHeader* h = live_header(p);
  if (!h) return std::nullopt;
  OpenHeader open(h);
  return h->pool->id;
}

bool PoolSet::owns(const void* p) const noexcept {
  return heap_.owns(p);
}

PoolStats PoolSet::stats(PoolId pool) const noexcept {
  PoolStats s;
  auto it = pools_.find(pool);
  const PoolStats heap = heap_.stats();
  s.bytes_free = heap.bytes_free;
  s.largest_free = heap.largest_free;
  if (it == pools_.end()) return s;
  const PoolEntry& e = it->second;
  s.bytes_requested = e.bytes_requested;
  s.bytes_in_use = e.bytes_in_use;
  s.peak_in_use = e.peak_in_use;
  s.live_blocks = e.live;
  s.allocations = e.allocations;
  s.deallocations = e.deallocations;
  s.failures = e.failures;
  return s;
}

PoolStats PoolSet::stats() const noexcept {
  PoolStats s = heap_.stats();
  s.bytes_requested = bytes_requested_;
  s.failures += failures_;
  return s;
}

bool PoolSet::check() const noexcept {
  if (!heap_.check()) return false;
  std::size_t live = 0, requested = 0;
  for (const auto& [id, e] : pools_) {
    std::size_t count = 0, in_use = 0;
    const Link* prev = &e.blocks;
    for (const Link* link = e.blocks.next; link != &e.blocks;) {
      const auto* h = reinterpret_cast<const BlockHeader*>(link);
      if (heap_.inspect(h) != Heap::BlockState::kLive) return false;
      OpenHeader open(const_cast<Link*>(link));
      if (h->check != check_word(h) || h->pool != &e || h->link.prev != prev) return false;
      if (++count > e.live) return false;
      in_use += footprint(h);
      prev = link;
      link = link->next;
    }
    if (e.blocks.prev != prev || count != e.live || in_use != e.bytes_in_use) return false;
    live += count;
    requested += e.bytes_requested;
  }
  return live == heap_.stats().live_blocks && requested == bytes_requested_;
}

}  // namespace poolkit
