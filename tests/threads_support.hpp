// threads_support.hpp: the cross-thread workout the decorator tests share. Each of
// `threads` threads allocates blocks of random size and alignment, writes a pattern
// naming the block, and hands about half of them to other threads through a shared
// mailbox; whoever frees a block first verifies its pattern. At the end every block
// is freed and the pool must be empty.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace poolkit::test {

struct SharedBlock {
  unsigned char* p;
  std::size_t size;
  std::size_t align;
  std::uint8_t pattern;
};

/// Runs the workout; returns the number of blocks whose contents were wrong.
template <class Pool>
std::size_t cross_thread_workout(Pool& pool, unsigned threads, std::size_t ops_per_thread,
                                 std::size_t max_size = 256, std::size_t max_align_log2 = 6) {
  std::mutex mailbox_mutex;
  std::vector<SharedBlock> mailbox;
  std::atomic<std::size_t> corrupted{0};
  auto free_block = [&](const SharedBlock& b) {
    if (!BlockModel::verify_bytes(b.p, b.size, b.pattern)) ++corrupted;
    pool.deallocate(b.p, b.size, b.align);
  };
  auto body = [&](unsigned id) {
    std::mt19937_64 rng(test_seed() + id);
    std::vector<SharedBlock> mine;
    for (std::size_t i = 0; i < ops_per_thread; ++i) {
      unsigned action = static_cast<unsigned>(rng() % 8);
      if (action < 4 || mine.empty()) {
        std::size_t size = rng() % (max_size + 1);
        std::size_t align = std::size_t{1} << (rng() % (max_align_log2 + 1));
        auto* p = static_cast<unsigned char*>(pool.allocate(size, align));
        if (!p) continue;
        if (reinterpret_cast<std::uintptr_t>(p) % align != 0) ++corrupted;
        SharedBlock b{p, size, align, static_cast<std::uint8_t>(rng())};
        BlockModel::fill(b.p, b.size, b.pattern);
        mine.push_back(b);
      } else if (action < 6) {  // give one away
        std::lock_guard lock(mailbox_mutex);
        mailbox.push_back(mine.back());
        mine.pop_back();
      } else if (action < 7) {  // free a block someone else allocated
        SharedBlock b{};
        {
          std::lock_guard lock(mailbox_mutex);
          if (mailbox.empty()) continue;
          b = mailbox.back();
          mailbox.pop_back();
        }
        free_block(b);
      } else {
        std::size_t k = rng() % mine.size();
        free_block(mine[k]);
        mine[k] = mine.back();
        mine.pop_back();
      }
    }
    for (const auto& b : mine) free_block(b);
  };
  std::vector<std::thread> pool_threads;
  for (unsigned t = 0; t < threads; ++t) pool_threads.emplace_back(body, t);
  for (auto& t : pool_threads) t.join();
  for (const auto& b : mailbox) free_block(b);
  return corrupted.load();
}

}  // namespace poolkit::test
