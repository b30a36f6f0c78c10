/* fixed_pool_c_test.c: the fixed-size pool C API, from C11: create, alloc, free,
 * reset, stats, destroy, and every bad input (NULL pool, zero size, bad alignment,
 * overflowing size, exhaustion). Exits non-zero and says what failed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

static void test_alloc_free_reuse(void) {
  poolkit_fixed_pool_options options = {.chunk_size = 24};
  poolkit_fixed_pool* pool = poolkit_fixed_pool_create(&options);
  CHECK(pool != NULL);
  CHECK(poolkit_fixed_pool_chunk_size(pool) == 32); /* rounded to the default alignment, 16 */
  void* a = poolkit_fixed_pool_alloc(pool);
  void* b = poolkit_fixed_pool_alloc(pool);
  CHECK(a && b && a != b);
  CHECK((uintptr_t)a % 16 == 0);
  memset(a, 0xab, 32);
  CHECK(poolkit_fixed_pool_owns(pool, a) == 1);
  CHECK(poolkit_fixed_pool_owns(pool, &options) == 0);
  poolkit_fixed_pool_free(pool, a);
  void* again = poolkit_fixed_pool_alloc(pool);
  CHECK(again != NULL);
  CHECK(again == a); /* the freed chunk comes back first */
  poolkit_fixed_pool_free(pool, NULL);
  poolkit_stats stats;
  CHECK(poolkit_fixed_pool_stats(pool, &stats) == 0);
  CHECK(stats.live_blocks == 2);
  CHECK(stats.fixed_size_blocks);
  if (stats.calls_counted) { /* debug builds; NDEBUG builds keep no call counters */
    CHECK(stats.allocations == 3);
    CHECK(stats.deallocations == 1);
  }
  poolkit_fixed_pool_reset(pool);
  CHECK(poolkit_fixed_pool_stats(pool, &stats) == 0);
  CHECK(stats.live_blocks == 0);
  poolkit_fixed_pool_destroy(pool);
}

static void test_fixed_capacity_exhaustion(void) {
  poolkit_fixed_pool_options options = {.chunk_size = 64, .chunk_align = 64, .fixed_capacity = 3};
  poolkit_fixed_pool* pool = poolkit_fixed_pool_create(&options);
  CHECK(pool != NULL);
  void* chunks[3];
  for (int i = 0; i < 3; ++i) {
    chunks[i] = poolkit_fixed_pool_alloc(pool);
    CHECK(chunks[i] != NULL && (uintptr_t)chunks[i] % 64 == 0);
  }
  errno = 0;
  CHECK(poolkit_fixed_pool_alloc(pool) == NULL);
  CHECK(errno == ENOMEM);
  poolkit_fixed_pool_free(pool, chunks[1]);
  chunks[1] = poolkit_fixed_pool_alloc(pool); /* still usable */
  CHECK(chunks[1] != NULL);
  poolkit_stats stats;
  poolkit_fixed_pool_stats(pool, &stats);
  CHECK(stats.failures == 1);
  poolkit_stats_print(&stats, "C fixed pool", stdout);
  poolkit_fixed_pool_destroy(pool);
}

static void test_bad_input(void) {
  poolkit_fixed_pool_options zero = {.chunk_size = 0};
  errno = 0;
  CHECK(poolkit_fixed_pool_create(&zero) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_fixed_pool_create(NULL) == NULL && errno == EINVAL);
  poolkit_fixed_pool_options three = {.chunk_size = 16, .chunk_align = 3};
  errno = 0;
  CHECK(poolkit_fixed_pool_create(&three) == NULL && errno == EINVAL);
  poolkit_fixed_pool_options huge_align = {.chunk_size = 16, .chunk_align = 8192};
  errno = 0;
  CHECK(poolkit_fixed_pool_create(&huge_align) == NULL && errno == EINVAL);
  poolkit_fixed_pool_options overflow = {.chunk_size = SIZE_MAX - 3};
  errno = 0;
  CHECK(poolkit_fixed_pool_create(&overflow) == NULL && errno == ENOMEM);
  poolkit_fixed_pool_options too_many = {.chunk_size = 1 << 20, .fixed_capacity = SIZE_MAX / 1024};
  errno = 0;
  CHECK(poolkit_fixed_pool_create(&too_many) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(poolkit_fixed_pool_alloc(NULL) == NULL && errno == EINVAL);
  int x;
  errno = 0;
  poolkit_fixed_pool_free(NULL, &x);
  CHECK(errno == EINVAL);
  poolkit_stats stats;
  errno = 0;
  CHECK(poolkit_fixed_pool_stats(NULL, &stats) == -1 && errno == EINVAL);
  poolkit_fixed_pool_reset(NULL);
  poolkit_fixed_pool_destroy(NULL);
  CHECK(poolkit_fixed_pool_owns(NULL, &x) == 0);
}

int main(void) {
  test_alloc_free_reuse();
  test_fixed_capacity_exhaustion();
  test_bad_input();
  if (failures) fprintf(stderr, "fixed_pool_c_test: %d checks failed\n", failures);
  else printf("fixed_pool_c_test: all checks passed\n");
  return failures != 0;
}
