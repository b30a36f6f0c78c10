// trace/trace_preload.cpp: libpoolkit-trace.so, what `poolkit trace` preloads. It
// defines the malloc family and every C++ operator new/delete, serves each call from
// poolkit's malloc through its poolkit_* entry points (the noverride archive, linked
// in), and records the call (trace_format.hpp) without touching the malloc itself.
//
// Recording: each thread appends records to its own 64 KiB buffer (no lock shared
// with other threads on the way), events packed in varints; a full buffer is
// LZ4-compressed (or stored, when it hardly compresses) and written as one chunk with
// one write. Times come from the TSC (trace_clock.hpp). Call stacks are captured with
// libunwind (common/call_stack) and deduplicated in a lock-free hash table: a stack's
// frames are written once, the events carry its id; each thread memoizes its stacks
// by call site (common/stack_cache.hpp), so a call repeated from the same place with the
// same callers is neither unwound nor looked up again. Buffers are flushed when a thread ends,
// at exit, before exec, and a forked child starts its own file (FILE.<pid>) with the
// stacks and modules known so far, so every file is readable alone.
//
// Nothing here calls malloc while recording (t_busy guards the rare libc or libunwind
// call that does: such calls are served, not recorded).
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <lz4.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/call_stack.hpp"
#include "common/frame_deltas.hpp"
#include "common/new_handler_loop.hpp"
#include "common/stack_cache.hpp"
#include "common/unwinder.hpp"
#include "poolkit/detail/spin_lock.hpp"
#include "poolkit/malloc.h"
#include "trace_clock.hpp"
#include "trace_format.hpp"

#define PK_EXPORT extern "C" __attribute__((visibility("default")))
#define PK_CXX_EXPORT __attribute__((visibility("default")))

using namespace poolkit::trace;
using poolkit::detail::FrameDeltas;
using poolkit::detail::StackCache;

