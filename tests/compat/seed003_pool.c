/* seed003_pool.c: a program written against seed 003's pool API the way the seed
 * uses it (a pool of chunks growing over several blocks, poolFree, poolFreeAll,
 * poolFreePool), with each result checked. Built twice: pooled, and with
 * DISABLE_MEMORY_POOLING (every chunk from malloc). Exits non-zero on failure. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"

/* Block counts and chunk reuse order are the pool's; with pooling off (the seed's
 * switch) every chunk is a malloc. */
#if !defined(DISABLE_MEMORY_POOLING)
#define POOLED 1
#endif

#include "../c_check.h"

typedef struct {
  float x, y, z; /* 12 bytes: the seed would hand these out at a 12-byte stride */
} vec3;

#ifdef POOLED
static uint64_t blocks_of(const pool* p) {
  poolkit_stats s;
  return poolStats(p, &s) == 0 ? s.regions : UINT64_MAX;
}
#endif

static size_t live_chunks(const pool* p) {
  poolkit_stats s;
  return poolStats(p, &s) == 0 ? s.live_blocks : SIZE_MAX;
}

/* A 12-byte chunk is rounded up to its natural alignment: chunks at a 16-byte stride. */
static void chunk_size_is_rounded_to_its_alignment(void) {
  pool p;
  CHECK(poolInitialize(&p, sizeof(vec3), 4) == 0);
  CHECK(p.chunkSize == 16); /* 12 rounded up to 8 (its lowest set bit, raised to 8) */
  CHECK(p.blockSize == 4);
  vec3* v[10];
  for (int i = 0; i < 10; ++i) {
    v[i] = poolMalloc(&p);
    CHECK(v[i] != NULL);
    CHECK((uintptr_t)v[i] % 8 == 0);
    v[i]->x = (float)i;
    v[i]->y = (float)(2 * i);
    v[i]->z = (float)(3 * i);
  }
  for (int i = 0; i < 10; ++i)
    for (int j = i + 1; j < 10; ++j) CHECK(v[i] != v[j]);
  for (int i = 0; i < 10; ++i) CHECK(v[i]->x == (float)i && v[i]->z == (float)(3 * i));
  CHECK(live_chunks(&p) == 10);
  poolFreePool(&p);
}

/* 100 chunks of 512 bytes in blocks of at least 8 chunks: the pool grows over
 * several blocks (each fills its pages, so may hold more than blockSize). */
static void grows_block_by_block(void) {
  typedef struct {
    char bytes[512];
  } record;
  pool p;
  CHECK(poolInitialize(&p, sizeof(record), 8) == 0);
  CHECK(p.chunkSize == 512);
  record* r[100];
  for (int i = 0; i < 100; ++i) {
    r[i] = poolMalloc(&p);
    CHECK(r[i] != NULL);
    memset(r[i]->bytes, i, sizeof r[i]->bytes);
  }
  for (int i = 0; i < 100; ++i) CHECK(r[i]->bytes[0] == i && r[i]->bytes[511] == i);
#ifdef POOLED
  CHECK(blocks_of(&p) >= 2);          /* it grew */
  CHECK(blocks_of(&p) <= 100 / 8 + 1); /* every block holds blockSize chunks or more */
#endif
  CHECK(live_chunks(&p) == 100);
  poolFreePool(&p);
}

/* A freed chunk is the next one handed out; poolFreeAll frees every chunk at once
 * and keeps the blocks, so the same number of chunks needs no new block. */
static void frees_and_free_all_reuse_memory(void) {
  pool p;
  CHECK(poolInitialize(&p, 64, 8) == 0);
  char* c[20];
  for (int i = 0; i < 20; ++i) {
    c[i] = poolMalloc(&p);
    CHECK(c[i] != NULL);
    memset(c[i], 'a' + i, 64);
  }
  poolFree(&p, c[7]);
  char* again = poolMalloc(&p);
#ifdef POOLED
  CHECK(again == c[7]);
#endif
  memset(again, 'Z', 64);
  CHECK(c[6][63] == 'a' + 6 && c[8][0] == 'a' + 8); /* neighbours untouched */
  poolFree(&p, NULL);                               /* nothing */
#ifdef POOLED
  const uint64_t blocks = blocks_of(&p);
#endif
  poolFreeAll(&p);
  CHECK(live_chunks(&p) == 0);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) CHECK((c[i] = poolMalloc(&p)) != NULL);
#ifdef POOLED
    CHECK(blocks_of(&p) == blocks); /* reused, not grown */
#endif
    poolFreeAll(&p);
  }
  poolFreePool(&p);
}

/* Many chunks over many blocks, freed one by one in a scattered order. */
static void many_blocks_round_trip(void) {
  enum { N = 1000 };
  static uint32_t* chunk[N];
  pool p;
  CHECK(poolInitialize(&p, sizeof(uint32_t), 16) == 0);
  CHECK(p.chunkSize == 8); /* raised to a pointer for the free list */
  for (uint32_t i = 0; i < N; ++i) {
    chunk[i] = poolMalloc(&p);
    CHECK(chunk[i] != NULL);
    *chunk[i] = i * 2654435761u;
  }
#ifdef POOLED
  CHECK(blocks_of(&p) >= 2 && blocks_of(&p) <= N / 16 + 1);
#endif
  for (uint32_t k = 0; k < N; ++k) {
    uint32_t i = (k * 7) % N; /* 7 and 1000 are coprime: every chunk once */
    CHECK(*chunk[i] == i * 2654435761u);
    poolFree(&p, chunk[i]);
  }
  CHECK(live_chunks(&p) == 0);
  poolFreePool(&p);
}

/* The seed never said no; these calls are refused and the pool stays usable. */
static void bad_calls_are_refused(void) {
  pool p;
  errno = 0;
  CHECK(poolInitialize(&p, 32, 0) == -1 && errno == EINVAL); /* blockSize 0 */
  CHECK(poolMalloc(&p) == NULL);                             /* not usable after that */
  CHECK(poolInitialize(NULL, 32, 8) == -1);
  CHECK(poolInitialize(&p, 32, 8) == 0);
  void* a = poolMalloc(&p);
  CHECK(a != NULL);
#if defined(POOLED) && !defined(NDEBUG)
  /* FixedPool checks frees in debug builds: foreign, interior, double. */
  int local = 0;
  poolFree(&p, &local);
  poolFree(&p, (char*)a + 8);
  poolFree(&p, a);
  poolFree(&p, a);
  CHECK(live_chunks(&p) == 0);
  void* x = poolMalloc(&p);
  void* y = poolMalloc(&p);
  CHECK(x != NULL && y != NULL && x != y); /* the double free did not list a twice */
  poolFree(&p, x);
  poolFree(&p, y);
#else
  poolFree(&p, a);
#endif
  poolFreePool(&p);
  CHECK(p.impl == NULL && p.chunkSize == 0);
  poolFreePool(&p);            /* a second call does nothing */
  CHECK(poolMalloc(&p) == NULL); /* nor does a pool that is gone hand out chunks */
}

int main(void) {
  chunk_size_is_rounded_to_its_alignment();
  grows_block_by_block();
  frees_and_free_all_reuse_memory();
  many_blocks_round_trip();
  bad_calls_are_refused();
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
