// sized_delete: a sized operator delete told the wrong size.
//   sized_delete SIZE
// ::operator new(SIZE), then ::operator delete(p, 4 * SIZE): a size of another size
// class in any allocator, as a class with a wrong sizeof (or a bad cast) passes.
#include <cstdlib>
#include <cstring>
#include <new>

#include "heap_bug.h"

int main(int argc, char** argv) {
  if (argc != 2) return heap_bug_usage("sized_delete SIZE");
  std::size_t size = heap_bug_size(argv[1]);
  void* p = ::operator new(size);
  std::memset(p, 'a', size);
  heap_bug_begin();
  ::operator delete(heap_bug_opaque(p), 4 * size);
  heap_bug_done();
  return heap_bug_finish(size);
}
