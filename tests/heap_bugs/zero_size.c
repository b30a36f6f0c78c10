/* zero_size: an access through the pointer malloc(0) returned (it has no bytes).
 *   zero_size write|read */
#include "heap_bug.h"

int main(int argc, char** argv) {
  const char* usage = "zero_size write|read";
  if (argc != 2) return heap_bug_usage(usage);
  int write_access = strcmp(argv[1], "write") == 0;
  if (!write_access && strcmp(argv[1], "read") != 0) return heap_bug_usage(usage);
  volatile char* p = heap_bug_opaque(malloc(0));
  if (p == NULL) return 3;
  heap_bug_begin();
  char c = 0;
  if (write_access) p[0] = 'x';
  else c = p[0];
  heap_bug_done();
  printf("read %d\n", c);
  fflush(stdout);
  free((void*)p);
  return heap_bug_finish(16);
}
