// forwarded_blocks.hpp (private): the blocks a pool handed out in a
// POOLKIT_FORWARD_TO_MALLOC build, where every block is its own malloc block so
// that valgrind and ASan see it. Tracked so that owns(), release() and the
// destructor still work. Speed does not matter in that build; clarity does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

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
    if (posix_memalign(&p, align, size ? size : 1) != 0) return nullptr;
    try {
      by_address_.emplace(reinterpret_cast<std::uintptr_t>(p), size ? size : 1);
      order_.push_back(p);
    } catch (...) {
      by_address_.erase(reinterpret_cast<std::uintptr_t>(p));
      std::free(p);
      return nullptr;
    }
    return p;
  }

  /// Frees p if it is a block from here; false (and nothing done) otherwise.
  bool free(void* p) noexcept {
    auto it = by_address_.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == by_address_.end()) return false;
    by_address_.erase(it);
    for (std::size_t i = order_.size(); i-- > 0;) {  // usually the newest: search from the back
      if (order_[i] == p) {
        order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    std::free(p);
    return true;
  }

  /// True for any address inside a live block.
  bool owns(const void* p) const noexcept {
    auto x = reinterpret_cast<std::uintptr_t>(p);
    auto it = by_address_.upper_bound(x);
    if (it == by_address_.begin()) return false;
    --it;
    return x < it->first + it->second;
  }

  std::size_t count() const noexcept { return order_.size(); }
  void* newest() const noexcept { return order_.empty() ? nullptr : order_.back(); }

  /// Frees the newest blocks until count() == keep (Arena::rewind).
  void free_newest_until(std::size_t keep) noexcept {
    while (order_.size() > keep) free(order_.back());
  }
  void free_all() noexcept { free_newest_until(0); }

  template <class F>
  void for_each(F&& f) const {
    for (void* p : order_) f(p);
  }

 private:
  std::map<std::uintptr_t, std::size_t> by_address_;  // start -> size
  std::vector<void*> order_;                           // allocation order
};

}  // namespace poolkit::detail
