// advise_requests: a server loop through malloc: each request reads fields and
// tokens of various sizes, and every block of the request is freed when it ends.
// `poolkit advise` groups the two sites (their blocks die together) and names an
// Arena with mark/rewind (docs/advise.md; checked by tools/advise_test).
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Block {
  void* p;
};

// The request's header fields: 16 to 200 bytes each.
__attribute__((noinline)) char* read_field(unsigned seed) {
  const std::size_t n = 16 + seed % 185;
  char* f = static_cast<char*>(std::malloc(n));
  if (f == nullptr) std::abort();
  std::memset(f, 'a' + static_cast<int>(seed % 26), n - 1);
  f[n - 1] = '\0';
  return f;
}

// The request's tokens: arrays of 4 to 64 ints.
__attribute__((noinline)) int* tokenize(unsigned seed) {
  const std::size_t n = 4 + seed % 61;
  int* t = static_cast<int*>(std::malloc(n * sizeof(int)));
  if (t == nullptr) std::abort();
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<int>(seed + i);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned requests = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 4000;
  Block blocks[256];
  unsigned state = 7;
  unsigned long total = 0;
  for (unsigned r = 0; r < requests; ++r) {
    unsigned n = 0;
    const unsigned fields = 8 + r % 24;
    for (unsigned f = 0; f < fields; ++f) {
      state = state * 1103515245u + 12345u;
      char* field = read_field(state >> 8);
      total += std::strlen(field);
      blocks[n++].p = field;
      if (f % 2 == 0) {
        int* tokens = tokenize(state >> 12);
        total += static_cast<unsigned>(tokens[0]) % 7;
        blocks[n++].p = tokens;
      }
    }
    for (unsigned i = 0; i < n; ++i) std::free(blocks[i].p);  // the request ends
  }
  std::printf("%u requests, %lu bytes of fields\n", requests, total);
  return 0;
}
