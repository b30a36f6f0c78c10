/* poolkit.h: the C API (C11). Every pool, created and used from C.
 * Conventions: functions return NULL (or -1) on failure and set errno
 * (EINVAL for bad arguments: NULL pool, zero size where a size is needed,
 * alignment not a power of two or above 4096; ENOMEM when the pool is exhausted
 * or a size overflows). Freeing NULL does nothing. Each pool type is opaque. */
#ifndef POOLKIT_H
#define POOLKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The statistics every pool reports (see PoolStats in pool_stats.hpp). */
typedef struct poolkit_stats {
  size_t bytes_requested; /* sum of the sizes asked for, over live blocks */
  size_t bytes_in_use;    /* live blocks with their overhead */
  size_t peak_in_use;
  size_t bytes_free;      /* bytes held that a later request could use */
  size_t largest_free;    /* the largest request that succeeds without growing */
  size_t bytes_reserved;  /* taken from the OS */
  size_t live_blocks;
  uint64_t allocations;
  uint64_t deallocations;
  uint64_t failures;
  uint64_t regions;
} poolkit_stats;

/* Writes stats as a readable block headed by name. */
void poolkit_stats_print(const poolkit_stats* stats, const char* name, FILE* out);

/* ---- fixed-size pools ---- */

/* ---- arenas ---- */

/* ---- heaps ---- */
/* A general variable-size heap (poolkit::Heap): blocks of any size, freed in any
 * order, merged with free neighbours at once; see docs/heap.md. */
typedef struct poolkit_heap poolkit_heap;

typedef struct poolkit_heap_options {
  size_t region_size;      /* the first region taken from the OS; 0: 1 MiB */
  unsigned growth;         /* each new region is this many times the last; 0: 2 */
  size_t max_bytes;        /* cap on memory taken from the OS; 0: none */
  int keep_empty_regions;  /* non-zero: keep wholly free regions instead of returning them */
  int deferred_coalescing; /* non-zero: merge free neighbours only when a search fails */
} poolkit_heap_options;

/* options may be NULL (defaults). NULL + ENOMEM if the heap itself cannot be made. */
poolkit_heap* poolkit_heap_create(const poolkit_heap_options* options);
void poolkit_heap_destroy(poolkit_heap* heap);
/* size 0 gives a unique minimum block; NULL + ENOMEM when the size cannot be met. */
void* poolkit_heap_alloc(poolkit_heap* heap, size_t size);
/* align: a power of two up to 4096, else NULL + EINVAL. */
void* poolkit_heap_aligned_alloc(poolkit_heap* heap, size_t align, size_t size);
/* NULL does nothing. A pointer that is not a live block of this heap (double free,
 * foreign, interior) is not freed: errno = EINVAL and it is counted (bad_frees). */
void poolkit_heap_free(poolkit_heap* heap, void* p);
/* Grows or shrinks the block in place and returns p, or NULL + ENOMEM (the block
 * is untouched) when the next block is not free and big enough. Never moves. */
void* poolkit_heap_resize(poolkit_heap* heap, void* p, size_t size);
/* Bytes usable at p; 0 unless p is a live block. */
size_t poolkit_heap_usable_size(const poolkit_heap* heap, const void* p);
/* Frees every block at once. */
void poolkit_heap_reset(poolkit_heap* heap);
/* 0, or -1 + EINVAL for NULL arguments. */
int poolkit_heap_stats(const poolkit_heap* heap, poolkit_stats* out);
/* Bad pointers passed to free and resize so far. */
uint64_t poolkit_heap_bad_frees(const poolkit_heap* heap);
/* 0 if every invariant of the heap holds, -1 (with a message on stderr) if not. */
int poolkit_heap_check(const poolkit_heap* heap);

/* ---- buddy pools ---- */

/* ---- pool sets ---- */
/* Numbered pools on one heap (poolkit::PoolSet): free blocks one by one without
 * naming the pool, or a whole pool at once; see docs/pool_set.md. */
typedef struct poolkit_pool_set poolkit_pool_set;

/* options (for the heap underneath) may be NULL. */
poolkit_pool_set* poolkit_pool_set_create(const poolkit_heap_options* options);
void poolkit_pool_set_destroy(poolkit_pool_set* set);
/* A block of pool `pool` (any 32-bit id); size 0 gives a unique block. */
void* poolkit_pool_set_alloc(poolkit_pool_set* set, uint32_t pool, size_t size);
void* poolkit_pool_set_aligned_alloc(poolkit_pool_set* set, uint32_t pool, size_t align, size_t size);
/* No pool id needed. NULL does nothing; a bad pointer is ignored, counted, errno = EINVAL. */
void poolkit_pool_set_free(poolkit_pool_set* set, void* p);
/* Frees every block of one pool; the other pools are untouched. */
void poolkit_pool_set_release_pool(poolkit_pool_set* set, uint32_t pool);
/* Frees every block of every pool. */
void poolkit_pool_set_release_all(poolkit_pool_set* set);
/* Stats of the whole set. 0, or -1 + EINVAL. */
int poolkit_pool_set_stats(const poolkit_pool_set* set, poolkit_stats* out);
/* Stats of one pool (zeros for a pool never used). 0, or -1 + EINVAL. */
int poolkit_pool_set_pool_stats(const poolkit_pool_set* set, uint32_t pool, poolkit_stats* out);

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_H */
