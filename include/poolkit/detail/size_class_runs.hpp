// poolkit/detail/size_class_runs.hpp (private to Heap): size-class runs for the medium
// sizes (1 KiB..64 KiB). A run is one used block of the boundary-tag heap cut into
// equal slots of one size class; allocating or freeing a slot touches the slot and the
// run's few metadata words, never a neighbour's boundary tags or free-list links.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "poolkit/detail/boundary_tag.hpp"

namespace poolkit::detail {

// A run, inside a heap block whose header has the run bit and slack 63:
//
//   run block
//   +--------+-------------------------+--------------------+--------------------+- - -+------+
//   | header | metadata (6 words)      | slot 0             | slot 1             |     | tail |
//   | R, 63  | shape, free map, next,  | back|header|payload| back|header|payload|     | 8 B+ |
//   |        | prev, recent, spare     |                    |                    |     |      |
//   +--------+-------------------------+--------------------+--------------------+- - -+------+
//   ^ run (8 mod 16)                   ^ run + 56 (16-aligned), then every `stride` bytes
//
// A slot is `stride` bytes: a back word (the slot's offset from the run), a block
// header (run bit set, tag of its address, size = what a plain block for the request
// would be, slack as in a plain block, free bit when the slot is free) and the payload,
// 16-aligned. Because the header is a true block header, usable_size, requested_size,
// live_sizes and the double-free test read a slot exactly as a plain block; the run bit
// keeps it off the front cache and sends its free to the run.
//
// The run's free map (one bit per slot, at most 64 slots) says which slots are free:
// allocating takes one of the last freed slots (a short stack of indices, LIFO) or else
// the lowest free one, and writes its back word and header without reading the slot; a
// slot never handed out has no words written.
//
// Invariants (Heap::check() verifies them):
//   - stride and capacity are those of the run's class; the block is kRunOverhead +
//     capacity * stride bytes, or up to 16 more (a remainder too small to split);
//   - the free map has no bit at or above capacity and is never all ones (the last
//     free gives the run back); a slot is live iff its bit is clear, and then its back
//     word is its offset from the run, its header has the run bit, no free bit, and a
//     size that with the back word fits the stride;
//   - a run with a free slot is on its class's list of runs exactly once; a full one
//     (free map 0) is on none.

// Classes: four per power of two of the slot stride, from 1280 B to 80 KiB. Slots per
// run: about kRunBytes of slots, at least kMinRunSlots and at most kMaxRunSlots.
inline constexpr std::size_t kRunClasses = 25;
inline constexpr std::size_t kRunBytes = 128 * 1024;
inline constexpr std::size_t kMinRunSlots = 4;
inline constexpr std::size_t kMaxRunSlots = 64;  // one bit per slot in a 64-bit free map
constexpr std::size_t run_stride(std::size_t k) noexcept { return (4 + k % 4 + 1) << (8 + k / 4); }

// Looked up, not computed, on the hot paths (they would otherwise divide). magic =
// ceil(2^40 / stride): (offset * magic) >> 40 is offset / stride for every offset below
// 2^21 (the error, under offset / 2^40, stays below 1 / stride), which covers every run.
struct RunShape {
  std::uint32_t stride;
  std::uint32_t slots;
  std::uint64_t magic;
};
inline constexpr unsigned kRunMagicShift = 40;
inline constexpr std::size_t kMaxRunBytes = std::size_t{1} << 21;
struct RunShapes {
  RunShape shape[kRunClasses];
  constexpr const RunShape& operator[](std::size_t k) const noexcept { return shape[k]; }
};
constexpr RunShapes make_run_shapes() noexcept {
  RunShapes t{};
  for (std::size_t k = 0; k < kRunClasses; ++k) {
    const std::size_t stride = run_stride(k), n = kRunBytes / stride;
    t.shape[k] = {static_cast<std::uint32_t>(stride),
                  static_cast<std::uint32_t>(n < kMinRunSlots ? kMinRunSlots : n > kMaxRunSlots ? kMaxRunSlots : n),
                  ((std::uint64_t{1} << kRunMagicShift) + stride - 1) / stride};
  }
  return t;
}
inline constexpr RunShapes kRunShapes = make_run_shapes();

struct RunLayout {
  using L = BlockLayout;
  static constexpr std::size_t kMetaWords = 6;  // five used, one spare (slots start 16-aligned)
  static constexpr std::size_t kFirstSlot = L::kHeaderSize + kMetaWords * L::kWord;  // 56 from the run
  static constexpr std::size_t kRunOverhead = kFirstSlot + L::kWord;  // + 8 bytes of tail: sizes stay 0 mod 16
  static constexpr std::size_t kSlotOverhead = 2 * L::kWord;          // back word + header
  static constexpr std::uint64_t kRunSlack = L::kSlackMax;            // a run block's slack field; a slot's is < 16

