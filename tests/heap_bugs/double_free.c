/* double_free: a block freed twice.
 *   double_free plain|delayed|interleaved SIZE
 * plain:       free(p); free(p);
 * delayed:     free(p), then 32 other blocks of the same size freed (pushing p out of
 *              any small per-thread cache), then free(p);
 * interleaved: free(p); free(q); free(p); (p is no longer at the head of its list). */
#include "heap_bug.h"

int main(int argc, char** argv) {
  const char* usage = "double_free plain|delayed|interleaved SIZE";
  if (argc != 3) return heap_bug_usage(usage);
  size_t size = heap_bug_size(argv[2]);
  char* p = malloc(size);
  char* q = malloc(size);
  char* others[32];
  if (p == NULL || q == NULL) return 3;
  memset(p, 'a', size);
  if (strcmp(argv[1], "plain") == 0) {
    free(p);
    heap_bug_begin();
    free(heap_bug_opaque(p));
  } else if (strcmp(argv[1], "delayed") == 0) {
    for (int i = 0; i < 32; ++i) others[i] = malloc(size);
    free(p);
    for (int i = 0; i < 32; ++i) free(others[i]);
    heap_bug_begin();
    free(heap_bug_opaque(p));
  } else if (strcmp(argv[1], "interleaved") == 0) {
    free(p);
    free(q);
    q = NULL;
    heap_bug_begin();
    free(heap_bug_opaque(p));
  } else {
    return heap_bug_usage(usage);
  }
  heap_bug_done();
  free(q);
  return heap_bug_finish(size);
}
