// poolkit/per_cpu.hpp: PerCpu<P>, a pool shared by threads. Over a one-size pool
// (FixedPool: P has chunk_size() and chunk_align()) each thread keeps a cache of free
// blocks (a magazine) and allocates and frees in it with no lock and no atomic
// read-modify-write; caches exchange whole batches with a shared depot, and the depot
// refills from the shard pools, one per CPU. Pick it for objects of one size that busy
// threads allocate and free, also across threads (producer/consumer).
// Over any other pool (Heap, BuddyPool, Arena, Guarded<...>) it keeps one shard per CPU,
// each behind its own lock, and a thread allocates from its CPU's shard.
//
//   thread A cache [b b b . . .]   thread B cache [b . . . . .]      no lock, no RMW
//        | batch of kBatch blocks       ^ batch (one lock per batch)
//        v                              |
//   depot: full batches [b b b b] [b b b b] ...  empty batches        one SpinLock
//        ^ refill when the depot is empty
//   shard 0 [lock|pool]  shard 1 [lock|pool]  ...  (cpu_index() picks one)
//
// Why the free path needs no owner lookup: blocks of a one-size pool are
// interchangeable, so a freed block goes to the freeing thread's cache whoever
// allocated it, and blocks return to their shard's pool only all at once (release(),
// the destructor). owner() and owns() still ask the shards (off the hot path).
// Memory held in caches is bounded (kCacheCapacity blocks per thread) and goes back to
// the depot, for any thread to reuse, when the thread exits. The depot holds what the
// pool's own free list would: like FixedPool, PerCpu returns memory to the OS when
// destroyed.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "poolkit/detail/annotations.hpp"
#include "poolkit/detail/cpu_index.hpp"
#include "poolkit/detail/spin_lock.hpp"
#include "poolkit/detail/thread_caches.hpp"
#include "poolkit/pool.hpp"

namespace poolkit {

/// A pool whose blocks all have one size and alignment: any free block serves any
/// request it can (what lets PerCpu cache blocks per thread).
template <class P>
concept OneSizePool = Pool<P> && requires(const P& p) {
  { p.chunk_size() } -> std::convertible_to<std::size_t>;
  { p.chunk_align() } -> std::convertible_to<std::size_t>;
};

template <Pool P>
class PerCpu {
 public:
  /// Blocks moved between a thread's cache and the depot at once.
  static constexpr std::uint32_t kBatch = 64;
  /// Blocks a thread's cache holds at most (two batches: a free right after a refill,
  /// or an allocation right after a flush, does not move a batch back at once).
  static constexpr std::uint32_t kCacheCapacity = 2 * kBatch;

  /// shards == 0 means one per CPU the machine has. make_shard(i) builds shard i's pool.
  template <class MakeShard>
    requires std::invocable<MakeShard&, std::size_t>
  PerCpu(std::size_t shards, MakeShard make_shard) {
    if (shards == 0) shards = default_shards();
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(make_shard, i));
    if constexpr (OneSizePool<P>) {
      block_size_ = shards_[0]->pool.chunk_size();
      block_align_ = shards_[0]->pool.chunk_align();
      for (const auto& s : shards_) {  // the smallest: every cached block must serve it
        block_size_ = std::min<std::size_t>(block_size_, s->pool.chunk_size());
        block_align_ = std::min<std::size_t>(block_align_, s->pool.chunk_align());
        if constexpr (requires { s->pool.checked(); }) checks_frees_ = checks_frees_ || s->pool.checked();
      }
      if (!detail::register_cache_slot(this, &PerCpu::thread_exit, &slot_, &serial_)) slot_ = kNoSlot;
    }
  }
  /// `shards` shards (0: one per CPU), each pool built from the same arguments.
  template <class... Args>
    requires std::constructible_from<P, const Args&...>
  explicit PerCpu(std::size_t shards = 0, const Args&... inner_args)
      : PerCpu(shards, [&](std::size_t) { return P(inner_args...); }) {}

  PerCpu(const PerCpu&) = delete;
  PerCpu& operator=(const PerCpu&) = delete;

  /// Every block, cached or live, goes back with the shards' pools. No other thread
  /// may be inside the pool; threads that used it may still be running.
  ~PerCpu() {
    if (slot_ == kNoSlot) return;
    detail::unregister_cache_slot(slot_);  // from here no thread exit reaches us
    for (ThreadCache* c = caches_; c != nullptr;) {
      ThreadCache* next = c->next;
      delete c->spare;
      delete c;
      c = next;
    }
    delete_batches(full_);
    delete_batches(empty_);
  }

