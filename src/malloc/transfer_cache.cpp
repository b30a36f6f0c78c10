// transfer_cache.cpp: blocks shared between threads, per size class.
// A thread's remote cache (remote_cache.cpp) that overflows used to send its older
// half home, to the pages of the heaps that own the blocks: there only the owner
// could hand them out again, so every other thread that needed the class cut fresh
// blocks from pages of its own, and each thread kept partly full pages of every
// class. Now the older half goes here first, as one batch (a linked list), and any
// thread whose class ran dry (nothing in its remote cache, nothing to collect in its
// pages) takes a whole batch into its remote cache before it extends a page or cuts a
// new one. tcmalloc's transfer cache plays the same part between its thread caches
// and its central free lists; mimalloc shares whole abandoned segments instead.
//
// Invariants: every batch is a non-empty list of `count` free blocks of its class,
// each carrying the free key and still counted in its page's `used` (as in a remote
// cache, so its page stays in use); a class holds at most kTransferBatches batches
// and kTransferClassBytes bytes (bytes == the sum of count * class_size).
// One spin lock per class, taken once per batch (tens of blocks); a racy look at the
// batch count first, so a thread finds an empty class without the lock.
// Given back to the blocks' pages by malloc_trim; the fork handlers take the locks.
#include "common/assert.hpp"
#include "internal.hpp"

namespace poolkit::malloc_impl {

namespace {

struct TransferClass {
  SpinLock lock;
  std::atomic<std::uint32_t> batches{0};  // written under the lock, read racily
  std::size_t bytes = 0;
  Block* first[kTransferBatches] = {};
  std::uint32_t count[kTransferBatches] = {};
};

constinit TransferClass g_transfer[kRemoteClasses];

// Takes the newest batch of class cls (its first block and count), under the class's
// lock; false when the class holds none.
bool pop_batch(std::size_t cls, Block** first, std::uint32_t* count) noexcept {
  TransferClass& tc = g_transfer[cls];
  LockGuard guard(tc.lock);
  std::uint32_t n = tc.batches.load(std::memory_order_relaxed);
  if (n == 0) return false;
  *first = tc.first[n - 1];
  *count = tc.count[n - 1];
  tc.bytes -= std::size_t{*count} * class_size(cls);
  tc.batches.store(n - 1, std::memory_order_relaxed);
  return true;
}

}  // namespace

bool transfer_put(std::size_t cls, Block* first, std::uint32_t count) noexcept {
  PK_ASSERT(cls < kRemoteClasses && first != nullptr && count > 0);
  TransferClass& tc = g_transfer[cls];
  if (tc.batches.load(std::memory_order_relaxed) == kTransferBatches) return false;
  LockGuard guard(tc.lock);
  std::uint32_t n = tc.batches.load(std::memory_order_relaxed);
  std::size_t bytes = std::size_t{count} * class_size(cls);
  if (n == kTransferBatches || tc.bytes + bytes > kTransferClassBytes) return false;
  tc.first[n] = first;
  tc.count[n] = count;
  tc.bytes += bytes;
  tc.batches.store(n + 1, std::memory_order_relaxed);
  return true;
}

bool transfer_take(Heap* heap, std::size_t cls) noexcept {
  PK_ASSERT(cls < kRemoteClasses && heap->remote[cls].first == nullptr);
  if (g_transfer[cls].batches.load(std::memory_order_relaxed) == 0) return false;  // racy look, no lock
  Block* first;
  std::uint32_t count;
  if (!pop_batch(cls, &first, &count)) return false;
  remote_cache_adopt(heap, cls, first, count);
  return true;
}

bool transfer_flush() noexcept {
  bool any = false;
  for (std::size_t cls = 0; cls < kRemoteClasses; ++cls) {
    Block* first;
    std::uint32_t count;
    while (pop_batch(cls, &first, &count)) {
      remote_give_back(first);  // outside the lock: one CAS per page
      any = true;
    }
  }
  return any;
}

void transfer_visit(TransferVisitor visit, void* context) noexcept {
  for (std::size_t cls = 0; cls < kRemoteClasses; ++cls) {
    TransferClass& tc = g_transfer[cls];
    LockGuard guard(tc.lock);
    [[maybe_unused]] std::size_t bytes = 0;  // for the assertion only
    for (std::uint32_t i = 0; i < tc.batches.load(std::memory_order_relaxed); ++i) {
      visit(context, cls, tc.first[i], tc.count[i]);
      bytes += std::size_t{tc.count[i]} * class_size(cls);
    }
    PK_ASSERT(bytes == tc.bytes && bytes <= kTransferClassBytes);
  }
}

void transfer_lock_all() noexcept {
  for (TransferClass& tc : g_transfer) tc.lock.lock();
}
void transfer_unlock_all(ForkSide side) noexcept {
  for (TransferClass& tc : g_transfer) release_after_fork(tc.lock, side);
}

}  // namespace poolkit::malloc_impl
