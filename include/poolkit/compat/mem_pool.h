/* mem_pool.h: seed 001's small pool API (pool_init / pool_alloc / pool_free /
 * pool_destroy, base and top addresses) running on poolkit's BuddyPool.
 * Opt-in: add include/poolkit/compat to the include path, link poolkit_mem_pool
 * (CMake: poolkit::mem_pool), and a program written for the seed builds unchanged.
 * What the seed got wrong and how this differs: docs/seeds.md.
 *
 * The pool is one block (1024 bytes unless .size says otherwise, rounded up to a
 * power of two) split into power-of-two pieces; pool_free makes a piece reusable
 * at once and merges it with its free neighbour. Every function returns 0 on
 * success and -1 on failure with errno set (EINVAL: bad argument; ENOMEM: no
 * piece big enough is free; EBUSY: pool_init on a pool already initialised). */
#ifndef POOLKIT_COMPAT_MEM_POOL_H
#define POOLKIT_COMPAT_MEM_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The bytes pool_init reserves when .size is 0 (the seed's fixed 1024). */
#define M_POOL_DEFAULT_SIZE 1024

/* Type tags for pool_alloc: the piece is aligned for the type (its natural
 * alignment). The seed's short names (i32, s, ...) are enumerators unless
 * POOLKIT_MEM_POOL_NO_SHORT_TAGS is defined before the include; a variable of
 * the same name in a function simply hides one. */
enum m_pool_type {
  M_POOL_I8, M_POOL_I16, M_POOL_I32, M_POOL_I64, /* int8_t .. int64_t */
  M_POOL_U8, M_POOL_U16, M_POOL_U32, M_POOL_U64, /* uint8_t .. uint64_t */
  M_POOL_F32, M_POOL_F64, M_POOL_LD,             /* float, double, long double */
  M_POOL_S,                                      /* char strings */
  M_POOL_PTR,                                    /* pointers */
  M_POOL_SZ,                                     /* size_t */
  M_POOL_ANY,                                    /* anything: max_align_t */
#ifndef POOLKIT_MEM_POOL_NO_SHORT_TAGS
  i8 = M_POOL_I8, i16 = M_POOL_I16, i32 = M_POOL_I32, i64 = M_POOL_I64,
  u8 = M_POOL_U8, u16 = M_POOL_U16, u32 = M_POOL_U32, u64 = M_POOL_U64,
  f32 = M_POOL_F32, f64 = M_POOL_F64, ld = M_POOL_LD,
  s = M_POOL_S, ptr = M_POOL_PTR, sz = M_POOL_SZ, any = M_POOL_ANY,
#endif
  M_POOL_TYPE_COUNT = M_POOL_ANY + 1
};

/* Zero it before pool_init (struct m_pool pool = {0};), as the seed does. */
struct m_pool {
  uintptr_t base_address; /* first byte of the pool's block (0 when not initialised) */
  uintptr_t top_address;  /* one past its last byte: top - base is the capacity */
  size_t size;            /* bytes wanted, read by pool_init: 0 means M_POOL_DEFAULT_SIZE */
  void* impl;             /* poolkit's BuddyPool; not for users */
};

/* Reserves the block. -1: EBUSY if already initialised, EINVAL for NULL or a
 * size above 2^40, ENOMEM if the memory is not there. */
int pool_init(struct m_pool* pool);

/* *out = a piece of at least size bytes aligned for type. On failure *out = NULL. */
int pool_alloc(struct m_pool* pool, void** out, size_t size, enum m_pool_type type);

/* Returns *p to the pool and sets *p = NULL. *p == NULL does nothing (returns 0).
 * A pointer this pool did not hand out (foreign, interior, already freed) is
 * refused: -1, EINVAL, *p untouched, the pool unchanged. size is the size asked for. */
int pool_free(void** p, size_t size, struct m_pool* pool);

/* Frees the block and every piece in it; zeroes the struct. NULL or an
 * uninitialised (zeroed) pool does nothing, so a second call is harmless. */
void pool_destroy(struct m_pool* pool);

#ifdef __cplusplus
}
#endif

#endif /* POOLKIT_COMPAT_MEM_POOL_H */