namespace {

constexpr std::size_t kLogBytes = 64 * 1024;
constexpr std::size_t kMaxRecordBytes = 1024;  // a stack record, a module record with its path
constexpr int kDefaultDepth = 16;
constexpr std::size_t kStackSlots = std::size_t{1} << 20;         // hash table of stacks
constexpr std::size_t kStackStoreBytes = std::size_t{256} << 20;   // frames kept for forked children
constexpr int kStoredRun = 15;

// One thread's buffer. `used` bytes of `data` are records not yet written. Only the
// exit and exec paths take it from another thread, so the owner's way in is cheap: with
// membarrier (g_asymmetric), record() marks `owner_in` with a plain store and looks at
// `foreign`; another thread takes `lock`, sets `foreign`, runs heavy_fence() and waits
// for `owner_in` to clear (asymmetric Dekker: either the owner's mark is visible after
// the fence, or the owner sees `foreign` and queues on `lock`). Without membarrier, and
// for the spare log shared by exited threads, everyone takes `lock` (a SpinLock: no
// atomic instruction while the process has one thread, a futex sleep for a waiter).
// Invariants: the owner appends only with owner_in = 1 and foreign = 0 seen, or under
// `lock`; another thread touches the buffer only under `lock` with foreign = 1 and
// owner_in = 0 seen after the fence.
struct ThreadLog {
  poolkit::detail::SpinLock lock;
  std::atomic<std::uint32_t> owner_in{0};
  std::atomic<std::uint32_t> foreign{0};
  std::uint32_t thread = 0;
  std::size_t used = 0;
  PackedEventBase base;             // what the chunk's next packed event is relative to
  std::uint64_t last_time = 0;      // the thread's latest event time: its times never go back
  int stored_run = 0;               // chunks to store without compressing (see flush)
  ThreadLog* next = nullptr;
  unsigned char* data = nullptr;    // kLogBytes
  unsigned char* packed = nullptr;  // LZ4_compressBound(kLogBytes)
  void* lz4_state = nullptr;        // LZ4_sizeofState()
  StackCache stacks;                // the owner thread's call sites (not for g_spare)
  FrameDeltas deltas;               // the owner thread's frame sizes (not for g_spare)
  std::uintptr_t* stack_words = nullptr;  // StackCache::words_for(g_depth), then FrameDeltas::bytes(): mapped on first use
};

struct StackSlot {
  std::atomic<std::uint64_t> key;  // hash of the frames, never 0; 0 = empty
  std::atomic<std::uint32_t> id;   // 0 until the inserting thread has published it
};

std::atomic<bool> g_ready{false};     // set up, recording
std::atomic<bool> g_finished{false};  // past exit's final flush: flush every event at once
bool g_asymmetric = false;            // membarrier works: owners enter their logs without an atomic (ThreadLog)
int g_fd = -1;
dev_t g_file_dev = 0;
ino_t g_file_ino = 0;
pthread_mutex_t g_file_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_logs_lock = PTHREAD_MUTEX_INITIALIZER;
ThreadLog* g_logs = nullptr;       // threads alive (under g_logs_lock)
ThreadLog* g_free_logs = nullptr;  // of exited threads, to reuse
ThreadLog* g_spare = nullptr;      // for threads past their exit and events after exit
std::atomic<std::uint32_t> g_next_thread{0};
std::atomic<std::uint32_t> g_next_stack{0};
std::atomic<unsigned long long> g_modules_seen{0};
pthread_key_t g_key;
int g_depth = kDefaultDepth;
TraceClock g_clock;
std::uint64_t g_start_unix_ns = 0;
StackSlot* g_stacks = nullptr;
unsigned char* g_store = nullptr;  // StackRecord + frames, back to back (for fork)
std::size_t g_store_used = 0;
std::atomic_flag g_store_lock = ATOMIC_FLAG_INIT;
char g_path[4096];
char g_exe[4096];
char g_command[4096];
std::size_t g_command_bytes = 0;
int (*g_real_execve)(const char*, char* const[], char* const[]) = nullptr;
int (*g_real_execvpe)(const char*, char* const[], char* const[]) = nullptr;

thread_local ThreadLog* t_log = nullptr;
thread_local bool t_busy = false;
thread_local bool t_exited = false;
thread_local std::uint32_t t_thread = 0;

void spin_lock(std::atomic_flag& f) noexcept {
  while (f.test_and_set(std::memory_order_acquire)) {
  }
}
void spin_unlock(std::atomic_flag& f) noexcept { f.clear(std::memory_order_release); }

// True while the process has never had a second thread (glibc's __libc_single_threaded
// turns false before one exists and never back). Then no block can come from another
// thread's free, and an allocation's time needs no fence (trace_clock.hpp): the
// thread's own order is kept by its buffer.
bool one_thread() noexcept {
#if POOLKIT_HAVE_SINGLE_THREADED
  return __libc_single_threaded != 0;
#else
  return false;
#endif
}

std::uint64_t now() noexcept { return g_clock.now(); }
std::uint64_t now_release() noexcept { return g_clock.now_release(); }

void* map_bytes(std::size_t n) noexcept {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool write_all(int fd, const struct iovec* iov_in, int count) noexcept {
  struct iovec iov[2];
  for (int i = 0; i < count; ++i) iov[i] = iov_in[i];
  int first = 0;
  while (first < count) {
    ssize_t n = writev(fd, iov + first, count - first);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (first < count && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

// Writes one chunk. The file is checked to still be ours: a program that closes every
// descriptor and opens its own must never receive trace bytes.
void write_chunk(std::uint32_t thread, const unsigned char* packed, std::size_t packed_bytes, std::size_t raw_bytes,
                 std::uint32_t codec) noexcept {
  ChunkHeader header{kChunkMagic, thread, static_cast<std::uint32_t>(raw_bytes),
                     static_cast<std::uint32_t>(packed_bytes), codec, chunk_checksum(packed, packed_bytes)};
  struct iovec iov[2] = {{&header, sizeof header}, {const_cast<unsigned char*>(packed), packed_bytes}};
  pthread_mutex_lock(&g_file_lock);
  struct stat st;
  if (g_fd >= 0 && (fstat(g_fd, &st) != 0 || st.st_dev != g_file_dev || st.st_ino != g_file_ino)) g_fd = -1;
  if (g_fd >= 0 && !write_all(g_fd, iov, 2)) g_fd = -1;
  pthread_mutex_unlock(&g_file_lock);
}

// Under log->lock. A thread whose chunks shrink by less than a third under LZ4 (random
// sizes and addresses: LZ4 then costs a fifth of the traced time for 1.3x) stores the
// next kStoredRun chunks as they are, then tries LZ4 again.
void flush(ThreadLog* log) noexcept {
  if (log->used == 0) return;
  if (log->stored_run > 0) {
    --log->stored_run;
    write_chunk(log->thread, log->data, log->used, log->used, kCodecStored);
  } else {
    const int packed = LZ4_compress_fast_extState(log->lz4_state, reinterpret_cast<const char*>(log->data),
                                                  reinterpret_cast<char*>(log->packed), static_cast<int>(log->used),
                                                  LZ4_compressBound(static_cast<int>(kLogBytes)), 1);
    if (packed > 0) {
      write_chunk(log->thread, log->packed, static_cast<std::size_t>(packed), log->used, kCodecLz4);
      if (static_cast<std::size_t>(packed) * 3 > log->used * 2) log->stored_run = kStoredRun;
    }
  }
  log->used = 0;
  log->base = {};  // a chunk reads alone
}

// Room for `bytes` more in the log (under its lock), flushing it when full; the caller
// adds what it wrote to `used`.
unsigned char* room(ThreadLog* log, std::size_t bytes) noexcept {
  if (log->used + bytes > kLogBytes) flush(log);
  return log->data + log->used;
}

// Room for a fixed record of `bytes`, padded to 8.
unsigned char* reserve(ThreadLog* log, std::size_t bytes) noexcept {
  unsigned char* at = room(log, padded8(bytes));
  log->used += padded8(bytes);
  return at;
}

ThreadLog* map_log() noexcept {
  const std::size_t bound = static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(kLogBytes)));
  const std::size_t state = static_cast<std::size_t>(LZ4_sizeofState());
  const std::size_t total = padded8(sizeof(ThreadLog)) + kLogBytes + padded8(bound) + state;
  auto* base = static_cast<unsigned char*>(map_bytes(total));
  if (base == nullptr) return nullptr;
  auto* log = new (base) ThreadLog;
  log->data = base + padded8(sizeof(ThreadLog));
  log->packed = log->data + kLogBytes;
  log->lz4_state = log->packed + padded8(bound);
  return log;
}

void put_thread_record(ThreadLog* log) noexcept {
  ThreadRecord r{};
  r.type = RecordType::kThread;
  r.thread = log->thread;
  r.tid = static_cast<std::uint32_t>(syscall(SYS_gettid));
  r.time = now();
  std::memcpy(reserve(log, sizeof r), &r, sizeof r);
}

void put_process_record(ThreadLog* log) noexcept {
  ProcessRecord r{};
  r.type = RecordType::kProcess;
  r.command_bytes = static_cast<std::uint16_t>(g_command_bytes);
  r.pid = static_cast<std::uint32_t>(getpid());
  r.time = now();
  unsigned char* at = reserve(log, sizeof r + g_command_bytes);
  std::memcpy(at, &r, sizeof r);
  std::memcpy(at + sizeof r, g_command, g_command_bytes);
}

// The call-site memo and the frame sizes of the calling thread, which now owns `log` (a
// reused log's described another thread's stack: emptied). Left off when their memory or
// the thread's stack bounds are not to be had.
void init_stack_cache(ThreadLog* log) noexcept {
  log->stacks = StackCache{};
  log->deltas = FrameDeltas{};
#if !defined(__x86_64__)
  return;  // StackCache knows where x86-64 keeps return addresses only
#endif
  if (g_depth == 0) return;
  const std::size_t cache_words = StackCache::words_for(g_depth);
  const std::size_t bytes = cache_words * sizeof(std::uintptr_t) + FrameDeltas::bytes();
  if (log->stack_words == nullptr) {
    log->stack_words = static_cast<std::uintptr_t*>(map_bytes(bytes));
    if (log->stack_words == nullptr) return;
  } else {
    madvise(log->stack_words, bytes, MADV_DONTNEED);  // zero again
  }
  const bool was_busy = t_busy;
  t_busy = true;  // pthread_getattr_np may allocate: served, not recorded
  pthread_attr_t attr;
  void* lo = nullptr;
  std::size_t size = 0;
  const bool known = pthread_getattr_np(pthread_self(), &attr) == 0;
  if (known) {
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
  }
  t_busy = was_busy;
  if (!known || lo == nullptr || size == 0) return;
  const auto base = reinterpret_cast<std::uintptr_t>(lo);
  log->stacks.init(log->stack_words, g_depth, base, base + size);
  log->deltas.init(log->stack_words + cache_words, base + size);
}

// The calling thread's log, made on its first event.
ThreadLog* new_log() noexcept {
  pthread_mutex_lock(&g_logs_lock);
  ThreadLog* log = g_free_logs;
  if (log != nullptr) {
    g_free_logs = log->next;
  } else {
    log = map_log();
  }
  if (log != nullptr) {
    log->used = 0;
    log->base = {};
    log->thread = ++g_next_thread;
    log->next = g_logs;
    g_logs = log;
  }
  pthread_mutex_unlock(&g_logs_lock);
  if (log == nullptr) return nullptr;
  init_stack_cache(log);
  t_thread = log->thread;
  t_log = log;
  pthread_setspecific(g_key, log);  // its destructor flushes the log when the thread ends
  log->lock.lock();
  put_thread_record(log);
  log->lock.unlock();
  return log;
}

// Thread exit (pthread key destructor): the rest of its records go out now, the buffer
// goes to the next new thread, and any later event of this thread is written at once.
void thread_exit(void* arg) noexcept {
  auto* log = static_cast<ThreadLog*>(arg);
  t_busy = true;
  log->lock.lock();
  flush(log);
  log->lock.unlock();
  t_log = nullptr;
  t_exited = true;
  pthread_mutex_lock(&g_logs_lock);
  for (ThreadLog** link = &g_logs; *link != nullptr; link = &(*link)->next) {
    if (*link == log) {
      *link = log->next;
      break;
    }
  }
  log->next = g_free_logs;
  g_free_logs = log;
  pthread_mutex_unlock(&g_logs_lock);
  t_busy = false;
}

// The owner's way into its log (ThreadLog); true when it took the lock.
bool owner_enter(ThreadLog* log) noexcept {
  if (g_asymmetric && log != g_spare) {
    log->owner_in.store(1, std::memory_order_relaxed);
    asm volatile("" ::: "memory");  // the light side of the fence: program order only
    if (log->foreign.load(std::memory_order_acquire) == 0) return false;
    log->owner_in.store(0, std::memory_order_release);  // another thread is flushing: queue
  }
  log->lock.lock();
  return true;
}

void owner_leave(ThreadLog* log, bool locked) noexcept {
  if (locked) {
    log->lock.unlock();
  } else {
    log->owner_in.store(0, std::memory_order_release);
  }
}

// Another thread's way into a log (exit, exec).
void foreign_enter(ThreadLog* log) noexcept {
  log->lock.lock();
  if (!g_asymmetric) return;
  log->foreign.store(1, std::memory_order_relaxed);
  poolkit::detail::heavy_fence();  // worked at start (g_asymmetric), and keeps working in this process
  while (log->owner_in.load(std::memory_order_acquire) != 0) poolkit::detail::cpu_relax();
}

void foreign_leave(ThreadLog* log) noexcept {
  if (g_asymmetric) log->foreign.store(0, std::memory_order_release);
  log->lock.unlock();
}

void flush_all() noexcept {
  pthread_mutex_lock(&g_logs_lock);
  for (ThreadLog* log = g_logs; log != nullptr; log = log->next) {
    foreign_enter(log);
    flush(log);
    foreign_leave(log);
  }
  pthread_mutex_unlock(&g_logs_lock);
}

// ---- modules ----------------------------------------------------------------------

struct ModuleWalk {
  ThreadLog* log;
  unsigned long long generation;
};

const char* module_path(const dl_phdr_info* info) noexcept {
  if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') return g_exe;  // the executable
  return info->dlpi_name;
}

int emit_module(dl_phdr_info* info, std::size_t, void* arg) noexcept {
  auto* walk = static_cast<ModuleWalk*>(arg);
  const char* path = module_path(info);
  if (path[0] != '/') return 0;  // linux-vdso.so.1 and the like: no file to symbolise
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const std::uint64_t start = info->dlpi_addr + ph.p_vaddr;
    if (start < lo) lo = start;
    if (start + ph.p_memsz > hi) hi = start + ph.p_memsz;
  }
  if (hi == 0) return 0;
  std::size_t len = std::strlen(path);
  if (len > kMaxRecordBytes - sizeof(ModuleRecord)) len = kMaxRecordBytes - sizeof(ModuleRecord);
  ModuleRecord r{};
  r.type = RecordType::kModule;
  r.path_bytes = static_cast<std::uint16_t>(len);
  r.bias = info->dlpi_addr;
  r.start = lo;
  r.end = hi;
  unsigned char* at = reserve(walk->log, sizeof r + len);
  std::memcpy(at, &r, sizeof r);
  std::memcpy(at + sizeof r, path, len);
  return 0;
}

int read_generation(dl_phdr_info* info, std::size_t, void* arg) noexcept {
  static_cast<ModuleWalk*>(arg)->generation = info->dlpi_adds * 65536ull + info->dlpi_subs;
  return 1;  // the counters are the same in every entry: one is enough
}

// Sends the module map when it changed since last sent (a dlopen or dlclose): called
// before a new stack is recorded, so every stack's modules are in the file before it.
void emit_modules(ThreadLog* log, bool always) noexcept {
  ModuleWalk walk{log, 0};
  dl_iterate_phdr(read_generation, &walk);
  if (!always && g_modules_seen.load(std::memory_order_relaxed) == walk.generation) return;
  g_modules_seen.store(walk.generation, std::memory_order_relaxed);
  dl_iterate_phdr(emit_module, &walk);
}

// ---- stacks -----------------------------------------------------------------------

std::uint64_t hash_frames(void* const* frames, int depth) noexcept {
  std::uint64_t h = 0xcbf2'9ce4'8422'2325ull ^ static_cast<std::uint64_t>(depth);
  for (int i = 0; i < depth; ++i) {
    h = (h ^ reinterpret_cast<std::uintptr_t>(frames[i])) * 0x9e37'79b9'7f4a'7c15ull;
    h ^= h >> 29;
  }
  return h | 1;
}

void put_stack_record(ThreadLog* log, std::uint32_t id, void* const* frames, int depth) noexcept {
  StackRecord r{RecordType::kStack, static_cast<std::uint8_t>(depth), 0, id};
  unsigned char* at = reserve(log, sizeof r + 8 * static_cast<std::size_t>(depth));
  std::memcpy(at, &r, sizeof r);
  for (int i = 0; i < depth; ++i) {
    const std::uint64_t a = reinterpret_cast<std::uintptr_t>(frames[i]);
    std::memcpy(at + sizeof r + 8 * static_cast<std::size_t>(i), &a, 8);
  }
}

// The id of this stack, defined in `log` if new. 0 when the table is full.
std::uint32_t stack_id(ThreadLog* log, void* const* frames, int depth) noexcept {
  const std::uint64_t key = hash_frames(frames, depth);
  for (std::size_t probe = 0; probe < 64; ++probe) {
    StackSlot& slot = g_stacks[(key + probe) & (kStackSlots - 1)];
    std::uint64_t seen = slot.key.load(std::memory_order_acquire);
    if (seen == 0) {
      if (slot.key.compare_exchange_strong(seen, key, std::memory_order_acq_rel)) {
        const std::uint32_t id = ++g_next_stack;
        emit_modules(log, false);
        put_stack_record(log, id, frames, depth);
        spin_lock(g_store_lock);
        const std::size_t bytes = sizeof(StackRecord) + 8 * static_cast<std::size_t>(depth);
        if (g_store_used + bytes <= kStackStoreBytes) {
          StackRecord r{RecordType::kStack, static_cast<std::uint8_t>(depth), 0, id};
          std::memcpy(g_store + g_store_used, &r, sizeof r);
          std::memcpy(g_store + g_store_used + sizeof r, frames, 8 * static_cast<std::size_t>(depth));
          g_store_used += bytes;
        }
        spin_unlock(g_store_lock);
        slot.id.store(id, std::memory_order_release);
        return id;
      }
    }
    if (seen == key) {
      // Another thread is publishing it: a few instructions away (bounded: a slot
      // left half-made by a fork in the middle of an insert must not hang the child).
      for (int spin = 0; spin < 1'000'000; ++spin) {
        if (std::uint32_t id = slot.id.load(std::memory_order_acquire); id != 0) return id;
      }
      return 0;
    }
  }
  return 0;
}

// ---- the event --------------------------------------------------------------------

// Where the traced call was made: its return address and the stack pointer at the
// call (the exported function's frame address), the key of the thread's StackCache.
// Two arguments, not a struct: g++ 12 built the struct from two stores and one 16-byte
// load, a failed store forwarding on every call (a quarter of record's time).
#define PK_SITE                                                    \
  reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)),   \
      reinterpret_cast<std::uintptr_t>(__builtin_dwarf_cfa())

