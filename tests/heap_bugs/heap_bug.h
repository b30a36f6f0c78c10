/* heap_bug.h: what every heap-bug program shares (tests/heap_bugs/, see README.md).
 * Each program commits one heap bug, chosen by its arguments, between two markers
 * on stderr ("heap-bug: begin" and "heap-bug: done"), then keeps using the heap of
 * the same size and prints "heap-bug: end". run_case.sh reads the markers to tell a
 * fault at the bad access itself from a crash later on, and "end" from a miss. */
#ifndef POOLKIT_TESTS_HEAP_BUG_H
#define POOLKIT_TESTS_HEAP_BUG_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void heap_bug_mark(const char* text) {
  /* write(2), not stdio: the marker must be out before a fault, with no buffer. */
  size_t n = strlen(text);
  if (write(2, text, n) != (ssize_t)n) abort();
}

/* Hides a pointer's origin from the compiler, so that it neither warns about the
 * bug nor optimises the bad access away. */
static inline void* heap_bug_opaque(void* p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

static inline void heap_bug_begin(void) { heap_bug_mark("heap-bug: begin\n"); }
static inline void heap_bug_done(void) { heap_bug_mark("heap-bug: done\n"); }

/* After the bug: more blocks of the same size allocated, written and freed, as a
 * program would go on: enough of them (up to 4096 blocks or 4 MiB) that a damaged
 * free list or a stale block of the size class is reached; then the end marker. */
#define HEAP_BUG_MAX_BLOCKS 4096
static inline int heap_bug_finish(size_t size) {
  static void* blocks[HEAP_BUG_MAX_BLOCKS];
  size_t count = size > 0 ? ((size_t)4 << 20) / size : HEAP_BUG_MAX_BLOCKS;
  if (count > HEAP_BUG_MAX_BLOCKS) count = HEAP_BUG_MAX_BLOCKS;
  if (count < 16) count = 16;
  for (size_t i = 0; i < count; ++i) {
    blocks[i] = malloc(size);
    if (blocks[i] != NULL && size > 0) memset(blocks[i], 'c', size < 64 ? size : 64);
  }
  for (size_t i = 0; i < count; ++i) free(blocks[i]);
  heap_bug_mark("heap-bug: end\n");
  return 0;
}

static inline size_t heap_bug_size(const char* text) {
  char* end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0 || v > (1ull << 30)) {
    fprintf(stderr, "heap-bug: bad size '%s' (bytes, 1..2^30)\n", text);
    exit(2);
  }
  return (size_t)v;
}

static inline int heap_bug_usage(const char* usage) {
  fprintf(stderr, "usage: %s\n", usage);
  return 2;
}

#endif /* POOLKIT_TESTS_HEAP_BUG_H */
