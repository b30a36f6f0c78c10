/* arena_c_test.c: the arena C API, from C11: create (default, options, caller's
 * buffer), alloc with alignment, free of the newest block, mark/rewind, reset,
 * stats, and every bad input. Exits non-zero and says what failed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

static void test_alloc_alignment_and_stats(void) {
  poolkit_arena* arena = poolkit_arena_create(NULL);
  CHECK(arena != NULL);
  for (size_t align = 1; align <= 4096; align <<= 1) {
    char* p = poolkit_arena_alloc(arena, 10, align);
    CHECK(p != NULL && (uintptr_t)p % align == 0);
    if (p) memcpy(p, "0123456789", 10);
  }
  void* d = poolkit_arena_alloc(arena, 100, 0); /* 0: the default alignment */
  CHECK(d != NULL && (uintptr_t)d % 16 == 0);
  poolkit_stats stats;
  CHECK(poolkit_arena_stats(arena, &stats) == 0);
  CHECK(stats.live_blocks == 14);
  CHECK(stats.bytes_requested == 13 * 10 + 100);
  poolkit_arena_destroy(arena);
}

static void test_mark_rewind_free_reset(void) {
  poolkit_arena_options options = {.initial_size = 4096};
  poolkit_arena* arena = poolkit_arena_create(&options);
  CHECK(arena != NULL);
  (void)poolkit_arena_alloc(arena, 64, 8);
  poolkit_arena_marker mark = poolkit_arena_mark(arena);
  size_t used = poolkit_arena_used(arena);
  for (int i = 0; i < 200; ++i) CHECK(poolkit_arena_alloc(arena, 100, 8) != NULL);
  CHECK(poolkit_arena_rewind(arena, mark) == 0);
  CHECK(poolkit_arena_used(arena) == used);
  void* top = poolkit_arena_alloc(arena, 32, 8);
  poolkit_arena_free(arena, top, 32); /* the newest block: given back */
  CHECK(poolkit_arena_used(arena) == used);
  poolkit_arena_reset(arena);
  CHECK(poolkit_arena_used(arena) == 0);
  poolkit_arena_destroy(arena);
}

static void test_buffer_and_fixed(void) {
  static unsigned char buffer[256];
  poolkit_arena_options options = {.fixed = 1, .buffer = buffer, .buffer_size = sizeof buffer};
  poolkit_arena* arena = poolkit_arena_create(&options);
  CHECK(arena != NULL);
  int n = 0;
  errno = 0;
  while (poolkit_arena_alloc(arena, 32, 1)) ++n;
  CHECK(n == 8);
  CHECK(errno == ENOMEM);
  poolkit_arena_reset(arena);
  void* first = poolkit_arena_alloc(arena, 32, 1);
  CHECK(first != NULL);
  CHECK(first == (void*)buffer); /* back to the start of the buffer */
  poolkit_stats stats;
  poolkit_arena_stats(arena, &stats);
  poolkit_stats_print(&stats, "C arena over a buffer", stdout);
  poolkit_arena_destroy(arena);
}

static void test_bad_input(void) {
  poolkit_arena* arena = poolkit_arena_create(NULL);
  errno = 0;
  CHECK(poolkit_arena_alloc(arena, 0, 8) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_arena_alloc(arena, 8, 3) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_arena_alloc(arena, 8, 8192) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_arena_alloc(arena, SIZE_MAX, 8) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(poolkit_arena_alloc(arena, SIZE_MAX - 100, 4096) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(poolkit_arena_alloc(NULL, 8, 8) == NULL && errno == EINVAL);
  poolkit_arena_marker bogus = {.region = &bogus, .top = 12345};
  errno = 0;
  CHECK(poolkit_arena_rewind(arena, bogus) == -1 && errno == EINVAL);
  CHECK(poolkit_arena_rewind(NULL, bogus) == -1);
  int x;
  poolkit_arena_free(arena, &x, sizeof x); /* not the newest block: nothing happens */
  CHECK(poolkit_arena_alloc(arena, 8, 8) != NULL);
  poolkit_arena_options bad = {.growth_factor = 1, .initial_size = 1 << 20, .max_region_size = 4096};
  errno = 0;
  CHECK(poolkit_arena_create(&bad) == NULL && errno == EINVAL);
  poolkit_arena_options no_buffer = {.buffer_size = 100};
  errno = 0;
  CHECK(poolkit_arena_create(&no_buffer) == NULL && errno == EINVAL);
  poolkit_stats stats;
  CHECK(poolkit_arena_stats(NULL, &stats) == -1);
  poolkit_arena_reset(NULL);
  poolkit_arena_destroy(NULL);
  poolkit_arena_destroy(arena);
}

int main(void) {
  test_alloc_alignment_and_stats();
  test_mark_rewind_free_reset();
  test_buffer_and_fixed();
  test_bad_input();
  if (failures) fprintf(stderr, "arena_c_test: %d checks failed\n", failures);
  else printf("arena_c_test: all checks passed\n");
  return failures != 0;
}
