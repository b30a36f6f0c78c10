/* clean: the control, no bug at all: blocks of SIZE written in full, read back and
 * freed, including a malloc(0). Every tool must run it to the end without a report.
 *   clean SIZE */
#include "heap_bug.h"

int main(int argc, char** argv) {
  if (argc != 2) return heap_bug_usage("clean SIZE");
  size_t size = heap_bug_size(argv[1]);
  char* p = malloc(size);
  char* q = malloc(size);
  void* zero = malloc(0);
  if (p == NULL || q == NULL) return 3;
  heap_bug_begin();
  memset(p, 'a', size);
  memcpy(q, p, size);
  if (memcmp(p, q, size) != 0) return 4;
  heap_bug_done();
  free(zero);
  free(q);
  free(p);
  return heap_bug_finish(size);
}
