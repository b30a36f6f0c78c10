/* malloc_throughput.c: a quick throughput check of whatever malloc the process runs
 * on (glibc, or one given with LD_PRELOAD). Each thread keeps a ring of live blocks
 * and replaces one per step with a block of a random size (mostly small), writing
 * its first and last byte; with "cross" the threads swap rings halfway so blocks
 * are freed by a thread that did not allocate them. Prints the wall time.
 * Not a test: tests/malloc/throughput.sh runs it under each allocator, interleaved. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kSlots = 2000 };
static long g_steps = 4000000;
static int g_cross = 0;
static void** g_rings[64];
static pthread_barrier_t g_barrier;

static uint64_t next_random(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick_size(uint64_t r) {
  unsigned bucket = r % 100;
  r >>= 8;
  if (bucket < 70) return 8 + r % 121;     /* 8..128 */
  if (bucket < 95) return 128 + r % 3969;  /* 128..4 KiB */
  return 4096 + r % 61441;                 /* 4..64 KiB */
}

static void* worker(void* arg) {
  long id = (long)arg;
  uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
  void** ring = calloc(kSlots, sizeof(void*));
  g_rings[id] = ring;
  for (long i = 0; i < g_steps; ++i) {
    if (g_cross && i == g_steps / 2) {
      pthread_barrier_wait(&g_barrier);
      ring = g_rings[id ^ 1];  /* free the other thread's blocks from here on */
      pthread_barrier_wait(&g_barrier);
    }
    uint64_t r = next_random(&seed);
    size_t slot = (size_t)(r >> 40) % kSlots;
    free(ring[slot]);
    size_t n = pick_size(r);
    unsigned char* p = malloc(n);
    p[0] = 1;
    p[n - 1] = 2;
    ring[slot] = p;
  }
  if (g_cross) pthread_barrier_wait(&g_barrier);
  for (size_t s = 0; s < kSlots; ++s) free(ring[s]);
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2) g_steps = atol(argv[2]);
  g_cross = argc > 3 && strcmp(argv[3], "cross") == 0 && threads % 2 == 0;
  pthread_barrier_init(&g_barrier, NULL, (unsigned)threads);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t[64];
  for (long i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
