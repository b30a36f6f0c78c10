// c_api_detail.hpp (private): what every C API source file shares: turning a
// PoolStats into poolkit_stats, checking arguments the same way everywhere, and the
// handle of a pool that may live in a caller's buffer (create_in, destroy, heap map).
#pragma once

#include <cerrno>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <utility>

#include "poolkit/align.hpp"
#include "poolkit/heapmap.hpp"
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

/// A C handle (struct poolkit_heap, ...: each derives from this) holds the C++ pool;
/// made by *_create_in it lies at the start of the caller's buffer, its own bytes
/// claimed so that no other pool is built over them.
template <class Pool>
struct PoolHandle {
  detail::BufferClaim handle_claim;  // the handle's own bytes, when in a caller's buffer
  Pool pool;
  bool in_buffer = false;  // the handle lies at the start of the caller's buffer
};

/// The *_create_in calls: the handle at the buffer's start, the pool on the rest
/// (aligned to region_align); nullptr with errno EINVAL and poolkit_last_error() set,
/// naming `function`, when the buffer or the options are refused.
template <class Handle, class Pool = decltype(Handle::pool)>
Handle* create_in(const char* function, void* buffer, std::size_t size, std::size_t region_align,
                  const typename Pool::Options& options) noexcept {
  BufferSplit split;
  if (!split_buffer(function, buffer, size, sizeof(Handle), region_align, &split)) return nullptr;
  try {
    return new (buffer) Handle{{std::move(split.handle), Pool(split.region, split.region_size, options), true}};
  } catch (const std::invalid_argument& e) {
    return static_cast<Handle*>(fail_because(EINVAL, function, e.what()));
  }
}

/// The *_destroy calls: a handle in a caller's buffer is only destroyed (the buffer
/// stays the caller's); one from *_create is deleted.
template <class Handle>
void destroy(Handle* handle) noexcept {
  if (handle && handle->in_buffer)
    handle->~Handle();
  else
    delete handle;
}

/// The *_print_heapmap calls: -1 with errno EINVAL for a null handle or stream.
template <class Handle>
int print_heapmap(const Handle* handle, FILE* out) noexcept {
  if (!handle || !out) {
    errno = EINVAL;
    return -1;
  }
  poolkit::print_heapmap(handle->pool, out);
  return 0;
}

}  // namespace poolkit::c_api
