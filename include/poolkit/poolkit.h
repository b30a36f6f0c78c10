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
/* Everything declared here is the exported C API of libpoolkit.so (the library is
 * built with hidden visibility; abi/libpoolkit.symbols lists the exports). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
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
  int fixed_size_blocks; /* nonzero: every free piece is one size (fixed pools): no external fragmentation */
  int calls_counted;     /* 0: allocations and deallocations not counted (unchecked fixed pools, the default of an NDEBUG libpoolkit) */
} poolkit_stats;

/* Writes stats as a readable block headed by name. */
void poolkit_stats_print(const poolkit_stats* stats, const char* name, FILE* out);

/* Pools on the caller's memory: each *_create_in(buffer, size, ...) puts the pool's
 * handle at the start of the buffer and the pool's region after it, and the pool
 * never takes memory from anywhere else (no malloc, no system call): alloc returns
 * NULL + ENOMEM when the buffer is used up. destroy leaves the buffer to the caller.
 * A NULL, misaligned (see each call), too small or overlapping buffer (one a live
 * pool holds) gives NULL + EINVAL; poolkit_last_error() then says which. See
 * docs/memory_source.md. */
/* Why the last failed *_create_in call of this thread failed, as one line naming the
 * call and the problem ("" if none failed yet). Valid until the next failure. */
const char* poolkit_last_error(void);

/* ---- fixed-size pools ---- */

/* A pool of chunks of one size (FixedPool): alloc and free are a few instructions. */
typedef struct poolkit_fixed_pool poolkit_fixed_pool;

typedef struct poolkit_fixed_pool_options {
  size_t chunk_size;         /* bytes per chunk, > 0 (raised to a pointer, rounded to chunk_align) */
  size_t chunk_align;        /* power of two up to 4096; 0: 16 */
  size_t fixed_capacity;     /* > 0: exactly this many chunks, reserved now; the pool never grows */
  size_t first_block_chunks; /* growing pools: chunks in the first block; 0: 64 KiB worth */
  size_t max_block_chunks;   /* blocks stop growing here; 0: 4 MiB worth */
  size_t growth_factor;      /* each block this many times the last; 0: 2 */
} poolkit_fixed_pool_options;

/* NULL + EINVAL for NULL options, chunk_size 0 or a bad alignment; NULL + ENOMEM
 * when a size overflows or the fixed capacity cannot be reserved. */
poolkit_fixed_pool* poolkit_fixed_pool_create(const poolkit_fixed_pool_options* options);
/* On the caller's buffer (aligned to chunk_align and to 16): as many chunks as fit
 * after the handle, or exactly fixed_capacity. */
poolkit_fixed_pool* poolkit_fixed_pool_create_in(void* buffer, size_t size, const poolkit_fixed_pool_options* options);
/* Returns all memory; live chunks become invalid. NULL does nothing. */
void poolkit_fixed_pool_destroy(poolkit_fixed_pool* pool);
/* One chunk (chunk_size bytes, chunk_align aligned). NULL + ENOMEM when exhausted, EINVAL for NULL pool. */
void* poolkit_fixed_pool_alloc(poolkit_fixed_pool* pool);
/* Returns a chunk. NULL p does nothing; NULL pool sets EINVAL. A pointer from
 * elsewhere or a double free is ignored in debug builds and undefined otherwise. */
void poolkit_fixed_pool_free(poolkit_fixed_pool* pool, void* p);
/* Frees every chunk at once; the pool keeps its memory. */
void poolkit_fixed_pool_reset(poolkit_fixed_pool* pool);
/* 0, or -1 + EINVAL for a NULL argument. */
int poolkit_fixed_pool_stats(const poolkit_fixed_pool* pool, poolkit_stats* out);
/* Prints the pool's heap map to out: one character per cell, by how full it is
 * (poolkit/heapmap.hpp has the legend). 0, or -1 + EINVAL for NULL arguments. */
int poolkit_fixed_pool_print_heapmap(const poolkit_fixed_pool* pool, FILE* out);
/* Usable bytes per chunk (0 + EINVAL for NULL). */
size_t poolkit_fixed_pool_chunk_size(const poolkit_fixed_pool* pool);
/* 1 if p lies in the pool's chunks, else 0. */
int poolkit_fixed_pool_owns(const poolkit_fixed_pool* pool, const void* p);

/* ---- arenas ---- */

/* Bump allocation (Arena): alloc moves a pointer; reset or rewind frees in bulk. */
typedef struct poolkit_arena poolkit_arena;

