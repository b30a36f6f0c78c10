// common/stack_cache.hpp (private): one thread's memo of call stacks by call site, so
// that a call made again from the same place with the same callers is recorded without
// unwinding. Used by the tracer (trace_preload.cpp) and checked mode's stack depot.
//
// The key is the recorded call's return address ra0 and the stack pointer at the call
// sp0 (the exported function's canonical frame address). The same ra0 and sp0 are the
// same point of the same function at the same stack depth, but not the same callers:
// f may be called from g, then from h, at the same depth. So an entry also keeps, for
// every further frame k of the stack it memoizes, where that frame's return address
// lives (sps[k] - 8 on x86-64: the call pushed it just below its callee's frame
// address) and its value; a hit reads each of those words again and compares them all.
//
// Why that is enough: a frame whose frame address is its stack pointer plus a constant
// at a given return address (every frame, except functions that move their stack
// pointer by a run-time amount: alloca, variable-length arrays) has, with the same
// return address and stack pointer, the same caller slot; so by induction from frame 0
// every slot read is the real one, and equal words are the same stack. Where a frame
// does move its stack pointer at run time, a slot read may lie inside a live frame of
// another chain and would have to hold, by chance, exactly the return address the old
// chain had there: not impossible (a stale return address left in an alloca'd buffer),
// never seen, and it would name a wrong caller, not crash. The words read are always in
// this thread's stack between sp0 and its top (checked when an entry is made: every
// slot lies in [sp0, stack_top)), so they are mapped.
//
// Only entries made from a plain unwind (no signal frame) whose every slot held its
// return address at capture time are kept. Not thread-safe: one per thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poolkit::detail {

class StackCache {
 public:
  static constexpr std::size_t kEntries = 512;  // direct-mapped
  // Mismatches of a filled entry in a row before it is captured afresh, doubled at each
  // refill: a call site reached through ever-changing callers (recursion) soon stops
  // paying for the slower capture that fills an entry.
  static constexpr std::uint32_t kRefillAfterMisses = 16;
  static constexpr std::uint32_t kMaxBackoff = 11;

  // Words needed for `depth` frames; `memory` must hold that many, zeroed.
  static constexpr std::size_t words_for(int depth) noexcept {
    return kEntries * stride(depth);
  }

  void init(std::uintptr_t* memory, int depth, std::uintptr_t stack_lo, std::uintptr_t stack_hi) noexcept {
    words_ = memory;
    depth_ = depth;
    stack_lo_ = stack_lo;
    stack_hi_ = stack_hi;
  }
  bool ready() const noexcept { return words_ != nullptr; }
  std::uintptr_t stack_hi() const noexcept { return stack_hi_; }

  enum class Lookup { kHit, kCapture, kCaptureAndFill };

  // A hit gives the memoized stack id; otherwise the caller captures the stack, with
  // stack pointers (and then calls fill) when kCaptureAndFill.
  Lookup find(std::uintptr_t ra0, std::uintptr_t sp0, std::uint32_t* id) noexcept {
    std::uintptr_t* e = entry(ra0, sp0);
    if (e[kRa0] != ra0 || e[kSp0] != sp0) {
      // A new key: remember it, capture the ordinary way; fill if it comes again.
      e[kRa0] = ra0;
      e[kSp0] = sp0;
      e[kMeta] = kPending;
      return Lookup::kCapture;
    }
    const std::uintptr_t meta = e[kMeta];
    if (meta == kPending) return Lookup::kCaptureAndFill;
    const int depth = static_cast<int>(meta >> 32 & 0xff);
    const std::uintptr_t* frame = e + kFrames;
    for (int k = 1; k < depth; ++k, frame += 2) {
      if (*reinterpret_cast<const std::uintptr_t*>(frame[0] - 8) != frame[1]) {
        const std::uint32_t misses = static_cast<std::uint32_t>(meta >> 40 & 0xffff) + 1;
        if (misses >= kRefillAfterMisses << (meta >> 56)) return Lookup::kCaptureAndFill;
        e[kMeta] = (meta & ~kMissMask) | std::uintptr_t{misses} << 40;
        return Lookup::kCapture;
      }
    }
    if (meta & kMissMask) e[kMeta] = meta & ~kMissMask;
    *id = static_cast<std::uint32_t>(meta);
    return Lookup::kHit;
  }

  // Memoizes a capture made with capture_call_stack_sp for the key (ra0, sp0): kept only
  // if it starts at that call and every return address sits in its slot, in this
  // thread's stack. Returns whether it was kept.
  bool fill(std::uintptr_t ra0, std::uintptr_t sp0, void* const* frames, const std::uintptr_t* sps, int depth,
            bool plain, std::uint32_t id) noexcept {
    std::uintptr_t* e = entry(ra0, sp0);
    std::uintptr_t backoff = 0;  // a refill of this key backs off further
    if (e[kRa0] == ra0 && e[kSp0] == sp0 && e[kMeta] != kPending) {
      backoff = e[kMeta] >> 56;
      if (backoff < kMaxBackoff) ++backoff;
    }
    e[kRa0] = ra0;
    e[kSp0] = sp0;
    e[kMeta] = kPending;
    if (!plain || id == 0 || depth < 1 || depth > depth_ || reinterpret_cast<std::uintptr_t>(frames[0]) != ra0 ||
        sps[0] != sp0 || sp0 < stack_lo_ || sp0 >= stack_hi_)
      return false;
    for (int k = 1; k < depth; ++k) {
      const std::uintptr_t ra = reinterpret_cast<std::uintptr_t>(frames[k]);
      if (sps[k] <= sps[k - 1] || sps[k] >= stack_hi_ || *reinterpret_cast<const std::uintptr_t*>(sps[k] - 8) != ra)
        return false;
    }
    std::uintptr_t* frame = e + kFrames;
    for (int k = 1; k < depth; ++k, frame += 2) {
      frame[0] = sps[k];
      frame[1] = reinterpret_cast<std::uintptr_t>(frames[k]);
    }
    e[kMeta] = std::uintptr_t{id} | std::uintptr_t(depth) << 32 | backoff << 56;
    return true;
  }

 private:
  // An entry: ra0, sp0, meta (id | depth << 32 | misses in a row << 40 | backoff << 56,
  // or kPending), then for frames 1..depth-1 the pair (sps[k], frames[k]).
  enum : std::size_t { kRa0 = 0, kSp0 = 1, kMeta = 2, kFrames = 3 };
  static constexpr std::uintptr_t kPending = ~std::uintptr_t{0};
  static constexpr std::uintptr_t kMissMask = std::uintptr_t{0xffff} << 40;
  static constexpr std::size_t stride(int depth) noexcept { return kFrames + 2 * static_cast<std::size_t>(depth); }

  std::uintptr_t* entry(std::uintptr_t ra0, std::uintptr_t sp0) noexcept {
    std::uint64_t h = (ra0 ^ (sp0 << 17) ^ (sp0 >> 4)) * 0x9e37'79b9'7f4a'7c15ull;
    return words_ + (h >> 55) * stride(depth_);  // 9 bits: kEntries
  }
  static_assert(kEntries == 512);

  std::uintptr_t* words_ = nullptr;
  int depth_ = 0;
  std::uintptr_t stack_lo_ = 0;
  std::uintptr_t stack_hi_ = 0;
};

}  // namespace poolkit::detail
