// poolkit/detail/boundary_tag.hpp (private to Heap): the block layout of a Heap
// region, the header word with its bits, and the footer of a free block. Every
// read or write of pool metadata goes through load_word/store_word, which open
// and close the bytes for ASan and valgrind (metadata is off limits at rest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "poolkit/detail/annotations.hpp"

namespace poolkit::detail {

// A block is addressed by its header word; the payload starts one word later and
// is 16-aligned, so block addresses are 8 mod 16 and block sizes multiples of 16.
//
//   used block                              free block
//   +--------+--------------------------+   +--------+------+------+- - - -+--------+
//   | header | payload (size - 8 bytes) |   | header | next | prev |       | footer |
//   +--------+--------------------------+   +--------+------+------+- - - -+--------+
//   ^ block  ^ 16-aligned                   ^ block                          ^ = size
//
// A used block keeps only its header (8 bytes of overhead): its last word is the
// user's. A free block also has a footer (its size, in its last word) and the two
// links of its free list. The next block's header has a "previous is free" bit, so
// a block being freed reads its left neighbour's footer only when that neighbour
// is free, and finds its right neighbour at block + size: both merges are O(1).
//
// The header word, bit by bit:
//   bit  0       this block is free
//   bit  1       the previous (left) block is free, so the word before this header is its footer
//   bit  2       the block sits in the Heap's front cache: freed by the user, but
//                still "in use" for its neighbours (never merged while cached)
//   bit  3       run bit: with slack 63, the block is a size-class run (its payload is
//                cut into slots, detail/size_class_runs.hpp); with slack below 16, the
//                header is a slot's inside a run. Never set outside runs.
//   bits 4-41    the block size in bytes (a multiple of 16; at most 4 TiB)
//   bits 42-47   slack: usable size minus the size asked for (0..63), so stats know
//                bytes_requested without storing the request
//   bits 48-63   check tag: a hash of the block's address and the heap's secret. A
//                pointer into the middle of a block (or a stale one) is caught with
//                probability 1 - 2^-16 before anything is written.
//
// Invariants (Heap::check() verifies them):
//   - the sizes of the blocks of a region sum to its span, and the last block ends
//     exactly at the region's sentinel (a header of size 0 that is never free);
//   - a free block's footer equals its size; every header's tag matches its address;
//   - each header's "previous is free" bit equals the free bit of the block before it
//     (the first block of a region has it clear);
//   - with immediate coalescing no two neighbouring blocks are both free;
//   - a block is never both free and cached; a cached block is on exactly one
//     front-cache list, the one of its size (see detail/front_cache.hpp).
struct BlockLayout {
  static constexpr std::size_t kWord = 8;
  static constexpr std::size_t kGranule = 16;          // natural alignment and size unit
  static constexpr std::size_t kHeaderSize = kWord;    // overhead of a used block
  static constexpr std::size_t kMinBlock = 32;         // header + two links + footer
  static constexpr std::size_t kMaxBlock = std::size_t{1} << 42;

  static constexpr std::uint64_t kFreeBit = 1;
  static constexpr std::uint64_t kPrevFreeBit = 2;
  static constexpr std::uint64_t kCachedBit = 4;
  static constexpr std::uint64_t kRunBit = 8;  // a run or a slot in one (detail/size_class_runs.hpp)
  static constexpr std::uint64_t kSlackField = std::uint64_t{63} << 42;
  static constexpr std::uint64_t kSizeMask = (std::uint64_t{1} << 42) - 1 - 15;
  static constexpr unsigned kSlackShift = 42;
  static constexpr std::uint64_t kSlackMax = 63;
  static constexpr unsigned kTagShift = 48;

