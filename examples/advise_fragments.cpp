// advise_fragments: a program that fragments its heap: messages of many sizes come
// and go, and between them it keeps small records alive for good, so the holes the
// messages leave are pinned by the records around them. `poolkit advise` names a
// Heap of their own for the messages; `poolkit heapmap` shows the holes
// (docs/advise.md; checked by tools/advise_test).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// Messages: 64 B to 4 KiB, most of them freed a little later.
__attribute__((noinline)) char* receive_message(unsigned seed) {
  const std::size_t n = 64 + (seed % 64) * 63;
  char* m = static_cast<char*>(std::malloc(n));
  if (m == nullptr) std::abort();
  std::memset(m, 0, n);
  return m;
}

// Records: 40 bytes, kept until the end.
__attribute__((noinline)) char* keep_record(unsigned seed) {
  char* r = static_cast<char*>(std::malloc(40));
  if (r == nullptr) std::abort();
  std::snprintf(r, 40, "record %u", seed);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned messages = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 60000;
  constexpr unsigned kWindow = 64;  // messages in flight
  std::vector<char*> inflight(kWindow, nullptr);
  std::vector<char*> records;
  records.reserve(messages / 16 + 1);
  unsigned state = 99;
  unsigned long bytes = 0;
  for (unsigned i = 0; i < messages; ++i) {
    state = state * 1103515245u + 12345u;
    const unsigned k = (state >> 10) % kWindow;
    std::free(inflight[k]);
    inflight[k] = receive_message(state >> 4);
    bytes += static_cast<unsigned char>(inflight[k][0]) + 1;
    if (i % 16 == 0) records.push_back(keep_record(i));
  }
  for (char* m : inflight) std::free(m);
  std::printf("%u messages, %zu records kept, %lu\n", messages, records.size(), bytes);
  for (char* r : records) std::free(r);
  return 0;
}
