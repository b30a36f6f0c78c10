// checked_depot.cpp: the stack depot of checked mode. Each distinct call stack is
// stored once, in mmap'd memory, and named by a 32-bit id kept in block headers:
// a program that allocates a million blocks from ten places stores ten stacks.
// Lookups read the hash chains without a lock (entries are immutable once published
// with a release store); only an insertion takes the lock.
//
// Leading frames inside the malloc itself (the shared library's own code) are left
// out, so a stack starts at the program's call to malloc/new/free.
//
// Most captures unwind nothing: each thread memoizes (ThreadMemo) the malloc's own
// frames from an exported call down to depot_capture (a handful of paths, each of fixed
// frame sizes), which gives the program's call site (its return address and stack
// pointer) from a few stack reads, and then the program's stacks by call site
// (common/stack_cache.hpp), which gives the stack's id from a dozen more. A call site
// reached through callers not seen before is walked with the thread's frame sizes by
// return address (common/frame_deltas.hpp), learnt from its unwinds: one table look-up
// and one stack read a frame, instead of libunwind's DWARF unwind.
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include "checked.hpp"
#include "common/assert.hpp"
#include "common/call_stack.hpp"
#include "common/frame_deltas.hpp"
#include "common/stack_cache.hpp"
#include "common/unwinder.hpp"

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

namespace {

// ---- the per-thread memo ----------------------------------------------------------

constexpr int kOwnFrames = 4;  // the malloc's own frames (2 or 3: depot_capture, checked_alloc, malloc_generic)

// One path of the malloc's own frames from an exported call down to depot_capture,
// stack offsets relative to depot_capture's frame address (cfa): frame k's return
// address ra[k] lives at cfa + off[k] - 8 (off[0] = 0), and the program's call site's
// return address at cfa + off[count] - 8, its stack pointer being cfa + off[count].
// Invariant: 1 <= count <= kMaxOwn for a filled path (count 0: empty); every frame of
// the path has a fixed frame size (the malloc has no alloca), so that when the words
// at the first k slots match, slot k+1 is where the path says (the induction of
// stack_cache.hpp), and every word read lies in this thread's stack.
constexpr int kMaxOwn = 8;
struct OwnPath {
  std::uint32_t count;
  std::uint32_t off[kMaxOwn + 1];
  std::uintptr_t ra[kMaxOwn];
};

// A thread's memo, mapped on its first capture and handed to a later thread when it
// ends (its key's destructor). Invariant: paths[0..used) are filled; cache covers this
// thread's stack [stack_lo, stack_hi) (its words zeroed when the memo changed threads),
// and so do the frame sizes `deltas` (their slots follow the cache's words).
constexpr int kOwnPaths = 8;
struct ThreadMemo {
  ThreadMemo* next_free;
  std::size_t bytes;  // of the whole mapping
  int used;           // paths filled
  int replace;        // the next to replace when all are
  OwnPath paths[kOwnPaths];
  detail::StackCache cache;
  detail::FrameDeltas deltas;
  // the cache's words follow, then the deltas' slots
};

enum : std::uint8_t { kMemoNone, kMemoMaking, kMemoReady, kMemoGone };
__thread ThreadMemo* t_memo __attribute__((tls_model("initial-exec"))) = nullptr;
__thread std::uint8_t t_memo_state __attribute__((tls_model("initial-exec"))) = kMemoNone;

// Memos of ended threads, for the next new ones.
constinit SpinLock g_memo_lock;
constinit ThreadMemo* g_free_memos = nullptr;
pthread_key_t g_memo_key;
bool g_memo_key_made = false;

void memo_thread_done(void* arg) noexcept {
  auto* memo = static_cast<ThreadMemo*>(arg);
  t_memo = nullptr;
  t_memo_state = kMemoGone;  // later mallocs of this thread's exit capture the slow way
  LockGuard guard(g_memo_lock);
  memo->next_free = g_free_memos;
  g_free_memos = memo;
}

std::size_t memo_bytes(int depth) noexcept {
  std::size_t bytes = sizeof(ThreadMemo) + detail::StackCache::words_for(depth) * sizeof(std::uintptr_t) +
                      detail::FrameDeltas::bytes();
  std::size_t page = PageSource::page_size();
  return (bytes + page - 1) & ~(page - 1);
}

// This thread's memo, made on its first capture; nullptr when it cannot have one
// (no stack bounds, no memory, no x86-64 return-address slots, or while making it:
// pthread_getattr_np allocates).
[[gnu::noinline]] ThreadMemo* memo_make() noexcept {
#if !defined(__x86_64__)
  t_memo_state = kMemoGone;
  return nullptr;
#else
  if (t_memo_state != kMemoNone || !g_memo_key_made) return nullptr;
  t_memo_state = kMemoMaking;
  pthread_attr_t attr;
  void* lo = nullptr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
  }
  const int depth = g_options.stack_depth;
  const std::size_t bytes = memo_bytes(depth);
  ThreadMemo* memo = nullptr;
  if (lo != nullptr && size != 0) {
    {
      LockGuard guard(g_memo_lock);
      memo = g_free_memos;
      if (memo != nullptr) g_free_memos = memo->next_free;
    }
    if (memo != nullptr) {
      madvise(memo, memo->bytes, MADV_DONTNEED);  // zeroed: it described another thread's stack
    } else {
      void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      memo = m == MAP_FAILED ? nullptr : static_cast<ThreadMemo*>(m);
    }
    if (memo != nullptr) memo->bytes = bytes;  // before it can go back to the free list
  }
  if (memo == nullptr || pthread_setspecific(g_memo_key, memo) != 0) {
    if (memo != nullptr) memo_thread_done(memo);  // back to the free list
    t_memo_state = kMemoGone;
    return nullptr;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(lo);
  auto* words = reinterpret_cast<std::uintptr_t*>(memo + 1);
  memo->cache.init(words, depth, base, base + size);
  memo->deltas.init(words + detail::StackCache::words_for(depth), base + size);
  t_memo = memo;
  t_memo_state = kMemoReady;
  return memo;
#endif
}

std::uintptr_t word_at(std::uintptr_t address) noexcept { return *reinterpret_cast<const std::uintptr_t*>(address); }

// The program's call site below depot_capture's frame address cfa, by a memoized path
// of the malloc's own frames: true and *ra0, *sp0 set, or false (no path matches).
bool find_site(const ThreadMemo* memo, std::uintptr_t cfa, std::uintptr_t* ra0, std::uintptr_t* sp0) noexcept {
  const std::uintptr_t first = word_at(cfa - 8);
  for (int i = 0; i < memo->used; ++i) {
    const OwnPath& p = memo->paths[i];
    if (p.ra[0] != first) continue;
    std::uint32_t k = 1;
    while (k < p.count && word_at(cfa + p.off[k] - 8) == p.ra[k]) ++k;
    if (k < p.count) continue;
    *sp0 = cfa + p.off[p.count];
    *ra0 = word_at(*sp0 - 8);
    return true;
  }
  return false;
}

// Memoizes the path of the malloc's own frames a capture_call_stack_sp shows: frames
// [own, site) are ours, frames[own] sits at depot_capture's cfa (sps[own] == cfa).
void remember_path(ThreadMemo* memo, std::uintptr_t cfa, void* const* frames, const std::uintptr_t* sps, int own,
                   int site) noexcept {
  const int count = site - own;
  if (count < 1 || count > kMaxOwn || sps[own] != cfa) return;
  OwnPath p{};
  p.count = static_cast<std::uint32_t>(count);
  for (int k = 0; k <= count; ++k) {
    const std::uintptr_t sp = sps[own + k];
    if (sp < cfa || sp - cfa > UINT32_MAX || word_at(sp - 8) != reinterpret_cast<std::uintptr_t>(frames[own + k]) ||
        sp >= memo->cache.stack_hi())
      return;
    p.off[k] = static_cast<std::uint32_t>(sp - cfa);
    if (k < count) p.ra[k] = reinterpret_cast<std::uintptr_t>(frames[own + k]);
  }
  int slot = memo->used < kOwnPaths ? memo->used++ : memo->replace++ % kOwnPaths;
  memo->paths[slot] = p;
}

bool ours(const void* frame, std::uintptr_t lo, std::uintptr_t hi) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(frame);
  return a >= lo && a < hi;
}