  // For blocks the front cache does not take (over 1 KiB) up to a 64 KiB request.
  static constexpr std::size_t kMinNeed = 1024 + 1;  // a slot need: block size + the back word
  static constexpr std::size_t kMaxRequest = 64 * 1024;
  static constexpr std::size_t kMaxNeed = kMaxRequest + L::kGranule + L::kWord;  // block 65552, + back word
  static constexpr std::size_t kClasses = kRunClasses;

  /// The class of a slot that must hold `need` bytes (kMinNeed <= need <= kMaxNeed).
  static constexpr std::size_t class_of(std::size_t need) noexcept {
    const std::size_t m = need - 1;
    const unsigned b = static_cast<unsigned>(std::bit_width(m)) - 1;  // 10..16
    return (b - 10) * 4 + ((m >> (b - 2)) & 3);
  }
  static constexpr std::size_t stride_of(std::size_t k) noexcept { return run_stride(k); }
  static constexpr unsigned kMagicShift = kRunMagicShift;
  static constexpr std::size_t kMaxRunSize = kMaxRunBytes;
  static constexpr std::size_t slots_of(std::size_t k) noexcept { return kRunShapes[k].slots; }
  /// offset / stride_of(k) without a division, for offset < kMaxRunSize.
  static constexpr std::size_t divide(std::size_t offset, std::size_t k) noexcept {
    return static_cast<std::size_t>((offset * kRunShapes[k].magic) >> kMagicShift);
  }
  static constexpr std::size_t run_size_of(std::size_t k) noexcept {
    return kRunOverhead + slots_of(k) * stride_of(k);
  }

  // Metadata words, read and written through load_word/store_word (poisoned at rest).
  static std::uintptr_t meta(std::uintptr_t run, std::size_t i) noexcept { return run + L::kHeaderSize + i * L::kWord; }
  // Word 0: stride (bits 0-31), capacity (32-47), class (48-63): one load for all three.
  static std::uint64_t shape(std::uintptr_t run) noexcept { return L::load_word(meta(run, 0)); }
  static std::size_t stride_in(std::uint64_t w) noexcept { return w & 0xFFFFFFFFu; }
  static std::size_t capacity_in(std::uint64_t w) noexcept { return (w >> 32) & 0xFFFFu; }
  static std::size_t klass_in(std::uint64_t w) noexcept { return w >> 48; }
  static std::size_t stride(std::uintptr_t run) noexcept { return stride_in(shape(run)); }
  static std::size_t capacity(std::uintptr_t run) noexcept { return capacity_in(shape(run)); }
  static std::size_t klass(std::uintptr_t run) noexcept { return klass_in(shape(run)); }
  static void set_shape(std::uintptr_t run, std::size_t k) noexcept {
    L::store_word(meta(run, 0), (std::uint64_t{k} << 48) | (std::uint64_t{slots_of(k)} << 32) | stride_of(k));
  }
  // Word 1: the free map, bit i set = slot i is free (or was never handed out).
  static std::uint64_t free_map(std::uintptr_t run) noexcept { return L::load_word(meta(run, 1)); }
  static void set_free_map(std::uintptr_t run, std::uint64_t m) noexcept { L::store_word(meta(run, 1), m); }
  static constexpr std::uint64_t all_free(std::size_t k) noexcept {
    return slots_of(k) == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << slots_of(k)) - 1;
  }
  // Words 2 and 3: the class's list of runs with a free slot.
  static std::uintptr_t next(std::uintptr_t run) noexcept { return L::load_word(meta(run, 2)); }
  static void set_next(std::uintptr_t run, std::uintptr_t r) noexcept { L::store_word(meta(run, 2), r); }
  static std::uintptr_t prev(std::uintptr_t run) noexcept { return L::load_word(meta(run, 3)); }
  static void set_prev(std::uintptr_t run, std::uintptr_t r) noexcept { L::store_word(meta(run, 3), r); }
  // Word 4: the last freed slots, newest in the low byte, each as index + 1 (0: none),
  // up to 8; every one is free in the map. Allocation takes these first: a slot freed a
  // moment ago is likely still in the cache, where the lowest free one may be cold.
  static std::uint64_t recent(std::uintptr_t run) noexcept { return L::load_word(meta(run, 4)); }
  static void set_recent(std::uintptr_t run, std::uint64_t r) noexcept { L::store_word(meta(run, 4), r); }