// Records one call. Never inlined: the stack capture skips exactly this frame and the
// exported function's, so the first frame is the program's call site.
__attribute__((noinline)) void record(std::uintptr_t site_ra, std::uintptr_t site_sp, Call call, std::uint64_t size, std::uint64_t aux, const void* ptr,
                                      const void* old_ptr, std::uint64_t time) noexcept {
  t_busy = true;
  ThreadLog* log = t_log;
  bool direct = g_finished.load(std::memory_order_relaxed);
  if (log == nullptr) {
    if (t_exited) {
      log = g_spare;
      direct = true;
    } else {
      log = new_log();
    }
  }
  if (log == nullptr) {
    t_busy = false;
    return;
  }
  // The stack: memoized by call site when this thread has made the same call from
  // the same callers before (no unwind); else walked by the frame sizes learnt from
  // earlier unwinds when every frame's is known (recursion: new callers of a known
  // site, common/frame_deltas.hpp); else unwound, with stack pointers to learn from
  // while the walk lacks a frame's size; memoized when seen twice.
  void* frames[kMaxStackDepth];
  std::uintptr_t sps[kMaxStackDepth];
  int depth = 0;
  bool fill = false, plain = false;
  std::uint32_t known_id = 0;
  if (g_depth > 0) {
    StackCache::Lookup how = log->stacks.ready() ? log->stacks.find(site_ra, site_sp, &known_id)
                                                 : StackCache::Lookup::kCapture;
    if (how != StackCache::Lookup::kHit) {
      fill = how == StackCache::Lookup::kCaptureAndFill;
      const int walked = log->deltas.ready() ? log->deltas.walk(site_ra, site_sp, frames, sps, g_depth) : 0;
      if (walked > 0) {
        depth = walked;
        plain = true;
      } else if (fill || (walked == 0 && log->deltas.ready())) {
        depth = poolkit::detail::capture_call_stack_sp(frames, sps, g_depth, 2, &plain);
        if (plain && log->deltas.ready()) log->deltas.learn(frames, sps, depth, depth < g_depth);
      } else {
        depth = poolkit::detail::capture_call_stack(frames, g_depth, 2);  // a frame of run-time size
      }
    }
  }
  const bool locked = owner_enter(log);
  if (log == g_spare) {
    if (t_thread == 0) t_thread = ++g_next_thread;
    log->thread = t_thread;
  }
  EventRecord r;
  r.type = RecordType::kEvent;
  r.call = call;
  r.reserved = 0;
  r.stack = known_id != 0 ? known_id : depth > 0 ? stack_id(log, frames, depth) : 0;
  if (fill) log->stacks.fill(site_ra, site_sp, frames, sps, depth, plain, r.stack);
  r.time = time != 0 ? time : is_release(call) || one_thread() ? g_clock.now_release() : g_clock.now();
  if (r.time < log->last_time) r.time = log->last_time;  // unfenced reads may come out of order
  log->last_time = r.time;
  r.size = size;
  r.aux = aux;
  r.ptr = reinterpret_cast<std::uintptr_t>(ptr);
  r.old_ptr = reinterpret_cast<std::uintptr_t>(old_ptr);
  unsigned char* at = room(log, kMaxPackedEventBytes);
  log->used += static_cast<std::size_t>(pack_event(at, r, log->base) - at);
  if (direct) flush(log);
  owner_leave(log, locked);
  t_busy = false;
}