// The one malloc a capture makes is the dynamic loader's, for libunwind's thread-local
// cache on a thread's first unwind: guarded, so that the overflows the reports describe
// cannot reach it (and break the unwinding that reports them).
class GuardAllScope {
 public:
  GuardAllScope() noexcept : saved_(t_checked_guard_all) { t_checked_guard_all = g_options.check != 0; }
  ~GuardAllScope() { t_checked_guard_all = saved_; }
  GuardAllScope(const GuardAllScope&) = delete;
  GuardAllScope& operator=(const GuardAllScope&) = delete;

 private:
  bool saved_;
};

// The unwinding capture: frames [first, n) after the malloc's own and `skip` more.
std::uint32_t capture_unwinding(int depth, int skip) noexcept {
  void* frames[detail::kMaxCallStackDepth];
  int want = depth + kOwnFrames > detail::kMaxCallStackDepth ? detail::kMaxCallStackDepth : depth + kOwnFrames;
  int n;
  {
    GuardAllScope guard;
    n = detail::capture_call_stack(frames, want, 0);
  }
  int first = 0;
  std::uintptr_t lo = g_self_lo.load(std::memory_order_relaxed), hi = g_self_hi.load(std::memory_order_relaxed);
  while (first < n && ours(frames[first], lo, hi)) ++first;
  if (first == n) first = 0;  // all ours (a malloc called from inside the library): keep them
  if (first + skip < n) first += skip;
  n -= first;
  if (n > depth) n = depth;
  if (n <= 0) return 0;
  return intern(frames + first, n);
}

