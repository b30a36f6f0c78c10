/* seed004_run.c: a program in the style of seed 004's run.c. It declares the three
 * functions itself (no poolkit header) and is linked with poolkit_seed004. It uses
 * pools 1 and 2 the way the seed does, checks what the seed only printed, and
 * exits non-zero on failure. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void *allocate(int pool, int size);
void deallocate(void *ptr);
void deallocate_pool(int pool);

#include "../c_check.h"

int main(void) {
  /* 400 bytes from pool 1, 32 and 80 from pool 2. */
  char *a1 = allocate(1, 400);
  char *a2 = allocate(2, 32);
  char *ae = allocate(2, 80);
  CHECK(a1 && a2 && ae);
  CHECK(a1 != a2 && a2 != ae && a1 != ae);
  CHECK((uintptr_t)a1 % 16 == 0 && (uintptr_t)a2 % 16 == 0 && (uintptr_t)ae % 16 == 0);
  memset(a1, 'x', 400);
  memset(a2, 'y', 32);
  memset(ae, 'z', 80);
  CHECK(a1[399] == 'x'); /* the blocks do not overlap */

  /* Release all of pool 2: pool 1 keeps its block and its bytes. */
  deallocate_pool(2);
  fprintf(stdout, "Allocations: %p %p %p\n", (void *)a1, (void *)a2, (void *)ae);
  for (int i = 0; i < 400; ++i) CHECK(a1[i] == 'x');

  /* Pool 2's memory is reused: the next 32-byte block goes where a2 was. */
  char *a4 = allocate(2, 32);
  CHECK(a4 == a2);

  /* Pool 1 still works; freeing a1 then asking again reuses it. */
  char *a3 = a1;
  deallocate(a1);
  char *a5 = allocate(1, 400);
  CHECK(a5 == a3);
  fprintf(stdout, "Allocations: %p %p %p\n", (void *)a1, (void *)a2, (void *)a3);

  /* What the seed's code got wrong, done right. */
  CHECK(allocate(1, -1) == NULL);           /* a negative size is refused */
  char *z1 = allocate(1, 0), *z2 = allocate(1, 0);
  CHECK(z1 && z2 && z1 != z2);              /* size 0: unique blocks */
  deallocate(a5);
  deallocate(a5);                           /* a double free is ignored */
  deallocate(a4 + 8);                       /* so is a pointer into a block */
  deallocate(NULL);
  char *b1 = allocate(1, 100), *b2 = allocate(1, 100);
  CHECK(b1 && b2 && b1 != b2);              /* and the pools are still sound */
  for (int i = 0; i < 10000; ++i) CHECK(allocate(7, 64) != NULL);
  deallocate_pool(7);
  deallocate_pool(1);
  deallocate_pool(2);
  deallocate_pool(12345);                   /* unknown pool: nothing happens */

  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
