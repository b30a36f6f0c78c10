// The pool contract (pool.hpp, docs/pool_contract.md) held by every pool and
// decorator alike: check() is part of the concept, and owns() has one meaning: true
// for every live block's pointer, false for memory the pool does not hold.
#include <gtest/gtest.h>

#include <memory>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/locked.hpp"
#include "poolkit/per_cpu.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/shared_heap.hpp"
#include "support_pools.hpp"

namespace {

using namespace poolkit;

// A pool with everything but check(): not a Pool.
struct NoCheck {
  void* allocate(std::size_t, std::size_t) noexcept { return nullptr; }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}
  bool owns(const void*) const noexcept { return false; }
  void release() noexcept {}
  PoolStats stats() const noexcept { return {}; }
};
static_assert(!Pool<NoCheck>, "check() is part of the pool contract");
static_assert(Pool<Guarded<Heap>> && Pool<Locked<FixedPool>> && Pool<PerCpu<Heap>> && Pool<PoolSet::View>);

template <class P>
std::unique_ptr<P> make_pool() {
  if constexpr (std::is_same_v<P, FixedPool> || std::is_same_v<P, Locked<FixedPool>>) return std::make_unique<P>(64);
  else if constexpr (std::is_same_v<P, Arena>) return std::make_unique<P>(Arena::Options{});
  else if constexpr (std::is_same_v<P, PerCpu<Heap>>) return std::make_unique<P>(2, Heap::Options{});
  else if constexpr (std::is_same_v<P, SharedHeap>) return std::make_unique<P>(SharedHeap::anonymous(1 << 20));
  else return std::make_unique<P>();
}

template <class P>
class PoolContract : public ::testing::Test {};
using Pools = ::testing::Types<FixedPool, Arena, Heap, BuddyPool, test::PoolSetPool, Guarded<Heap>,
                               Locked<FixedPool>, PerCpu<Heap>, SharedHeap>;
TYPED_TEST_SUITE(PoolContract, Pools);

TYPED_TEST(PoolContract, OwnsEveryLiveBlockAndNothingOutsideItsMemory) {
  auto pool = make_pool<TypeParam>();
  auto other = make_pool<TypeParam>();
  void* blocks[8];
  for (auto& b : blocks) {
    b = pool->allocate(48, 16);
    ASSERT_NE(b, nullptr);
  }
  void* theirs = other->allocate(48, 16);
  ASSERT_NE(theirs, nullptr);
  int on_stack = 0;
  auto on_heap = std::make_unique<int>(0);
  for (void* b : blocks) EXPECT_TRUE(pool->owns(b));
  EXPECT_FALSE(pool->owns(theirs)) << "another pool's block";
  EXPECT_FALSE(pool->owns(&on_stack));
  EXPECT_FALSE(pool->owns(on_heap.get())) << "a malloc block";
  EXPECT_FALSE(pool->owns(nullptr));
  EXPECT_TRUE(pool->check());
  for (void* b : blocks) pool->deallocate(b, 48, 16);
  other->deallocate(theirs, 48, 16);
}

TYPED_TEST(PoolContract, CheckHoldsAfterReleaseAndOwnsWhatComesNext) {
  auto pool = make_pool<TypeParam>();
  for (int i = 0; i < 32; ++i) ASSERT_NE(pool->allocate(40, 8), nullptr);
  pool->release();
  EXPECT_TRUE(pool->check());
  void* p = pool->allocate(40, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(pool->owns(p));
  EXPECT_TRUE(pool->check());
  pool->deallocate(p, 40, 8);
}

}  // namespace
