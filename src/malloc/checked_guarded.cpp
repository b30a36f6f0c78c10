// checked_guarded.cpp: what page protection catches in checked mode.
//  - Guarded blocks (every huge block; every block with POOLKIT_CHECK=3, electric-fence
//    style; one in N with POOLKIT_SAMPLE=N, GWP-ASan style): a mapping of the huge
//    layer with the block placed so that its end meets a PROT_NONE page, and a PROT_NONE
//    page before its first page. Freed, the block's pages are made PROT_NONE for as long
//    as it is in quarantine. Chunks of the mapping past its first 4 MiB are marked
//    kGuardedFar in the segment map, so any address inside finds the segment header.
//  - Zero-size blocks: malloc(0) returns a unique address in a reserved PROT_NONE
//    region, so any read or write through it faults.
//  - The SIGSEGV/SIGBUS handler: a fault on one of those pages becomes a report with the
//    block's stacks; any other fault goes to the program's handler. The preloaded
//    library also exports sigaction and signal, so a handler the program installs
//    later for SIGSEGV or SIGBUS is kept as the one to chain to, not put in our place.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstring>

#include "checked.hpp"
#include "common/assert.hpp"

// glibc's own entry points behind sigaction and signal (ours wrap them, below).
extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept;
extern "C" sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept;

namespace poolkit::malloc_impl {

namespace {

std::size_t page_bytes() noexcept { return PageSource::page_size(); }
std::uintptr_t page_floor(std::uintptr_t x) noexcept { return x & ~(page_bytes() - 1); }
std::uintptr_t page_ceil(std::uintptr_t x) noexcept { return (x + page_bytes() - 1) & ~(page_bytes() - 1); }

Segment* guarded_segment(const CheckedHeader* h) noexcept { return segment_of(h); }

void mark_far_chunks(Segment* segment, std::uint8_t value) noexcept {
  auto first = reinterpret_cast<std::uintptr_t>(segment) + kSegmentSize;
  auto end = reinterpret_cast<std::uintptr_t>(segment->map_base) + segment->map_size;
  for (std::uintptr_t c = first; c < end; c += kSegmentSize) segment_map_set(c, value);
}

// ---- zero-size blocks ------------------------------------------------------------
constexpr std::size_t kZeroSlot = 16;
constexpr std::size_t kZeroSlots = std::size_t{1} << 22;  // 64 MiB of address space
struct ZeroRegion {
  std::uintptr_t base = 0;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t>* live = nullptr;  // bit per slot
  std::uint32_t* alloc_stack = nullptr;
  std::uint32_t* free_stack = nullptr;
  AllocKind* kind = nullptr;
};
constinit ZeroRegion g_zero;

void* map_rw(std::size_t bytes) noexcept {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

struct sigaction g_previous_segv, g_previous_bus;
std::atomic<bool> g_fault_handler_on{false};
__thread std::size_t t_sample_count __attribute__((tls_model("initial-exec"))) = 0;

}  // namespace

// ---- guarded blocks --------------------------------------------------------------

CheckedHeader* guarded_alloc(std::size_t size, std::size_t alignment) noexcept {
  std::size_t page = page_bytes(), total;
  if (__builtin_add_overflow(size, kHeaderSize + alignment + 3 * page, &total)) return nullptr;
  auto* inner = static_cast<std::uint8_t*>(huge_alloc(total, 0));
  if (inner == nullptr) return nullptr;
  Segment* segment = segment_of(inner);
  auto map_end = reinterpret_cast<std::uintptr_t>(segment->map_base) + segment->map_size;
  std::uintptr_t rear_guard = map_end - page;
  std::uintptr_t user = (rear_guard - size) & ~(alignment - 1);
  std::uintptr_t front_guard = page_floor(user) - page;
  PK_ASSERT(front_guard >= page_ceil(reinterpret_cast<std::uintptr_t>(inner) + kHeaderSize));
  if (mprotect(reinterpret_cast<void*>(front_guard), page, PROT_NONE) != 0 ||
      mprotect(reinterpret_cast<void*>(rear_guard), page, PROT_NONE) != 0) {
    mprotect(reinterpret_cast<void*>(front_guard), map_end - front_guard, PROT_READ | PROT_WRITE);
    huge_free(segment, inner);
    return nullptr;
  }
  auto* h = reinterpret_cast<CheckedHeader*>(inner);
  h->tag = kTagKey ^ user;
  h->flags = kBlockGuarded;
  segment->pages[0].flags |= kPageChecked;
  mark_far_chunks(segment, kGuardedFar);
  return h;
}

void guarded_protect_freed(CheckedHeader* h) noexcept {
  auto user = reinterpret_cast<std::uintptr_t>(user_of(h));
  std::uintptr_t lo = page_floor(user), hi = page_ceil(user + h->size);
  if (hi > lo) mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_NONE);
}

void guarded_release(CheckedHeader* h) noexcept {
  Segment* segment = guarded_segment(h);
  auto user = reinterpret_cast<std::uintptr_t>(user_of(h));
  std::uintptr_t front_guard = page_floor(user) - page_bytes();
  auto map_end = reinterpret_cast<std::uintptr_t>(segment->map_base) + segment->map_size;
  // Readable again: the huge layer may keep the mapping in its cache for the next block.
  mprotect(reinterpret_cast<void*>(front_guard), map_end - front_guard, PROT_READ | PROT_WRITE);
  mark_far_chunks(segment, kNotOurs);
  segment->pages[0].flags = static_cast<std::uint8_t>(segment->pages[0].flags & ~kPageChecked);
  huge_free(segment, h);
}

CheckedHeader* guarded_find(const void* a) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(a);
  if (x >= kAddressLimit) return nullptr;
  std::uintptr_t chunk = x >> kSegmentShift;
  for (;;) {
    std::uint8_t v = __atomic_load_n(&g_segment_map[chunk], __ATOMIC_ACQUIRE);
    if (v == kSegmentHere) break;
    if (v != kGuardedFar || chunk == 0) return nullptr;
    --chunk;
  }
  auto* segment = reinterpret_cast<Segment*>(chunk << kSegmentShift);
  if (segment->kind != SegmentKind::kHuge || !(segment->pages[0].flags & kPageChecked)) return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(segment->map_base);
  if (x < base || x >= base + segment->map_size) return nullptr;
  return reinterpret_cast<CheckedHeader*>(segment->huge_user);
}