inline bool tracing() noexcept { return g_ready.load(std::memory_order_relaxed) && !t_busy; }

// ---- set-up, exit, fork, exec ---------------------------------------------------

bool open_trace_file(const char* path) noexcept {
  char name[4096 + 32];
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  // Taken (the traced program forked or exec'ed): FILE.<pid>, then FILE.<pid>.<n>.
  for (int n = 0; fd < 0 && errno == EEXIST && n < 100; ++n) {
    if (n == 0)
      std::snprintf(name, sizeof name, "%s.%d", g_path, static_cast<int>(getpid()));
    else
      std::snprintf(name, sizeof name, "%s.%d.%d", g_path, static_cast<int>(getpid()), n);
    fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) return false;
  // Far from the small numbers a program uses and dup2s over.
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 700);
  if (high >= 0) {
    close(fd);
    fd = high;
  }
  struct stat st;
  fstat(fd, &st);
  g_file_dev = st.st_dev;
  g_file_ino = st.st_ino;
  FileHeader header{};
  std::memcpy(header.magic, kFileMagic, sizeof header.magic);
  header.version = kFormatVersion;
  header.header_bytes = sizeof(FileHeader);
  header.pid = static_cast<std::uint32_t>(getpid());
  header.parent_pid = static_cast<std::uint32_t>(getppid());
  header.start_unix_ns = g_start_unix_ns;
  struct iovec iov[1] = {{&header, sizeof header}};
  if (!write_all(fd, iov, 1)) {
    close(fd);
    return false;
  }
  g_fd = fd;
  return true;
}

