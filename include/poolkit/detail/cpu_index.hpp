// poolkit/detail/cpu_index.hpp: cpu_index(), the CPU the calling thread runs on, as
// cheaply as Linux allows: one load from the thread's rseq area (glibc 2.35+ registers
// it for every thread and the kernel keeps cpu_id current), else sched_getcpu() (vDSO).
// A hint only: the thread may move to another CPU right after. Malloc-safe: no
// allocation, no state of its own (nothing to redo after fork), no libstdc++ runtime.
#pragma once

#include <sched.h>

#include <cstddef>
#include <cstdint>

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif

namespace poolkit::detail {

#if defined(RSEQ_SIG) && defined(__x86_64__)
#define POOLKIT_HAVE_RSEQ_CPU 1
/// The kernel's cpu_id of this thread's rseq area, or -1 when glibc did not register
/// one (tunable glibc.pthread.rseq=0, a kernel or a tool such as valgrind without rseq).
inline int rseq_cpu() noexcept {
  if (__rseq_size == 0) return -1;
  char* tp;
  asm("mov %%fs:0, %0" : "=r"(tp));  // the thread pointer (x86-64 TLS block)
  auto* area = reinterpret_cast<struct rseq*>(tp + __rseq_offset);
  // The kernel writes cpu_id on every migration: read it once, atomically.
  // RSEQ_CPU_ID_UNINITIALIZED (-1) and RSEQ_CPU_ID_REGISTRATION_FAILED (-2) are negative.
  return static_cast<int>(__atomic_load_n(&area->cpu_id, __ATOMIC_RELAXED));
}
#else
#define POOLKIT_HAVE_RSEQ_CPU 0
inline int rseq_cpu() noexcept { return -1; }
#endif

/// The CPU this thread runs on now (0 when the system will not say).
inline unsigned cpu_index() noexcept {
  int cpu = rseq_cpu();
  if (cpu >= 0) [[likely]]
    return static_cast<unsigned>(cpu);
  cpu = sched_getcpu();
  return cpu < 0 ? 0u : static_cast<unsigned>(cpu);
}

}  // namespace poolkit::detail
