// forwarded_blocks.hpp (private): the blocks a pool handed out in a
// POOLKIT_FORWARD_TO_MALLOC build, where every block is its own malloc block so
// that valgrind and ASan see it. Tracked so that owns(), release() and the
// destructor still work. Speed does not matter in that build; clarity does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>

namespace poolkit::detail {

class ForwardedBlocks {
 public:
  ForwardedBlocks() = default;
  ForwardedBlocks(const ForwardedBlocks&) = delete;
  ForwardedBlocks& operator=(const ForwardedBlocks&) = delete;
  ~ForwardedBlocks() { free_all(); }

  /// A malloc block of at least size bytes (size 0 gets 1) aligned to align; nullptr on failure.
  void* allocate(std::size_t size, std::size_t align) noexcept {
    if (align < sizeof(void*)) align = sizeof(void*);
    void* p = nullptr;
    std::size_t bytes = size ? size : 1;
    if (posix_memalign(&p, align, bytes) != 0) return nullptr;
    auto key = reinterpret_cast<std::uintptr_t>(p);
    try {
      by_address_.emplace(key, Entry{bytes, next_sequence_});
      by_order_.emplace(next_sequence_, p);
    } catch (...) {
      by_address_.erase(key);
      std::free(p);
      return nullptr;
    }
    ++next_sequence_;
    return p;
  }

  /// Frees p if it is a block from here; false (and nothing done) otherwise.
  bool free(void* p) noexcept {
    auto it = by_address_.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == by_address_.end()) return false;
    by_order_.erase(it->second.sequence);
    by_address_.erase(it);
    std::free(p);
    return true;
  }

  /// True for any address inside a live block.
  bool owns(const void* p) const noexcept {
    auto x = reinterpret_cast<std::uintptr_t>(p);
    auto it = by_address_.upper_bound(x);
    if (it == by_address_.begin()) return false;
    --it;
    return x < it->first + it->second.size;
  }

  /// Size a block was allocated with (0 if p is not a block from here).
  std::size_t size_of(const void* p) const noexcept {
    auto it = by_address_.find(reinterpret_cast<std::uintptr_t>(p));
    return it == by_address_.end() ? 0 : it->second.size;
  }

  std::size_t count() const noexcept { return by_address_.size(); }
  void* newest() const noexcept { return by_order_.empty() ? nullptr : by_order_.rbegin()->second; }

  /// Frees the newest blocks until count() == keep (Arena::rewind).
  void free_newest_until(std::size_t keep) noexcept {
    while (count() > keep) free(newest());
  }
  void free_all() noexcept { free_newest_until(0); }

  /// f(block) for every live block, oldest first.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [sequence, p] : by_order_) f(p);
  }

 private:
  struct Entry {
    std::size_t size;
    std::uint64_t sequence;  // allocation order
  };
  std::map<std::uintptr_t, Entry> by_address_;
  std::map<std::uint64_t, void*> by_order_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace poolkit::detail
