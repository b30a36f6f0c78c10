// trace_recorder_test: the tracer's parts that live in headers, tested directly: the
// clock (src/trace/trace_clock.hpp) and the call-site memo of stacks
// (src/common/stack_cache.hpp), on a stack made up in an array.
#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>
#include <vector>

#include "common/stack_cache.hpp"
#include "trace/trace_clock.hpp"

namespace {

using poolkit::detail::StackCache;
using poolkit::trace::TraceClock;

TEST(TraceClock, StartsAtOneAndNeverGoesBack) {
  for (bool tsc : {false, true}) {
    TraceClock clock;
    clock.start(tsc);
    std::uint64_t last = clock.now();
    EXPECT_GE(last, 1u);
    for (int i = 0; i < 100000; ++i) {
      const std::uint64_t t = clock.now();
      ASSERT_GE(t, last) << (clock.uses_tsc() ? "tsc" : "clock_gettime");
      last = t;
    }
  }
}

TEST(TraceClock, KeepsPaceWithTheMonotonicClock) {
  TraceClock clock;
  clock.start();
  const std::uint64_t a = clock.now(), ma = TraceClock::monotonic_ns();
  timespec pause{0, 50'000'000};
  nanosleep(&pause, nullptr);
  const std::uint64_t b = clock.now(), mb = TraceClock::monotonic_ns();
  // The rate error is parts in 100000; the two reads sit microseconds apart at most
  // (more on a loaded machine: 1 ms of slack, against 50 ms measured).
  const double elapsed = static_cast<double>(b - a), reference = static_cast<double>(mb - ma);
  EXPECT_NEAR(elapsed, reference, 1e6) << (clock.uses_tsc() ? "tsc" : "clock_gettime");
}

// A made-up stack: words[i] is the memory; frame k's stack pointer is &words[8 * k + 8],
// its return address is stored just below it.
struct FakeStack {
  std::vector<std::uintptr_t> words = std::vector<std::uintptr_t>(64, 0);
  void* frames[4];
  std::uintptr_t sps[4];
  FakeStack() {
    for (int k = 0; k < 4; ++k) {
      sps[k] = reinterpret_cast<std::uintptr_t>(&words[static_cast<std::size_t>(8 * k + 8)]);
      set_caller(k, 0x1000 + 0x10 * static_cast<std::uintptr_t>(k));
    }
  }
  void set_caller(int k, std::uintptr_t ra) {
    frames[k] = reinterpret_cast<void*>(ra);
    words[static_cast<std::size_t>(8 * k + 7)] = ra;
  }
  std::uintptr_t lo() const { return reinterpret_cast<std::uintptr_t>(words.data()); }
  std::uintptr_t hi() const { return lo() + words.size() * sizeof(std::uintptr_t); }
};

struct Cache {
  std::vector<std::uintptr_t> memory = std::vector<std::uintptr_t>(StackCache::words_for(4), 0);
  StackCache cache;
  explicit Cache(const FakeStack& s) { cache.init(memory.data(), 4, s.lo(), s.hi()); }
};

TEST(StackCache, ANewCallSiteIsCapturedThenMemoizedWhenItComesAgain) {
  FakeStack s;
  Cache c(s);
  std::uint32_t id = 0;
  const auto ra0 = reinterpret_cast<std::uintptr_t>(s.frames[0]);
  EXPECT_EQ(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kCapture);
  EXPECT_EQ(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kCaptureAndFill);
  EXPECT_TRUE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 7));
  EXPECT_EQ(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kHit);
  EXPECT_EQ(id, 7u);
}

TEST(StackCache, AnotherCallerFurtherOutIsAMiss) {
  FakeStack s;
  Cache c(s);
  std::uint32_t id = 0;
  const auto ra0 = reinterpret_cast<std::uintptr_t>(s.frames[0]);
  ASSERT_TRUE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 7));
  for (int k = 1; k < 4; ++k) {  // same call site, same stack pointer, caller k differs
    s.set_caller(k, 0x9999);
    EXPECT_EQ(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kCapture) << "frame " << k;
    s.set_caller(k, 0x1000 + 0x10 * static_cast<std::uintptr_t>(k));
    EXPECT_EQ(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kHit) << "frame " << k;
  }
}

TEST(StackCache, RefusesCapturesItCannotCheckLater) {
  FakeStack s;
  Cache c(s);
  const auto ra0 = reinterpret_cast<std::uintptr_t>(s.frames[0]);
  EXPECT_FALSE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, false, 7));  // a signal frame
  EXPECT_FALSE(c.cache.fill(ra0 + 1, s.sps[0], s.frames, s.sps, 4, true, 7));  // another call
  EXPECT_FALSE(c.cache.fill(ra0, s.sps[0] + 8, s.frames, s.sps, 4, true, 7));  // another depth
  EXPECT_FALSE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 0));  // no id
  s.words[15] = 0x4242;  // frame 1's return address not in its slot
  EXPECT_FALSE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 7));
  s.set_caller(1, 0x1010);
  Cache outside(s);
  outside.cache.init(outside.memory.data(), 4, s.lo(), s.sps[2]);  // frame 3 above the stack's top
  EXPECT_FALSE(outside.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 7));
  std::uint32_t id = 0;
  EXPECT_NE(c.cache.find(ra0, s.sps[0], &id), StackCache::Lookup::kHit);
}

TEST(StackCache, ACallSiteOfEverChangingCallersIsRefilledLessAndLessOften) {
  FakeStack s;
  Cache c(s);
  std::uint32_t id = 0;
  const auto ra0 = reinterpret_cast<std::uintptr_t>(s.frames[0]);
  std::vector<int> misses_before_refill;
  for (int refill = 0; refill < 4; ++refill) {
    ASSERT_TRUE(c.cache.fill(ra0, s.sps[0], s.frames, s.sps, 4, true, 7));
    s.set_caller(2, 0x7777 + static_cast<std::uintptr_t>(refill));  // the callers changed
    int misses = 0;
    while (c.cache.find(ra0, s.sps[0], &id) == StackCache::Lookup::kCapture) ++misses;
    misses_before_refill.push_back(misses);
    s.set_caller(2, 0x1020);
  }
  EXPECT_EQ(misses_before_refill[0], static_cast<int>(StackCache::kRefillAfterMisses) - 1);
  for (std::size_t i = 1; i < misses_before_refill.size(); ++i)
    EXPECT_EQ(misses_before_refill[i] + 1, 2 * (misses_before_refill[i - 1] + 1));
}

}  // namespace
