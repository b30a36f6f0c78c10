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

/* ---- buddy pools ---- */
/* A binary buddy allocator (BuddyPool, buddy_pool.hpp): one region of
 * 2^max_order bytes, blocks of 2^k bytes for min_order <= k <= max_order, each
 * aligned to its size. Orders: 4 <= min_order <= max_order <= 40 and
 * max_order - min_order <= 28; anything else is EINVAL. */
typedef struct poolkit_buddy_pool poolkit_buddy_pool;

/* NULL + EINVAL for bad orders, NULL + ENOMEM when the region cannot be mapped. */
poolkit_buddy_pool* poolkit_buddy_create(unsigned min_order, unsigned max_order);
/* Returns the region to the OS; every block is gone. NULL does nothing. */
void poolkit_buddy_destroy(poolkit_buddy_pool* pool);
/* A block of the smallest power of two >= size, align and 2^min_order; align 0
 * means 16. NULL + EINVAL (NULL pool, bad align) or ENOMEM (no block that big). */
void* poolkit_buddy_alloc(poolkit_buddy_pool* pool, size_t size, size_t align);
/* size: the size asked for (keeps bytes_requested right; the block's order comes
 * from the pool's side table). NULL p does nothing; a double, foreign or interior
 * free does nothing to the pool and sets errno to EINVAL. */
void poolkit_buddy_free(poolkit_buddy_pool* pool, void* p, size_t size);
/* Frees every block at once: the region is one free block again. */
void poolkit_buddy_reset(poolkit_buddy_pool* pool);
/* 0 and *out filled, or -1 + EINVAL for NULL arguments. */
int poolkit_buddy_stats(const poolkit_buddy_pool* pool, poolkit_stats* out);


/* ---- pool sets ---- */

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_H */
