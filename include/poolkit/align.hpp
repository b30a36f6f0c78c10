// poolkit/align.hpp: alignment and size arithmetic shared by every pool.
// Every helper here is overflow-safe: a size that would wrap is reported, never
// silently turned into a small number (the classic allocator bug).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace poolkit {

/// The alignment every pool gives when none is asked for.
inline constexpr std::size_t kDefaultAlignment = alignof(std::max_align_t);

/// The largest alignment the pool contract accepts (the page size on x86-64).
inline constexpr std::size_t kMaxAlignment = 4096;

constexpr bool is_pow2(std::size_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

/// A valid alignment under the pool contract: a power of two up to kMaxAlignment.
constexpr bool is_valid_alignment(std::size_t align) noexcept {
  return is_pow2(align) && align <= kMaxAlignment;
}

constexpr bool is_aligned(std::uintptr_t x, std::size_t align) noexcept {
  return (x & (align - 1)) == 0;
}
inline bool is_aligned(const void* p, std::size_t align) noexcept {
  return is_aligned(reinterpret_cast<std::uintptr_t>(p), align);
}

/// Rounds x up to a multiple of align (a power of two). Precondition: no overflow;
/// use checked_align_up where x comes from a user.
constexpr std::uintptr_t align_up(std::uintptr_t x, std::size_t align) noexcept {
  return (x + (align - 1)) & ~static_cast<std::uintptr_t>(align - 1);
}
constexpr std::uintptr_t align_down(std::uintptr_t x, std::size_t align) noexcept {
  return x & ~static_cast<std::uintptr_t>(align - 1);
}
inline void* align_up(void* p, std::size_t align) noexcept {
  return reinterpret_cast<void*>(align_up(reinterpret_cast<std::uintptr_t>(p), align));
}

/// Rounds size up to a multiple of align; false (and *out untouched) if that wraps.
constexpr bool checked_align_up(std::size_t size, std::size_t align, std::size_t* out) noexcept {
  if (size > SIZE_MAX - (align - 1)) return false;
  *out = (size + (align - 1)) & ~(align - 1);
  return true;
}

/// a + b, false if it wraps.
constexpr bool checked_add(std::size_t a, std::size_t b, std::size_t* out) noexcept {
  return !__builtin_add_overflow(a, b, out);
}

/// a * b, false if it wraps (calloc, arrays).
constexpr bool checked_mul(std::size_t a, std::size_t b, std::size_t* out) noexcept {
  return !__builtin_mul_overflow(a, b, out);
}

/// Smallest power of two >= x (x >= 1, x <= 2^63).
constexpr std::size_t round_up_pow2(std::size_t x) noexcept { return std::bit_ceil(x); }

/// floor(log2(x)) for x >= 1.
constexpr unsigned log2_floor(std::size_t x) noexcept {
  return static_cast<unsigned>(std::bit_width(x) - 1);
}

}  // namespace poolkit
