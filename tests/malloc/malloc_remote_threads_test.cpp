// The drop-in malloc's remote cache (src/malloc/remote_cache.cpp): a thread that frees
// blocks of another thread's pages keeps them for its own next mallocs of the class,
// bounded, and passes an overflowing list's older half to the transfer cache (or back
// to the blocks' pages when that is full), gives them back at thread exit and in
// malloc_trim. Every test name has "threads" in it for the TSan lane.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "malloc_test_support.hpp"
#include "test_support.hpp"

using poolkit::test::malloc_info_now;
using poolkit::test::scaled;
using poolkit::test::test_seed;

namespace {

// POOLKIT_REMOTE_CACHE=0 (the .nocache run of these tests, CMakeLists.txt): no remote
// cache, so no batches for the transfer cache either.
bool remote_cache_off() {
  const char* value = std::getenv("POOLKIT_REMOTE_CACHE");
  return value != nullptr && std::strcmp(value, "0") == 0;
}

// Checked mode frees through its own layer and caches nothing.
bool remote_cache_in_use() { return poolkit::test::check_level() == 0 && !remote_cache_off(); }

// One size per size class from 16 B to 32 KiB (the cached classes), several times.
std::vector<std::size_t> sizes_of_every_cached_class(int copies) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 16; n <= 32 * 1024; n += n / 8)
    for (int k = 0; k < copies; ++k) sizes.push_back(n);
  return sizes;
}

// Frees blocks (of another thread), largest class first, so that the cache ends up
// holding blocks of many classes, each pinning a page of the owner. The calling thread
// first gets a heap of its own: a thread that never allocated caches nothing.
void free_all_from_a_heap(const std::vector<void*>& blocks) {
  PK(free)(poolkit::test::escape(PK(malloc)(1)));
  for (std::size_t i = blocks.size(); i-- > 0;) PK(free)(blocks[i]);
}

std::vector<void*> malloc_all(const std::vector<std::size_t>& sizes) {
  std::vector<void*> blocks;
  for (std::size_t n : sizes) {
    void* p = PK(malloc)(n);
    static_cast<unsigned char*>(p)[n - 1] = 1;  // commit it
    blocks.push_back(p);
  }
  return blocks;
}

// Runs body(block) on a second thread while the thread that allocated `block` (of
// `size` bytes) is still alive: had it exited, its segment would be abandoned and the
// second thread's first malloc might adopt it, making the block its own.
template <class Body>
void with_a_block_of_a_live_thread(std::size_t size, Body body) {
  std::atomic<void*> theirs{nullptr};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    theirs = PK(malloc)(size);
    while (!done.load()) std::this_thread::yield();
  });
  while (theirs.load() == nullptr) std::this_thread::yield();
  std::thread other([&] { body(theirs.load()); });
  other.join();
  done = true;
  owner.join();
}

TEST(MallocRemoteThreads, AThreadReusesABlockOfAnotherThreadItJustFreed) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  void* freed = nullptr;
  void* again = nullptr;
  with_a_block_of_a_live_thread(200, [&](void* theirs) {
    void* mine = poolkit::test::escape(PK(malloc)(200));  // this thread's heap, with a page of the class
    PK(free)(theirs);
    again = PK(malloc)(200);  // the block it freed, still in its CPU's caches
    freed = theirs;
    PK(free)(again);
    PK(free)(mine);
  });
  EXPECT_EQ(again, freed);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocRemoteThreads, PoolkitRemoteCacheZeroSendsAFreedBlockHomeAtOnce) {
  if (poolkit::test::check_level() != 0) GTEST_SKIP() << "checked mode caches nothing";
  void* freed = nullptr;
  void* again = nullptr;
  with_a_block_of_a_live_thread(200, [&](void* theirs) {
    void* mine = poolkit::test::escape(PK(malloc)(200));
    PK(free)(theirs);
    again = PK(malloc)(200);  // from the remote cache, or with none from this thread's page
    freed = theirs;
    PK(free)(again);
    PK(free)(mine);
  });
  if (remote_cache_off()) EXPECT_NE(again, freed) << "POOLKIT_REMOTE_CACHE=0 caches nothing";
  else EXPECT_EQ(again, freed) << "the default cache hands the block out again";
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

// page_bytes after the owner's malloc_trim: the owner's pages are given back once every
// block came home, so blocks still held in another thread's cache show up here.
std::size_t page_bytes_after_trim() {
  PK(malloc_trim)(0);
  return malloc_info_now().page_bytes;
}

TEST(MallocRemoteThreads, AThreadsRemoteCacheGoesBackToThePagesWhenItExits) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  const std::size_t baseline = page_bytes_after_trim();
  std::vector<void*> blocks = malloc_all(sizes_of_every_cached_class(8));
  std::thread freer([&] {
    free_all_from_a_heap(blocks);
    EXPECT_EQ(poolkit_malloc_check(), 0);  // the cache within its bounds
  });
  freer.join();
  EXPECT_LE(page_bytes_after_trim(), baseline + 64 * 1024);
}

