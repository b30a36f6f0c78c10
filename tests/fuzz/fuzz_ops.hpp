// fuzz_ops.hpp: turns fuzz input into a sequence of pool operations and runs them
// against a model of the live blocks (address, size, alignment, contents). Any
// disagreement (a misaligned or overlapping block, changed contents, a failed check())
// aborts, which libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace poolkit::fuzz {

[[noreturn]] inline void fail(const char* what, const void* p = nullptr) {
  std::fprintf(stderr, "fuzz: model disagrees: %s (%p)\n", what, p);
  std::abort();
}

struct ModelBlock {
  unsigned char* p;
  std::size_t size;
  std::size_t align;
  std::uint8_t pattern;
};

inline void fill(const ModelBlock& b) {
  for (std::size_t i = 0; i < b.size; ++i) b.p[i] = static_cast<unsigned char>(b.pattern + i * 7);
}
inline void verify(const ModelBlock& b) {
  for (std::size_t i = 0; i < b.size; ++i)
    if (b.p[i] != static_cast<unsigned char>(b.pattern + i * 7)) fail("contents changed", b.p);
}

/// The live blocks; add() checks alignment and overlap.
class Model {
 public:
  void add(void* ptr, std::size_t size, std::size_t align, std::uint8_t pattern) {
    auto a = reinterpret_cast<std::uintptr_t>(ptr);
    if (a % align) fail("misaligned block", ptr);
    std::size_t extent = size ? size : 1;
    auto next = by_addr_.lower_bound(a);
    if (next != by_addr_.end() && next->first < a + extent) fail("overlapping block", ptr);
    if (next != by_addr_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second > a) fail("overlapping block", ptr);
    }
    by_addr_.emplace(a, extent);
    ModelBlock b{static_cast<unsigned char*>(ptr), size, align, pattern};
    fill(b);
    live_.push_back(b);
  }
  ModelBlock take(std::size_t i) {
    ModelBlock b = live_[i];
    verify(b);
    live_[i] = live_.back();
    live_.pop_back();
    by_addr_.erase(reinterpret_cast<std::uintptr_t>(b.p));
    return b;
  }
  void verify_all() const {
    for (const auto& b : live_) verify(b);
  }
  void clear() {
    live_.clear();
    by_addr_.clear();
  }
  bool empty() const { return live_.empty(); }
  std::size_t count() const { return live_.size(); }
  const ModelBlock& at(std::size_t i) const { return live_[i]; }

 private:
  std::vector<ModelBlock> live_;
  std::map<std::uintptr_t, std::size_t> by_addr_;
};

/// Sizes the fuzzer picks: mostly small, sometimes big, sometimes absurd.
inline std::size_t pick_size(FuzzedDataProvider& in, std::size_t max_normal) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return 0;
    case 1: return SIZE_MAX - in.ConsumeIntegralInRange<std::size_t>(0, 64);
    case 2: return in.ConsumeIntegralInRange<std::size_t>(0, max_normal * 4);
    default: return in.ConsumeIntegralInRange<std::size_t>(0, max_normal);
  }
}
/// Alignments: every power of two up to 8192, and sometimes 0 or 3.
inline std::size_t pick_align(FuzzedDataProvider& in) {
  int k = in.ConsumeIntegralInRange<int>(0, 15);
  if (k == 14) return 0;
  if (k == 15) return 3;
  return std::size_t{1} << k;  // up to 8192: above 4096 must fail
}
inline bool valid_align(std::size_t a) { return a && !(a & (a - 1)) && a <= 4096; }

/// False for pools whose deallocate may keep the block (Arena frees only its last
/// block): the end-of-input "every block was freed" check is skipped for them.
template <class P> inline constexpr bool kFreeReturnsBlocks = true;

/// The common loop: allocate / free / verify / check / release against a model.
/// `extra(op, in, model)` handles the harness's own operations (op >= 6).
/// PKTEST_FUZZ_TRACE=1 prints every operation, to turn a crash into a unit test.
inline bool tracing() {
  static const bool on = std::getenv("PKTEST_FUZZ_TRACE") != nullptr;
  return on;
}

template <class Pool, class Extra>
void run_ops(Pool& pool, FuzzedDataProvider& in, std::size_t max_size, Extra&& extra) {
  Model model;
  while (in.remaining_bytes() > 0) {
    int op = in.ConsumeIntegralInRange<int>(0, 9);
    switch (op) {
      case 0:
      case 1:
      case 2: {
        std::size_t size = pick_size(in, max_size);
        std::size_t align = op == 2 ? pick_align(in) : 16;
        void* p = pool.allocate(size, align);
        if (tracing()) std::fprintf(stderr, "allocate(%zu, %zu) -> %p\n", size, align, p);
        if (!valid_align(align) && p) fail("bad alignment accepted", p);
        if (size > (std::size_t{1} << 48) && p) fail("absurd size accepted", p);
        if (p) {
          if (!pool.owns(p)) fail("owns() false for a live block", p);
          model.add(p, size, align, in.ConsumeIntegral<std::uint8_t>());
        }
        break;
      }
      case 3:
      case 4: {
        if (model.empty()) break;
        ModelBlock b = model.take(in.ConsumeIntegralInRange<std::size_t>(0, model.count() - 1));
        if (tracing()) std::fprintf(stderr, "deallocate(%p, %zu, %zu)\n", static_cast<void*>(b.p), b.size, b.align);
        pool.deallocate(b.p, b.size, b.align);
        break;
      }
      case 5:
        model.verify_all();
        if (!pool.check()) fail("check() failed");
        break;
      default:
        if (tracing()) std::fprintf(stderr, "extra op %d\n", op);
        extra(op, in, model);
    }
  }
  model.verify_all();
  if (!pool.check()) fail("check() failed at the end");
  for (std::size_t i = model.count(); i-- > 0;) {
    ModelBlock b = model.take(i);
    pool.deallocate(b.p, b.size, b.align);
  }
  if (kFreeReturnsBlocks<Pool> && pool.stats().live_blocks != 0) fail("blocks left after freeing all");
}

}  // namespace poolkit::fuzz
