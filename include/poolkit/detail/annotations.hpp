// poolkit/detail/annotations.hpp: tells memory checkers what a pool does, so that
// valgrind memcheck and ASan report a use after free or an overflow inside pool
// memory the way they do for malloc. Every pool calls these; each compiles to
// nothing unless the build is for that tool (POOLKIT_VALGRIND, or ASan on).
//
// The life of pool memory, and the call for each step:
//   pool constructed              pool_created(pool)
//   region taken from the OS      region_unavailable(p, n)   nobody may touch it yet
//   block handed to the user      block_allocated(pool, p, n)
//   block returned by the user    block_freed(pool, p, n)
//   block resized in place        block_resized(pool, p, old_n, new_n)
//   pool writes its own metadata  metadata_open(p, n) ... metadata_close(p, n)
//     inside a free block (a free-list link, a boundary tag)
//   release(): all blocks freed   pool_reset(pool), then region_unavailable for the
//                                 memory (valgrind keeps a destroyed pool's chunks
//                                 addressable; only this makes old pointers invalid)
//   pool destroyed                pool_destroyed(pool)
//
// block_allocated's n should be the size the user asked for, not the rounded block:
// the slack after it then stays unaddressable and an overflow by one byte is reported
// (tests/tool_reports checks this for every pool). Decorators that keep their own
// bytes inside a block (Guarded's guards, its quarantine) close them with
// metadata_close and open them with metadata_open around their own reads and writes;
// before giving a block back to the inner pool they open all of it.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define POOLKIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLKIT_ASAN 1
#endif
#endif

#if POOLKIT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if POOLKIT_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace poolkit::annotate {

inline constexpr bool kAsan =
#if POOLKIT_ASAN
    true;
#else
    false;
#endif

inline constexpr bool kValgrind =
#if POOLKIT_VALGRIND
    true;
#else
    false;
#endif

inline void pool_created([[maybe_unused]] const void* pool) noexcept {
#if POOLKIT_VALGRIND
  VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
#endif
}

inline void pool_destroyed([[maybe_unused]] const void* pool) noexcept {
#if POOLKIT_VALGRIND
  VALGRIND_DESTROY_MEMPOOL(pool);
#endif
}

/// release(): every live block of the pool is freed at once.
inline void pool_reset([[maybe_unused]] const void* pool) noexcept {
#if POOLKIT_VALGRIND
  VALGRIND_DESTROY_MEMPOOL(pool);
  VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
#endif
}

/// Memory the pool owns but has not handed out: any access is an error.
inline void region_unavailable([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
#if POOLKIT_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
}

/// Memory given back to the OS or to an upstream allocator: no longer ours to police.
inline void region_returned([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#if POOLKIT_VALGRIND
  VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
}

inline void block_allocated([[maybe_unused]] const void* pool, [[maybe_unused]] void* p,
                            [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#if POOLKIT_VALGRIND
  VALGRIND_MEMPOOL_ALLOC(pool, p, n);
#endif
}

inline void block_freed([[maybe_unused]] const void* pool, [[maybe_unused]] void* p,
                        [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_VALGRIND
  VALGRIND_MEMPOOL_FREE(pool, p);
#endif
#if POOLKIT_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
}

/// A live block changed size in place (a resize): [p, p+old_n) becomes [p, p+new_n).
/// Valgrind must hear of it (MEMPOOL_CHANGE): it keeps each block's size from
/// block_allocated and, at block_freed, makes that whole old extent unaddressable,
/// which after a shrink would hit whatever block now lives in the split-off tail.
inline void block_resized([[maybe_unused]] const void* pool, [[maybe_unused]] void* p,
                          [[maybe_unused]] std::size_t old_n, [[maybe_unused]] std::size_t new_n) noexcept {
#if POOLKIT_VALGRIND
  VALGRIND_MEMPOOL_CHANGE(pool, p, p, new_n);
#endif
  [[maybe_unused]] auto* c = static_cast<unsigned char*>(p);
  if (new_n > old_n) {
#if POOLKIT_ASAN
    ASAN_UNPOISON_MEMORY_REGION(c + old_n, new_n - old_n);
#endif
#if POOLKIT_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(c + old_n, new_n - old_n);
#endif
  } else if (new_n < old_n) {
#if POOLKIT_ASAN
    ASAN_POISON_MEMORY_REGION(c + new_n, old_n - new_n);
#endif
#if POOLKIT_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(c + new_n, old_n - new_n);
#endif
  }
}

/// Lets the pool itself read and write [p, p+n) inside a free block.
inline void metadata_open([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#if POOLKIT_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}

/// Closes what metadata_open opened: the bytes are off limits again.
inline void metadata_close([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if POOLKIT_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
#if POOLKIT_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
}

}  // namespace poolkit::annotate
