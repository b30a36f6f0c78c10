// common/assert.hpp (private to the library and the malloc): tiered assertions at the
// lines where an invariant can break (a list link, a boundary tag, a count, a page's
// state), as mimalloc's mi_assert_internal / mi_assert_expensive.
//
//   PK_ASSERT(cond)            level >= 1: cheap, O(1); on in Debug builds
//   PK_ASSERT_EXPENSIVE(cond)  level >= 2: may walk a list or a page; -DPOOLKIT_ASSERT_LEVEL=2
//
// The level is POOLKIT_ASSERT_LEVEL, a PRIVATE compile definition of the library's own
// targets (CMake option POOLKIT_ASSERT_LEVEL; default 1 in Debug, 0 otherwise). Public
// headers never use these macros: inline code compiled in the user's translation units
// must not change with the user's build settings (one definition rule).
//
// A failed assertion writes one line with write(2) (no stdio, no malloc: the drop-in
// malloc uses this too) and aborts.
#pragma once

#ifndef POOLKIT_ASSERT_LEVEL
#define POOLKIT_ASSERT_LEVEL 0
#endif

namespace poolkit::detail {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line,
                                   const char* function) noexcept;
}  // namespace poolkit::detail

#define PK_ASSERT_ALWAYS(cond)                                                         \
  (__builtin_expect(!!(cond), 1)                                                       \
       ? (void)0                                                                       \
       : ::poolkit::detail::assertion_failed(#cond, __FILE__, __LINE__, __func__))

#if POOLKIT_ASSERT_LEVEL >= 1
#define PK_ASSERT(cond) PK_ASSERT_ALWAYS(cond)
#else
#define PK_ASSERT(cond) ((void)0)
#endif

#if POOLKIT_ASSERT_LEVEL >= 2
#define PK_ASSERT_EXPENSIVE(cond) PK_ASSERT_ALWAYS(cond)
#else
#define PK_ASSERT_EXPENSIVE(cond) ((void)0)
#endif