bool sample_this_one() noexcept {
  if (++t_sample_count < g_options.sample) return false;
  t_sample_count = 0;
  return true;
}

// ---- zero-size blocks --------------------------------------------------------------

void zero_init() noexcept {
  void* region = mmap(nullptr, kZeroSlots * kZeroSlot, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void* live = map_rw(kZeroSlots / 8);
  void* stacks = map_rw(kZeroSlots * 2 * sizeof(std::uint32_t));
  void* kinds = map_rw(kZeroSlots);
  if (region == MAP_FAILED || !live || !stacks || !kinds) return;  // malloc(0) gets an ordinary empty block
  g_zero.live = static_cast<std::atomic<std::uint64_t>*>(live);
  g_zero.alloc_stack = static_cast<std::uint32_t*>(stacks);
  g_zero.free_stack = g_zero.alloc_stack + kZeroSlots;
  g_zero.kind = static_cast<AllocKind*>(kinds);
  g_zero.base = reinterpret_cast<std::uintptr_t>(region);
}

void* zero_alloc(AllocKind kind) noexcept {
  if (g_zero.base == 0) return nullptr;
  std::size_t i = g_zero.next.fetch_add(1, std::memory_order_relaxed);
  if (i >= kZeroSlots) return nullptr;  // used up: ordinary empty blocks from now on
  g_zero.alloc_stack[i] = depot_capture();
  g_zero.kind[i] = kind;
  g_zero.live[i / 64].fetch_or(std::uint64_t{1} << (i % 64), std::memory_order_release);
  return reinterpret_cast<void*>(g_zero.base + i * kZeroSlot);
}

bool zero_owns(const void* p) noexcept {
  auto x = reinterpret_cast<std::uintptr_t>(p);
  return x - g_zero.base < kZeroSlots * kZeroSlot && g_zero.base != 0;
}

void zero_free(void* p, AllocKind kind, const char* call) noexcept {
  std::size_t offset = reinterpret_cast<std::uintptr_t>(p) - g_zero.base;
  std::size_t i = offset / kZeroSlot;
  BugReport bug{BugKind::kInvalidFree, call, p, nullptr, 0, 0, nullptr, true, 0, g_zero.alloc_stack[i], 0};
  if (offset % kZeroSlot != 0 || i >= g_zero.next.load(std::memory_order_relaxed)) {
    bug.detail = "an address inside the region of zero-size blocks, where no block starts";
    bug.alloc_stack = 0;
    report_bug(bug);
    return;
  }
  std::uint64_t bit = std::uint64_t{1} << (i % 64);
  if ((g_zero.live[i / 64].fetch_and(~bit, std::memory_order_acq_rel) & bit) == 0) {
    bug.kind = BugKind::kDoubleFree;
    bug.detail = "the block had 0 bytes";
    bug.free_stack = g_zero.free_stack[i];
    report_bug(bug);
    return;
  }
  g_zero.free_stack[i] = depot_capture();
  if (g_zero.kind[i] != kind) {
    bug.kind = BugKind::kMismatch;
    bug.detail = g_zero.kind[i] == AllocKind::kMalloc ? "a 0-byte block from malloc released with operator delete"
                                                      : "a 0-byte block from operator new released with another call";
    report_bug(bug);
  }
}

// ---- the fault handler --------------------------------------------------------------

namespace {

void chain(int sig, siginfo_t* info, void* context) noexcept {
  const struct sigaction& previous = sig == SIGBUS ? g_previous_bus : g_previous_segv;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // No handler before us: the default action, when the faulting instruction runs again.
  // Through __sigaction: this library's own signal() would only record SIG_DFL as the
  // program's handler and leave this one in place, and the fault would repeat forever.
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  __sigaction(sig, &default_action, nullptr);
}

void on_fault(int sig, siginfo_t* info, void* context) noexcept {
  const void* a = info->si_addr;
  int access = 0;
#if defined(__x86_64__)
  if (context != nullptr) access = (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) ? 2 : 1;
#endif
  if (zero_owns(a)) {
    std::size_t offset = reinterpret_cast<std::uintptr_t>(a) - g_zero.base;
    std::size_t i = offset / kZeroSlot;
    report_fault_and_die({BugKind::kZeroSizeUse, "a memory access (SIGSEGV)", a, nullptr,
                          static_cast<std::ptrdiff_t>(offset % kZeroSlot), 0, nullptr, true, access,
                          i < kZeroSlots ? g_zero.alloc_stack[i] : 0, i < kZeroSlots ? g_zero.free_stack[i] : 0, 1});
  }
  if (const CheckedHeader* h = guarded_find(a)) {
    std::ptrdiff_t offset = static_cast<const std::uint8_t*>(a) - user_of(h);
    BugKind kind = h->state != BlockState::kLive ? BugKind::kGuardUseAfterFree
                   : offset < 0                 ? BugKind::kGuardUnderflow
                                                : BugKind::kGuardOverflow;
    if (h->state != BlockState::kLive || offset < 0 || offset >= static_cast<std::ptrdiff_t>(h->size))
      report_fault_and_die({kind, "a memory access (SIGSEGV)", a, h, offset, 0, nullptr, true, access, 0, 0, 1});
  }
  chain(sig, info, context);
}

}  // namespace

void checked_signals_init() noexcept {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  __sigaction(SIGSEGV, &action, &g_previous_segv);
  __sigaction(SIGBUS, &action, &g_previous_bus);
  g_fault_handler_on.store(true, std::memory_order_release);
}

}  // namespace poolkit::malloc_impl

