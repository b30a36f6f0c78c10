/* heap_c_test.c: the "heaps" section of poolkit.h, used from plain C. Exits non-zero on failure. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

#include "c_check.h"

int main(void) {
  poolkit_heap* heap = poolkit_heap_create(NULL);
  CHECK(heap != NULL);

  /* Blocks of any size, 16-aligned, usable at least as asked. */
  char* a = poolkit_heap_alloc(heap, 100);
  char* b = poolkit_heap_alloc(heap, 5000);
  CHECK(a && b && ((uintptr_t)a % 16) == 0 && ((uintptr_t)b % 16) == 0);
  CHECK(poolkit_heap_usable_size(heap, a) >= 100);
  memset(a, 'a', 100);
  memset(b, 'b', 5000);

  /* Aligned blocks; bad alignment is EINVAL. */
  void* c = poolkit_heap_aligned_alloc(heap, 4096, 64);
  CHECK(c && ((uintptr_t)c % 4096) == 0);
  errno = 0;
  CHECK(poolkit_heap_aligned_alloc(heap, 3, 64) == NULL && errno == EINVAL);

  /* Sizes that cannot be met are ENOMEM, never a tiny block. */
  errno = 0;
  CHECK(poolkit_heap_alloc(heap, SIZE_MAX) == NULL && errno == ENOMEM);

  /* Size 0: a unique block. */
  void* z1 = poolkit_heap_alloc(heap, 0);
  void* z2 = poolkit_heap_alloc(heap, 0);
  CHECK(z1 && z2 && z1 != z2);

  /* Resize in place: b's neighbour (c's leading gap or c) decides; a shrink always works. */
  CHECK(poolkit_heap_resize(heap, b, 1000) == b);
  CHECK(b[999] == 'b');

  /* Bad frees are counted, EINVAL, and change nothing. */
  poolkit_heap_free(heap, z1);
  errno = 0;
  poolkit_heap_free(heap, z1);
  CHECK(errno == EINVAL);
  poolkit_heap_free(heap, a + 16);
  CHECK(poolkit_heap_bad_frees(heap) == 2);
  CHECK(a[99] == 'a');
  poolkit_heap_free(heap, NULL);
  CHECK(poolkit_heap_check(heap) == 0);

  poolkit_stats s;
  CHECK(poolkit_heap_stats(heap, &s) == 0);
  CHECK(s.live_blocks == 4);
  CHECK(s.bytes_requested == 100 + 1000 + 64 + 0);
  CHECK(poolkit_heap_stats(NULL, &s) == -1 && errno == EINVAL);
  poolkit_stats_print(&s, "C heap", stdout);

  poolkit_heap_free(heap, a);
  poolkit_heap_free(heap, b);
  poolkit_heap_free(heap, c);
  poolkit_heap_reset(heap);
  CHECK(poolkit_heap_stats(heap, &s) == 0 && s.live_blocks == 0);
  CHECK(poolkit_heap_check(heap) == 0);
  poolkit_heap_destroy(heap);

  /* Options: deferred coalescing, a small first region, a cap. */
  poolkit_heap_options o = {64 * 1024, 1, 128 * 1024, 1, 1};
  heap = poolkit_heap_create(&o);
  int n = 0;
  while (poolkit_heap_alloc(heap, 10000)) ++n;
  CHECK(n >= 10 && n <= 13);
  CHECK(poolkit_heap_stats(heap, &s) == 0 && s.bytes_reserved <= 128 * 1024 && s.failures == 1);
  CHECK(poolkit_heap_check(heap) == 0);
  poolkit_heap_destroy(heap);
  poolkit_heap_destroy(NULL);

  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
