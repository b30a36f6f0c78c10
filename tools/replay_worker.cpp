// tools/replay_worker.cpp: `poolkit replay --run-plan PLAN`, the process that runs a
// replay plan under the allocator preloaded into it (replay_command.cpp starts one per
// allocator and round). Everything it needs is mapped and touched before the clock
// starts; then each trace thread's ops run on their own thread, touching one byte a
// page of every block, and it prints one line: time, peak live bytes, RSS before and
// peak RSS.
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "process_memory.hpp"
#include "replay_plan.hpp"

namespace {

using poolkit::trace::PlanOp;

struct Shared {
  std::atomic<void*>* slots;
  std::uint64_t* sizes;
  std::atomic<std::uint64_t> live{0};
  std::atomic<std::uint64_t> peak{0};
  std::atomic<bool> go{false};
};

void add_live(Shared& s, std::uint64_t n) {
  const std::uint64_t now = s.live.fetch_add(n, std::memory_order_relaxed) + n;
  std::uint64_t peak = s.peak.load(std::memory_order_relaxed);
  while (now > peak && !s.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void touch(void* p, std::uint64_t size) {
  auto* bytes = static_cast<volatile unsigned char*>(p);
  for (std::uint64_t at = 0; at < size; at += 4096) bytes[at] = 1;
  if (size != 0) bytes[size - 1] = 1;
}

// A block another thread allocates: wait until it has (the trace says it will).
void* wait_for(Shared& s, std::uint32_t slot) {
  for (;;) {
    if (void* p = s.slots[slot].load(std::memory_order_acquire)) return p;
    sched_yield();
  }
}

void run_thread(Shared& s, const PlanOp* ops, std::uint64_t count) {
  while (!s.go.load(std::memory_order_acquire)) {
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const PlanOp& op = ops[i];
    if (op.kind == poolkit::trace::kPlanAlloc) {
      void* p = op.align != 0 ? std::aligned_alloc(op.align, (op.size + op.align - 1) / op.align * op.align)
                              : std::malloc(op.size);
      if (p == nullptr) p = std::malloc(1);  // the trace's call succeeded: keep the slot non-empty
      touch(p, op.size);
      s.sizes[op.slot] = op.size;
      add_live(s, op.size);
      s.slots[op.slot].store(p, std::memory_order_release);
    } else if (op.kind == poolkit::trace::kPlanFree) {
      void* p = wait_for(s, op.slot);
      s.live.fetch_sub(s.sizes[op.slot], std::memory_order_relaxed);
      std::free(p);
    } else {
      void* old = wait_for(s, op.old_slot);
      s.live.fetch_sub(s.sizes[op.old_slot], std::memory_order_relaxed);
      void* p = std::realloc(old, op.size);
      if (p == nullptr) p = std::malloc(1);
      touch(p, op.size);
      s.sizes[op.slot] = op.size;
      add_live(s, op.size);
      s.slots[op.slot].store(p, std::memory_order_release);
    }
  }
}

}  // namespace

int replay_worker(const char* plan_path) {
  const int fd = open(plan_path, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
    std::fprintf(stderr, "poolkit replay: cannot read plan %s\n", plan_path);
    return 1;
  }
  const auto bytes = static_cast<std::size_t>(st.st_size);
  auto* base = static_cast<const unsigned char*>(mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0));
  close(fd);
  if (base == MAP_FAILED || std::memcmp(base, "PKPLAN1\n", 8) != 0) {
    std::fprintf(stderr, "poolkit replay: %s is not a replay plan\n", plan_path);
    return 1;
  }
  std::uint32_t threads, slots;
  std::memcpy(&threads, base + 8, 4);
  std::memcpy(&slots, base + 12, 4);
  std::vector<std::pair<const PlanOp*, std::uint64_t>> lists;
  std::size_t at = 24;
  for (std::uint32_t t = 0; t < threads; ++t) {
    std::uint64_t n = 0;
    if (at + 8 > bytes) return 1;
    std::memcpy(&n, base + at, 8);
    at += 8;
    if (n > (bytes - at) / sizeof(PlanOp)) return 1;
    lists.emplace_back(reinterpret_cast<const PlanOp*>(base + at), n);
    at += n * sizeof(PlanOp);
  }
  Shared shared;
  const std::size_t table = (std::size_t{slots} + 1) * 8;
  shared.slots = static_cast<std::atomic<void*>*>(
      mmap(nullptr, table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
  shared.sizes = static_cast<std::uint64_t*>(
      mmap(nullptr, table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
  if (shared.slots == MAP_FAILED || shared.sizes == MAP_FAILED) return 1;

  std::vector<std::thread> workers;
  workers.reserve(lists.size());
  for (const auto& [ops, n] : lists) workers.emplace_back(run_thread, std::ref(shared), ops, n);
  const std::uint64_t rss_before = poolkit::cli::resident_bytes() / 1024;
  const auto start = std::chrono::steady_clock::now();
  shared.go.store(true, std::memory_order_release);
  for (std::thread& w : workers) w.join();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("replay ns=%lld peak_live=%" PRIu64 " rss_before_kib=%" PRIu64 " maxrss_kib=%" PRIu64 "\n",
              static_cast<long long>(ns), shared.peak.load(), rss_before,
              poolkit::cli::peak_resident_bytes() / 1024);
  return 0;
}
