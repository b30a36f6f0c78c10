/* buddy_pool_c_test.c: the "buddy pools" section of poolkit.h, from plain C.
 * Exits non-zero on the first failed check. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

static void three_thousand_bytes_take_a_4096_byte_block(void) {
  poolkit_buddy_pool* pool = poolkit_buddy_create(4, 20);
  CHECK(pool != NULL);
  char* p = poolkit_buddy_alloc(pool, 3000, 0);
  CHECK(p != NULL);
  CHECK((uintptr_t)p % 4096 == 0);
  memset(p, 0x33, 3000);
  poolkit_stats s;
  CHECK(poolkit_buddy_stats(pool, &s) == 0);
  CHECK(s.bytes_requested == 3000);
  CHECK(s.bytes_in_use == 4096);
  CHECK(s.live_blocks == 1);
  poolkit_buddy_free(pool, p, 3000);
  CHECK(poolkit_buddy_stats(pool, &s) == 0);
  CHECK(s.bytes_in_use == 0 && s.largest_free == (size_t)1 << 20);
  poolkit_buddy_destroy(pool);
}

static void bad_arguments_set_errno(void) {
  errno = 0;
  CHECK(poolkit_buddy_create(3, 10) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_buddy_create(12, 10) == NULL && errno == EINVAL);
  poolkit_buddy_pool* pool = poolkit_buddy_create(4, 12);
  CHECK(pool != NULL);
  errno = 0;
  CHECK(poolkit_buddy_alloc(NULL, 16, 0) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_buddy_alloc(pool, 16, 3) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_buddy_alloc(pool, 16, 8192) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_buddy_alloc(pool, SIZE_MAX, 0) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(poolkit_buddy_alloc(pool, 4097, 0) == NULL && errno == ENOMEM);
  poolkit_stats s;
  CHECK(poolkit_buddy_stats(NULL, &s) == -1 && errno == EINVAL);
  CHECK(poolkit_buddy_stats(pool, NULL) == -1);
  poolkit_buddy_free(pool, NULL, 16); /* no-op */
  poolkit_buddy_destroy(NULL);        /* no-op */
  poolkit_buddy_destroy(pool);
}

static void bad_frees_change_nothing(void) {
  poolkit_buddy_pool* pool = poolkit_buddy_create(4, 12);
  char* a = poolkit_buddy_alloc(pool, 100, 0);
  CHECK(a != NULL);
  int local = 0;
  errno = 0;
  poolkit_buddy_free(pool, &local, sizeof local);
  CHECK(errno == EINVAL);
  errno = 0;
  poolkit_buddy_free(pool, a + 16, 16);
  CHECK(errno == EINVAL);
  poolkit_buddy_free(pool, a, 100);
  poolkit_stats s;
  poolkit_buddy_stats(pool, &s);
  CHECK(s.live_blocks == 0 && s.deallocations == 1);
  poolkit_buddy_destroy(pool);
}

static void reset_frees_every_block(void) {
  poolkit_buddy_pool* pool = poolkit_buddy_create(4, 16);
  for (int i = 1; i <= 40; ++i) CHECK(poolkit_buddy_alloc(pool, (size_t)i * 20, 0) != NULL);
  poolkit_buddy_reset(pool);
  poolkit_stats s;
  poolkit_buddy_stats(pool, &s);
  CHECK(s.live_blocks == 0 && s.bytes_in_use == 0 && s.largest_free == 65536);
  CHECK(poolkit_buddy_alloc(pool, 65536, 0) != NULL);
  poolkit_stats_print(&s, "buddy pool after reset", stdout);
  poolkit_buddy_destroy(pool);
}

int main(void) {
  three_thousand_bytes_take_a_4096_byte_block();
  bad_arguments_set_errno();
  bad_frees_change_nothing();
  reset_frees_every_block();
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