  static std::uintptr_t slot_at(std::uintptr_t run, std::size_t i, std::size_t stride) noexcept {
    return run + kFirstSlot + i * stride;
  }
  // A slot's block header sits one word into the slot; the back word before it.
  static std::uintptr_t header_of_slot(std::uintptr_t slot) noexcept { return slot + L::kWord; }
  static std::uintptr_t slot_of_header(std::uintptr_t block) noexcept { return block - L::kWord; }

  static bool is_run_block(std::uint64_t h) noexcept {
    return (h & L::kRunBit) && L::slack_of(h) == kRunSlack;
  }
};

static_assert(RunLayout::class_of(RunLayout::kMinNeed) == 0);
static_assert(RunLayout::class_of(RunLayout::kMaxNeed) == RunLayout::kClasses - 1);
static_assert(RunLayout::stride_of(0) == 1280 && RunLayout::stride_of(RunLayout::kClasses - 1) == 80 * 1024);
static_assert(RunLayout::stride_of(RunLayout::class_of(RunLayout::kMaxNeed)) >= RunLayout::kMaxNeed);
// A run block starts at 8 mod 16 (a block address): its slots at 0 mod 16, their
// payloads at 0 mod 16 again, and the run's size a multiple of 16.
static_assert((BlockLayout::kHeaderSize + RunLayout::kFirstSlot) % BlockLayout::kGranule == 0);
static_assert(RunLayout::kRunOverhead % BlockLayout::kGranule == 0);
// Every need maps to the smallest class whose stride holds it. class_of grows with
// need, so it is enough that each class's range of needs, (stride_of(k-1),
// stride_of(k)], begins and ends in class k: checked at those ends (a loop over every
// need passes clang's limit on constant-evaluation steps).
constexpr bool run_classes_fit() {
  for (std::size_t k = 0; k < RunLayout::kClasses; ++k) {
    const std::size_t first = k == 0 ? RunLayout::kMinNeed : RunLayout::stride_of(k - 1) + 1;
    const std::size_t last = RunLayout::stride_of(k) < RunLayout::kMaxNeed ? RunLayout::stride_of(k) : RunLayout::kMaxNeed;
    if (first > last || RunLayout::class_of(first) != k || RunLayout::class_of(last) != k) return false;
    if (RunLayout::stride_of(k) % BlockLayout::kGranule != 0) return false;
  }
  return true;
}
static_assert(run_classes_fit());
static_assert(RunLayout::run_size_of(RunLayout::kClasses - 1) < RunLayout::kMaxRunSize);
static_assert(RunLayout::divide(RunLayout::run_size_of(RunLayout::kClasses - 1), RunLayout::kClasses - 1) ==
              RunLayout::run_size_of(RunLayout::kClasses - 1) / RunLayout::stride_of(RunLayout::kClasses - 1));

}  // namespace poolkit::detail