  static std::size_t default_shards() noexcept {
    unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
  }

  std::size_t shard_count() const noexcept { return shards_.size(); }

  /// Whether this pool caches blocks per thread (a OneSizePool, and a free registry
  /// slot: at most detail::kCacheSlots caching pools live at once).
  bool caches_blocks() const noexcept { return slot_ != kNoSlot; }

  /// The shard this thread would use now.
  std::size_t current_shard() const noexcept { return detail::cpu_index() % shards_.size(); }

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if constexpr (OneSizePool<P>) {
      if (size <= block_size_ && align - 1 < block_align_ && (align & (align - 1)) == 0) [[likely]] {
        ThreadCache* c = my_cache();
        if (c != nullptr) [[likely]] {
          const std::uint32_t n = c->count.load(std::memory_order_relaxed);
          if (n != 0) [[likely]] {
            void* p = c->blocks[n - 1];
            c->count.store(n - 1, std::memory_order_relaxed);
            annotate::metadata_open(p, size);
            return p;
          }
        }
        if (slot_ != kNoSlot) return allocate_slow(c, size);
      }
    }
    return allocate_from(current_shard(), size, align);
  }

  /// Allocates from shard `first` (mod the count), then the others in turn when it
  /// cannot, bypassing the thread caches. For tests and callers that pin shards.
  void* allocate_from(std::size_t first, std::size_t size,
                      std::size_t align = kDefaultAlignment) noexcept {
    const std::size_t n = shards_.size();
    for (std::size_t k = 0; k < n; ++k) {
      Shard& s = *shards_[(first + k) % n];
      std::lock_guard lock(s.lock);
      if (void* p = s.pool.allocate(size, align)) return p;
    }
    return nullptr;
  }

  /// A caching pool keeps p in this thread's cache (whichever thread allocated it);
  /// otherwise p goes back to the shard that owns it (the current CPU's shard is asked
  /// first), and a pointer no shard owns is ignored.
  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    if (!p) return;
    if constexpr (OneSizePool<P>) {
      if (ThreadCache* c = my_cache()) [[likely]] {
        if (checks_frees_) [[unlikely]] {
          if (!acceptable_free(c, p)) return;
        }
        const std::uint32_t n = c->count.load(std::memory_order_relaxed);
        if (n < kCacheCapacity) [[likely]] {
          annotate::metadata_close(p, block_size_);
          c->blocks[n] = p;
          c->count.store(n + 1, std::memory_order_relaxed);
          return;
        }
        return deallocate_slow(c, p);
      }
      if (slot_ != kNoSlot) {
        if (checks_frees_) [[unlikely]] {
          if (owner(p) == kNone) return;
        }
        return deallocate_slow(nullptr, p);
      }
    }
    return_to_owner(p, size, align);
  }

  /// Whether frees are checked before they reach a thread's cache (see checks_frees_).
  bool checks_frees() const noexcept { return checks_frees_; }

  /// True for a block of any shard (cached blocks included: the shards hold them).
  bool owns(const void* p) const noexcept { return owner(p) != kNone; }

  /// The shard holding p, or kNone. O(shards) calls of the pools' owns().
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t owner(const void* p) const noexcept {
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      std::lock_guard lock(shards_[i]->lock);
      if (shards_[i]->pool.owns(p)) return i;
    }
    return kNone;
  }

  /// Frees every block at once: empties every thread's cache and the depot, then
  /// releases every shard. No other thread may be inside the pool meanwhile.
  void release() noexcept {
    if (slot_ != kNoSlot) {
      std::lock_guard caches(caches_lock_);
      for (ThreadCache* c = caches_; c != nullptr; c = c->next) c->count.store(0, std::memory_order_relaxed);
      std::lock_guard depot(depot_lock_);
      while (Batch* b = full_) {
        full_ = b->next;
        b->next = empty_;
        empty_ = b;
      }
      depot_blocks_ = 0;
    }
    for (auto& s : shards_) {
      std::lock_guard lock(s->lock);
      s->pool.release();
    }
  }

  /// The shards' statistics added up (peak_in_use: the sum of the shards' peaks, an
  /// upper bound of the true peak; largest_free: the largest of any shard). A caching
  /// pool counts cached blocks as free, not live; it does not count calls (the fast
  /// path keeps no counter), so allocations and deallocations are 0 and calls_counted
  /// false. Exact only while no other thread is inside the pool.
  PoolStats stats() const noexcept {
    PoolStats total;
    total.fixed_size_blocks = !shards_.empty();
    for (const auto& s : shards_) {
      std::lock_guard lock(s->lock);
      PoolStats x = s->pool.stats();
      total.bytes_requested += x.bytes_requested;
      total.bytes_in_use += x.bytes_in_use;
      total.peak_in_use += x.peak_in_use;
      total.bytes_free += x.bytes_free;
      total.largest_free = std::max(total.largest_free, x.largest_free);
      total.bytes_reserved += x.bytes_reserved;
      total.live_blocks += x.live_blocks;
      total.allocations += x.allocations;
      total.deallocations += x.deallocations;
      total.failures += x.failures;
      total.regions += x.regions;
      total.fixed_size_blocks = total.fixed_size_blocks && x.fixed_size_blocks;
      total.calls_counted = total.calls_counted && x.calls_counted;
    }
    if (slot_ != kNoSlot) {
      const std::size_t cached = cached_blocks();
      const std::size_t live = total.live_blocks > cached ? total.live_blocks - cached : 0;
      const std::size_t stride = total.live_blocks ? total.bytes_in_use / total.live_blocks : block_size_;
      total.live_blocks = live;
      total.bytes_in_use = live * stride;
      total.bytes_requested = live * block_size_;  // not known per block: the block size
      total.bytes_free += cached * stride;
      if (cached) total.largest_free = std::max(total.largest_free, block_size_);
      total.allocations = total.deallocations = 0;
      total.failures = failures_.load(std::memory_order_relaxed);
      total.calls_counted = false;
    }
    return total;
  }

  /// Every shard's check() (when P has one), each under its lock; for a caching pool
  /// also every cache and the depot: counts within bounds and agreeing, every cached
  /// block a block of some shard. Only while no other thread is inside the pool.
  bool check() noexcept {
    bool ok = !shards_.empty();
    for (auto& s : shards_) {
      std::lock_guard lock(s->lock);
      if constexpr (requires(P& q) { { q.check() } -> std::convertible_to<bool>; })
        ok = s->pool.check() && ok;
    }
    if (slot_ != kNoSlot) ok = check_caches() && ok;
    return ok;
  }

  /// Runs f(pool) on shard i under its lock.
  template <class F>
  decltype(auto) with_shard(std::size_t i, F&& f) {
    Shard& s = *shards_[i];
    std::lock_guard lock(s.lock);
    return std::forward<F>(f)(s.pool);
  }

  /// Blocks in the calling thread's cache (at most kCacheCapacity).
  std::size_t cached_here() const noexcept {
    const ThreadCache* c = my_cache();
    return c ? c->count.load(std::memory_order_relaxed) : 0;
  }

  /// Blocks held in thread caches and the depot (free for users, live for the shards).
  std::size_t cached_blocks() const noexcept {
    if (slot_ == kNoSlot) return 0;
    std::size_t n = 0;
    {
      std::lock_guard caches(caches_lock_);
      for (const ThreadCache* c = caches_; c != nullptr; c = c->next) n += c->count.load(std::memory_order_relaxed);
    }
    std::lock_guard depot(depot_lock_);
    return n + depot_blocks_;
  }

 private:
  // Invariant: every block handed out and not yet freed is owned by exactly one
  // shard's pool, the one that allocated it; so is every cached block.
  struct alignas(64) Shard {
    // make(i) returns the pool by value: built in place (pools need not be movable).
    template <class F>
    Shard(F& make, std::size_t i) : pool(make(i)) {}
    mutable detail::SpinLock lock;
    P pool;
  };

  // Up to kBatch free blocks on their way between caches and the depot.
  struct Batch {
    Batch* next = nullptr;
    std::uint32_t count = 0;  // 1..kBatch on the full list, 0 on the empty list
    void* blocks[kBatch];
  };

  // One thread's cache. Invariant: blocks[0, count) are free blocks of this pool, no
  // block twice in all caches and the depot together; count <= kCacheCapacity. Only
  // the owning thread reads or writes blocks[] and count, except release(), stats()
  // and check(), which need no other thread inside the pool (count is atomic so that
  // stats() may read it anyway; the owner only loads and stores it).
  struct alignas(64) ThreadCache {
    std::atomic<std::uint32_t> count{0};
    Batch* spare = nullptr;  // an empty batch ready for the next flush (or nullptr)
    ThreadCache* next = nullptr;  // every cache of this pool, under caches_lock_
    ThreadCache* prev = nullptr;
    void* blocks[kCacheCapacity];
  };

  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);

  ThreadCache* my_cache() const noexcept {
    if (slot_ == kNoSlot) return nullptr;
    const detail::TlsCacheRef& ref = detail::tls_cache_refs[slot_];
    return ref.serial == serial_ ? static_cast<ThreadCache*>(ref.cache) : nullptr;
  }

  // This thread's first call: a cache, linked into the pool's list (nullptr: no memory).
  ThreadCache* make_cache() noexcept {
    auto* c = new (std::nothrow) ThreadCache;
    if (c == nullptr) return nullptr;
    {
      std::lock_guard caches(caches_lock_);
      c->next = caches_;
      if (caches_) caches_->prev = c;
      caches_ = c;
    }
    detail::set_thread_cache(slot_, serial_, c);
    return c;
  }

  // The cache is empty (or missing): a batch from the depot, else from the shards.
  [[gnu::noinline]] void* allocate_slow(ThreadCache* c, std::size_t size) noexcept {
    if (c == nullptr && (c = make_cache()) == nullptr) return allocate_uncached(size);
    std::uint32_t n = 0;
    {
      std::lock_guard depot(depot_lock_);
      if (Batch* b = full_) {
        full_ = b->next;
        n = b->count;
        depot_blocks_ -= n;
        std::memcpy(c->blocks, b->blocks, n * sizeof(void*));
        b->count = 0;
        if (c->spare == nullptr) {
          c->spare = b;
        } else {
          b->next = empty_;
          empty_ = b;
        }
      }
    }
    if (n == 0) n = refill_from_shards(c);
    if (n == 0) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    c->count.store(n - 1, std::memory_order_relaxed);
    void* p = c->blocks[n - 1];
    annotate::metadata_open(p, size);
    return p;
  }

  // Up to kBatch fresh blocks into the empty cache c: the current CPU's shard first.
  std::uint32_t refill_from_shards(ThreadCache* c) noexcept {
    const std::size_t shards = shards_.size(), first = current_shard();
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < shards && n == 0; ++k) {
      Shard& s = *shards_[(first + k) % shards];
      std::lock_guard lock(s.lock);
      for (; n < kBatch; ++n) {
        void* p = s.pool.allocate(block_size_, block_align_);
        if (p == nullptr) break;
        annotate::metadata_close(p, block_size_);  // cached: free to the user
        c->blocks[n] = p;
      }
    }
    return n;
  }

  // No cache (out of memory for one): straight from a shard, counted as usual.
  void* allocate_uncached(std::size_t size) noexcept {
    void* p = allocate_from(current_shard(), block_size_, block_align_);
    if (p == nullptr) failures_.fetch_add(1, std::memory_order_relaxed);
    else annotate::metadata_open(p, size);
    return p;
  }

  // The cache is full (or missing): its oldest kBatch blocks go to the depot as one
  // batch, then p joins the cache.
  [[gnu::noinline]] void deallocate_slow(ThreadCache* c, void* p) noexcept {
    if (c == nullptr && (c = make_cache()) == nullptr) return return_block(p);
    annotate::metadata_close(p, block_size_);
    std::uint32_t n = c->count.load(std::memory_order_relaxed);
    if (n == kCacheCapacity) {
      if (c->spare == nullptr) c->spare = new (std::nothrow) Batch;
      if (c->spare == nullptr) return return_block(p);  // no memory for a batch: p to its shard
      Batch* b = c->spare;
      std::memcpy(b->blocks, c->blocks, kBatch * sizeof(void*));
      b->count = kBatch;
      n -= kBatch;
      std::memmove(c->blocks, c->blocks + kBatch, n * sizeof(void*));
      std::lock_guard depot(depot_lock_);
      b->next = full_;
      full_ = b;
      depot_blocks_ += kBatch;
      c->spare = empty_;
      if (empty_) empty_ = empty_->next;
    }
    c->blocks[n] = p;
    c->count.store(n + 1, std::memory_order_relaxed);
  }

  // A cached block back to the shard that owns it (out of memory for caches only).
  void return_block(void* p) noexcept {
    annotate::metadata_open(p, block_size_);
    return_to_owner(p, block_size_, block_align_);
  }

  void return_to_owner(void* p, std::size_t size, std::size_t align) noexcept {
    const std::size_t n = shards_.size(), first = current_shard();
    for (std::size_t k = 0; k < n; ++k) {
      Shard& s = *shards_[(first + k) % n];
      std::lock_guard lock(s.lock);
      if (s.pool.owns(p)) {
        s.pool.deallocate(p, size, align);
        return;
      }
    }
  }

  // Debug builds: p is a block of this pool and not in this thread's cache already.
  bool acceptable_free(const ThreadCache* c, const void* p) const noexcept {
    if (owner(p) == kNone) return false;
    const std::uint32_t n = c->count.load(std::memory_order_relaxed);
    return std::find(c->blocks, c->blocks + n, p) == c->blocks + n;
  }

  // A thread that used the pool exits (called under the registry lock): its cached
  // blocks go to the depot, its cache is freed.
  static void thread_exit(void* self, void* cache) noexcept {
    static_cast<PerCpu*>(self)->retire(static_cast<ThreadCache*>(cache));
  }
  void retire(ThreadCache* c) noexcept {
    {
      std::lock_guard caches(caches_lock_);
      (c->prev ? c->prev->next : caches_) = c->next;
      if (c->next) c->next->prev = c->prev;
    }
    std::uint32_t n = c->count.load(std::memory_order_relaxed);
    std::lock_guard depot(depot_lock_);
    if (c->spare) {
      c->spare->next = empty_;
      empty_ = c->spare;
    }
    while (n > 0) {
      Batch* b = empty_;
      if (b != nullptr) empty_ = b->next;
      else b = new (std::nothrow) Batch;
      if (b == nullptr) {  // no memory for a batch: straight back to the shards
        while (n > 0) return_block(c->blocks[--n]);
        break;
      }
      const std::uint32_t k = std::min(n, kBatch);
      n -= k;
      std::memcpy(b->blocks, c->blocks + n, k * sizeof(void*));
      b->count = k;
      b->next = full_;
      full_ = b;
      depot_blocks_ += k;
    }
    delete c;
  }

  bool check_caches() const noexcept;

  static void delete_batches(Batch* b) noexcept {
    while (b != nullptr) {
      Batch* next = b->next;
      delete b;
      b = next;
    }
  }

  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t block_size_ = 0;   // OneSizePool: every shard's blocks serve this size...
  std::size_t block_align_ = 0;  // ...and this alignment
  // A caching pool checks every free (a block of this pool, not already in this
  // thread's cache) when its shards check theirs (FixedPool::checked(): by default on
  // in a debug build of the library, off in a release build); otherwise it trusts it,
  // as the shards do. Chosen at construction, never by the caller's NDEBUG.
  bool checks_frees_ = false;
  std::size_t slot_ = kNoSlot;   // thread-cache registry slot (kNoSlot: no caching)
  std::uint64_t serial_ = 0;

  // Every cache of this pool. Lock order: registry, caches_lock_, depot_lock_, shard locks.
  mutable detail::SpinLock caches_lock_;
  ThreadCache* caches_ = nullptr;
  // The depot. Invariant: full_ holds batches with 1..kBatch blocks, depot_blocks_ in
  // all; empty_ holds batches with none.
  alignas(64) mutable detail::SpinLock depot_lock_;
  Batch* full_ = nullptr;
  Batch* empty_ = nullptr;
  std::size_t depot_blocks_ = 0;
  std::atomic<std::uint64_t> failures_{0};  // slow path only
};

