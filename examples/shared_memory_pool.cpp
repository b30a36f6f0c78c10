// shared_memory_pool: two processes share one heap in a named shared-memory segment.
// The parent creates it; the child attaches by name (as an unrelated program would)
// and sends messages: each a block the child allocates and fills, passed as an
// offset through a queue that is itself a named object in the heap; the parent
// checks every byte and frees the block. Exits non-zero if any byte or count is wrong.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "poolkit/process_mutex.hpp"
#include "poolkit/shared_heap.hpp"

namespace {

constexpr std::uint32_t kMessages = 20000;
constexpr std::uint32_t kSlots = 64;

// Lives in the segment: a ring of block offsets under a process-shared lock.
struct Queue {
  poolkit::ProcessMutex lock;
  std::uint64_t slots[kSlots];
  std::uint32_t head, count, done;
};

unsigned char byte_of(std::uint32_t message, std::uint32_t i) { return static_cast<unsigned char>(message * 13 + i); }

int child(const std::string& name) {
  poolkit::SharedHeap heap = poolkit::SharedHeap::open(name);  // its own mapping, at its own address
  auto* queue = static_cast<Queue*>(heap.find("queue"));
  if (!queue) return 2;
  for (std::uint32_t m = 0; m < kMessages;) {
    const std::uint32_t length = 8 + m % 1000;
    auto* block = static_cast<unsigned char*>(heap.allocate(length));
    if (!block) {  // the heap is full until the parent frees: wait a little
      usleep(100);
      continue;
    }
    std::memcpy(block, &m, 4);
    std::memcpy(block + 4, &length, 4);
    for (std::uint32_t i = 8; i < length; ++i) block[i] = byte_of(m, i);
    for (bool sent = false; !sent;) {
      queue->lock.lock();
      if ((sent = queue->count < kSlots)) queue->slots[(queue->head + queue->count++) % kSlots] = heap.offset_of(block);
      queue->lock.unlock();
      if (!sent) usleep(50);
    }
    ++m;
  }
  queue->lock.lock();
  queue->done = 1;
  queue->lock.unlock();
  return 0;
}

}  // namespace

int main() {
  const std::string name = "/poolkit-example-" + std::to_string(getpid());
  poolkit::SharedHeap heap = poolkit::SharedHeap::create(name, 1 << 20);
  auto* queue = static_cast<Queue*>(heap.find_or_allocate("queue", sizeof(Queue)));
  if (!queue || !queue->lock.init()) return 1;
  const pid_t pid = fork();
  if (pid == 0) _exit(child(name));

  std::uint32_t received = 0, wrong = 0;
  for (bool done = false; !done;) {
    queue->lock.lock();
    std::uint64_t offset = 0;
    if (queue->count) {
      offset = queue->slots[queue->head];
      queue->head = (queue->head + 1) % kSlots;
      --queue->count;
    }
    done = !offset && queue->done;
    queue->lock.unlock();
    if (!offset) continue;
    auto* block = static_cast<unsigned char*>(heap.at(offset));  // this process's address for it
    std::uint32_t m, length;
    std::memcpy(&m, block, 4);
    std::memcpy(&length, block + 4, 4);
    wrong += m != received || length != 8 + m % 1000;
    for (std::uint32_t i = 8; i < length; ++i) wrong += block[i] != byte_of(m, i);
    heap.deallocate(block);
    ++received;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const auto stats = heap.stats();
  std::printf("shared heap \"%s\": %u messages from another process, %u wrong bytes or counts, %zu blocks left "
              "(the queue), heap %s\n",
              name.c_str(), received, wrong, stats.live_blocks, heap.check() ? "consistent" : "BROKEN");
  poolkit::SharedSegment::remove(name);
  return child_ok && received == kMessages && wrong == 0 && stats.live_blocks == 1 && heap.check() ? 0 : 1;
}
