// support_pools.hpp: two small pools that satisfy poolkit::Pool, for testing the
// decorators (Guarded, Locked, PerCpu) without depending on the real pools:
//  - MallocPool: every block from posix_memalign; owns() through a map of live blocks.
//  - SlotPool: fixed-size slots in one region it owns, an intrusive free list, and
//    every annotation hook, so tool tests see memory a pool (not malloc) hands out.
//  - PoolSetPool: a PoolSet and one View of it in one object, so a PoolSet pool can be
//    built where a pool type is expected (decorators, typed tests, fuzzers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <vector>

#include "poolkit/align.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_set.hpp"

namespace poolkit::test {

class MallocPool {
 public:
  MallocPool() = default;
  MallocPool(const MallocPool&) = delete;
  MallocPool& operator=(const MallocPool&) = delete;
  ~MallocPool() { release(); }

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if (!is_valid_alignment(align) || size > (std::size_t{1} << 40)) {
      ++stats_.failures;
      return nullptr;
    }
    void* p = nullptr;
    if (posix_memalign(&p, std::max(align, sizeof(void*)), size ? size : 1) != 0) {
      ++stats_.failures;
      return nullptr;
    }
    try {
      live_.emplace(reinterpret_cast<std::uintptr_t>(p), size);
    } catch (...) {
      std::free(p);
      ++stats_.failures;
      return nullptr;
    }
    stats_.bytes_requested += size;
    stats_.bytes_in_use += size;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
    ++stats_.live_blocks;
    ++stats_.allocations;
    return p;
  }

  void deallocate(void* p, std::size_t, std::size_t = kDefaultAlignment) noexcept {
    if (!p) return;
    auto it = live_.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == live_.end()) return;  // not ours: ignored
    stats_.bytes_requested -= it->second;
    stats_.bytes_in_use -= it->second;
    --stats_.live_blocks;
    ++stats_.deallocations;
    live_.erase(it);
    std::free(p);
  }

  bool owns(const void* p) const noexcept {
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    auto it = live_.upper_bound(addr);
    if (it == live_.begin()) return false;
    --it;
    return addr < it->first + std::max<std::size_t>(it->second, 1);
  }

  void release() noexcept {
    for (auto& [addr, size] : live_) std::free(reinterpret_cast<void*>(addr));
    live_.clear();
    stats_.bytes_requested = stats_.bytes_in_use = stats_.live_blocks = 0;
  }

  PoolStats stats() const noexcept { return stats_; }
  bool check() const noexcept { return live_.size() == stats_.live_blocks; }

 private:
  std::map<std::uintptr_t, std::size_t> live_;
  PoolStats stats_;
};

/// `slots` blocks of `slot_size` bytes (a multiple of 64), aligned to 64, in one region.
class SlotPool {
 public:
  static constexpr std::size_t kSlotAlign = 64;