template <Pool P>
bool PerCpu<P>::check_caches() const noexcept {
  auto broken = [](const char* what) {
    std::fprintf(stderr, "poolkit PerCpu check: %s\n", what);
    return false;
  };
  std::vector<const void*> seen;
  std::lock_guard caches(caches_lock_);
  std::lock_guard depot(depot_lock_);
  for (const ThreadCache* c = caches_; c != nullptr; c = c->next) {
    const std::uint32_t n = c->count.load(std::memory_order_relaxed);
    if (n > kCacheCapacity) return broken("a thread cache holds more than kCacheCapacity blocks");
    if (c->next && c->next->prev != c) return broken("the cache list's links disagree");
    seen.insert(seen.end(), c->blocks, c->blocks + n);
  }
  std::size_t in_depot = 0;
  for (const Batch* b = full_; b != nullptr; b = b->next) {
    if (b->count == 0 || b->count > kBatch) return broken("a full batch holds 0 or more than kBatch blocks");
    in_depot += b->count;
    seen.insert(seen.end(), b->blocks, b->blocks + b->count);
  }
  for (const Batch* b = empty_; b != nullptr; b = b->next)
    if (b->count != 0) return broken("an empty batch holds blocks");
  if (in_depot != depot_blocks_) return broken("the depot's block count disagrees with its batches");
  for (const void* p : seen)
    if (owner(p) == kNone) return broken("a cached block belongs to no shard");
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) return broken("a block is cached twice");
  return true;
}

}  // namespace poolkit
