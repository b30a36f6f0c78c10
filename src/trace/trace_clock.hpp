// trace/trace_clock.hpp: the tracer's clock, nanoseconds of CLOCK_MONOTONIC since the
// recording started. Read as the CPU's time-stamp counter when the kernel itself keeps
// time with it (clocksource "tsc": invariant, synchronised across CPUs, so times taken
// on different CPUs order correctly), scaled by a rate measured against
// CLOCK_MONOTONIC at start (1 ms; the error is a few parts in 100000 of elapsed time).
// Elsewhere (another clocksource, another architecture) clock_gettime.
//
// Order: now() reads the counter after a load fence, so an allocation's time is taken
// after every earlier load completed (the block was obtained, also when another thread
// freed it just before). A release's time needs no fence (now_release): the stores
// that hand the block back become visible to other threads only after they retire,
// which is after the read. trace_format.hpp relies on both. Unfenced reads may come
// out of order within a thread: the caller keeps its thread's times from going back.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace poolkit::trace {

__extension__ typedef unsigned __int128 TraceClockWide;  // GCC and Clang have it

class TraceClock {
 public:
  static std::uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
  }

  // Starts the clock at 1 ns (0 means "no time" to the tracer). `allow_tsc` false keeps
  // clock_gettime (for tests comparing the two).
  void start(bool allow_tsc = true) noexcept {
    start_ns_ = monotonic_ns() - 1;
    use_tsc_ = false;
#if defined(__x86_64__)
    if (allow_tsc && kernel_uses_tsc()) calibrate();
#else
    (void)allow_tsc;
#endif
  }

  bool uses_tsc() const noexcept { return use_tsc_; }

  // Nanoseconds since start(), >= 1: an allocation's time.
  std::uint64_t now() const noexcept {
#if defined(__x86_64__)
    if (use_tsc_) return since_start(fenced_tsc());
#endif
    return monotonic_ns() - start_ns_;
  }

  // The same without the fence: a release's time (taken before the block goes back).
  std::uint64_t now_release() const noexcept {
#if defined(__x86_64__)
    if (use_tsc_) return since_start(__rdtsc());
#endif
    return monotonic_ns() - start_ns_;
  }

 private:
#if defined(__x86_64__)
  std::uint64_t since_start(std::uint64_t t) const noexcept {
    if (t <= tsc0_) return ns0_;
    return ns0_ + static_cast<std::uint64_t>((static_cast<TraceClockWide>(t - tsc0_) * mult_) >> 32);
  }

  static std::uint64_t fenced_tsc() noexcept {
    _mm_lfence();  // earlier instructions (the loads that obtained a block) are done
    return __rdtsc();
  }

  static bool kernel_uses_tsc() noexcept {
    const int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char name[32] = {};
    const ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    return n >= 3 && std::strncmp(name, "tsc\n", 4) == 0;
  }

  // A (counter, nanoseconds) pair read as close together as the clock allows.
  static void pair(std::uint64_t* tsc, std::uint64_t* ns) noexcept {
    std::uint64_t best = ~std::uint64_t{0};
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t a = monotonic_ns();
      const std::uint64_t t = fenced_tsc();
      const std::uint64_t b = monotonic_ns();
      if (b - a < best) {
        best = b - a;
        *tsc = t;
        *ns = a + (b - a) / 2;
      }
    }
  }

  void calibrate() noexcept {
    std::uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;
    pair(&t0, &n0);
    while (monotonic_ns() < n0 + 1'000'000) {
    }
    pair(&t1, &n1);
    if (t1 <= t0 || n1 <= n0) return;
    mult_ = static_cast<std::uint64_t>((static_cast<TraceClockWide>(n1 - n0) << 32) / (t1 - t0));
    if (mult_ == 0) return;
    tsc0_ = t1;
    ns0_ = n1 - start_ns_;
    use_tsc_ = true;
  }
#endif

  std::uint64_t start_ns_ = 0;
  bool use_tsc_ = false;
  std::uint64_t tsc0_ = 0;
  std::uint64_t ns0_ = 1;
  std::uint64_t mult_ = 0;  // nanoseconds per tick, 32.32 fixed point
};

}  // namespace poolkit::trace
