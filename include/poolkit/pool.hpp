// poolkit/pool.hpp: the pool contract as a C++20 concept. Every pool satisfies it,
// so every decorator (Guarded, Locked, PerCpu) and adapter (std::pmr, STL
// allocator) works on every pool. See DESIGN.md, "The pool contract".
#pragma once

#include <concepts>
#include <cstddef>

#include "poolkit/align.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

// allocate: nullptr when exhausted or the request cannot be met (size 0 is
//   allowed and returns a unique block; bad alignment returns nullptr); never aborts.
// deallocate(nullptr, ...) does nothing.
// owns: true for any address inside a block this pool handed out and still holds.
// release: frees every block at once.
template <class P>
concept Pool = requires(P& pool, const P& cpool, void* p, const void* cp, std::size_t n) {
  { pool.allocate(n, n) } noexcept -> std::same_as<void*>;
  { pool.deallocate(p, n, n) } noexcept;
  { cpool.owns(cp) } noexcept -> std::same_as<bool>;
  { pool.release() } noexcept;
  { cpool.stats() } noexcept -> std::same_as<PoolStats>;
};

}  // namespace poolkit
