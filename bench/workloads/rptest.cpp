// rptest: in the manner of rpmalloc's benchmark. Each thread loops: allocate a batch
// of blocks with sizes skewed towards small (16 B .. 16 KiB), free half of them in
// random order, and post the other half to the next thread, which frees them.
// Threads meet at a barrier every few loops so that a descheduled thread's mailbox
// (and so the peak RSS) stays bounded whatever the scheduler does.
// usage: rptest [loops per thread] [threads]
#include <barrier>
#include <mutex>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kBatch = 256;
constexpr std::size_t kMaxSize = 16 * 1024;
constexpr std::size_t kLoopsPerBarrier = 8;

struct Block {
  void* p;
  std::size_t n;
  std::uint64_t tag;
};

struct Mailbox {
  std::mutex mutex;
  std::vector<Block> blocks;
};

std::size_t skewed_size(workload::Rng& rng) {
  const double u = rng.unit();
  return 16 + static_cast<std::size_t>(u * u * u * u * (kMaxSize - 16));
}

std::uint64_t drain(Mailbox& box, std::vector<Block>& scratch) {
  {
    std::lock_guard lock(box.mutex);
    scratch.swap(box.blocks);
  }
  std::uint64_t sum = 0;
  for (const Block& b : scratch) {
    sum += workload::verify(b.p, b.n, b.tag);
    std::free(b.p);
  }
  scratch.clear();
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 4000, 4);
  std::vector<Mailbox> boxes(args.threads);
  std::vector<std::uint64_t> sums(args.threads);
  std::barrier meet(static_cast<std::ptrdiff_t>(args.threads));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < args.threads; ++t) {
    threads.emplace_back([&, t] {
      workload::Rng rng(t + 1);
      std::vector<Block> batch(kBatch), scratch;
      std::uint64_t sum = 0;
      Mailbox& next = boxes[(t + 1) % args.threads];
      for (std::size_t loop = 0; loop < args.size; ++loop) {
        for (Block& b : batch) {
          b.n = skewed_size(rng);
          b.tag = rng.next();
          b.p = std::malloc(b.n);
          workload::fill(b.p, b.n, b.tag);
        }
        for (std::size_t i = kBatch - 1; i > 0; --i) std::swap(batch[i], batch[rng.next() % (i + 1)]);
        for (std::size_t i = 0; i < kBatch / 2; ++i) {
          sum += workload::verify(batch[i].p, batch[i].n, batch[i].tag);
          std::free(batch[i].p);
        }
        {
          std::lock_guard lock(next.mutex);
          next.blocks.insert(next.blocks.end(), batch.begin() + kBatch / 2, batch.end());
        }
        sum += drain(boxes[t], scratch);
        if (loop % kLoopsPerBarrier == kLoopsPerBarrier - 1) meet.arrive_and_wait();
      }
      meet.arrive_and_drop();
      sums[t] = sum;
    });
  }
  for (auto& th : threads) th.join();
  std::uint64_t checksum = 0;
  std::vector<Block> scratch;
  for (auto& box : boxes) checksum += drain(box, scratch);
  for (std::uint64_t s : sums) checksum += s;
  workload::report("rptest", checksum);
}