  explicit SlotPool(std::size_t slot_size = 256, std::size_t slots = 1024)
      : slot_size_(align_up(std::max<std::size_t>(slot_size, 64), kSlotAlign)),
        slots_(slots),
        region_(static_cast<unsigned char*>(
            ::operator new(slot_size_ * slots_, std::align_val_t{kSlotAlign}))),
        used_(slots_, false) {
    annotate::pool_created(this);
    build_free_list();
  }
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;
  ~SlotPool() {
    annotate::pool_destroyed(this);
    annotate::region_returned(region_, slot_size_ * slots_);
    ::operator delete(region_, std::align_val_t{kSlotAlign});
  }

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if (!is_valid_alignment(align) || align > kSlotAlign || size > slot_size_ || !head_) {
      ++stats_.failures;
      return nullptr;
    }
    unsigned char* p = head_;
    annotate::metadata_open(p, sizeof(void*));
    std::memcpy(&head_, p, sizeof(void*));
    annotate::metadata_close(p, sizeof(void*));
    used_[index(p)] = true;
    // Only the bytes asked for become addressable: an overflow into the slack is caught.
    annotate::block_allocated(this, p, size);
    stats_.bytes_requested += size;
    stats_.bytes_in_use += slot_size_;
    stats_.bytes_free -= slot_size_;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
    ++stats_.live_blocks;
    ++stats_.allocations;
    requested_[index(p)] = size;
    return p;
  }

  /// Ignores pointers it does not own or whose slot is free (documented no-op).
  void deallocate(void* ptr, std::size_t, std::size_t = kDefaultAlignment) noexcept {
    auto* p = static_cast<unsigned char*>(ptr);
    if (!p || !in_region(p) || (p - region_) % slot_size_ != 0 || !used_[index(p)]) return;
    used_[index(p)] = false;
    annotate::block_freed(this, p, slot_size_);
    push_free(p);
    stats_.bytes_requested -= requested_[index(p)];
    stats_.bytes_in_use -= slot_size_;
    stats_.bytes_free += slot_size_;
    --stats_.live_blocks;
    ++stats_.deallocations;
  }

  bool owns(const void* p) const noexcept {
    auto* c = static_cast<const unsigned char*>(p);
    return in_region(c) && used_[index(c)];
  }

  void release() noexcept {
    annotate::pool_reset(this);
    build_free_list();
  }

  PoolStats stats() const noexcept { return stats_; }

  bool check() const noexcept {
    std::size_t free_count = 0;
    for (unsigned char* p = head_; p; ++free_count) {
      if (!in_region(p) || used_[index(p)] || free_count > slots_) return false;
      annotate::metadata_open(p, sizeof(void*));
      unsigned char* next;
      std::memcpy(&next, p, sizeof(void*));
      annotate::metadata_close(p, sizeof(void*));
      p = next;
    }
    return free_count + stats_.live_blocks == slots_;
  }

  std::size_t slot_size() const noexcept { return slot_size_; }

 private:
  bool in_region(const unsigned char* p) const noexcept {
    return p >= region_ && p < region_ + slot_size_ * slots_;
  }
  std::size_t index(const unsigned char* p) const noexcept {
    return static_cast<std::size_t>(p - region_) / slot_size_;
  }
  void push_free(unsigned char* p) noexcept {
    annotate::metadata_open(p, sizeof(void*));
    std::memcpy(p, &head_, sizeof(void*));
    annotate::metadata_close(p, sizeof(void*));
    head_ = p;
  }
  void build_free_list() noexcept {
    annotate::region_unavailable(region_, slot_size_ * slots_);
    head_ = nullptr;
    for (std::size_t i = slots_; i-- > 0;) {
      used_[i] = false;
      push_free(region_ + i * slot_size_);
    }
    requested_.assign(slots_, 0);
    stats_ = PoolStats{};
    stats_.bytes_free = stats_.largest_free = slot_size_ * slots_;
    stats_.bytes_reserved = slot_size_ * slots_;
    stats_.regions = 1;
  }

  std::size_t slot_size_;
  std::size_t slots_;
  unsigned char* region_;
  unsigned char* head_ = nullptr;
  std::vector<bool> used_;
  std::vector<std::size_t> requested_;
  PoolStats stats_;
};

class PoolSetPool {
 public:
  explicit PoolSetPool(Heap::Options options = {}, PoolSet::PoolId id = 7) : set_(options), view_(set_.view(id)) {}
  PoolSetPool(const PoolSetPool&) = delete;
  PoolSetPool& operator=(const PoolSetPool&) = delete;
  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    return view_.allocate(size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    view_.deallocate(p, size, align);
  }
  bool owns(const void* p) const noexcept { return view_.owns(p); }
  void release() noexcept { view_.release(); }
  PoolStats stats() const noexcept { return view_.stats(); }
  bool check() const noexcept { return set_.check(); }
  PoolSet& set() noexcept { return set_; }

 private:
  PoolSet set_;
  PoolSet::View view_;
};

static_assert(Pool<MallocPool>);
static_assert(Pool<PoolSetPool>);
static_assert(Pool<SlotPool>);

}  // namespace poolkit::test
