// xmalloc_test: producers allocate small blocks and hand them in batches through a
// bounded queue to consumers, which check and free them: every free is a remote
// free, and the producer's heap never sees its blocks come back.
// usage: xmalloc_test [blocks per producer] [threads: half produce, half consume]
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kMaxQueued = 64;

struct Batch {
  void* p[kBatch];
  std::size_t n[kBatch];
  std::uint64_t tag[kBatch];
  std::size_t count = 0;
};

class BatchQueue {
 public:
  void push(Batch* b) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
    queue_.push_back(b);
    not_empty_.notify_one();
  }
  // nullptr once every producer is done and the queue is drained.
  Batch* pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || producers_left_ == 0; });
    if (queue_.empty()) return nullptr;
    Batch* b = queue_.front();
    queue_.pop_front();
    not_full_.notify_one();
    return b;
  }
  void set_producers(unsigned n) { producers_left_ = n; }
  void producer_done() {
    std::lock_guard lock(mutex_);
    if (--producers_left_ == 0) not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch*> queue_;
  unsigned producers_left_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 3000000, 4);
  const unsigned producers = args.threads > 1 ? args.threads / 2 : 1;
  const unsigned consumers = args.threads > 1 ? args.threads - producers : 1;
  BatchQueue queue;
  queue.set_producers(producers);
  std::vector<std::uint64_t> sums(consumers);
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      std::uint64_t sum = 0;
      while (Batch* b = queue.pop()) {
        for (std::size_t i = 0; i < b->count; ++i) {
          sum += workload::verify(b->p[i], b->n[i], b->tag[i]);
          std::free(b->p[i]);
        }
        delete b;
      }
      sums[c] = sum;
    });
  }
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      workload::Rng rng(p + 1);
      Batch* b = new Batch;
      for (std::size_t k = 0; k < args.size; ++k) {
        const std::size_t i = b->count++;
        b->n[i] = rng.range(8, 256);
        b->tag[i] = rng.next();
        b->p[i] = std::malloc(b->n[i]);
        workload::fill(b->p[i], b->n[i], b->tag[i]);
        if (b->count == kBatch) {
          queue.push(b);
          b = new Batch;
        }
      }
      queue.push(b);
      queue.producer_done();
    });
  }
  for (auto& th : threads) th.join();
  std::uint64_t checksum = 0;
  for (std::uint64_t s : sums) checksum += s;
  workload::report("xmalloc_test", checksum);
}