TEST(MallocRemoteThreads, MallocTrimGivesTheCallingThreadsRemoteCacheBack) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  const std::size_t baseline = page_bytes_after_trim();
  std::vector<void*> blocks = malloc_all(sizes_of_every_cached_class(8));
  std::atomic<int> step{0};
  std::thread freer([&] {
    free_all_from_a_heap(blocks);
    PK(malloc_trim)(0);
    step = 1;
    while (step.load() != 2) std::this_thread::yield();  // alive while the owner looks
  });
  while (step.load() != 1) std::this_thread::yield();
  EXPECT_LE(page_bytes_after_trim(), baseline + 64 * 1024);
  step = 2;
  freer.join();
}

TEST(MallocRemoteThreads, ARemoteCacheStaysWithinItsBoundWhateverAThreadFrees) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  std::vector<void*> blocks = malloc_all(sizes_of_every_cached_class(200));
  std::mt19937_64 rng(test_seed());
  std::shuffle(blocks.begin(), blocks.end(), rng);
  int errors = 0;
  std::thread freer([&] {
    PK(free)(poolkit::test::escape(PK(malloc)(1)));  // a heap, so that it caches
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      PK(free)(blocks[i]);
      if (i % 256 == 0) errors += poolkit_malloc_check();  // counts, bytes and lists within bounds
    }
    errors += poolkit_malloc_check();
  });
  freer.join();
  EXPECT_EQ(errors, 0);
}

TEST(MallocRemoteThreadsDeathTest, ADoubleFreeOfABlockInTheRemoteCacheIsReported) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode reports it its own way";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(with_a_block_of_a_live_thread(48,
                                             [](void* theirs) {
                                               PK(free)(poolkit::test::escape(PK(malloc)(48)));  // a heap
                                               PK(free)(theirs);
                                               PK(free)(theirs);
                                             }),
      "double free of 0x[0-9a-f]+ \\(blocks of 48 B, held in this thread's remote cache\\)");
}

TEST(MallocRemoteThreads, AForkChildKeepsAUsableRemoteCache) {
  if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "fork children under valgrind report the parent's threads as leaks";
  std::vector<void*> blocks = malloc_all(sizes_of_every_cached_class(4));
  int status = -1;
  std::thread freer([&] {
    free_all_from_a_heap(blocks);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(20);
      std::vector<void*> again = malloc_all(sizes_of_every_cached_class(4));  // from the cache first
      int errors = poolkit_malloc_check();
      for (void* p : again) PK(free)(p);
      PK(malloc_trim)(0);
      errors += poolkit_malloc_check();
      _exit(errors == 0 ? 0 : 3);
    }
    waitpid(pid, &status, 0);
  });
  freer.join();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

// The bytes the differential test writes and verifies: the first and last 64 and one
// in 509 between (the pattern of BlockModel::fill): a block handed out twice, or its
// memory reused while live, changes some of them; filling every byte of a million
// blocks of up to 32 KiB would make the test a minute long in the debug lanes.
bool sampled_byte(std::size_t i, std::size_t n) { return i < 64 || i + 64 >= n || i % 509 == 0; }
void fill_sampled(unsigned char* p, std::size_t n, std::uint8_t tag) {
  for (std::size_t i = 0; i < n; i = (i >= 64 && i + 64 < n) ? std::min(n - 64, (i / 509 + 1) * 509) : i + 1)
    p[i] = static_cast<unsigned char>(tag + i * 131);
}
bool verify_sampled(const unsigned char* p, std::size_t n, std::uint8_t tag) {
  for (std::size_t i = 0; i < n; i = (i >= 64 && i + 64 < n) ? std::min(n - 64, (i / 509 + 1) * 509) : i + 1)
    if (sampled_byte(i, n) && p[i] != static_cast<unsigned char>(tag + i * 131)) return false;
  return true;
}

