// common/format_bytes.hpp (private): a byte count as a person reads it, "512 B",
// "1.5 KiB", "12.5 MiB", written into the caller's buffer. Shared by the library's
// stats text (poolkit::format_bytes) and the drop-in malloc's statistics, so it is
// malloc-safe: integer arithmetic and snprintf of integers only, nothing allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace poolkit::detail {

/// Writes `bytes` with the largest binary unit it reaches (B, KiB, MiB, GiB, TiB) and
/// one decimal, rounded to nearest (no decimal for plain bytes). Returns `buf`.
inline const char* format_bytes_into(char* buf, std::size_t size, std::uint64_t bytes) noexcept {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  constexpr unsigned kLast = sizeof kUnits / sizeof *kUnits - 1;
  unsigned unit = 0;
  std::uint64_t scale = 1;
  while (unit < kLast && bytes / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  if (unit == 0) {
    std::snprintf(buf, size, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
  }
  // Tenths of the unit, rounded: bytes * 10 / scale without overflowing 64 bits.
  std::uint64_t whole = bytes / scale, rest = bytes % scale;
  std::uint64_t tenths = whole * 10 + (rest * 10 + scale / 2) / scale;
  std::snprintf(buf, size, "%llu.%llu %s", static_cast<unsigned long long>(tenths / 10),
                static_cast<unsigned long long>(tenths % 10), kUnits[unit]);
  return buf;
}

}  // namespace poolkit::detail
