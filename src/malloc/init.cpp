// init.cpp: process start-up, fork and exit.
// Start-up may happen inside the very first malloc, before any constructor ran,
// even before libc set up `environ`: so it only reads options by hand, creates the
// thread-heap key and registers fork handlers, and none of those call malloc while
// the allocator is half set up (pthread_atfork runs after we are ready, so even a
// malloc inside it is served). No dlsym, no stdio, no C++ statics with constructors.
//
// fork: in a process with several threads the prepare handler takes every lock of
// the allocator (heap pool, abandoned segments, per-CPU caches, huge-block cache,
// transfer cache) so that no other thread holds one at the instant of fork; the parent
// unlocks them and the child resets them (ForkSide, os.hpp). In a single-threaded
// process (glibc's __libc_single_threaded) no other thread can hold a lock, so it
// takes none, as glibc's own fork does with its malloc locks: a fork from a signal
// handler that interrupted a fork would otherwise spin forever on the lock its own
// interrupted prepare handler holds. The fast paths take no lock.
#include <pthread.h>
#include <sched.h>

#include "checked.hpp"
#include "common/unwinder.hpp"
#include "integrity.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

enum : int { kUninitialised, kInitialising, kReady };
constinit std::atomic<int> g_state{kUninitialised};

// One bit per fork in progress on this thread, innermost lowest: did its prepare
// handler take the locks? Forks nest only through signal handlers, which finish
// their fork (push and pop) before the interrupted one goes on, so the stack is
// always back to what the interrupted code saw. Thread-local: the child inherits it.
__thread std::uint32_t t_fork_locked __attribute__((tls_model("initial-exec"))) = 0;

void before_fork() noexcept {
  bool lock = !SpinLock::single_threaded();  // unknown (not glibc): take the locks
  t_fork_locked = (t_fork_locked << 1) | (lock ? 1u : 0u);
  if (!lock) return;
  heap_pool_lock();
  abandoned_lock();
  cache_lock_all();
  huge_cache_lock();
  transfer_lock_all();
  if (g_options.check | g_options.sample) checked_lock_all();
}
void after_fork(ForkSide side) noexcept {
  bool locked = (t_fork_locked & 1u) != 0;
  t_fork_locked >>= 1;
  if (!locked) return;
  if (g_options.check | g_options.sample) checked_unlock_all(side);
  transfer_unlock_all(side);
  huge_cache_unlock(side);
  cache_unlock_all(side);
  abandoned_unlock(side);
  heap_pool_unlock(side);
}
void after_fork_in_parent() noexcept { after_fork(ForkSide::kParent); }
void after_fork_in_child() noexcept { after_fork(ForkSide::kChild); }

}  // namespace

bool process_ready() noexcept { return g_state.load(std::memory_order_acquire) == kReady; }

void process_init() noexcept {
  if (PK_LIKELY(process_ready())) return;
  int expected = kUninitialised;
  if (!g_state.compare_exchange_strong(expected, kInitialising, std::memory_order_acq_rel)) {
    while (!process_ready()) sched_yield();  // another thread is initialising
    return;
  }
  // libunwind is dlopened for checked mode's stacks, from on_load below and never
  // from inside a malloc, which may run inside the dynamic loader.
  detail::unwinder_defer_loading();
  options_init();
  remote_cache_init();
  integrity_init();
  heap_module_init();
  if (g_options.check | g_options.sample) checked_init();
  g_state.store(kReady, std::memory_order_release);
  pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  verbose("ready (segments of %zu KiB, pages of %zu KiB slices, size classes up to %zu KiB)\n",
          kSegmentSize >> 10, kSliceSize >> 10, kMaxClassSize >> 10);
}

namespace {

__attribute__((constructor(101))) void on_load() noexcept {
  process_init();
  options_reread_if_early();
  // Libc is ready and no lock of ours is held: a dlopen may run (its mallocs capture
  // no stack). Allocations made before this point have none.
  if ((g_options.check | g_options.sample) && g_options.stack_depth > 0) {
    t_checked_guard_all = g_options.check != 0;
    detail::unwinder_load();
    t_checked_guard_all = false;
  }
}

// Destructors with the lowest priority number run last: print as late as we can.
__attribute__((destructor(101))) void on_exit() noexcept {
  if (g_options.check) checked_at_exit();
  if (g_options.stats) stats_at_exit();
}

}  // namespace

}  // namespace poolkit::malloc_impl
