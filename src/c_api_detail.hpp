// c_api_detail.hpp (private): what every C API source file shares: turning a
// PoolStats into poolkit_stats and checking arguments the same way everywhere.
#pragma once

#include <cerrno>

#include "poolkit/align.hpp"
#include "poolkit/detail/buffer_claim.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/poolkit.h"

namespace poolkit::c_api {

inline poolkit_stats to_c(const PoolStats& s) noexcept {
  return poolkit_stats{s.bytes_requested, s.bytes_in_use, s.peak_in_use, s.bytes_free,
                       s.largest_free,    s.bytes_reserved, s.live_blocks, s.allocations,
                       s.deallocations,   s.failures,       s.regions,
                       s.fixed_size_blocks ? 1 : 0, s.calls_counted ? 1 : 0};
}

inline PoolStats from_c(const poolkit_stats& s) noexcept {
  PoolStats out;
  out.bytes_requested = s.bytes_requested;
  out.bytes_in_use = s.bytes_in_use;
  out.peak_in_use = s.peak_in_use;
  out.bytes_free = s.bytes_free;
  out.largest_free = s.largest_free;
  out.bytes_reserved = s.bytes_reserved;
  out.live_blocks = s.live_blocks;
  out.allocations = s.allocations;
  out.deallocations = s.deallocations;
  out.failures = s.failures;
  out.regions = s.regions;
  out.fixed_size_blocks = s.fixed_size_blocks != 0;
  out.calls_counted = s.calls_counted != 0;
  return out;
}

/// Sets errno and returns nullptr: `return fail(EINVAL);`
inline void* fail(int error) noexcept {
  errno = error;
  return nullptr;
}

/// Records why a create call failed, for poolkit_last_error() (this thread's), sets
/// errno and returns nullptr: `return fail_because(EINVAL, "poolkit_heap_create_in", why);`
void* fail_because(int error, const char* function, const char* why) noexcept;

/// A caller's buffer split for a *_create_in call: the handle (the C++ pool object)
/// at its start, the pool's region after it, aligned to region_align.
struct BufferSplit {
  void* region;
  std::size_t region_size;
  detail::BufferClaim handle;  // the handle's bytes, claimed before anything is written there
};
/// False (errno EINVAL and poolkit_last_error() set, naming `function`) for a null
/// buffer, one not aligned to region_align (which covers the handle's alignment), one
/// without room for the handle and a region, or one whose handle bytes overlap a live
/// pool's buffer (so the handle is never written over another pool's memory).
bool split_buffer(const char* function, void* buffer, std::size_t size, std::size_t handle_size,
                  std::size_t region_align, BufferSplit* out) noexcept;

/// EINVAL unless align is 0 (meaning the default) or a valid pool alignment.
inline bool alignment_ok(std::size_t align) noexcept {
  return align == 0 || is_valid_alignment(align);
}

}  // namespace poolkit::c_api
