/* memory_source_c_test.c: the *_create_in calls of poolkit.h (pools on the caller's
 * buffer) and poolkit_last_error, used from plain C. Exits non-zero on failure. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

static alignas(4096) unsigned char memory[256 * 1024];

static int inside(const void* p, size_t n) {
  const unsigned char* x = p;
  return x >= memory && x + n <= memory + sizeof memory;
}

static int says(const char* part) { return strstr(poolkit_last_error(), part) != NULL; }

static void heap_in_buffer(void) {
  poolkit_heap* heap = poolkit_heap_create_in(memory, 64 * 1024, NULL);
  CHECK(heap != NULL && inside(heap, 1));
  size_t n = 0;
  void* p;
  while ((p = poolkit_heap_alloc(heap, 1000)) != NULL) {
    CHECK(inside(p, 1000));
    ++n;
  }
  CHECK(n > 30 && errno == ENOMEM);
  CHECK(poolkit_heap_check(heap) == 0);
  poolkit_heap_destroy(heap);
}

static void fixed_pool_in_buffer(void) {
  poolkit_fixed_pool_options options = {.chunk_size = 64, .chunk_align = 64};
  poolkit_fixed_pool* pool = poolkit_fixed_pool_create_in(memory, 8192, &options);
  CHECK(pool != NULL);
  size_t n = 0;
  void* p;
  while ((p = poolkit_fixed_pool_alloc(pool)) != NULL) {
    CHECK(inside(p, 64) && (uintptr_t)p % 64 == 0);
    ++n;
  }
  CHECK(n > 100 && n < 8192 / 64);
  poolkit_fixed_pool_destroy(pool);
}

static void buddy_in_buffer(void) {
  poolkit_buddy_pool* pool = poolkit_buddy_create_in(memory, 100 * 1024, 4);
  CHECK(pool != NULL);
  void* p = poolkit_buddy_alloc(pool, 30000, 0);
  CHECK(p != NULL && inside(p, 30000));
  poolkit_stats stats;
  CHECK(poolkit_buddy_stats(pool, &stats) == 0 && stats.largest_free == 32768);
  poolkit_buddy_destroy(pool);
}

static void pool_set_in_buffer(void) {
  poolkit_pool_set* set = poolkit_pool_set_create_in(memory, 64 * 1024, NULL);
  CHECK(set != NULL);
  void* a = poolkit_pool_set_alloc(set, 1, 100);
  void* b = poolkit_pool_set_alloc(set, 2, 100);
  CHECK(inside(a, 100) && inside(b, 100));
  poolkit_pool_set_release_pool(set, 1);
  poolkit_stats stats;
  CHECK(poolkit_pool_set_pool_stats(set, 2, &stats) == 0 && stats.live_blocks == 1);
  poolkit_pool_set_destroy(set);
}

static void misuse(void) {
  errno = 0;
  CHECK(poolkit_heap_create_in(NULL, 4096, NULL) == NULL && errno == EINVAL);
  CHECK(says("poolkit_heap_create_in: the buffer is null"));
  errno = 0;
  CHECK(poolkit_heap_create_in(memory + 8, 64 * 1024, NULL) == NULL && errno == EINVAL);
  CHECK(says("poolkit_heap_create_in: the buffer at 0x") && says("is not aligned to 16 bytes"));
  errno = 0;
  CHECK(poolkit_heap_create_in(memory, 100, NULL) == NULL && errno == EINVAL);
  CHECK(says("poolkit_heap_create_in: the buffer of 100 bytes is too small"));
  errno = 0;
  CHECK(poolkit_buddy_create_in(memory, 4096, 2) == NULL && errno == EINVAL);
  CHECK(says("poolkit_buddy_create_in: BuddyPool: min_order is outside [4, 40]"));
  poolkit_fixed_pool_options bad = {.chunk_size = 0};
  CHECK(poolkit_fixed_pool_create_in(memory, 4096, &bad) == NULL && errno == EINVAL);
  CHECK(says("poolkit_fixed_pool_create_in: FixedPool: chunk_size is 0"));

  /* Overlap: a second pool on a live pool's buffer is refused, naming it. */
  poolkit_heap* heap = poolkit_heap_create_in(memory, 64 * 1024, NULL);
  CHECK(heap != NULL);
  poolkit_fixed_pool_options options = {.chunk_size = 32};
  errno = 0;
  CHECK(poolkit_fixed_pool_create_in(memory + 32 * 1024, 64 * 1024, &options) == NULL && errno == EINVAL);
  CHECK(says("overlaps the buffer") && says("of a live Heap"));
  poolkit_heap_destroy(heap);
  poolkit_fixed_pool* pool = poolkit_fixed_pool_create_in(memory + 32 * 1024, 64 * 1024, &options);
  CHECK(pool != NULL);  /* the heap's buffer is free again */
  poolkit_fixed_pool_destroy(pool);
  if (failures) fprintf(stderr, "last error: %s\n", poolkit_last_error());
}

int main(void) {
  CHECK(strcmp(poolkit_last_error(), "") == 0);
  heap_in_buffer();
  fixed_pool_in_buffer();
  buddy_in_buffer();
  pool_set_in_buffer();
  misuse();
  return failures ? 1 : 0;
}
