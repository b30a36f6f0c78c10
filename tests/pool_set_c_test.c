/* pool_set_c_test.c: the "pool sets" section of poolkit.h, used from plain C. Exits non-zero on failure. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

int main(void) {
  poolkit_pool_set* set = poolkit_pool_set_create(NULL);
  CHECK(set != NULL);

  char* ones[50];
  char* twos[50];
  for (int i = 0; i < 50; ++i) {
    ones[i] = poolkit_pool_set_alloc(set, 1, 100);
    twos[i] = poolkit_pool_set_alloc(set, 2, 32 + i);
    CHECK(ones[i] && twos[i]);
    memset(ones[i], i, 100);
  }
  void* aligned = poolkit_pool_set_aligned_alloc(set, 3, 1024, 10);
  CHECK(aligned && ((uintptr_t)aligned % 1024) == 0);
  errno = 0;
  CHECK(poolkit_pool_set_aligned_alloc(set, 3, 3, 10) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(poolkit_pool_set_alloc(set, 3, SIZE_MAX) == NULL && errno == ENOMEM);

  poolkit_stats s;
  CHECK(poolkit_pool_set_pool_stats(set, 2, &s) == 0 && s.live_blocks == 50);

  /* Free one block without naming its pool, then all of pool 2 at once. */
  poolkit_pool_set_free(set, twos[0]);
  poolkit_pool_set_release_pool(set, 2);
  CHECK(poolkit_pool_set_pool_stats(set, 2, &s) == 0 && s.live_blocks == 0);
  CHECK(poolkit_pool_set_pool_stats(set, 1, &s) == 0 && s.live_blocks == 50 && s.bytes_requested == 5000);
  for (int i = 0; i < 50; ++i) CHECK(ones[i][0] == (char)i && ones[i][99] == (char)i);

  /* Bad frees: double free, interior, NULL. */
  errno = 0;
  poolkit_pool_set_free(set, twos[1]);
  CHECK(errno == EINVAL);
  errno = 0;
  poolkit_pool_set_free(set, ones[0] + 8);
  CHECK(errno == EINVAL);
  poolkit_pool_set_free(set, NULL);

  CHECK(poolkit_pool_set_stats(set, &s) == 0 && s.live_blocks == 51);
  poolkit_stats_print(&s, "C pool set", stdout);
  poolkit_pool_set_release_all(set);
  CHECK(poolkit_pool_set_stats(set, &s) == 0 && s.live_blocks == 0);
  CHECK(poolkit_pool_set_stats(NULL, &s) == -1 && errno == EINVAL);
  poolkit_pool_set_destroy(set);

  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
