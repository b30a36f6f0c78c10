/* pool.h: seed 003's generic fixed-size pool API (poolInitialize, poolMalloc,
 * poolFree, poolFreeAll, poolFreePool) running on poolkit's FixedPool.
 * Opt-in: add include/poolkit/compat to the include path and link
 * poolkit_seed_pool (CMake: poolkit::seed_pool). What the seed got wrong and how
 * this differs: docs/seeds.md.
 *
 * A pool hands out chunks of one size from blocks of blockSize chunks each, and
 * grows one block at a time. Define DISABLE_MEMORY_POOLING before the include
 * to send every chunk to malloc/free (for valgrind or ASan); the pool still
 * remembers them, so poolFreeAll and poolFreePool free them too. */
#ifndef POOLKIT_COMPAT_POOL_H
#define POOLKIT_COMPAT_POOL_H

#include <stdint.h>

#include "poolkit/poolkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The seed calls its type `pool`, a name that clashes easily: define
 * POOLKIT_SEED_POOL_NO_TYPEDEF to get only struct poolkit_seed_pool. Programs
 * declare `pool p;` and call poolInitialize(&p, ...) first; the struct need not
 * be zeroed. Treat it as read-only. */
typedef struct poolkit_seed_pool {
  uint32_t chunkSize; /* bytes per chunk, as rounded by poolInitialize */
  uint32_t blockSize; /* chunks per block */
  void* impl;         /* poolkit's FixedPool, or the malloc'd chunks when unpooled */
  int unpooled;       /* set by poolInitialize under DISABLE_MEMORY_POOLING */
} poolkit_seed_pool;
#ifndef POOLKIT_SEED_POOL_NO_TYPEDEF
typedef poolkit_seed_pool pool;
#endif

/* Sets up a pool of chunkSize-byte chunks in blocks of blockSize chunks. The chunk
 * size is raised to a pointer and rounded up to its natural alignment (the largest
 * power of two dividing it, between 8 and 16). Takes no memory yet. Returns 0, or
 * -1 with errno EINVAL (NULL pool, blockSize 0, a rounded chunk size above
 * UINT32_MAX) or ENOMEM; then every poolMalloc returns NULL. Call it again only after poolFreePool. */
int poolkit_seed_pool_initialize(poolkit_seed_pool* p, uint32_t chunkSize, uint32_t blockSize,
                                 int unpooled);
/* One chunk, aligned for any object of chunkSize bytes; NULL (errno ENOMEM) when
 * memory runs out or the pool is not initialised; the pool stays usable. */
void* poolMalloc(poolkit_seed_pool* p);
/* Returns a chunk. NULL does nothing. A pointer not from this pool, into the middle
 * of a chunk, or freed twice in a row is refused and counted (FixedPool's checks). */
void poolFree(poolkit_seed_pool* p, void* ptr);
/* Every chunk is free again; the blocks are kept for reuse. */
void poolFreeAll(poolkit_seed_pool* p);
/* Returns every block; the struct is cleared, so a second call does nothing. */
void poolFreePool(poolkit_seed_pool* p);
/* Not in the seed: the pool's statistics (regions = blocks). 0, or -1 + EINVAL. */
int poolStats(const poolkit_seed_pool* p, poolkit_stats* out);

#ifdef DISABLE_MEMORY_POOLING
#define POOLKIT_SEED_POOL_UNPOOLED 1
#else
#define POOLKIT_SEED_POOL_UNPOOLED 0
#endif

/* The seed's poolInitialize; the pooling switch is read where the program includes this. */
static inline int poolInitialize(poolkit_seed_pool* p, uint32_t chunkSize, uint32_t blockSize) {
  return poolkit_seed_pool_initialize(p, chunkSize, blockSize, POOLKIT_SEED_POOL_UNPOOLED);
}

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_COMPAT_POOL_H */
