/* seed001_mem_pool.c: a program written against seed 001's mem_pool.h, the way
 * the seed's main.c uses it (a zeroed struct m_pool, pool_init, base and top
 * addresses, pool_alloc with the i32 and s tags, pool_free, pool_destroy), with
 * each result checked. Exits non-zero on the first broken promise. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem_pool.h"

#include "../c_check.h"

static int inside(const struct m_pool* pool, const void* p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  return a >= pool->base_address && a + n <= pool->top_address;
}

/* The seed example's flow: numbers, then a short string, both freed, pool destroyed. */
static void example_flow(void) {
  struct m_pool pool = {0};
  if (pool_init(&pool) == -1) {
    fprintf(stderr, "pool_init failed\n");
    ++failures;
    return;
  }
  printf("pool from %p to %p (%lu bytes)\n", (void*)pool.base_address, (void*)pool.top_address,
         (unsigned long)(pool.top_address - pool.base_address));
  CHECK(pool.top_address - pool.base_address == M_POOL_DEFAULT_SIZE);

  int* squares = NULL;
  CHECK(pool_alloc(&pool, (void**)&squares, 6 * sizeof(int), i32) == 0);
  CHECK(squares != NULL && inside(&pool, squares, 6 * sizeof(int)));
  CHECK((uintptr_t)squares % sizeof(int) == 0);
  for (int i = 0; i < 6; i++) squares[i] = i * i;

  char* word = NULL;
  CHECK(pool_alloc(&pool, (void**)&word, 6, s) == 0);
  CHECK(word != NULL && inside(&pool, word, 6));
  CHECK(word + 6 <= (char*)squares || (char*)(squares + 6) <= word); /* no overlap */
  memcpy(word, "buddy", 6);
  printf("squares at %p, \"%s\" at %p\n", (void*)squares, word, (void*)word);
  for (int i = 0; i < 6; i++) CHECK(squares[i] == i * i);
  CHECK(strcmp(word, "buddy") == 0);

  CHECK(pool_free((void**)&word, 6, &pool) == 0);
  CHECK(word == NULL); /* pool_free clears the caller's pointer */
  CHECK(pool_free((void**)&squares, 6 * sizeof(int), &pool) == 0);
  CHECK(squares == NULL);

  /* Everything freed merges back: the whole block is one piece again. */
  void* whole = NULL;
  CHECK(pool_alloc(&pool, &whole, M_POOL_DEFAULT_SIZE, any) == 0);
  CHECK((uintptr_t)whole == pool.base_address);
  void* more = (void*)1;
  errno = 0;
  CHECK(pool_alloc(&pool, &more, 1, i8) == -1 && errno == ENOMEM && more == NULL);
  CHECK(pool_free(&whole, M_POOL_DEFAULT_SIZE, &pool) == 0);

  pool_destroy(&pool);
  CHECK(pool.base_address == 0 && pool.top_address == 0);
  pool_destroy(&pool); /* harmless */
}

/* pool_free makes memory reusable: many rounds through a 1 KiB pool never run dry. */
static void freed_pieces_are_reused(void) {
  struct m_pool pool = {0};
  CHECK(pool_init(&pool) == 0);
  for (int round = 0; round < 200; ++round) {
    double* pieces[16];
    for (int i = 0; i < 16; ++i) {
      CHECK(pool_alloc(&pool, (void**)&pieces[i], 5 * sizeof(double), f64) == 0);
      CHECK((uintptr_t)pieces[i] % _Alignof(double) == 0);
      for (int j = 0; j < 5; ++j) pieces[i][j] = round + i + j;
    }
    for (int i = 0; i < 16; ++i) {
      CHECK(pieces[i][4] == round + i + 4);
      CHECK(pool_free((void**)&pieces[i], 5 * sizeof(double), &pool) == 0);
    }
  }
  pool_destroy(&pool);
}

/* The seed trusted every pointer; here bad ones are refused and change nothing. */
static void bad_calls_are_refused(void) {
  struct m_pool pool = {0};
  void* p = NULL;
  errno = 0;
  CHECK(pool_alloc(&pool, &p, 8, i64) == -1 && errno == EINVAL); /* not initialised */
  CHECK(pool_init(&pool) == 0);
  errno = 0;
  CHECK(pool_init(&pool) == -1 && errno == EBUSY);
  errno = 0;
  CHECK(pool_alloc(&pool, &p, 8, (enum m_pool_type)99) == -1 && errno == EINVAL);
  errno = 0;
  CHECK(pool_alloc(&pool, &p, SIZE_MAX, u8) == -1 && errno == ENOMEM && p == NULL);

  CHECK(pool_alloc(&pool, &p, 40, ptr) == 0);
  void* stale = p;
  CHECK(pool_free(&p, 40, &pool) == 0);
  errno = 0;
  CHECK(pool_free(&stale, 40, &pool) == -1 && errno == EINVAL); /* double free */
  CHECK(stale != NULL);
  int local = 0;
  void* foreign = &local;
  CHECK(pool_free(&foreign, sizeof local, &pool) == -1 && errno == EINVAL);
  CHECK(pool_alloc(&pool, &p, 100, u32) == 0);
  void* interior = (char*)p + 16;
  CHECK(pool_free(&interior, 4, &pool) == -1);
  CHECK(pool_free(&p, 100, &pool) == 0);
  void* null = NULL;
  CHECK(pool_free(&null, 0, &pool) == 0); /* freeing NULL: nothing */
  pool_destroy(&pool);
  pool_destroy(NULL);
}

/* .size asks for a different capacity, rounded up to a power of two. */
static void size_chooses_the_capacity(void) {
  struct m_pool pool = {0};
  pool.size = 3000;
  CHECK(pool_init(&pool) == 0);
  CHECK(pool.top_address - pool.base_address == 4096);
  void* p = NULL;
  CHECK(pool_alloc(&pool, &p, 3000, s) == 0);
  CHECK(pool_free(&p, 3000, &pool) == 0);
  pool_destroy(&pool);
}

int main(void) {
  example_flow();
  freed_pieces_are_reused();
  bad_calls_are_refused();
  size_chooses_the_capacity();
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
