// mstress: objects that outlive their threads. Rounds of threads allocate and free
// objects of mostly small, sometimes large sizes, and swap some into a global
// transfer array; whatever a thread leaves there is freed by a thread of a later
// round, after its allocating thread (and its heap) is gone.
// usage: mstress [operations per thread per round] [threads]
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kRounds = 10;
constexpr std::size_t kTransferSlots = 1000;
constexpr std::size_t kMaxLocal = 500;

// Every object starts with its size and tag, so whoever frees it can check it.
struct Header {
  std::size_t n;
  std::uint64_t tag;
};

void* make(workload::Rng& rng) {
  std::size_t n = rng.next() % 100 == 0 ? rng.range(1024, 64 * 1024) : rng.range(16, 256);
  n = std::max(n, sizeof(Header));
  auto* h = static_cast<Header*>(std::malloc(n));
  h->n = n;
  h->tag = rng.next();
  static_cast<unsigned char*>(static_cast<void*>(h))[n - 1] = static_cast<unsigned char>(h->tag);
  return h;
}

std::uint64_t destroy(void* p) {
  if (p == nullptr) return 0;
  const auto* h = static_cast<Header*>(p);
  const std::size_t n = h->n;
  const std::uint64_t tag = h->tag;
  if (static_cast<unsigned char*>(p)[n - 1] != static_cast<unsigned char>(tag)) {
    std::fprintf(stderr, "mstress: object %p lost its contents\n", p);
    std::abort();
  }
  std::free(p);
  return tag ^ n;
}

std::atomic<void*> transfer[kTransferSlots];

std::uint64_t worker(std::size_t ops, std::uint64_t seed) {
  workload::Rng rng(seed);
  std::vector<void*> local;
  local.reserve(kMaxLocal);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    const std::uint64_t r = rng.next() % 100;
    if (r < 50 || local.empty()) {
      if (local.size() == kMaxLocal) {
        const std::size_t j = rng.next() % local.size();
        sum += destroy(local[j]);
        local[j] = local.back();
        local.pop_back();
      }
      local.push_back(make(rng));
    } else if (r < 85) {
      const std::size_t j = rng.next() % local.size();
      sum += destroy(local[j]);
      local[j] = local.back();
      local.pop_back();
    } else {
      // Give an object away and free whatever was in the slot: often another thread's.
      void* mine = local.back();
      local.pop_back();
      sum += destroy(transfer[rng.next() % kTransferSlots].exchange(mine));
    }
  }
  // Half of what is left outlives this thread.
  for (std::size_t j = 0; j < local.size(); ++j) {
    if (j % 2 == 0) {
      sum += destroy(local[j]);
    } else {
      sum += destroy(transfer[rng.next() % kTransferSlots].exchange(local[j]));
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 400000, 4);
  std::atomic<std::uint64_t> checksum{0};
  for (std::size_t round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < args.threads; ++t) {
      threads.emplace_back([&, round, t] { checksum += worker(args.size, round * 1000 + t + 1); });
    }
    for (auto& th : threads) th.join();
  }
  for (auto& slot : transfer) checksum += destroy(slot.exchange(nullptr));
  workload::report("mstress", checksum);
}
