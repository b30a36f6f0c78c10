// tools/replay_worker.cpp: `poolkit replay --run-plan PLAN`, the process that runs a
// replay plan under the allocator preloaded into it (replay_command.cpp starts one per
// allocator and round). Everything it needs is mapped and touched before the clock
// starts; then each trace thread's ops run on their own thread, touching one byte a
// page of every block, and it prints one line: time, peak live bytes, RSS before and
// peak RSS. A call with a gate waits until every other thread has passed the calls
// before it in the recorded order (replay_plan.hpp): a short spin, then a futex sleep,
// since the traced program may have had more threads than this machine has cores.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "poolkit/detail/spin_lock.hpp"
#include "process_memory.hpp"
#include "replay_plan.hpp"

namespace {

using poolkit::trace::PlanOp;

// Where a thread is in the recorded order: the seq of its next call (UINT64_MAX when
// it has none left). Only its own thread writes it, and only where a gate of another
// thread may wait on it (PlanOp::publish) and at its end; each on a cache line of its own.
struct alignas(64) Progress {
  std::atomic<std::uint64_t> next{0};
};

struct Shared {
  std::atomic<void*>* slots;
  std::uint64_t* sizes;
  Progress* progress;
  std::uint32_t threads;
  std::atomic<std::uint64_t> live{0};
  std::atomic<std::uint64_t> peak{0};
  std::atomic<bool> go{false};
  // A waiter that has spun long enough sleeps on `wakes` (a futex word) after counting
  // itself in `sleepers`; a thread that tells its progress while anyone sleeps bumps
  // `wakes` and wakes them all, and each checks its gate again.
  alignas(64) std::atomic<std::uint32_t> wakes{0};
  std::atomic<std::uint32_t> sleepers{0};
};
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));  // the kernel reads it as one

void futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, nullptr, nullptr, 0);
}

// This thread has done every call before seq `next`. Sequentially consistent, with the
// load of `sleepers`, so that a waiter either sees the new value or is woken.
void tell(Shared& s, std::uint32_t self, std::uint64_t next) {
  s.progress[self].next.store(next, std::memory_order_seq_cst);
  if (s.sleepers.load(std::memory_order_seq_cst) != 0) {
    s.wakes.fetch_add(1, std::memory_order_seq_cst);
    futex(s.wakes, FUTEX_WAKE_PRIVATE, INT_MAX);
  }
}

// Waits until every other thread has done its calls before seq `gate`. `seen` holds
// what this thread last saw of each (progress only grows).
void wait_gate(Shared& s, std::uint32_t self, std::uint64_t gate, std::vector<std::uint64_t>& seen) {
  constexpr int kSpins = 100;  // pause instructions: a hand-off from a running thread comes sooner
  for (std::uint32_t u = 0; u < s.threads; ++u) {
    if (u == self) continue;
    for (int spin = 0; seen[u] < gate; ++spin) {
      seen[u] = s.progress[u].next.load(std::memory_order_acquire);
      if (seen[u] >= gate) break;
      if (spin < kSpins) {
        poolkit::detail::cpu_relax();
        continue;
      }
      const std::uint32_t w = s.wakes.load(std::memory_order_seq_cst);
      s.sleepers.fetch_add(1, std::memory_order_seq_cst);
      if (s.progress[u].next.load(std::memory_order_seq_cst) < gate) futex(s.wakes, FUTEX_WAIT_PRIVATE, w);
      s.sleepers.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
}

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

void run_thread(Shared& s, std::uint32_t self, const PlanOp* ops, std::uint64_t count) {
  std::vector<std::uint64_t> seen(s.threads, 0);
  std::uint64_t passed = 0;  // the highest gate passed: every call before it is done
  while (!s.go.load(std::memory_order_acquire)) {
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const PlanOp& op = ops[i];
    if (op.gate > passed) {
      wait_gate(s, self, op.gate, seen);
      passed = op.gate;
    }
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
    if (op.publish != 0 && i + 1 < count) tell(s, self, ops[i + 1].seq);
  }
  tell(s, self, UINT64_MAX);
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
  if (base == MAP_FAILED || std::memcmp(base, "PKPLAN2\n", 8) != 0) {
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
  std::vector<Progress> progress(lists.size());
  for (std::size_t t = 0; t < lists.size(); ++t) {
    progress[t].next = lists[t].second != 0 ? lists[t].first[0].seq : UINT64_MAX;
  }
  shared.progress = progress.data();
  shared.threads = threads;

  std::vector<std::thread> workers;
  workers.reserve(lists.size());
  for (std::uint32_t t = 0; t < lists.size(); ++t) {
    workers.emplace_back(run_thread, std::ref(shared), t, lists[t].first, lists[t].second);
  }
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