void read_command_line() noexcept {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, g_command, sizeof g_command - 1);
  close(fd);
  g_command_bytes = n > 0 ? static_cast<std::size_t>(n) : 0;
  while (g_command_bytes > 0 && g_command[g_command_bytes - 1] == '\0') --g_command_bytes;
}

void fork_prepare() noexcept {
  pthread_mutex_lock(&g_logs_lock);
  spin_lock(g_store_lock);
  pthread_mutex_lock(&g_file_lock);
}
void fork_parent() noexcept {
  pthread_mutex_unlock(&g_file_lock);
  spin_unlock(g_store_lock);
  pthread_mutex_unlock(&g_logs_lock);
}

// The child: its own file, starting with what its events refer to (the process, this
// thread, the modules, every stack known so far). Buffers of the parent's threads are
// dropped: their events are the parent's, written by the parent.
void fork_child() noexcept {
  g_asymmetric = false;  // the child is not registered for membarrier (heavy_fence would fail)
  pthread_mutex_init(&g_file_lock, nullptr);
  pthread_mutex_init(&g_logs_lock, nullptr);
  spin_unlock(g_store_lock);
  if (g_fd >= 0) close(g_fd);
  g_fd = -1;
  if (!open_trace_file(g_path)) {
    g_ready.store(false);
    return;
  }
  ThreadLog* mine = t_log;
  g_logs = nullptr;
  g_free_logs = nullptr;
  if (mine == nullptr) {
    if (t_exited || (mine = new_log()) == nullptr) return;
  } else {
    mine->lock.reset_after_fork();
    mine->used = 0;
    mine->base = {};
    mine->next = nullptr;
    g_logs = mine;
    put_thread_record(mine);
  }
  g_spare->lock.reset_after_fork();
  g_spare->used = 0;
  g_spare->base = {};
  t_busy = true;
  read_command_line();
  mine->lock.lock();
  put_process_record(mine);
  emit_modules(mine, true);
  for (std::size_t at = 0; at < g_store_used;) {
    StackRecord r;
    std::memcpy(&r, g_store + at, sizeof r);
    put_stack_record(mine, r.id, reinterpret_cast<void* const*>(g_store + at + sizeof r), r.depth);
    at += sizeof r + 8 * std::size_t{r.depth};
  }
  mine->lock.unlock();
  t_busy = false;
}

