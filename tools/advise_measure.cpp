// tools/advise_measure.cpp: runs a replay script through malloc and through a pool.
// Each backend offers the script's few operations; one template runs the script on
// any of them, so that malloc and the pool do exactly the same work around the calls
// (the slot table, touching the first and last byte of each block).
#include "advise_measure.hpp"
#include "process_memory.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <poolkit/arena.hpp>
#include <poolkit/buddy_pool.hpp>
#include <poolkit/fixed_pool.hpp>
#include <poolkit/heap.hpp>
#include <poolkit/pool_set.hpp>

namespace poolkit::trace {

namespace {

using cli::peak_resident_bytes;
using cli::resident_bytes;

constexpr std::size_t kAlign = 16;

std::size_t align_of(const ReplayOp& op) { return op.align > kAlign ? op.align : kAlign; }

void touch(void* p, std::uint64_t size) {
  auto* bytes = static_cast<volatile unsigned char*>(p);
  bytes[0] = 1;
  if (size > 1) bytes[size - 1] = 1;
}

std::size_t next_pow2(std::uint64_t n) { return std::bit_ceil(std::max<std::uint64_t>(n, 1)); }

// --- backends: alloc, free, covered (the pool skips it), mark, rewind, release_group,
// finish (free the rest).

// The scope events of the script, for a backend whose pool has no such thing.
struct NoScopes {
  void mark() {}
  void rewind() {}
  void release_group(std::uint32_t) {}
};

struct MallocBackend : NoScopes {
  void* alloc(const ReplayOp& op) {
    return op.align > kAlign ? std::aligned_alloc(op.align, (op.size + op.align - 1) / op.align * op.align)
                             : std::malloc(op.size);
  }
  void free(void* p, const ReplayOp&) { std::free(p); }
  void covered(void* p, const ReplayOp& op) { free(p, op); }
};

// A pool of the library's contract (allocate(size, align), deallocate(p, size, align));
// a block the suggestion would not put in it is freed to it as usual.
template <class P>
struct PoolBackend : NoScopes {
  P pool;
  explicit PoolBackend(const typename P::Options& options) : pool(options) {}
  void* alloc(const ReplayOp& op) { return pool.allocate(op.size, align_of(op)); }
  void free(void* p, const ReplayOp& op) { pool.deallocate(p, op.size, align_of(op)); }
  void covered(void* p, const ReplayOp& op) { free(p, op); }
};

FixedPool::Options fixed_options(const Profile& p) {
  return FixedPool::Options{.chunk_size = std::max<std::uint64_t>(p.max_size, 1),
                            .chunk_align = std::max<std::size_t>(kAlign, p.max_align),
                            .checks = FixedPool::Checks::kOff};
}

// An arena frees nothing one by one: a covered block waits for its scope's rewind.
struct ArenaBackend : PoolBackend<Arena> {
  std::vector<Arena::Mark> marks;
  explicit ArenaBackend(const Profile& p)
      : PoolBackend(Arena::Options{.initial_size = std::max<std::size_t>(4096, next_pow2(p.peak_live_bytes))}) {}
  void covered(void*, const ReplayOp&) {}
  void mark() { marks.push_back(pool.mark()); }
  void rewind() {
    if (marks.empty()) return;
    pool.rewind(marks.back());
    marks.pop_back();
  }
};

Heap::Options heap_options(const Profile& p) {
  Heap::Options o;
  o.region_size = std::clamp<std::size_t>(next_pow2(p.peak_live_bytes + p.peak_live_bytes / 4), 64 * 1024,
                                          std::size_t{64} << 20);
  return o;
}

struct PoolSetBackend : NoScopes {
  PoolSet set;
  explicit PoolSetBackend(const Profile& p) : set(heap_options(p)) {}
  void* alloc(const ReplayOp& op) { return set.allocate(op.group, op.size, align_of(op)); }
  void free(void* p, const ReplayOp&) { set.deallocate(p); }
  void covered(void*, const ReplayOp&) {}
  void release_group(std::uint32_t g) { set.release(g); }
};

BuddyPool::Options buddy_options(const ReplayScript& s, const Profile& p) {
  // Room for the peak of the blocks rounded to their power of two, twice over (the
  // buddy system's own fragmentation), as a person sizing it from the trace would.
  std::vector<std::uint64_t> rounded(s.slots, 0);
  std::uint64_t live = 0, peak = 0;
  for (const ReplayOp& op : s.ops) {
    if (op.kind == ReplayKind::kAlloc) {
      rounded[op.slot] = next_pow2(std::max<std::uint64_t>({op.size, op.align, 16}));
      live += rounded[op.slot];
      peak = std::max(peak, live);
    } else if (op.kind == ReplayKind::kFree || op.kind == ReplayKind::kCovered) {
      live -= rounded[op.slot];
    }
  }
  BuddyPool::Options o;
  const auto order = static_cast<unsigned>(std::bit_width(next_pow2(std::max<std::uint64_t>(2 * peak, p.max_size)) - 1));
  o.max_order = std::clamp(order, 16u, 34u);
  return o;
}

// One pass of the script. A pool allocation that fails falls back to malloc (and is
// counted), so that the pass still does the trace's work.
struct Pass {
  std::vector<void*> slots;
  std::vector<unsigned char> from_malloc;
  std::uint64_t fallbacks = 0;
};

// sample_every: 0, or read the RSS into `peak` every that many allocations.
template <class B>
void run_pass(const ReplayScript& s, B& b, Pass& pass, unsigned sample_every, std::uint64_t& peak) {
  unsigned countdown = sample_every;
  for (const ReplayOp& op : s.ops) {
    switch (op.kind) {
      case ReplayKind::kAlloc: {
        void* p = b.alloc(op);
        pass.from_malloc[op.slot] = p == nullptr;
        if (p == nullptr) {
          ++pass.fallbacks;
          p = std::malloc(std::max<std::uint64_t>(op.size, 1));
        }
        touch(p, std::max<std::uint64_t>(op.size, 1));
        pass.slots[op.slot] = p;
        if (sample_every != 0 && --countdown == 0) {
          countdown = sample_every;
          peak = std::max(peak, resident_bytes());
        }
        break;
      }
      case ReplayKind::kOtherAlloc: {
        void* p = std::malloc(std::max<std::uint64_t>(op.size, 1));
        touch(p, std::max<std::uint64_t>(op.size, 1));
        pass.slots[op.slot] = p;
        pass.from_malloc[op.slot] = 1;
        break;
      }
      case ReplayKind::kOtherFree:
        std::free(pass.slots[op.slot]);
        pass.slots[op.slot] = nullptr;
        break;
      case ReplayKind::kFree:
      case ReplayKind::kCovered: {
        void* p = pass.slots[op.slot];
        pass.slots[op.slot] = nullptr;
        if (pass.from_malloc[op.slot]) {
          std::free(p);
        } else if (op.kind == ReplayKind::kFree) {
          b.free(p, op);
        } else {
          b.covered(p, op);
        }
        break;
      }
      case ReplayKind::kMark: b.mark(); break;
      case ReplayKind::kRewind: b.rewind(); break;
      case ReplayKind::kReleaseGroup: b.release_group(op.group); break;
    }
  }
}

// Frees what the trace never freed: malloc one by one, a pool by going away.
template <class B>
void finish(const ReplayScript& s, B& b, Pass& pass, bool pool) {
  for (std::uint32_t slot = 0; slot < s.slots; ++slot) {
    void* p = pass.slots[slot];
    if (p == nullptr) continue;
    if (pass.from_malloc[slot]) {
      std::free(p);
    } else if (!pool) {
      b.free(p, ReplayOp{ReplayKind::kFree, slot, 0, 0, 0});
    }
    pass.slots[slot] = nullptr;
  }
}

template <class Make>
double time_runs(const ReplayScript& s, Make make, std::uint32_t repeats, bool pool, std::uint64_t& fallbacks) {
  Pass pass{std::vector<void*>(s.slots, nullptr), std::vector<unsigned char>(s.slots, 0), 0};
  std::uint64_t unused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t r = 0; r < repeats; ++r) {
    auto backend = make();
    run_pass(s, *backend, pass, 0, unused);
    finish(s, *backend, pass, pool);
  }
  const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  fallbacks = pass.fallbacks / repeats;
  return ns / repeats;
}

// Starts the peak RSS afresh (Linux: "5" to clear_refs); false where that is refused.
bool reset_peak_resident() {
  const int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

// The peak RSS that one pass of `s` adds, measured in a forked child: it gives the
// free memory it inherited back first (malloc_trim), so that the pass pays for every
// page it uses. Where the peak cannot be reset, RSS is sampled every 64 allocations.
template <class Make>
std::uint64_t peak_in_child(const ReplayScript& s, Make make, bool pool) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return 0;
  }
  if (pid == 0) {
    close(fds[0]);
    Pass pass{std::vector<void*>(s.slots, nullptr), std::vector<unsigned char>(s.slots, 0), 0};
    {
      // The child faults in pages of code and static data on first use (a fork shares
      // them lazily): a throwaway pool and block first, so that only the pass counts.
      auto warm = make();
      for (const ReplayOp& op : s.ops) {
        if (op.kind != ReplayKind::kAlloc) continue;
        if (void* p = warm->alloc(op)) warm->free(p, op);
        break;
      }
    }
    auto backend = make();
    malloc_trim(0);
    const bool reset = reset_peak_resident();
    const std::uint64_t before = resident_bytes();
    std::uint64_t sampled = before;
    run_pass(s, *backend, pass, reset ? 0 : 64, sampled);
    const std::uint64_t peak = std::max(reset ? peak_resident_bytes() : 0, std::max(sampled, resident_bytes()));
    finish(s, *backend, pass, pool);
    const std::uint64_t added = peak > before ? peak - before : 0;
    const bool sent = write(fds[1], &added, sizeof added) == sizeof added;
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  std::uint64_t added = 0;
  if (read(fds[0], &added, sizeof added) != sizeof added) added = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return added;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Make>
Measurement compare(const ReplayScript& s, const ReplayScript& program, Make make_pool, int rounds) {
  auto make_malloc = [] { return std::make_unique<MallocBackend>(); };
  Measurement m;
  m.rounds = rounds;
  // Enough passes per run for a few milliseconds of work, whatever the site's size.
  const std::uint64_t ops = std::max<std::uint64_t>(s.ops.size(), 1);
  m.repeats = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(400000 / ops, 1, 2000));
  std::vector<double> with_malloc, with_pool;
  std::uint64_t fallbacks = 0;
  time_runs(s, make_malloc, 1, false, fallbacks);  // warm up both
  time_runs(s, make_pool, 1, true, fallbacks);
  for (int r = 0; r < rounds; ++r) {
    // Interleaved, each round starting with the other one.
    if (r % 2 == 0) {
      with_malloc.push_back(time_runs(s, make_malloc, m.repeats, false, fallbacks));
      with_pool.push_back(time_runs(s, make_pool, m.repeats, true, m.fallbacks));
    } else {
      with_pool.push_back(time_runs(s, make_pool, m.repeats, true, m.fallbacks));
      with_malloc.push_back(time_runs(s, make_malloc, m.repeats, false, fallbacks));
    }
  }
  m.malloc_ns = median(with_malloc);
  m.pool_ns = median(with_pool);
  m.malloc_peak = peak_in_child(program, make_malloc, false);
  m.pool_peak = peak_in_child(program, make_pool, true);
  m.ran = true;
  return m;
}

}  // namespace

Measurement measure(const ReplayScript& s, const ReplayScript& program, const Advice& a, int rounds) {
  const Profile& p = a.profile;
  switch (a.suggestion) {
    case Suggestion::kNone: return {};
    case Suggestion::kFixedPool:
    case Suggestion::kPerCpuFixedPool:
      return compare(s, program, [&] { return std::make_unique<PoolBackend<FixedPool>>(fixed_options(p)); }, rounds);
    case Suggestion::kArena:
      return compare(s, program, [&] { return std::make_unique<ArenaBackend>(p); }, rounds);
    case Suggestion::kPoolSet:
      return compare(s, program, [&] { return std::make_unique<PoolSetBackend>(p); }, rounds);
    case Suggestion::kBuddyPool:
      return compare(s, program, [&] { return std::make_unique<PoolBackend<BuddyPool>>(buddy_options(s, p)); }, rounds);
    case Suggestion::kHeap:
      return compare(s, program, [&] { return std::make_unique<PoolBackend<Heap>>(heap_options(p)); }, rounds);
  }
  return {};
}

}  // namespace poolkit::trace