// The capture that fills the memo: unwound frame by frame with stack pointers; the
// path of the malloc's own frames is memoized, and (fill_site) the program's stack
// for its call site.
[[gnu::noinline]] std::uint32_t capture_filling(ThreadMemo* memo, std::uintptr_t cfa, int depth,
                                               bool fill_site) noexcept {
  void* frames[detail::kMaxCallStackDepth];
  std::uintptr_t sps[detail::kMaxCallStackDepth];
  constexpr int kHelpers = 2;  // this function's and depot_capture's frames
  int want = depth + kOwnFrames + kMaxOwn > detail::kMaxCallStackDepth ? detail::kMaxCallStackDepth
                                                                       : depth + kOwnFrames + kMaxOwn;
  bool plain = false;
  int n;
  {
    GuardAllScope guard;
    n = detail::capture_call_stack_sp(frames, sps, want, 0, &plain);
  }
  std::uintptr_t lo = g_self_lo.load(std::memory_order_relaxed), hi = g_self_hi.load(std::memory_order_relaxed);
  int own = 0;
  while (own < n && own <= kHelpers && sps[own] != cfa) ++own;
  int site = own;
  while (site < n && ours(frames[site], lo, hi)) ++site;
  if (own > kHelpers || site == n) {
    // Not the expected shape (or all ours): the plain trimming, nothing memoized.
    int first = 0;
    while (first < n && ours(frames[first], lo, hi)) ++first;
    if (first == n) first = 0;
    int count = n - first > depth ? depth : n - first;
    return count > 0 ? intern(frames + first, count) : 0;
  }
  if (plain) {
    remember_path(memo, cfa, frames, sps, own, site);
    memo->deltas.learn(frames + site, sps + site, n - site, n < want);
  }
  int count = n - site > depth ? depth : n - site;
  if (count <= 0) return 0;
  std::uint32_t id = intern(frames + site, count);
  if (fill_site)
    memo->cache.fill(reinterpret_cast<std::uintptr_t>(frames[site]), sps[site], frames + site, sps + site, count,
                     plain, id);
  return id;
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
  // Each thread's memo goes to the free list when the thread ends.
  g_memo_key_made = pthread_key_create(&g_memo_key, memo_thread_done) == 0;
}

std::uint32_t depot_capture(int skip) noexcept {
  int depth = g_options.stack_depth;
  if (depth <= 0 || g_depot.arena == nullptr) return 0;
  learn_self();
  // The memo when the stack starts at the call (no frames to skip: not a report from
  // the fault handler) and the malloc is a shared library of its own (its frames known).
  if (skip != 0 || g_self_hi.load(std::memory_order_relaxed) == 0) return capture_unwinding(depth, skip);
  ThreadMemo* memo = t_memo;
  if (memo == nullptr && t_memo_state == kMemoNone && detail::unwinder() != nullptr) memo = memo_make();
  if (memo == nullptr) return capture_unwinding(depth, 0);
  const auto cfa = reinterpret_cast<std::uintptr_t>(__builtin_dwarf_cfa());
  std::uintptr_t ra0, sp0;
  if (!find_site(memo, cfa, &ra0, &sp0)) return capture_filling(memo, cfa, depth, true);
  std::uint32_t id = 0;
  const detail::StackCache::Lookup lookup = memo->cache.find(ra0, sp0, &id);
  if (lookup == detail::StackCache::Lookup::kHit) {
    PK_ASSERT_EXPENSIVE(id == capture_unwinding(depth, 0));  // the memo gives what an unwind gives
    return id;
  }
  const bool fill_site = lookup == detail::StackCache::Lookup::kCaptureAndFill;
  // Callers not memoized for this site: walked by frame sizes, when all are known.
  void* frames[detail::kMaxCallStackDepth];
  std::uintptr_t sps[detail::kMaxCallStackDepth];
  const int n = memo->deltas.walk(ra0, sp0, frames, sps, depth);
  if (n > 0) {
    id = intern(frames, n);
    PK_ASSERT_EXPENSIVE(id == capture_unwinding(depth, 0));  // the walk gives what an unwind gives
    if (fill_site) memo->cache.fill(ra0, sp0, frames, sps, n, true, id);
    return id;
  }
  // A frame not known yet: the unwind with stack pointers, which teaches it. A frame of
  // run-time size: the faster unwind (with stack pointers it would teach nothing).
  if (fill_site || n == 0) return capture_filling(memo, cfa, depth, fill_site);
  return capture_unwinding(depth, 0);
}

void depot_lock() noexcept {
  g_depot.lock.lock();
  g_memo_lock.lock();
}
void depot_unlock(ForkSide side) noexcept {
  release_after_fork(g_memo_lock, side);
  release_after_fork(g_depot.lock, side);
}

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
