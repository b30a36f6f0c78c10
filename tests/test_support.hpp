// test_support.hpp: what the pool tests share.
//  - scaled(n): operation counts, divided by PKTEST_SCALE (default 1) so slow
//    lanes (valgrind) run the same tests smaller. Normal lanes run the full count.
//  - test_seed(): PKTEST_SEED or a fixed default; tests print it on failure.
//  - BlockModel: the model for randomized differential tests: the live blocks,
//    their sizes, alignments and contents. Every block handed out is checked
//    for alignment and for overlap with every other live block, filled with a
//    pattern, and verified when freed or at any time.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace poolkit::test {

inline std::size_t scaled(std::size_t n) {
  const char* s = std::getenv("PKTEST_SCALE");
  std::size_t div = s ? std::strtoull(s, nullptr, 10) : 1;
  if (div == 0) div = 1;
  return n / div ? n / div : 1;
}

inline std::uint64_t test_seed(std::uint64_t fallback = 20261121) {
  const char* s = std::getenv("PKTEST_SEED");
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}

struct LiveBlock {
  unsigned char* p;
  std::size_t size;
  std::size_t align;
  std::uint8_t pattern;
};

class BlockModel {
 public:
  /// Records a new block: checks alignment and overlap, then fills it.
  /// Returns false (with a gtest failure) if the pool broke a rule.
  bool add(void* ptr, std::size_t size, std::size_t align, std::uint8_t pattern) {
    auto* p = static_cast<unsigned char*>(ptr);
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    if (addr % align != 0) {
      ADD_FAILURE() << "block " << ptr << " not aligned to " << align;
      return false;
    }
    std::size_t extent = size ? size : 1;
    auto next = ranges_.lower_bound(addr);
    if (next != ranges_.end() && next->first < addr + extent) {
      ADD_FAILURE() << "block " << ptr << "+" << size << " overlaps live block at "
                    << reinterpret_cast<void*>(next->first);
      return false;
    }
    if (next != ranges_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second > addr) {
        ADD_FAILURE() << "block " << ptr << " overlaps live block at "
                      << reinterpret_cast<void*>(prev->first) << "+" << prev->second;
        return false;
      }
    }
    ranges_.emplace(addr, extent);
    fill(p, size, pattern);
    live_.push_back({p, size, align, pattern});
    return true;
  }

  bool empty() const { return live_.empty(); }
  std::size_t count() const { return live_.size(); }
  const std::vector<LiveBlock>& blocks() const { return live_; }

  /// Removes block i (swap with last), verifying its contents first.
  LiveBlock take(std::size_t i) {
    LiveBlock b = live_[i];
    verify(b);
    live_[i] = live_.back();
    live_.pop_back();
    ranges_.erase(reinterpret_cast<std::uintptr_t>(b.p));
    return b;
  }

  template <class Rng>
  LiveBlock take_random(Rng& rng) {
    return take(std::uniform_int_distribution<std::size_t>(0, live_.size() - 1)(rng));
  }

  /// Replaces block i after a resize/realloc: the first min(old,new) bytes must have survived.
  bool moved(std::size_t i, void* ptr, std::size_t new_size) {
    LiveBlock b = live_[i];
    std::size_t keep = b.size < new_size ? b.size : new_size;
    if (!verify_bytes(static_cast<unsigned char*>(ptr), keep, b.pattern)) {
      ADD_FAILURE() << "contents lost across resize of " << static_cast<void*>(b.p);
      return false;
    }
    live_[i] = live_.back();
    live_.pop_back();
    ranges_.erase(reinterpret_cast<std::uintptr_t>(b.p));
    return add(ptr, new_size, b.align, b.pattern);
  }

  void verify(const LiveBlock& b) const {
    if (!verify_bytes(b.p, b.size, b.pattern))
      ADD_FAILURE() << "contents of block " << static_cast<void*>(b.p) << "+" << b.size
                    << " were overwritten";
  }
  void verify_all() const {
    for (const auto& b : live_) verify(b);
  }
  void clear() {
    live_.clear();
    ranges_.clear();
  }

  static void fill(unsigned char* p, std::size_t n, std::uint8_t pattern) {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(pattern + i * 131);
  }
  static bool verify_bytes(const unsigned char* p, std::size_t n, std::uint8_t pattern) {
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] != static_cast<unsigned char>(pattern + i * 131)) return false;
    return true;
  }

 private:
  std::vector<LiveBlock> live_;
  std::map<std::uintptr_t, std::size_t> ranges_;
};

}  // namespace poolkit::test
