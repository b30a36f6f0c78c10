/* consumer.c: uses an installed poolkit through pkg-config --cflags --libs poolkit. */
#include <poolkit/poolkit.h>
#include <stdio.h>

int main(void) {
  poolkit_fixed_pool_options options = {.chunk_size = 16};
  poolkit_fixed_pool* pool = poolkit_fixed_pool_create(&options);
  poolkit_arena* arena = poolkit_arena_create(NULL);
  if (!pool || !arena) return 1;
  int* n = poolkit_fixed_pool_alloc(pool);
  char* s = poolkit_arena_alloc(arena, 16, 1);
  if (!n || !s) return 1;
  *n = 42;
  snprintf(s, 16, "answer %d", *n);
  printf("C consumer: %s, from the installed tree\n", s);
  poolkit_arena_destroy(arena);
  poolkit_fixed_pool_destroy(pool);
  return 0;
}
