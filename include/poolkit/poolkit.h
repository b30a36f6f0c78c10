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

/* ---- pool sets ---- */

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_H */
