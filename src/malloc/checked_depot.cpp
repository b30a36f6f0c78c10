// checked_depot.cpp: the stack depot of checked mode. Each distinct call stack is
// stored once, in mmap'd memory, and named by a 32-bit id kept in block headers:
// a program that allocates a million blocks from ten places stores ten stacks.
// Lookups read the hash chains without a lock (entries are immutable once published
// with a release store); only an insertion takes the lock.
//
// Leading frames inside the malloc itself (the shared library's own code) are left
// out, so a stack starts at the program's call to malloc/new/free.
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include "checked.hpp"
#include "common/call_stack.hpp"

namespace poolkit::malloc_impl {

namespace {

constexpr std::size_t kBuckets = std::size_t{1} << 16;
constexpr std::size_t kArenaBytes = std::size_t{256} << 20;  // reserved; pages commit on first touch

// An entry: its chain link, hash and depth, then the frames. Ids are 8-byte offsets into
// the arena plus one (0 means "no stack").
struct Entry {
  std::atomic<std::uint32_t> next;
  std::uint32_t hash;
  std::uint32_t depth;
  std::uint32_t pad;
  // the frames follow
};
const void** frames_of(Entry* e) noexcept { return reinterpret_cast<const void**>(e + 1); }

struct Depot {
  SpinLock lock;
  std::atomic<std::uint32_t>* buckets = nullptr;  // heads (ids)
  std::uint8_t* arena = nullptr;
  std::size_t used = 8;  // offset 0 is never an entry
  std::size_t stacks = 0;
  bool failed = false;
};

constinit Depot g_depot;

// Our own code's address range in the shared library (empty when the malloc is linked
// into the program: then only capture's own frames are skipped).
// Learnt by the first capture (not at start-up: the first malloc may come while the
// dynamic loader holds the lock dl_iterate_phdr takes); two threads may both learn it.
std::atomic<std::uintptr_t> g_self_lo{0}, g_self_hi{0};
std::atomic<int> g_self_known{0};

int find_self(dl_phdr_info* info, std::size_t, void* arg) noexcept {
  auto here = reinterpret_cast<std::uintptr_t>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (here >= lo && here < hi) {
      // The main program (name "") also holds the program's own frames: keep those.
      if (info->dlpi_name != nullptr && info->dlpi_name[0] != 0) {
        g_self_lo.store(lo, std::memory_order_relaxed);
        g_self_hi.store(hi, std::memory_order_relaxed);
      }
      return 1;
    }
  }
  return 0;
}

void learn_self() noexcept {
  if (g_self_known.load(std::memory_order_acquire)) return;
  dl_iterate_phdr(find_self, reinterpret_cast<void*>(&learn_self));
  g_self_known.store(1, std::memory_order_release);
}

}  // namespace

// Called once from process_init (one thread, before any checked block exists).
void depot_init() noexcept {
  if (g_depot.arena != nullptr || g_depot.failed) return;
  void* b = mmap(nullptr, kBuckets * sizeof(std::uint32_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void* a = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED || a == MAP_FAILED) {
    g_depot.failed = true;
    warning("checked mode: no memory for the stack depot; reports carry no call stacks\n");
    return;
  }
  g_depot.buckets = static_cast<std::atomic<std::uint32_t>*>(b);
  g_depot.arena = static_cast<std::uint8_t*>(a);
}

namespace {

Entry* entry_at(std::uint32_t id) noexcept {
  return reinterpret_cast<Entry*>(g_depot.arena + (std::size_t{id} - 1) * 8);
}

std::uint32_t hash_frames(const void* const* frames, int n) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull ^ static_cast<std::uint64_t>(n);
  for (int i = 0; i < n; ++i) {
    h ^= reinterpret_cast<std::uintptr_t>(frames[i]);
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

std::uint32_t find(std::uint32_t head, std::uint32_t hash, const void* const* frames, int n) noexcept {
  for (std::uint32_t id = head; id != 0;) {
    Entry* e = entry_at(id);
    if (e->hash == hash && e->depth == static_cast<std::uint32_t>(n) &&
        std::memcmp(frames_of(e), frames, sizeof(void*) * static_cast<std::size_t>(n)) == 0)
      return id;
    id = e->next.load(std::memory_order_acquire);
  }
  return 0;
}

std::uint32_t intern(const void* const* frames, int n) noexcept {
  std::uint32_t hash = hash_frames(frames, n);
  std::atomic<std::uint32_t>& bucket = g_depot.buckets[hash & (kBuckets - 1)];
  if (std::uint32_t id = find(bucket.load(std::memory_order_acquire), hash, frames, n)) return id;
  LockGuard guard(g_depot.lock);
  if (std::uint32_t id = find(bucket.load(std::memory_order_acquire), hash, frames, n)) return id;
  std::size_t bytes = sizeof(Entry) + sizeof(void*) * static_cast<std::size_t>(n);
  if (g_depot.used + bytes > kArenaBytes) return 0;  // full: later stacks are not kept
  auto id = static_cast<std::uint32_t>(g_depot.used / 8 + 1);
  Entry* e = entry_at(id);
  g_depot.used += bytes;
  ++g_depot.stacks;
  e->hash = hash;
  e->depth = static_cast<std::uint32_t>(n);
  std::memcpy(frames_of(e), frames, sizeof(void*) * static_cast<std::size_t>(n));
  e->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
  bucket.store(id, std::memory_order_release);
  return id;
}

}  // namespace

std::uint32_t depot_capture(int skip) noexcept {
  int depth = g_options.stack_depth;
  if (depth <= 0 || g_depot.arena == nullptr) return 0;
  learn_self();
  void* frames[detail::kMaxCallStackDepth];
  constexpr int kOwnFrames = 4;  // the malloc's own frames (2 or 3: depot_capture, checked_alloc, malloc_generic), trimmed below
  int want = depth + kOwnFrames > detail::kMaxCallStackDepth ? detail::kMaxCallStackDepth : depth + kOwnFrames;
  // The one malloc a capture makes is the dynamic loader's, for libunwind's
  // thread-local cache on a thread's first unwind: guarded, so that the overflows the
  // reports describe cannot reach it (and break the unwinding that reports them).
  bool guarded = t_checked_guard_all;
  t_checked_guard_all = g_options.check != 0;
  int n = detail::capture_call_stack(frames, want, 0);
  t_checked_guard_all = guarded;
  int first = 0;
  std::uintptr_t lo = g_self_lo.load(std::memory_order_relaxed), hi = g_self_hi.load(std::memory_order_relaxed);
  while (first < n && reinterpret_cast<std::uintptr_t>(frames[first]) >= lo &&
         reinterpret_cast<std::uintptr_t>(frames[first]) < hi)
    ++first;
  if (first == n) first = 0;  // all ours (a malloc called from inside the library): keep them
  if (first + skip < n) first += skip;
  n -= first;
  if (n > depth) n = depth;
  if (n <= 0) return 0;
  return intern(frames + first, n);
}

void depot_lock() noexcept { g_depot.lock.lock(); }
void depot_unlock(ForkSide side) noexcept { release_after_fork(g_depot.lock, side); }

void depot_stats(std::size_t* stacks, std::size_t* bytes) noexcept {
  *stacks = g_depot.stacks;
  *bytes = g_depot.used;
}

int depot_get(std::uint32_t id, const void* const** frames) noexcept {
  if (id == 0 || g_depot.arena == nullptr) return 0;
  Entry* e = entry_at(id);
  *frames = frames_of(e);
  return static_cast<int>(e->depth);
}

}  // namespace poolkit::malloc_impl
