// common/frame_deltas.hpp (private): one thread's table of frame sizes by return
// address, learnt from its libunwind unwinds, so that a stack with callers not seen
// before (recursion: one call site reached through ever different chains) is walked
// with a table look-up and one stack read per frame instead of a DWARF unwind.
// Used beside the call-site memo (stack_cache.hpp) by checked mode's stack depot and by
// the tracer.
//
// On x86-64 a frame k of a stack, at return address ra[k] with stack pointer sp[k]
// (the frame address of the function it called, so ra[k] is the word at sp[k] - 8),
// has its caller's stack pointer at sp[k+1] = sp[k] + delta, where delta is the
// distance from the stack pointer to the function's frame address at that point of
// the code: a constant of the code (its DWARF rule "CFA = rsp + delta"), the same at
// every call, for every function that does not move its stack pointer by a run-time
// amount (alloca, variable-length arrays, a stack realigned to more than 16 bytes).
// So walk(ra0, sp0) reads ra[k+1] at sp[k] + delta(ra[k]) - 8, frame after frame.
//
// A return address learnt twice with two deltas (such a run-time-sized frame) is
// marked variable and never walked through again (the walk fails and the caller
// unwinds); a slot so marked is not replaced. Two ways a set: two return addresses
// of one set, learnt in turn, would otherwise evict each other at every unwind, and
// every walk through either would fail. A walk uses only what a plain unwind
// (no signal frame) showed, every slot holding its return address, and reads only
// words in [sp0, stack_hi) of this thread's stack, so it never faults. What is not
// caught: a run-time-sized frame seen once, then reached with another size before it
// is learnt again; its walk reads a word of the wrong place, which either is no
// learnt return address (the walk fails) or, by chance, a stale one (a wrong caller
// in a report, never a crash). Not thread-safe: one per thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poolkit::detail {

class FrameDeltas {
 public:
  static constexpr std::size_t kSlots = 4096;  // 2048 sets of two, by return address
  static constexpr int kWalkVariable = -1;

  // Bytes of the memory init() wants (zeroed).
  static constexpr std::size_t bytes() noexcept { return kSlots * sizeof(Slot); }

  void init(void* memory, std::uintptr_t stack_hi) noexcept {
    slots_ = static_cast<Slot*>(memory);
    stack_hi_ = stack_hi;
  }
  bool ready() const noexcept { return slots_ != nullptr; }

  // Learns from a plain unwind: frames[k] at sps[k] for k < n (frames[k] the word at
  // sps[k] - 8, checked); `ended` when the unwind stopped by itself after frame n - 1
  // (not cut at a maximum), so that a walk stops there too.
  void learn(void* const* frames, const std::uintptr_t* sps, int n, bool ended) noexcept {
    for (int k = 0; k < n; ++k) {
      if (sps[k] >= stack_hi_ || word_at(sps[k] - 8) != reinterpret_cast<std::uintptr_t>(frames[k])) return;
      if (k + 1 < n) {
        if (sps[k + 1] <= sps[k] || sps[k + 1] - sps[k] > kMaxDelta) return;
        note(frames[k], static_cast<std::uint32_t>(sps[k + 1] - sps[k]));
      } else if (ended) {
        note(frames[k], kLast);
      }
    }
  }

  // Walks up to `depth` frames from the call at ra0 whose stack pointer is sp0:
  // frames[] and sps[] as capture_call_stack_sp gives them, and their count; 0 when a
  // frame's delta is not known yet (an unwind with stack pointers would teach it), or
  // kWalkVariable when a frame's size changes at run time (only a plain unwind helps).
  int walk(std::uintptr_t ra0, std::uintptr_t sp0, void** frames, std::uintptr_t* sps, int depth) const noexcept {
    std::uintptr_t ra = ra0, sp = sp0;
    if (sp0 >= stack_hi_ || word_at(sp0 - 8) != ra0) return 0;
    for (int k = 0; k < depth; ++k) {
      frames[k] = reinterpret_cast<void*>(ra);
      sps[k] = sp;
      if (k + 1 == depth) return depth;
      const Slot* set = slots_ + 2 * set_of(ra);
      const Slot* s = set[0].ra == ra ? &set[0] : set[1].ra == ra ? &set[1] : nullptr;
      if (s == nullptr) return 0;
      if (s->delta == kVariable) return kWalkVariable;
      if (s->delta == kLast) return k + 1;
      sp += s->delta;
      if (sp > stack_hi_) return 0;
      ra = word_at(sp - 8);
    }
    return depth;
  }

 private:
  // delta: the frame's size in bytes, kLast (the unwind ends after this frame) or
  // kVariable (seen with two different deltas). ra == 0: an empty slot.
  struct Slot {
    std::uintptr_t ra;
    std::uint32_t delta;
    std::uint32_t pad;
  };
  static constexpr std::uint32_t kLast = 0;
  static constexpr std::uint32_t kVariable = UINT32_MAX;
  static constexpr std::uintptr_t kMaxDelta = std::uintptr_t{1} << 24;  // 16 MiB: a bigger "frame" is no frame

  static std::size_t set_of(std::uintptr_t ra) noexcept {
    return static_cast<std::size_t>((ra * 0x9e37'79b9'7f4a'7c15ull) >> 53);  // 11 bits: kSlots / 2
  }
  static_assert(kSlots == 4096);
  static std::uintptr_t word_at(std::uintptr_t a) noexcept { return *reinterpret_cast<const std::uintptr_t*>(a); }

  // A new return address goes to way 0 of its set, what was there to way 1 (the
  // older of the two leaves), except that a variable frame is never evicted.
  void note(void* frame, std::uint32_t delta) noexcept {
    const auto ra = reinterpret_cast<std::uintptr_t>(frame);
    Slot* set = slots_ + 2 * set_of(ra);
    for (int way = 0; way < 2; ++way) {
      if (set[way].ra == ra) {
        if (set[way].delta != delta) set[way].delta = kVariable;
        return;
      }
    }
    const bool keep0 = set[0].ra != 0 && set[0].delta == kVariable;
    const bool keep1 = set[1].ra != 0 && set[1].delta == kVariable;
    if (keep0 && keep1) return;
    if (!keep0 && !keep1) set[1] = set[0];
    Slot& slot = keep0 ? set[1] : set[0];
    slot.ra = ra;
    slot.delta = delta;
  }

  Slot* slots_ = nullptr;
  std::uintptr_t stack_hi_ = 0;
};

}  // namespace poolkit::detail
