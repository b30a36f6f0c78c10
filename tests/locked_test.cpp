// Locked<P> on one thread: forwarding, bad input, stats; its SpinLock.
#include "poolkit/locked.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "poolkit/detail/spin_lock.hpp"
#include "support_pools.hpp"

using poolkit::Locked;
using poolkit::test::MallocPool;
using poolkit::test::SlotPool;

TEST(Locked, ForwardsEveryCallToTheInnerPool) {
  Locked<SlotPool> pool(128, 4);
  void* p = pool.allocate(100);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(pool.owns(p));
  EXPECT_EQ(pool.allocate(200), nullptr);
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  pool.deallocate(nullptr, 1);
  pool.deallocate(p, 100);
  EXPECT_FALSE(pool.owns(p));
  EXPECT_EQ(pool.stats().allocations, 1u);
  pool.allocate(10);
  pool.release();
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

// ---- SpinLock, Locked's lock (and the drop-in malloc's to be).

using poolkit::detail::SpinLock;

TEST(SpinLock, IsConstantInitialisable) {
  static constinit SpinLock global;  // usable before any constructor runs
  global.lock();
  EXPECT_TRUE(global.is_locked());
  global.unlock();
  EXPECT_FALSE(global.is_locked());
}

TEST(SpinLock, TryLockFailsWhileHeldAndSucceedsAfter) {
  SpinLock lock;
  EXPECT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  lock.unlock();
  EXPECT_TRUE(lock.try_lock());
  lock.unlock();
}

TEST(SpinLock, ResetAfterForkFreesALockHeldInTheParent) {
  SpinLock lock;
  lock.lock();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the holder does not exist here: without the reset, lock() would sleep forever
    lock.reset_after_fork();
    const bool ok = lock.try_lock();
    lock.unlock();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(lock.is_locked());  // the parent's lock is untouched
  lock.unlock();
}