__attribute__((constructor(101))) void trace_start() {
  const char* path = std::getenv("PKTRACE_FILE");
  if (path == nullptr || path[0] == '\0' || std::strlen(path) >= sizeof g_path) return;
  std::strcpy(g_path, path);
  if (const char* depth = std::getenv("PKTRACE_DEPTH"); depth != nullptr) {
    const long d = std::strtol(depth, nullptr, 10);
    g_depth = d < 0 ? 0 : d > kMaxStackDepth ? kMaxStackDepth : static_cast<int>(d);
  }
  ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
  g_exe[n > 0 ? n : 0] = '\0';
  read_command_line();
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  g_start_unix_ns = static_cast<std::uint64_t>(wall.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(wall.tv_nsec);
  g_clock.start();  // times start at 1: 0 means "now" to record()
  g_stacks = static_cast<StackSlot*>(map_bytes(kStackSlots * sizeof(StackSlot)));
  // Programs with many distinct stacks (recursion) probe all over the table: huge
  // pages spare TLB misses (on this machine the gain stayed within the noise).
  if (g_stacks != nullptr) madvise(g_stacks, kStackSlots * sizeof(StackSlot), MADV_HUGEPAGE);
  g_store = static_cast<unsigned char*>(map_bytes(kStackStoreBytes));
  g_spare = map_log();
  if (g_stacks == nullptr || g_store == nullptr || g_spare == nullptr) return;
  if (pthread_key_create(&g_key, thread_exit) != 0) return;
  g_real_execve = reinterpret_cast<decltype(g_real_execve)>(dlsym(RTLD_NEXT, "execve"));
  g_real_execvpe = reinterpret_cast<decltype(g_real_execvpe)>(dlsym(RTLD_NEXT, "execvpe"));
  if (!open_trace_file(g_path)) return;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  g_asymmetric = poolkit::detail::heavy_fence();  // registers this process for membarrier
  t_busy = true;
  if (ThreadLog* log = new_log(); log != nullptr) {
    log->lock.lock();
    put_process_record(log);
    log->lock.unlock();
  }
  t_busy = false;
  // libunwind is dlopened on first use: load it before recording starts, so that the
  // loader's own allocations are not traced.
  if (g_depth > 0) poolkit::detail::unwinder_load();
  g_ready.store(true);
}

// Runs after the program's own exit handlers and destructors (it was set up before them).
__attribute__((destructor(101))) void trace_finish() {
  if (!g_ready.load()) return;
  g_finished.store(true);
  flush_all();
}

// The nothrow forms run the same loop and turn whatever it throws (bad_alloc, or a
// handler's own exception) into nullptr.
void* new_slow(std::size_t size, std::size_t alignment, bool nothrow) {
  auto loop = [=] {
    return poolkit::detail::new_handler_loop(
        [=] { return alignment > 16 ? poolkit_memalign(alignment, size) : poolkit_malloc(size); },
        std::get_new_handler, [] { throw std::bad_alloc(); });
  };
  if (!nothrow) return loop();
  try {
    return loop();
  } catch (...) {
    return nullptr;
  }
}

std::uint64_t product(std::size_t n, std::size_t size) noexcept {
  std::size_t total;
  return __builtin_mul_overflow(n, size, &total) ? SIZE_MAX : total;
}

}  // namespace

