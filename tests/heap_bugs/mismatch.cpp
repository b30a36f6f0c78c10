// mismatch: a block released by the wrong family of functions.
//   mismatch new-delete[]|new[]-delete|malloc-delete|new-free SIZE
// new-delete[]:  new T, then delete[]        new[]-delete: new T[1], then delete
// malloc-delete: malloc, then delete         new-free:     new T, then free
// T is a trivially destructible object of SIZE bytes (8, 4096 or 262144).
#include <cstdlib>
#include <cstring>
#include <new>

#include "heap_bug.h"

namespace {

template <std::size_t N>
struct Blob {
  char bytes[N];
};

template <std::size_t N>
int run(const char* how) {
  using T = Blob<N>;
  auto launder = [](T* p) { return static_cast<T*>(heap_bug_opaque(p)); };
  if (std::strcmp(how, "new-delete[]") == 0) {
    T* p = new T;
    std::memset(p, 'a', N);
    heap_bug_begin();
    delete[] launder(p);
  } else if (std::strcmp(how, "new[]-delete") == 0) {
    T* p = new T[1];
    std::memset(p, 'a', N);
    heap_bug_begin();
    delete launder(p);
  } else if (std::strcmp(how, "malloc-delete") == 0) {
    T* p = static_cast<T*>(std::malloc(N));
    if (p == nullptr) return 3;
    std::memset(p, 'a', N);
    heap_bug_begin();
    delete launder(p);
  } else if (std::strcmp(how, "new-free") == 0) {
    T* p = new T;
    std::memset(p, 'a', N);
    heap_bug_begin();
    std::free(launder(p));
  } else {
    return heap_bug_usage("mismatch new-delete[]|new[]-delete|malloc-delete|new-free 8|4096|262144");
  }
  heap_bug_done();
  return heap_bug_finish(N);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return heap_bug_usage("mismatch new-delete[]|new[]-delete|malloc-delete|new-free 8|4096|262144");
  std::size_t size = heap_bug_size(argv[2]);
  if (size == 8) return run<8>(argv[1]);
  if (size == 4096) return run<4096>(argv[1]);
  if (size == 262144) return run<262144>(argv[1]);
  return heap_bug_usage("mismatch: SIZE is 8, 4096 or 262144");
}
