// fixed_pool: a pool of 64-byte chunks for messages, a fixed-capacity pool for a
// real-time loop, and what each did, from stats().
#include <cstdio>
#include <cstring>
#include <vector>

#include "poolkit/fixed_pool.hpp"
#include "poolkit/heapmap.hpp"

struct Message {
  int id;
  char text[60];
};

int main() {
  // A growing pool: blocks of 64 KiB, then 128 KiB, ... up to 4 MiB each.
  poolkit::FixedPool pool(sizeof(Message), alignof(Message));
  std::vector<Message*> inbox;
  for (int i = 0; i < 10000; ++i) {
    auto* m = static_cast<Message*>(pool.allocate(sizeof(Message), alignof(Message)));
    m->id = i;
    std::snprintf(m->text, sizeof m->text, "message %d", i);
    inbox.push_back(m);
  }
  std::printf("10000 messages of %zu bytes in %zu-byte chunks; the last says \"%s\"\n", sizeof(Message),
              pool.chunk_size(), inbox.back()->text);
  for (std::size_t i = 0; i < inbox.size(); i += 2) pool.deallocate(inbox[i], sizeof(Message), alignof(Message));
  poolkit::print_stats(pool.stats(), "FixedPool after freeing every other message", stdout);
  // Every other chunk free: each cell of the picture half full (docs/fixed_pool.md shows it).
  poolkit::print_heapmap(pool, stdout, {.cell_bytes = 4096, .columns = 64});

  // A fixed capacity: every byte reserved up front, nullptr when full, never a system call later.
  poolkit::FixedPool ring({.chunk_size = 256, .fixed_capacity = 8});
  int got = 0;
  while (ring.allocate(256)) ++got;
  std::printf("\nfixed-capacity pool: %d chunks of 256 bytes, then nullptr (capacity %zu)\n", got, ring.capacity());
  poolkit::print_stats(ring.stats(), "FixedPool with a fixed capacity", stdout);
  ring.release();
  std::printf("after release(): %zu live chunks, %zu bytes still reserved for reuse\n",
              ring.stats().live_blocks, ring.stats().bytes_reserved);
}
