/* poolkit/compat/seed004.h: the numbered-pool API of seed 004, on poolkit.
 * For programs written against that course API: link poolkit_seed004 (and poolkit)
 * and they build unchanged, whether they include this header or declare the three
 * functions themselves. New code should use PoolSet or poolkit_pool_set_* instead.
 *
 * Behaviour (see docs/seeds.md, seed 004): blocks are 16-aligned; size 0 gives a
 * unique block; a negative size returns NULL with errno = EINVAL, an unmeetable one
 * NULL with ENOMEM; any int is a valid pool number; deallocate(NULL) does nothing and
 * a pointer that is not a live block (double free, foreign, interior) is ignored;
 * deallocate_pool frees that pool's blocks only, in time proportional to them.
 * All three are thread-safe (one process-wide lock). */
#ifndef POOLKIT_COMPAT_SEED004_H
#define POOLKIT_COMPAT_SEED004_H

#ifdef __cplusplus
extern "C" {
#endif

void* allocate(int pool, int size);
void deallocate(void* ptr);
void deallocate_pool(int pool);

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_COMPAT_SEED004_H */