// ---- the exported names -------------------------------------------------------------
// Each takes its own time (releases before, allocations after: see trace_format.hpp)
// and calls record() directly, so that the stack skip count is the same for all.

PK_EXPORT void* malloc(size_t size) noexcept {
  void* p = poolkit_malloc(size);
  if (tracing()) record(PK_SITE, Call::kMalloc, size, 0, p, nullptr, 0);
  return p;
}
PK_EXPORT void free(void* p) noexcept {
  if (p != nullptr && tracing()) record(PK_SITE, Call::kFree, 0, 0, p, nullptr, 0);
  poolkit_free(p);
}
PK_EXPORT void* calloc(size_t n, size_t size) noexcept {
  void* p = poolkit_calloc(n, size);
  if (tracing()) record(PK_SITE, Call::kCalloc, product(n, size), 0, p, nullptr, 0);
  return p;
}
PK_EXPORT void* realloc(void* old, size_t size) noexcept {
  const std::uint64_t before = tracing() ? now_release() : 0;
  void* p = poolkit_realloc(old, size);
  if (tracing()) record(PK_SITE, Call::kRealloc, size, before, p, old, 0);
  return p;
}
PK_EXPORT void* reallocarray(void* old, size_t n, size_t size) noexcept {
  const std::uint64_t before = tracing() ? now_release() : 0;
  void* p = poolkit_reallocarray(old, n, size);
  if (tracing()) record(PK_SITE, Call::kReallocArray, product(n, size), before, p, old, 0);
  return p;
}
PK_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  const int rc = poolkit_posix_memalign(out, alignment, size);
  if (tracing()) record(PK_SITE, Call::kPosixMemalign, size, alignment, rc == 0 ? *out : nullptr, nullptr, 0);
  return rc;
}
PK_EXPORT void* aligned_alloc(size_t alignment, size_t size) noexcept {
  void* p = poolkit_aligned_alloc(alignment, size);
  if (tracing()) record(PK_SITE, Call::kAlignedAlloc, size, alignment, p, nullptr, 0);
  return p;
}
PK_EXPORT void* memalign(size_t alignment, size_t size) noexcept {
  void* p = poolkit_memalign(alignment, size);
  if (tracing()) record(PK_SITE, Call::kMemalign, size, alignment, p, nullptr, 0);
  return p;
}
PK_EXPORT void* valloc(size_t size) noexcept {
  void* p = poolkit_valloc(size);
  if (tracing()) record(PK_SITE, Call::kValloc, size, 4096, p, nullptr, 0);
  return p;
}
PK_EXPORT void* pvalloc(size_t size) noexcept {
  void* p = poolkit_pvalloc(size);
  if (tracing()) record(PK_SITE, Call::kPvalloc, size, 4096, p, nullptr, 0);
  return p;
}
PK_EXPORT void cfree(void* p) noexcept {
  if (p != nullptr && tracing()) record(PK_SITE, Call::kFree, 0, 0, p, nullptr, 0);
  poolkit_free(p);
}
// glibc's internal names: code that calls them must reach the same allocator.
PK_EXPORT void* __libc_malloc(size_t size) noexcept {
  void* p = poolkit_malloc(size);
  if (tracing()) record(PK_SITE, Call::kMalloc, size, 0, p, nullptr, 0);
  return p;
}
PK_EXPORT void __libc_free(void* p) noexcept {
  if (p != nullptr && tracing()) record(PK_SITE, Call::kFree, 0, 0, p, nullptr, 0);
  poolkit_free(p);
}
PK_EXPORT void* __libc_calloc(size_t n, size_t size) noexcept {
  void* p = poolkit_calloc(n, size);
  if (tracing()) record(PK_SITE, Call::kCalloc, product(n, size), 0, p, nullptr, 0);
  return p;
}
PK_EXPORT void* __libc_realloc(void* old, size_t size) noexcept {
  const std::uint64_t before = tracing() ? now_release() : 0;
  void* p = poolkit_realloc(old, size);
  if (tracing()) record(PK_SITE, Call::kRealloc, size, before, p, old, 0);
  return p;
}
PK_EXPORT void* __libc_memalign(size_t alignment, size_t size) noexcept {
  void* p = poolkit_memalign(alignment, size);
  if (tracing()) record(PK_SITE, Call::kMemalign, size, alignment, p, nullptr, 0);
  return p;
}
PK_EXPORT int __posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  const int rc = poolkit_posix_memalign(out, alignment, size);
  if (tracing()) record(PK_SITE, Call::kPosixMemalign, size, alignment, rc == 0 ? *out : nullptr, nullptr, 0);
  return rc;
}
// Not calls the trace records, but they must see poolkit's blocks, not glibc's.
PK_EXPORT size_t malloc_usable_size(void* p) noexcept { return poolkit_malloc_usable_size(p); }
PK_EXPORT int malloc_trim(size_t pad) noexcept { return poolkit_malloc_trim(pad); }
PK_EXPORT void malloc_stats(void) noexcept { poolkit_malloc_stats_print(stderr); }
PK_EXPORT int mallopt(int, int) noexcept { return 1; }
PK_EXPORT struct mallinfo2 mallinfo2(void) noexcept { return {}; }
PK_EXPORT struct mallinfo mallinfo(void) noexcept { return {}; }