#if POOLKIT_MALLOC_OVERRIDE
using poolkit::malloc_impl::g_fault_handler_on;

// The program's SIGSEGV/SIGBUS handler becomes the one checked mode chains to; every
// other call is glibc's.
extern "C" __attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction* act,
                                                                 struct sigaction* old) noexcept {
  if ((sig == SIGSEGV || sig == SIGBUS) && g_fault_handler_on.load(std::memory_order_acquire)) {
    struct sigaction& chained = sig == SIGBUS ? poolkit::malloc_impl::g_previous_bus
                                              : poolkit::malloc_impl::g_previous_segv;
    struct sigaction before = chained;
    if (act != nullptr) chained = *act;
    if (old != nullptr) *old = before;
    return 0;
  }
  return __sigaction(sig, act, old);
}

extern "C" __attribute__((visibility("default"))) sighandler_t signal(int sig, sighandler_t handler) noexcept {
  if ((sig == SIGSEGV || sig == SIGBUS) && g_fault_handler_on.load(std::memory_order_acquire)) {
    struct sigaction act, old;
    std::memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;  // signal()'s BSD semantics, as glibc's
    sigemptyset(&act.sa_mask);
    sigaction(sig, &act, &old);
    return old.sa_handler;
  }
  return bsd_signal(sig, handler);
}
#endif

namespace poolkit::malloc_impl {

}  // namespace poolkit::malloc_impl
