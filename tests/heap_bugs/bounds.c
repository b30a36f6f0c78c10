/* bounds: a write outside a heap block.
 *   bounds over|under SIZE DISTANCE direct|memcpy
 * over direct:   one byte written DISTANCE-1 bytes past the end (DISTANCE 1: the first
 *                byte past it), as an off-by-N index does;
 * over memcpy:   memcpy of SIZE+DISTANCE bytes into the block, a linear overrun;
 * under direct:  one byte written DISTANCE bytes before the start;
 * under memcpy:  memcpy of DISTANCE bytes ending at the block's start.
 * Then the block is freed. */
#include "heap_bug.h"

static char source[(1u << 20) + (256u << 10) + 64];

int main(int argc, char** argv) {
  const char* usage = "bounds over|under SIZE DISTANCE direct|memcpy";
  if (argc != 5) return heap_bug_usage(usage);
  int over = strcmp(argv[1], "over") == 0;
  int memcpy_way = strcmp(argv[4], "memcpy") == 0;
  if ((!over && strcmp(argv[1], "under") != 0) || (!memcpy_way && strcmp(argv[4], "direct") != 0))
    return heap_bug_usage(usage);
  size_t size = heap_bug_size(argv[2]), distance = heap_bug_size(argv[3]);
  if (size + distance > sizeof source) return heap_bug_usage("bounds: SIZE+DISTANCE at most 1.25 MiB");
  memset(source, 'o', sizeof source);

  char* p = heap_bug_opaque(malloc(size));
  if (p == NULL) return 3;
  memset(p, 'a', size);
  heap_bug_begin();
  if (over && !memcpy_way) {
    ((volatile char*)p)[size + distance - 1] = 'x';
  } else if (over) {
    memcpy(p, source, size + distance);
  } else if (!memcpy_way) {
    ((volatile char*)heap_bug_opaque(p - distance))[0] = 'x';
  } else {
    memcpy(heap_bug_opaque(p - distance), source, distance);
  }
  heap_bug_done();
  free(p);
  return heap_bug_finish(size);
}