// The differential test: threads put blocks of random sizes (and kinds: malloc, calloc,
// realloc, aligned) into shared slots and free whichever block they displace, mostly
// another thread's, verifying its contents against the model's pattern first. Blocks
// handed out twice, or reused while live, show as a pattern another block wrote.
// (The calloc'd blocks are checked to be all zero, every byte.)
// (With 8 threads as well: more lists overflow into the transfer cache, and more
// threads take batches from it.)
void random_cross_thread_frees(int thread_count, std::size_t operations) {
  constexpr std::size_t kSlots = 4096;
  const std::size_t per_thread = scaled(operations) / static_cast<std::size_t>(thread_count);
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  struct Slot {
    unsigned char* p;
    std::size_t size;
    std::uint8_t tag;
  };
  std::vector<std::atomic<Slot*>> slots(kSlots);
  for (auto& s : slots) s.store(nullptr);
  std::atomic<int> corrupt{0}, failed{0}, walk_errors{0};
  auto worker = [&](int id) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(id));
    for (std::size_t i = 0; i < per_thread; ++i) {
      std::uint64_t r = rng();
      // log-uniform 1 B .. 32 KiB: every cached class, and a few above
      std::size_t n = std::size_t{1} << (r % 16);
      n += (r >> 8) % n;
      auto* slot = new Slot{nullptr, n, static_cast<std::uint8_t>(r >> 40)};
      switch ((r >> 32) % 8) {
        case 0:
          slot->p = static_cast<unsigned char*>(PK(calloc)(1, n));
          if (slot->p != nullptr && !std::all_of(slot->p, slot->p + n, [](unsigned char c) { return c == 0; }))
            corrupt.fetch_add(1);
          break;
        case 1: {
          void* out = nullptr;
          if (PK(posix_memalign)(&out, std::size_t{32} << ((r >> 36) % 4), n) == 0) slot->p = static_cast<unsigned char*>(out);
          break;
        }
        case 2:
          slot->p = static_cast<unsigned char*>(PK(realloc)(PK(malloc)(n / 2 + 1), n));
          break;
        default:
          slot->p = static_cast<unsigned char*>(PK(malloc)(n));
      }
      if (slot->p == nullptr) {
        failed.fetch_add(1);
        delete slot;
        continue;
      }
      fill_sampled(slot->p, n, slot->tag);
      Slot* old = slots[(r >> 44) % kSlots].exchange(slot);
      if (old != nullptr) {
        if (!verify_sampled(old->p, old->size, old->tag)) corrupt.fetch_add(1);
        PK(free)(old->p);
        delete old;
      }
      if (i % 20000 == 0) walk_errors.fetch_add(poolkit_malloc_check());
    }
    walk_errors.fetch_add(poolkit_malloc_check());
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  for (auto& s : slots) {
    if (Slot* old = s.load()) {
      if (!verify_sampled(old->p, old->size, old->tag)) corrupt.fetch_add(1);
      PK(free)(old->p);
      delete old;
    }
  }
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(walk_errors.load(), 0);
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocRemoteThreads, RandomCrossThreadFreesKeepEveryBlocksContents) { random_cross_thread_frees(4, 1'000'000); }

TEST(MallocRemoteThreads, RandomCrossThreadFreesOfEightThreadsKeepEveryBlocksContents) {
  random_cross_thread_frees(8, 1'000'000);
}

// The transfer cache (src/malloc/transfer_cache.cpp): a remote list that overflows
// passes its older half on as a batch, and a thread that has no block of the class
// (no remote list, no page with free blocks) takes a batch before it cuts new blocks.
constexpr std::size_t kPassedSize = 1000;  // class 1024: remote lists of 64 blocks
constexpr int kPassedBlocks = 512;         // overflows the freer's list 14 times

TEST(MallocRemoteThreads, AThreadShortOfAClassTakesTheBlocksAnotherThreadPassedOn) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  PK(malloc_trim)(0);  // no abandoned segment for the taker to adopt, no batch of earlier tests
  std::vector<void*> theirs;
  std::vector<void*> taken;
  std::atomic<int> step{0};
  std::thread owner([&] {
    for (int i = 0; i < kPassedBlocks; ++i) theirs.push_back(PK(malloc)(kPassedSize));
    step = 1;
    while (step.load() != 4) std::this_thread::yield();  // alive: its pages stay its own
  });
  while (step.load() != 1) std::this_thread::yield();
  std::thread freer([&] {
    free_all_from_a_heap(theirs);
    step = 2;
    while (step.load() != 4) std::this_thread::yield();  // alive: its remote cache stays
  });
  while (step.load() != 2) std::this_thread::yield();
  std::thread taker([&] {
    for (int i = 0; i < 64; ++i) taken.push_back(PK(malloc)(kPassedSize));
    EXPECT_EQ(poolkit_malloc_check(), 0);  // the batches and the remote cache within bounds
    for (void* p : taken) PK(free)(p);
  });
  taker.join();
  step = 4;
  freer.join();
  owner.join();
  std::sort(theirs.begin(), theirs.end());
  int passed_on = 0;
  for (void* p : taken) passed_on += std::binary_search(theirs.begin(), theirs.end(), p) ? 1 : 0;
  EXPECT_EQ(passed_on, 64) << "every block the taker got was one the freer passed on";
  EXPECT_EQ(poolkit_malloc_check(), 0);
}

TEST(MallocRemoteThreads, MallocTrimGivesTheTransferCachesBatchesBack) {
  if (!remote_cache_in_use()) GTEST_SKIP() << "checked mode caches nothing";
  const std::size_t baseline = page_bytes_after_trim();
  std::vector<void*> blocks;  // (a class no other test passes on: no batch of theirs is left over)
  for (int i = 0; i < kPassedBlocks; ++i) blocks.push_back(poolkit::test::escape(PK(malloc)(1500)));
  std::thread freer([&] { free_all_from_a_heap(blocks); });
  freer.join();  // its remote cache went home at its exit; the batches it passed on stay
  EXPECT_EQ(poolkit_malloc_check(), 0);
  EXPECT_LE(page_bytes_after_trim(), baseline + 64 * 1024);  // they pinned ~7 pages of 64 KiB
}

}  // namespace
