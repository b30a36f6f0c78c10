/* bad_free: free() of a pointer that malloc never returned.
 *   bad_free invalid|stack|foreign
 *   bad_free interior|unaligned SIZE
 * invalid:   the address of a global array;
 * stack:     the address of a local array;
 * foreign:   a page of an anonymous mmap (memory no allocator handed out);
 * interior:  a 16-aligned pointer into the middle of a live block (SIZE/2, or 8 for SIZE 8);
 * unaligned: the block's address plus one. */
#include <sys/mman.h>

#include "heap_bug.h"

static _Alignas(16) char global_bytes[256];

int main(int argc, char** argv) {
  const char* usage = "bad_free invalid|stack|foreign | bad_free interior|unaligned SIZE";
  if (argc < 2) return heap_bug_usage(usage);
  _Alignas(16) char stack_bytes[256];
  memset(stack_bytes, 's', sizeof stack_bytes);
  size_t size = 64;
  char* p = NULL;
  void* bad = NULL;
  if (strcmp(argv[1], "invalid") == 0 && argc == 2) {
    bad = global_bytes + 64;
  } else if (strcmp(argv[1], "stack") == 0 && argc == 2) {
    bad = stack_bytes + 64;
  } else if (strcmp(argv[1], "foreign") == 0 && argc == 2) {
    char* region = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return 3;
    bad = region + 4096;
  } else if ((strcmp(argv[1], "interior") == 0 || strcmp(argv[1], "unaligned") == 0) && argc == 3) {
    size = heap_bug_size(argv[2]);
    p = malloc(size);
    if (p == NULL) return 3;
    memset(p, 'a', size);
    size_t offset = argv[1][0] == 'u' ? 1 : size >= 32 ? (size / 2) & ~(size_t)15 : 8;
    bad = p + offset;
  } else {
    return heap_bug_usage(usage);
  }
  heap_bug_begin();
  free(heap_bug_opaque(bad));
  heap_bug_done();
  free(p);
  return heap_bug_finish(size);
}