typedef struct poolkit_arena_options {
  size_t initial_size;    /* first region in bytes; 0: 64 KiB */
  size_t growth_factor;   /* 0: 2 */
  size_t max_region_size; /* regions stop growing here; 0: 64 MiB */
  size_t max_size;        /* cap on the bytes taken from the OS; 0: none */
  int fixed;              /* non-zero: one region (or the buffer), never grows */
  void* buffer;           /* optional memory of the caller's, used first */
  size_t buffer_size;
} poolkit_arena_options;

/* A point to rewind to (treat as opaque). */
typedef struct poolkit_arena_marker {
  const void* region;
  uintptr_t top;
  size_t used_before, live, requested;
} poolkit_arena_marker;

/* NULL options: defaults. NULL + EINVAL for bad options, ENOMEM if a fixed region cannot be reserved. */
poolkit_arena* poolkit_arena_create(const poolkit_arena_options* options);
void poolkit_arena_destroy(poolkit_arena* arena);
/* size bytes aligned to align (0: 16). NULL + EINVAL for a NULL arena, size 0 or a
 * bad alignment; NULL + ENOMEM when the size overflows or memory runs out. */
void* poolkit_arena_alloc(poolkit_arena* arena, size_t size, size_t align);
/* Frees p only if it is the most recent block (size as allocated); otherwise nothing. */
void poolkit_arena_free(poolkit_arena* arena, void* p, size_t size);
/* Frees everything; keeps the first region (or the buffer) and one spare. */
void poolkit_arena_reset(poolkit_arena* arena);
poolkit_arena_marker poolkit_arena_mark(const poolkit_arena* arena);
/* Frees everything allocated after the marker: 0, or -1 + EINVAL for a stale marker or NULL arena. */
int poolkit_arena_rewind(poolkit_arena* arena, poolkit_arena_marker marker);
/* Bytes used, alignment padding included. */
size_t poolkit_arena_used(const poolkit_arena* arena);
int poolkit_arena_stats(const poolkit_arena* arena, poolkit_stats* out);

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
/* On the caller's buffer (16-aligned; the handle takes about 12 KiB of it): one region,
 * never grown. options may be NULL; its sizes and keep_empty_regions are ignored. */
poolkit_heap* poolkit_heap_create_in(void* buffer, size_t size, const poolkit_heap_options* options);
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
/* Prints the heap's heap map to out (see poolkit_fixed_pool_print_heapmap). */
int poolkit_heap_print_heapmap(const poolkit_heap* heap, FILE* out);
/* Bad pointers passed to free and resize so far. */
uint64_t poolkit_heap_bad_frees(const poolkit_heap* heap);
/* 0 if every invariant of the heap holds, -1 (with a message on stderr) if not. */
int poolkit_heap_check(const poolkit_heap* heap);

/* ---- buddy pools ---- */
/* A binary buddy allocator (BuddyPool, buddy_pool.hpp): one region of
 * 2^max_order bytes, blocks of 2^k bytes for min_order <= k <= max_order, each
 * aligned to its size. Orders: 4 <= min_order <= max_order <= 40 and
 * max_order - min_order <= 28; anything else is EINVAL. */
typedef struct poolkit_buddy_pool poolkit_buddy_pool;

/* NULL + EINVAL for bad orders, NULL + ENOMEM when the region cannot be mapped. */
poolkit_buddy_pool* poolkit_buddy_create(unsigned min_order, unsigned max_order);
/* On the caller's buffer (16-aligned): the region is the largest power of two that
 * fits after the handle together with its side table. */
poolkit_buddy_pool* poolkit_buddy_create_in(void* buffer, size_t size, unsigned min_order);
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
/* Prints the pool's heap map to out (see poolkit_fixed_pool_print_heapmap). */
int poolkit_buddy_print_heapmap(const poolkit_buddy_pool* pool, FILE* out);


/* ---- pool sets ---- */
/* Numbered pools on one heap (poolkit::PoolSet): free blocks one by one without
 * naming the pool, or a whole pool at once; see docs/pool_set.md. */
typedef struct poolkit_pool_set poolkit_pool_set;

/* options (for the heap underneath) may be NULL. */
poolkit_pool_set* poolkit_pool_set_create(const poolkit_heap_options* options);
/* On the caller's buffer (16-aligned), as poolkit_heap_create_in; the table of pool
 * ids still uses malloc, one entry per id ever used. */
poolkit_pool_set* poolkit_pool_set_create_in(void* buffer, size_t size, const poolkit_heap_options* options);
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

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_H */