// exec replaces the image: write every buffer first (the new image, preloaded again,
// starts its own file).
PK_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  if (g_ready.load()) flush_all();
  if (g_real_execve == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return g_real_execve(path, argv, envp);
}
PK_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  if (g_ready.load()) flush_all();
  if (g_real_execvpe == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return g_real_execvpe(file, argv, envp);
}
PK_EXPORT int execv(const char* path, char* const argv[]) noexcept { return execve(path, argv, environ); }
PK_EXPORT int execvp(const char* file, char* const argv[]) noexcept { return execvpe(file, argv, environ); }

// The execl family: glibc's own call execve internally, past this library; these
// gather the arguments (on the stack: no malloc) and come through the ones above.
namespace {
constexpr int kMaxExeclArgs = 4096;
}  // namespace
#define PK_GATHER_ARGS(FIRST, LAST_VA)                                  \
  char* args[kMaxExeclArgs + 1];                                        \
  int n = 0;                                                            \
  args[n++] = const_cast<char*>(FIRST);                                 \
  va_list ap;                                                           \
  va_start(ap, LAST_VA);                                                \
  while (n < kMaxExeclArgs && (args[n] = va_arg(ap, char*)) != nullptr) \
    ++n;                                                                \
  args[n] = nullptr
PK_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  PK_GATHER_ARGS(arg, arg);
  va_end(ap);
  return execve(path, args, environ);
}
PK_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  PK_GATHER_ARGS(arg, arg);
  va_end(ap);
  return execvpe(file, args, environ);
}
PK_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  PK_GATHER_ARGS(arg, arg);
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return execve(path, args, envp);
}

// ---- C++ ------------------------------------------------------------------------------

namespace {
inline std::uint64_t align_of(std::align_val_t a) noexcept { return static_cast<std::uint64_t>(a); }
}  // namespace

#define PK_NEW(CALL, SIZE, ALIGN, NOTHROW)                                                                  \
  void* p = (ALIGN) > 16 ? poolkit_memalign((ALIGN), (SIZE)) : poolkit_malloc(SIZE);                       \
  if (p == nullptr) p = new_slow((SIZE), (ALIGN), (NOTHROW));                                               \
  if (tracing()) record(PK_SITE, (CALL), (SIZE), (ALIGN), p, nullptr, 0);                                            \
  return p
#define PK_DELETE(CALL, P, SIZE)                                                                            \
  if ((P) != nullptr && tracing()) record(PK_SITE, (CALL), (SIZE), 0, (P), nullptr, 0);                             \
  poolkit_free(P)

PK_CXX_EXPORT void* operator new(std::size_t size) { PK_NEW(Call::kNew, size, 0, false); }
PK_CXX_EXPORT void* operator new[](std::size_t size) { PK_NEW(Call::kNewArray, size, 0, false); }
PK_CXX_EXPORT void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  PK_NEW(Call::kNew, size, 0, true);
}
PK_CXX_EXPORT void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  PK_NEW(Call::kNewArray, size, 0, true);
}
PK_CXX_EXPORT void* operator new(std::size_t size, std::align_val_t a) { PK_NEW(Call::kNew, size, align_of(a), false); }
PK_CXX_EXPORT void* operator new[](std::size_t size, std::align_val_t a) {
  PK_NEW(Call::kNewArray, size, align_of(a), false);
}
PK_CXX_EXPORT void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  PK_NEW(Call::kNew, size, align_of(a), true);
}
PK_CXX_EXPORT void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  PK_NEW(Call::kNewArray, size, align_of(a), true);
}
PK_CXX_EXPORT void operator delete(void* p) noexcept { PK_DELETE(Call::kDelete, p, 0); }
PK_CXX_EXPORT void operator delete[](void* p) noexcept { PK_DELETE(Call::kDeleteArray, p, 0); }
PK_CXX_EXPORT void operator delete(void* p, std::size_t size) noexcept { PK_DELETE(Call::kDelete, p, size); }
PK_CXX_EXPORT void operator delete[](void* p, std::size_t size) noexcept { PK_DELETE(Call::kDeleteArray, p, size); }
PK_CXX_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { PK_DELETE(Call::kDelete, p, 0); }
PK_CXX_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { PK_DELETE(Call::kDeleteArray, p, 0); }
PK_CXX_EXPORT void operator delete(void* p, std::align_val_t) noexcept { PK_DELETE(Call::kDelete, p, 0); }
PK_CXX_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { PK_DELETE(Call::kDeleteArray, p, 0); }
PK_CXX_EXPORT void operator delete(void* p, std::size_t size, std::align_val_t) noexcept {
  PK_DELETE(Call::kDelete, p, size);
}
PK_CXX_EXPORT void operator delete[](void* p, std::size_t size, std::align_val_t) noexcept {
  PK_DELETE(Call::kDeleteArray, p, size);
}
PK_CXX_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  PK_DELETE(Call::kDelete, p, 0);
}
PK_CXX_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  PK_DELETE(Call::kDeleteArray, p, 0);
}
