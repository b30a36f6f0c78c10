// poolkit/pool.hpp: the pool contract as a C++20 concept. Every pool satisfies it,
// so every decorator (Guarded, Locked, PerCpu) and adapter (std::pmr, STL
// allocator) works on every pool. The contract in full, with each pool's answers:
// docs/pool_contract.md.
#pragma once

#include <concepts>
#include <cstddef>

#include "poolkit/align.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

// allocate(size, align): nullptr when exhausted or the request cannot be met (size 0
//   is allowed and returns a unique block; an alignment that is not a power of two
//   up to 4096 returns nullptr); never aborts, and the pool stays usable.
// deallocate(p, size, align): deallocate(nullptr, ...) does nothing. A pool that knows
//   a block's size from its header may ignore size.
// owns(p), one meaning for every pool, the one PerCpu and PoolResource route frees by:
//   - true for every pointer allocate returned whose block is still live;
//   - false for every address outside the memory this pool holds (another pool's
//     block, malloc's, the stack);
//   - anything else (an address inside a live block, a free chunk, a freed block,
//     unused space in the pool's memory) gets the pool's own answer, written at its
//     owns(): callers must not depend on it (Guarded<P> tells live from freed).
// release(): frees every block at once.
// stats(): a PoolStats (pool_stats.hpp).
// check(): walks the pool's structures and tests the invariants written beside its
//   data; on a violation prints which one to stderr and returns false. For tests and
//   debugging: it may be O(blocks) or more, and decorators take their lock for it.
template <class P>
concept Pool = requires(P& pool, const P& cpool, void* p, const void* cp, std::size_t n) {
  { pool.allocate(n, n) } noexcept -> std::same_as<void*>;
  { pool.deallocate(p, n, n) } noexcept;
  { cpool.owns(cp) } noexcept -> std::same_as<bool>;
  { pool.release() } noexcept;
  { cpool.stats() } noexcept -> std::same_as<PoolStats>;
  { pool.check() } noexcept -> std::same_as<bool>;
};

}  // namespace poolkit
