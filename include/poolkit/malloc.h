/* poolkit/malloc.h: the drop-in malloc (libpoolkit-malloc) for programs linked with it.
 * Preloaded or linked, it replaces malloc, free and the rest of the family; this header
 * adds its own statistics, a heap check, and poolkit_-prefixed entry points that work
 * in every build (also where malloc is not replaced, e.g. under sanitizers).
 * See docs/malloc.md for the design, the options (POOLKIT_STATS, POOLKIT_CHECK, ...)
 * and what happens on bad input. */
#ifndef POOLKIT_MALLOC_H
#define POOLKIT_MALLOC_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
#define POOLKIT_MALLOC_NOTHROW noexcept
extern "C" {
#else
#define POOLKIT_MALLOC_NOTHROW
#endif

/* The summary POOLKIT_STATS=1 prints at exit, now, to out. */
void poolkit_malloc_stats_print(FILE* out) POOLKIT_MALLOC_NOTHROW;

/* Walks the calling thread's heap (and the segments it owns) and checks every
 * invariant: free lists inside their pages, counts, slice maps, guard bytes under
 * POOLKIT_CHECK. Returns the number of problems found (0: all good), each reported
 * on stderr. */
int poolkit_malloc_check(void) POOLKIT_MALLOC_NOTHROW;

/* Numbers for tests and tools, read at any time. */
typedef struct poolkit_malloc_info {
  size_t page_bytes;      /* bytes of pages holding blocks */
  size_t huge_bytes;      /* bytes mapped for blocks above the mmap threshold */
  size_t huge_blocks;
  size_t segments;        /* 4 MiB segments mapped */
  size_t mapped_bytes;    /* everything mapped from the OS, now */
  size_t peak_mapped_bytes;
  size_t abandoned_segments; /* segments of exited threads still holding blocks */
  size_t heaps;           /* heap structs ever made (reused by new threads) */
  size_t rss_bytes;       /* resident set of the process, now */
  size_t mmap_threshold;  /* requests above it are mmapped */
  int check_level;        /* POOLKIT_CHECK */
} poolkit_malloc_info;
void poolkit_malloc_get_info(poolkit_malloc_info* info) POOLKIT_MALLOC_NOTHROW;

/* Non-zero if p is a block of this allocator (or inside one). */
int poolkit_malloc_owns(const void* p) POOLKIT_MALLOC_NOTHROW;

/* The allocator under its own names. */
void* poolkit_malloc(size_t size) POOLKIT_MALLOC_NOTHROW;
void poolkit_free(void* p) POOLKIT_MALLOC_NOTHROW;
void* poolkit_calloc(size_t n, size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_realloc(void* p, size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_reallocarray(void* p, size_t n, size_t size) POOLKIT_MALLOC_NOTHROW;
int poolkit_posix_memalign(void** out, size_t alignment, size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_aligned_alloc(size_t alignment, size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_memalign(size_t alignment, size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_valloc(size_t size) POOLKIT_MALLOC_NOTHROW;
void* poolkit_pvalloc(size_t size) POOLKIT_MALLOC_NOTHROW;
size_t poolkit_malloc_usable_size(const void* p) POOLKIT_MALLOC_NOTHROW;
int poolkit_malloc_trim(size_t pad) POOLKIT_MALLOC_NOTHROW;

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_MALLOC_H */
