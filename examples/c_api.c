/* c_api: poolkit from C: a fixed-size pool for list nodes and an arena for
 * scratch strings, with their statistics. */
#include <stdio.h>
#include <string.h>

#include "poolkit/poolkit.h"

struct node {
  struct node* next;
  int value;
};

int main(void) {
  poolkit_fixed_pool_options options = {.chunk_size = sizeof(struct node)};
  poolkit_fixed_pool* nodes = poolkit_fixed_pool_create(&options);
  if (!nodes) {
    perror("poolkit_fixed_pool_create");
    return 1;
  }
  struct node* head = NULL;
  for (int i = 0; i < 1000; ++i) {
    struct node* n = poolkit_fixed_pool_alloc(nodes);
    if (!n) return 1;
    n->value = i;
    n->next = head;
    head = n;
  }
  long sum = 0;
  for (struct node* n = head; n; n = n->next) sum += n->value;
  printf("a list of 1000 nodes from a fixed pool, sum %ld\n", sum);
  poolkit_stats stats;
  poolkit_fixed_pool_stats(nodes, &stats);
  poolkit_stats_print(&stats, "C fixed pool", stdout);
  poolkit_fixed_pool_destroy(nodes); /* every node at once */

  poolkit_arena* arena = poolkit_arena_create(NULL);
  poolkit_arena_marker mark = poolkit_arena_mark(arena);
  for (int i = 0; i < 100; ++i) {
    char* s = poolkit_arena_alloc(arena, 32, 1);
    snprintf(s, 32, "scratch string %d", i);
    if (i == 99) printf("\nthe last scratch string: \"%s\"\n", s);
  }
  poolkit_arena_stats(arena, &stats);
  poolkit_stats_print(&stats, "C arena", stdout);
  poolkit_arena_rewind(arena, mark);
  printf("after rewind: %zu bytes used\n", poolkit_arena_used(arena));
  poolkit_arena_destroy(arena);
  return 0;
}
