/* use_after_free: an access to a block after it was freed.
 *   use_after_free write|read SIZE
 * write: free(p); p[3] = 7;   (on most allocators, the free list's link)
 * read:  free(p); a read of p[SIZE/2], printed so that it cannot be dropped.
 * Then 16 more blocks of the same size are allocated and freed. */
#include "heap_bug.h"

int main(int argc, char** argv) {
  const char* usage = "use_after_free write|read SIZE";
  if (argc != 3) return heap_bug_usage(usage);
  int write_access = strcmp(argv[1], "write") == 0;
  if (!write_access && strcmp(argv[1], "read") != 0) return heap_bug_usage(usage);
  size_t size = heap_bug_size(argv[2]);
  char* p = malloc(size);
  if (p == NULL) return 3;
  memset(p, 'a', size);
  free(p);
  volatile char* stale = heap_bug_opaque(p);
  heap_bug_begin();
  if (write_access) {
    stale[3] = 7;
  } else {
    char c = stale[size / 2];
    heap_bug_done();
    printf("read %d\n", c);
    fflush(stdout);
    return heap_bug_finish(size);
  }
  heap_bug_done();
  return heap_bug_finish(size);
}
