/* malloc_preload_probe.c: a plain C program, not linked with poolkit, that
 * preload_test.sh runs with LD_PRELOAD=libpoolkit-malloc.so. It checks that the
 * preloaded library really serves malloc, strdup, the __libc_* names and threads,
 * that a chunk looking like one glibc mmapped before the preload is accepted by
 * free, and exits 0. With an argument "invalid" it frees a stack address
 * (expected: "free(): invalid pointer" and SIGABRT); "double" frees twice (run
 * with POOLKIT_CHECK=1); "overflow" writes past a block (POOLKIT_CHECK=1); "maps"
 * allocates a little and prints the file name of every shared object mapped, one
 * a line (a C program must map no libstdc++, and libunwind only in checked mode). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "probe: %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                        \
    }                                                                 \
  } while (0)

/* Called through volatile pointers so that an optimizing compiler cannot drop
 * the deliberately wrong malloc/free pairs below. */
static void* (*volatile g_malloc)(size_t) = malloc;
static void (*volatile g_free)(void*) = free;

enum { kBlocks = 20000 };
static void* g_blocks[kBlocks];

static void* allocate_all(void* arg) {
  (void)arg;
  for (int i = 0; i < kBlocks; ++i) {
    size_t n = 1 + (size_t)(i * 37) % 3000;
    g_blocks[i] = malloc(n);
    memset(g_blocks[i], (unsigned char)i, n);
  }
  return NULL;
}

/* The file names of the mapped shared objects (the last field of /proc/self/maps). */
static void print_mapped_objects(void) {
  FILE* maps = fopen("/proc/self/maps", "r");
  CHECK(maps != NULL);
  char line[4096];
  while (fgets(line, sizeof line, maps) != NULL) {
    char* name = strrchr(line, '/');
    if (name != NULL && strstr(name, ".so") != NULL) fputs(name + 1, stdout);
  }
  fclose(maps);
}

int main(int argc, char** argv) {
  int (*owns)(const void*) = (int (*)(const void*))dlsym(RTLD_DEFAULT, "poolkit_malloc_owns");
  CHECK(owns != NULL);
  if (argc > 1 && strcmp(argv[1], "maps") == 0) {
    allocate_all(NULL);
    CHECK(owns(g_blocks[0]));
    for (int i = 0; i < kBlocks; ++i) free(g_blocks[i]);
    print_mapped_objects();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "invalid") == 0) {
    int local;
    g_free(&local);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "double") == 0) {
    void* p = g_malloc(30);
    g_free(p);
    g_free(p);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
    char* p = g_malloc(30);
    memset(p, 1, 31);
    g_free(p);
    return 0;
  }
  void* p = malloc(10);
  char* s = strdup("hello");
  void* q = __libc_malloc(100);
  void* c = calloc(10, 10);
  void* a = aligned_alloc(4096, 100);
  CHECK(owns(p) && owns(s) && owns(q) && owns(c) && owns(a));
  CHECK(malloc_usable_size(p) >= 10);
  free(p);
  free(s);
  __libc_free(q);
  free(c);
  free(a);

  /* Blocks allocated by another thread, which exits, freed here. */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, allocate_all, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  for (int i = 0; i < kBlocks; ++i) {
    size_t n = 1 + (size_t)(i * 37) % 3000;
    unsigned char* b = g_blocks[i];
    for (size_t k = 0; k < n; k += 7) CHECK(b[k] == (unsigned char)i);
    free(b);
  }

  /* A chunk shaped like one glibc mmapped before we were loaded: accepted, unmapped. */
  unsigned char* region = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(region != MAP_FAILED);
  ((size_t*)region)[0] = 0;
  ((size_t*)region)[1] = 8192 | 2;
  CHECK(malloc_usable_size(region + 16) == 8192 - 16);
  free(region + 16);

  struct mallinfo2 info = mallinfo2();
  CHECK(info.arena > 0);
  CHECK(malloc_trim(0) >= 0);
  puts("probe ok");
  return 0;
}
