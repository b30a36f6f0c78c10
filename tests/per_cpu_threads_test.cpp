// PerCpu<P>: shards chosen by CPU, frees routed to the owning shard, 2 to 16 threads;
// over FixedPool, thread caches and the depot against a model and producer/consumer.
#include "poolkit/per_cpu.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/heap.hpp"
#include "support_pools.hpp"
#include "threads_support.hpp"

using poolkit::PerCpu;
using poolkit::test::cross_thread_workout;
using poolkit::test::MallocPool;
using poolkit::test::scaled;
using poolkit::test::SlotPool;

static_assert(poolkit::Pool<PerCpu<SlotPool>>);
static_assert(poolkit::Pool<PerCpu<MallocPool>>);

class PerCpuThreads : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(threads, PerCpuThreads, ::testing::Values(2u, 4u, 8u, 16u));

TEST_P(PerCpuThreads, SlotShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<SlotPool> pool(4, 256, 2048);  // more shards than this machine's CPUs
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam()), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, MallocShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<MallocPool> pool;
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 1000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, FixedPoolShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::FixedPool> pool(0, poolkit::FixedPool::Options{.chunk_size = 128, .chunk_align = 64});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 128, 6), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, HeapShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::Heap> pool(4, poolkit::Heap::Options{});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, BuddyShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::BuddyPool> pool(3, poolkit::BuddyPool::Options{.min_order = 4, .max_order = 22});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(100'000) / GetParam(), 2000, 12), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, ArenaShardsKeepEveryBlockIntactAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  PerCpu<poolkit::Arena> pool(0, poolkit::Arena::Options{});
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(50'000) / GetParam(), 500, 8), 0u);
  EXPECT_TRUE(pool.check());  // an arena frees only its last block: no live-block count here
}

TEST_P(PerCpuThreads, GuardedHeapShardsReportNothingAcrossThreads) {
  SCOPED_TRACE("seed " + std::to_string(poolkit::test::test_seed()));
  poolkit::GuardOptions o;
  o.use_env = false;
  PerCpu<poolkit::Guarded<poolkit::Heap>> pool(2, [&](std::size_t) {
    return poolkit::Guarded<poolkit::Heap>(o, poolkit::Heap::Options{});
  });
  EXPECT_EQ(cross_thread_workout(pool, GetParam(), scaled(50'000) / GetParam(), 500, 8), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

// ---- PerCpu<FixedPool>: thread caches, the depot, cross-thread frees.

// Each thread runs random operations against its own model of the blocks it holds
// (address, fill pattern): allocate and fill, free one of its own after verifying it,
// hand one to another thread through a mailbox, or free one from the mailbox. Any
// block handed out twice while live has its pattern overwritten, which the next
// verification sees. At the end every model and the pool must agree: nothing live.
struct Held {
  unsigned char* p;
  std::uint8_t pattern;
  std::size_t size = 64;  // bytes asked for: only these are the caller's (ASan checks)
};

static std::size_t differential_run(PerCpu<poolkit::FixedPool>& pool, unsigned threads, std::size_t ops,
                                    std::uint64_t seed, std::size_t block) {
  std::mutex mailbox_mutex;
  std::vector<Held> mailbox;
  std::atomic<std::size_t> bad{0};
  auto verify_and_free = [&](const Held& h) {
    for (std::size_t i = 0; i < h.size; ++i)
      if (h.p[i] != static_cast<unsigned char>(h.pattern + i)) {
        ++bad;
        break;
      }
    pool.deallocate(h.p, block);
  };
  auto body = [&](unsigned id) {
    std::mt19937_64 rng(seed * 1000003 + id);
    std::vector<Held> mine;
    for (std::size_t i = 0; i < ops; ++i) {
      const unsigned action = static_cast<unsigned>(rng() % 16);
      if (action < 7 || mine.empty()) {
        const std::size_t size = 1 + rng() % block;
        auto* p = static_cast<unsigned char*>(pool.allocate(size, std::size_t{1} << (rng() % 5)));
        if (p == nullptr) {
          ++bad;
          continue;
        }
        Held h{p, static_cast<std::uint8_t>(rng()), size};
        for (std::size_t k = 0; k < size; ++k) p[k] = static_cast<unsigned char>(h.pattern + k);
        mine.push_back(h);
      } else if (action < 12) {
        const std::size_t k = rng() % mine.size();
        verify_and_free(mine[k]);
        mine[k] = mine.back();
        mine.pop_back();
      } else if (action < 14) {
        std::lock_guard lock(mailbox_mutex);
        mailbox.push_back(mine.back());
        mine.pop_back();
      } else {
        Held h{};
        {
          std::lock_guard lock(mailbox_mutex);
          if (mailbox.empty()) continue;
          h = mailbox.back();
          mailbox.pop_back();
        }
        verify_and_free(h);
      }
    }
    for (const Held& h : mine) verify_and_free(h);
  };
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) workers.emplace_back(body, t);
  for (auto& t : workers) t.join();
  for (const Held& h : mailbox) verify_and_free(h);
  return bad.load();
}

TEST_P(PerCpuThreads, CachedFixedPoolMatchesTheModelUnderRandomOperations) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED=" + std::to_string(seed) + " repeats it)");
  PerCpu<poolkit::FixedPool> pool(0, poolkit::FixedPool::Options{.chunk_size = 48, .chunk_align = 16});
  ASSERT_TRUE(pool.caches_blocks());
  EXPECT_EQ(differential_run(pool, GetParam(), scaled(1'000'000) / GetParam(), seed, 48), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST_P(PerCpuThreads, ProducerConsumerRecyclesBlocksAcrossThreads) {
  // Half the threads only allocate, the others only free what they are handed: every
  // block crosses threads. The pool must keep reusing them: memory stays bounded by
  // what is in flight plus the caches, not by the number of allocations.
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  using Pool = PerCpu<poolkit::FixedPool>;
  Pool pool(0, std::size_t{64});
  const unsigned pairs = std::max(1u, GetParam() / 2);
  const std::size_t per_producer = scaled(200'000) / pairs, in_flight = 1024;
  struct Channel {
    std::mutex m;
    std::vector<Held> q;
  };
  std::vector<Channel> channels(pairs);
  std::atomic<std::size_t> bad{0};
  std::vector<std::thread> workers;
  for (unsigned c = 0; c < pairs; ++c) {
    workers.emplace_back([&, c] {
      std::mt19937_64 rng(seed + c);
      for (std::size_t i = 0; i < per_producer;) {
        std::unique_lock lock(channels[c].m);
        if (channels[c].q.size() >= in_flight) {
          lock.unlock();
          std::this_thread::yield();
          continue;
        }
        auto* p = static_cast<unsigned char*>(pool.allocate(64));
        if (p == nullptr) {
          ++bad;
          return;
        }
        Held h{p, static_cast<std::uint8_t>(rng())};
        std::memset(p, h.pattern, 64);
        channels[c].q.push_back(h);
        ++i;
      }
    });
    workers.emplace_back([&, c] {
      for (std::size_t freed = 0; freed < per_producer;) {
        std::vector<Held> got;
        {
          std::lock_guard lock(channels[c].m);
          got.swap(channels[c].q);
        }
        for (const Held& h : got) {
          for (int k = 0; k < 64; ++k)
            if (h.p[k] != h.pattern) {
              ++bad;
              break;
            }
          pool.deallocate(h.p, 64);
        }
        freed += got.size();
        if (got.empty()) std::this_thread::yield();
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  // Blocks ever carved: in flight (per pair up to twice in_flight: the queue refills
  // while the consumer still checks the blocks it took out), plus per thread a cache and
  // the batch it may be moving, plus a batch per shard. FixedPool grows by doubling
  // blocks from 64 KiB, so it reserves at most twice what it carves plus its first
  // block per shard.
  const std::size_t carved_bound =
      2 * pairs * in_flight + 2 * pairs * (Pool::kCacheCapacity + Pool::kBatch) + pool.shard_count() * Pool::kBatch;
  EXPECT_LE(pool.stats().bytes_reserved, 2 * carved_bound * 64 + pool.shard_count() * 64 * 1024 * 2);
  EXPECT_TRUE(pool.check());
}
