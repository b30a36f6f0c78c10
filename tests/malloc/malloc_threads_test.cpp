// The drop-in malloc across threads: blocks freed by other threads with their
// contents verified, threads that exit holding blocks, thousands of threads coming
// and going, fork while other threads allocate, frees from TLS destructors after the
// thread's heap is gone. Every test name has "threads" in it for the TSan lane.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "malloc_test_support.hpp"
#include "test_support.hpp"

using poolkit::test::BlockModel;
using poolkit::test::malloc_info_now;
using poolkit::test::scaled;
using poolkit::test::test_seed;

namespace {

// A block and the pattern byte its contents are made from (BlockModel's fill).
struct Tagged {
  unsigned char* p;
  std::size_t size;
  std::uint8_t tag;
};

void fill(const Tagged& b) { BlockModel::fill(b.p, b.size, b.tag); }
bool intact(const Tagged& b) { return BlockModel::verify_bytes(b.p, b.size, b.tag); }

// A small blocking queue of blocks between threads.
class Mailbox {
 public:
  void put(std::vector<Tagged>&& batch) {
    std::lock_guard<std::mutex> g(lock_);
    for (auto& b : batch) items_.push_back(b);
    batch.clear();
  }
  std::vector<Tagged> take() {
    std::lock_guard<std::mutex> g(lock_);
    std::vector<Tagged> out;
    out.swap(items_);
    return out;
  }