  static std::uint64_t load_word(std::uintptr_t addr) noexcept {
    void* p = reinterpret_cast<void*>(addr);
    annotate::metadata_open(p, kWord);
    std::uint64_t w;
    std::memcpy(&w, p, kWord);
    annotate::metadata_close(p, kWord);
    return w;
  }
  // Reads a word that may belong to the user (the header candidate under an
  // untrusted pointer) and leaves the checkers' view of it exactly as it was.
  static std::uint64_t peek_word(std::uintptr_t addr) noexcept {
    void* p = reinterpret_cast<void*>(addr);
    std::uint64_t w;
#if POOLKIT_ASAN
    const bool poisoned = __asan_region_is_poisoned(p, kWord) != nullptr;
    ASAN_UNPOISON_MEMORY_REGION(p, kWord);
    std::memcpy(&w, p, kWord);
    if (poisoned) ASAN_POISON_MEMORY_REGION(p, kWord);
#elif POOLKIT_VALGRIND
    unsigned char vbits[kWord];
    const unsigned state = VALGRIND_GET_VBITS(p, vbits, kWord);  // 1: addressable, 3: not
    VALGRIND_MAKE_MEM_DEFINED(p, kWord);
    std::memcpy(&w, p, kWord);
    if (state == 1)
      VALGRIND_SET_VBITS(p, vbits, kWord);
    else
      VALGRIND_MAKE_MEM_NOACCESS(p, kWord);
#else
    std::memcpy(&w, p, kWord);
#endif
    return w;
  }
  static void store_word(std::uintptr_t addr, std::uint64_t w) noexcept {
    void* p = reinterpret_cast<void*>(addr);
    annotate::metadata_open(p, kWord);
    std::memcpy(p, &w, kWord);
    annotate::metadata_close(p, kWord);
  }

  // The tag a header at `block` must carry, for a heap with this secret.
  static std::uint64_t tag_for(std::uintptr_t block, std::uint64_t secret) noexcept {
    return ((block ^ secret) * 0x9E3779B97F4A7C15ull) >> kTagShift;
  }
  static std::uint64_t make_header(std::uintptr_t block, std::uint64_t secret, std::size_t size,
                                   std::uint64_t flags, std::size_t slack = 0) noexcept {
    return (tag_for(block, secret) << kTagShift) | (std::uint64_t{slack} << kSlackShift) |
           (std::uint64_t{size} & kSizeMask) | flags;
  }

  static std::size_t size_of(std::uint64_t h) noexcept { return static_cast<std::size_t>(h & kSizeMask); }
  static bool is_free(std::uint64_t h) noexcept { return h & kFreeBit; }
  static bool prev_is_free(std::uint64_t h) noexcept { return h & kPrevFreeBit; }
  static bool is_cached(std::uint64_t h) noexcept { return h & kCachedBit; }
  static std::size_t slack_of(std::uint64_t h) noexcept {
    return static_cast<std::size_t>((h >> kSlackShift) & kSlackMax);
  }
  static bool tag_ok(std::uintptr_t block, std::uint64_t h, std::uint64_t secret) noexcept {
    return (h >> kTagShift) == tag_for(block, secret);
  }

  static std::uintptr_t payload_of(std::uintptr_t block) noexcept { return block + kHeaderSize; }
  static std::uintptr_t block_of(std::uintptr_t payload) noexcept { return payload - kHeaderSize; }

  // Free-list links live in the first two payload words of a free block.
  static std::uintptr_t next_free(std::uintptr_t block) noexcept { return load_word(block + kWord); }
  static std::uintptr_t prev_free(std::uintptr_t block) noexcept { return load_word(block + 2 * kWord); }
  static void set_next_free(std::uintptr_t block, std::uintptr_t n) noexcept { store_word(block + kWord, n); }
  static void set_prev_free(std::uintptr_t block, std::uintptr_t p) noexcept {
    store_word(block + 2 * kWord, p);
  }

  static void write_footer(std::uintptr_t block, std::size_t size) noexcept {
    store_word(block + size - kWord, size);
  }
  // The footer of the block just before `block` (valid only when its prev-free bit is set).
  static std::size_t prev_footer(std::uintptr_t block) noexcept {
    return static_cast<std::size_t>(load_word(block - kWord));
  }
};

}  // namespace poolkit::detail
