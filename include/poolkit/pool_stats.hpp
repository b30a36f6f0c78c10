// poolkit/pool_stats.hpp: the statistics every pool reports through stats().
// One struct for all pools, so a person reads every pool's numbers the same way;
// to_string() prints it as one block meant to be read at a glance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace poolkit {

struct PoolStats {
  // Bytes.
  std::size_t bytes_requested = 0;  // sum of the sizes asked for, over live blocks
  std::size_t bytes_in_use = 0;     // live blocks with their overhead (headers, rounding, padding)
  std::size_t peak_in_use = 0;      // highest bytes_in_use seen
  std::size_t bytes_free = 0;       // bytes the pool holds that a later request could use
  std::size_t largest_free = 0;     // the largest single request that would succeed without growing
  std::size_t bytes_reserved = 0;   // memory taken from the OS or the upstream allocator
  // Counts.
  std::size_t live_blocks = 0;
  std::uint64_t allocations = 0;    // successful allocate() calls
  std::uint64_t deallocations = 0;  // deallocate() calls that freed a block
  std::uint64_t failures = 0;       // allocate() calls that returned nullptr
  std::uint64_t regions = 0;        // regions (blocks, chunks of pages) currently held
  // What the figures mean for this pool.
  bool fixed_size_blocks = false;  // every free piece is one block size (FixedPool): any free
                                   // piece serves any request, external fragmentation is 0
  bool calls_counted = true;       // false: allocations and deallocations were not counted
                                   // (an unchecked FixedPool: no counters on its hot path)

  /// Bytes lost inside live blocks to headers, rounding and alignment.
  std::size_t internal_waste() const noexcept {
    return bytes_in_use > bytes_requested ? bytes_in_use - bytes_requested : 0;
  }
  /// internal_waste as a share of bytes_in_use (0 when nothing is live).
  double internal_fragmentation() const noexcept {
    return bytes_in_use ? double(internal_waste()) / double(bytes_in_use) : 0.0;
  }
  /// 1 - largest free / total free: 0 when all free memory is one piece, or when every
  /// free piece is the one size the pool serves (fixed_size_blocks).
  double external_fragmentation() const noexcept {
    if (fixed_size_blocks) return 0.0;
    return bytes_free ? 1.0 - double(largest_free) / double(bytes_free) : 0.0;
  }
};

/// "12.5 KiB", "3.0 MiB": sizes as a person reads them.
std::string format_bytes(std::size_t bytes);

/// A readable block of several lines, headed by the pool's name.
std::string to_string(const PoolStats& stats, std::string_view pool_name = "pool");

/// Writes to_string(stats, name) to out.
void print_stats(const PoolStats& stats, std::string_view pool_name = "pool", std::FILE* out = stderr);

}  // namespace poolkit
