// server_sized: a request-serving loop in C++ style: each request builds a few
// objects (a header, a body of 64 B to 4 KiB, small strings) with operator new,
// keeps one response of 10 in a per-thread cache of 4,096 entries (evicting the
// oldest), and releases everything with sized operator delete, as a compiler with
// -fsized-deallocation does. Threads serve independently.
// usage: server_sized [requests per thread] [threads]
#include <new>
#include <vector>

#include "workload.hpp"

namespace {

constexpr std::size_t kCache = 4096;
constexpr std::size_t kParts = 6;

struct Response {
  void* part[kParts];
  std::size_t n[kParts];
  std::uint64_t tag;
};

void release(Response* r) {
  for (std::size_t i = 0; i < kParts; ++i) ::operator delete(r->part[i], r->n[i]);
  ::operator delete(r, sizeof(Response));
}

std::uint64_t serve(std::size_t requests, unsigned id) {
  workload::Rng rng(900 + id);
  std::vector<Response*> cache(kCache, nullptr);
  std::size_t next_evict = 0;
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < requests; ++k) {
    auto* r = static_cast<Response*>(::operator new(sizeof(Response)));
    r->tag = k ^ id;
    for (std::size_t i = 0; i < kParts; ++i) {
      r->n[i] = i == 0 ? 48 : i == 1 ? rng.range(64, 4096) : rng.range(16, 160);
      r->part[i] = ::operator new(r->n[i]);
      workload::fill(r->part[i], r->n[i], r->tag + i);
    }
    for (std::size_t i = 0; i < kParts; ++i) sum += workload::verify(r->part[i], r->n[i], r->tag + i);
    if (rng.next() % 10 == 0) {
      Response*& slot = cache[next_evict];
      next_evict = (next_evict + 1) % kCache;
      if (slot != nullptr) release(slot);
      slot = r;
    } else {
      release(r);
    }
  }
  for (Response* r : cache) {
    if (r != nullptr) release(r);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const workload::Args args = workload::parse_args(argc, argv, 1000000, 2);
  const std::uint64_t checksum =
      workload::sum_over_threads(args.threads, [&](unsigned t) { return serve(args.size, t); });
  workload::report("server_sized", checksum);
}