 private:
  std::mutex lock_;
  std::vector<Tagged> items_;
};

TEST(MallocThreads, BlocksFreedByOtherThreadsKeepTheirContents) {
  constexpr int kThreads = 4;
  const std::size_t per_thread = scaled(200'000);
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  Mailbox boxes[kThreads];
  std::atomic<int> corrupt{0};
  std::atomic<int> done{0};
  auto worker = [&](int id) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(id));
    std::vector<Tagged> outgoing;
    for (std::size_t i = 0; i < per_thread; ++i) {
      std::uint64_t r = rng();
      std::size_t n = r % 8 == 0 ? (r >> 16) % 20000 : (r >> 16) % 300;
      Tagged b{static_cast<unsigned char*>(PK(malloc)(n)), n, static_cast<std::uint8_t>(r >> 40)};
      if (b.p == nullptr) {
        corrupt.fetch_add(1);
        continue;
      }
      fill(b);
      outgoing.push_back(b);
      if (outgoing.size() == 64) boxes[(id + 1) % kThreads].put(std::move(outgoing));
      if (i % 32 == 0) {
        for (const Tagged& in : boxes[id].take()) {
          if (!intact(in)) corrupt.fetch_add(1);
          PK(free)(in.p);
        }
      }
    }
    boxes[(id + 1) % kThreads].put(std::move(outgoing));
    done.fetch_add(1);
    while (done.load() < kThreads) std::this_thread::yield();
    for (const Tagged& in : boxes[id].take()) {
      if (!intact(in)) corrupt.fetch_add(1);
      PK(free)(in.p);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocThreads, AThreadExitsHoldingBlocksThatAnotherThreadFreesLater) {
  std::vector<Tagged> blocks;
  std::thread owner([&] {
    for (std::uint32_t i = 0; i < 20000; ++i) {
      std::size_t n = 1 + (i * 53) % 5000;
      Tagged b{static_cast<unsigned char*>(PK(malloc)(n)), n, static_cast<std::uint8_t>(i)};
      fill(b);
      blocks.push_back(b);
    }
  });
  owner.join();
  for (const Tagged& b : blocks) {
    ASSERT_TRUE(intact(b));
    PK(free)(b.p);
  }
  // The abandoned segments can now be adopted and emptied.
  std::thread later([] {
    for (int i = 0; i < 1000; ++i) PK(free)(PK(malloc)(100));
  });
  later.join();
  PK(malloc_trim)(0);
  EXPECT_EQ(malloc_info_now().abandoned_segments, 0u);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocThreads, ThousandsOfThreadsComeAndGoWithoutMemoryGrowing) {
  // Checked mode's quarantine holds freed blocks (up to POOLKIT_QUARANTINE) in the
  // segments of exited threads: the bound below is the unchecked malloc's.
  if (poolkit::test::check_level() != 0) GTEST_SKIP() << "checked mode: the quarantine holds memory";
  const int waves = static_cast<int>(scaled(500));
  constexpr int kPerWave = 4;
  std::vector<void*> kept;
  std::mutex kept_lock;
  auto one_thread = [&](int seed) {
    std::vector<void*> mine;
    for (int i = 0; i < 200; ++i) mine.push_back(PK(malloc)(static_cast<std::size_t>(1 + (seed * 7 + i * 13) % 3000)));
    for (std::size_t i = 0; i < mine.size(); i += 2) PK(free)(mine[i]);
    std::lock_guard<std::mutex> g(kept_lock);
    for (std::size_t i = 1; i < mine.size(); i += 2) kept.push_back(mine[i]);  // freed by the main thread
  };
  auto run_waves = [&](int count) {
    for (int w = 0; w < count; ++w) {
      std::vector<std::thread> threads;
      for (int k = 0; k < kPerWave; ++k) threads.emplace_back(one_thread, w * kPerWave + k);
      for (auto& t : threads) t.join();
      for (void* p : kept) PK(free)(p);
      kept.clear();
    }
  };
  run_waves(waves / 10 + 1);
  std::size_t mapped_early = malloc_info_now().mapped_bytes;
  run_waves(waves);
  auto info = malloc_info_now();
  EXPECT_LE(info.mapped_bytes, mapped_early + (std::size_t{16} << 20))
      << "mapped " << info.mapped_bytes << " after " << waves * kPerWave << " threads";
  EXPECT_LE(info.heaps, std::size_t{64}) << "heap structs are reused by new threads";
}

TEST(MallocThreads, ForkWhileOtherThreadsAllocateLeavesAUsableChild) {
  // memcheck runs its leak check in each forked child, over the parent's threads' blocks.
  if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "fork children under valgrind report the parent's threads as leaks";
  std::atomic<bool> stop{false};
  auto churn = [&](int id) {
    std::vector<void*> live(256, nullptr);
    std::uint64_t x = 88172645463325252ull + static_cast<std::uint64_t>(id);
    while (!stop.load(std::memory_order_relaxed)) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::size_t slot = x % live.size();
      PK(free)(live[slot]);
      std::size_t n = x % 16 == 0 ? (x >> 20) % (3 << 20) : (x >> 20) % 2000;  // huge ones too: locks
      live[slot] = PK(malloc)(n);
    }
    for (void* p : live) PK(free)(p);
  };
  std::thread a(churn, 1), b(churn, 2);
  const int forks = static_cast<int>(scaled(30));
  int failures = 0;
  for (int i = 0; i < forks; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(20);  // a deadlock becomes SIGALRM instead of a hang
      std::vector<void*> mine;
      for (int k = 0; k < 2000; ++k) mine.push_back(PK(malloc)(static_cast<std::size_t>(k % 5000)));
      void* big = PK(malloc)(std::size_t{5} << 20);
      for (void* p : mine) PK(free)(p);
      PK(free)(big);
      _exit(poolkit_malloc_check() == 0 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(failures, 0);
}

// ---- frees and mallocs from thread-exit destructors ------------------------------

struct FreesAtExit {
  void* block = nullptr;
  ~FreesAtExit() {
    PK(free)(block);
    void* again = PK(malloc)(77);  // a malloc during thread teardown
    PK(free)(again);
  }
};
thread_local FreesAtExit t_frees_at_exit;

pthread_key_t g_late_key;
std::atomic<int> g_late_destructor_runs{0};
void late_destructor(void* p) {
  // pthread key destructors may run after ours: the heap is gone, free must still work.
  PK(free)(p);
  void* q = PK(malloc)(500);
  static_cast<char*>(q)[0] = 1;
  PK(free)(q);
  g_late_destructor_runs.fetch_add(1);
}

TEST(MallocThreads, FreesFromThreadExitDestructorsWork) {
  ASSERT_EQ(pthread_key_create(&g_late_key, late_destructor), 0);
  for (int round = 0; round < 50; ++round) {
    std::thread t([] {
      t_frees_at_exit.block = PK(malloc)(64);
      pthread_setspecific(g_late_key, PK(malloc)(4000));
      void* keep = PK(malloc)(123);
      PK(free)(keep);
    });
    t.join();
  }
  EXPECT_EQ(g_late_destructor_runs.load(), 50);
  pthread_key_delete(g_late_key);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

}  // namespace
