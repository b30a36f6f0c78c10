// malloc_test_support.hpp: what the drop-in malloc's tests share.
// PK(name) is the function under test: the C library's own name where the test
// binary is linked with the overriding archive (POOLKIT_TEST_OVERRIDE), so the
// override itself is exercised, and poolkit_<name> where a sanitizer owns malloc.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "poolkit/malloc.h"

// RUNNING_ON_VALGRIND: true under valgrind (tests that count page faults or fork skip there).
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#if POOLKIT_TEST_OVERRIDE
#include <malloc.h>
#define PK(name) ::name
#else
#define PK(name) ::poolkit_##name
#endif

namespace poolkit::test {

/// Makes a pointer escape, so that an optimizing compiler cannot drop a malloc/free
/// pair the test makes on purpose (release builds elide unused allocations).
template <class T>
inline T* escape(T* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}

inline poolkit_malloc_info malloc_info_now() {
  poolkit_malloc_info info;
  poolkit_malloc_get_info(&info);
  return info;
}

inline std::size_t rss_bytes() { return malloc_info_now().rss_bytes; }

inline std::size_t map_count() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t n = 0;
  while (std::getline(maps, line)) ++n;
  return n;
}

inline int check_level() { return malloc_info_now().check_level; }

}  // namespace poolkit::test
