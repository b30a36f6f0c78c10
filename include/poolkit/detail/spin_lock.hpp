// poolkit/detail/spin_lock.hpp: SpinLock, a lock for critical sections of a few dozen
// instructions (a pool's allocate, a batch moved to a depot): one compare-and-swap to
// take it, a plain store to release it, a short spin when held, then a futex sleep so
// that a waiter never burns its time slice while the holder is descheduled (more
// threads than cores).
// Malloc-safe: no allocation, no libstdc++ runtime beyond atomics, constexpr-constructible
// (a constinit global works before any constructor runs), reset_after_fork() for a child.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <atomic>
#include <cstdint>

#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>  // glibc 2.32+: __libc_single_threaded
#define POOLKIT_HAVE_SINGLE_THREADED 1
#else
#define POOLKIT_HAVE_SINGLE_THREADED 0
#endif

namespace poolkit::detail {

/// Spins with the CPU's pause hint (lets the sibling hyperthread run, saves power).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Process-wide: can this process use membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)?
// 0 not asked yet, 1 registered, -1 not available (old kernel, seccomp, valgrind).
inline constinit std::atomic<int> membarrier_state{0};

/// The heavy side of an asymmetric fence: when it returns, every other thread of the
/// process has executed a full memory barrier (Linux membarrier: an IPI to each CPU
/// running one of our threads; a thread not running passed one in the scheduler).
/// False if the kernel will not do it.
inline bool heavy_fence() noexcept {
  // From <linux/membarrier.h>, spelled out so that old headers do not matter.
  constexpr int kPrivateExpedited = 1 << 3, kRegisterPrivateExpedited = 1 << 4;
  int state = membarrier_state.load(std::memory_order_acquire);
  if (state == 0) {
    state = syscall(SYS_membarrier, kRegisterPrivateExpedited, 0, 0) == 0 ? 1 : -1;
    membarrier_state.store(state, std::memory_order_release);
  }
  if (state < 0) return false;
  if (syscall(SYS_membarrier, kPrivateExpedited, 0, 0) == 0) return true;
  membarrier_state.store(-1, std::memory_order_release);  // e.g. a forked child not registered
  return false;
}

// A test-and-set lock whose unlock is a plain store. Uncontended, a lock/unlock pair
// costs one compare-and-swap (a mutex's unlock is a second atomic read-modify-write,
// as dear as the first: 20-40 cycles each); in a process that has never started a
// second thread (glibc's __libc_single_threaded) it costs none, like glibc's own mutex.
//
// The price is in waking sleepers. A sleeper counts itself in waiters_, then runs
// heavy_fence(), then looks at state_ and sleeps on it (futex) if still held; an
// unlock stores state_ = free, then reads waiters_ and wakes one sleeper if any. Either
// the fence came after the unlocking thread's store (so the sleeper sees the lock
// free and does not sleep), or before its read of waiters_ (so the unlocker sees the
// sleeper and wakes it): no wake-up is lost (asymmetric Dekker; cf. folly's
// asymmetric_thread_fence_heavy, liburcu). Where membarrier is unavailable, sleepers
// wait with a 200 us timeout instead, so a lost wake-up costs that much time at most.
//
// Invariants: state_ is kFree or kHeld, moved to kHeld only by a successful
// compare-and-swap (or a plain store while the process is single-threaded) and to kFree
// only by the holder; waiters_ counts the threads between their increment in lock_slow
// and their decrement after taking the lock.
class SpinLock {
 public:
  /// Spins this many times (pause each) before sleeping: about a microsecond on recent
  /// x86 (a pause is ~140 cycles there), longer than a pool call's critical section.
  /// Measured on 2 cores against 0 and 100: spinning longer keeps both threads
  /// hammering the lock's cache line (producer/consumer 10x slower), not spinning at
  /// all sends every contended call to the kernel (8 threads on 2 cores 2x slower).
  static constexpr int kSpins = 20;

  constexpr SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    if (single_threaded() && state_.load(std::memory_order_relaxed) == kFree) {
      state_.store(kHeld, std::memory_order_relaxed);  // nobody else can look
      return;
    }
    if (!try_lock_atomic()) [[unlikely]]
      lock_slow();
  }

  bool try_lock() noexcept {
    if (single_threaded()) {
      if (state_.load(std::memory_order_relaxed) != kFree) return false;
      state_.store(kHeld, std::memory_order_relaxed);
      return true;
    }
    return try_lock_atomic();
  }

  void unlock() noexcept {
    state_.store(kFree, std::memory_order_release);
    // The light side of the asymmetric fence: program order only (see above).
    asm volatile("" ::: "memory");
    if (waiters_.load(std::memory_order_relaxed) != 0) [[unlikely]]
      futex(FUTEX_WAKE_PRIVATE, 1, nullptr);
  }

  /// True while the process has never had a second thread (glibc's
  /// __libc_single_threaded: it turns false before a second thread exists and never
  /// back, so a "true" is never wrong). False where the C library does not say.
  /// While true, lock() is a plain load and store, and a re-entrant lock() on the
  /// holding thread (a signal handler, a nested call) deadlocks as it would with
  /// threads: callers must not re-enter a critical section.
  static bool single_threaded() noexcept {
#if POOLKIT_HAVE_SINGLE_THREADED
    return __libc_single_threaded != 0;
#else
    return false;
#endif
  }

  /// True while some thread holds the lock (for assertions and tests; racy otherwise).
  bool is_locked() const noexcept { return state_.load(std::memory_order_relaxed) != kFree; }

  /// In a child after fork(): the parent's holder and sleepers (other threads) do not
  /// exist here, so the lock is made free whatever it was. Call only while no other
  /// thread of the child can use it (in the child's atfork handler).
  void reset_after_fork() noexcept {
    state_.store(kFree, std::memory_order_relaxed);
    waiters_.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint32_t kFree = 0, kHeld = 1;

  bool try_lock_atomic() noexcept {
    std::uint32_t expected = kFree;
    return state_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  [[gnu::noinline]] void lock_slow() noexcept {
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      // Read before trying: a failed CAS takes the line exclusive and slows the holder.
      if (state_.load(std::memory_order_relaxed) == kFree && try_lock_atomic()) return;
    }
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    const bool fenced = heavy_fence();
    struct timespec bounded = {0, 200'000};
    while (!try_lock_atomic()) futex(FUTEX_WAIT_PRIVATE, kHeld, fenced ? nullptr : &bounded);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  void futex(int op, std::uint32_t value, const struct timespec* timeout) noexcept {
    // std::atomic<uint32_t> is a plain 32-bit word (checked below): the kernel may read it.
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), op, value, timeout, nullptr, 0);
  }

  std::atomic<std::uint32_t> state_{kFree};
  std::atomic<std::uint32_t> waiters_{0};
};

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace poolkit::detail
