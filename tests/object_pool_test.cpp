// ObjectPool<T>: construction from any arguments, O(1) destroy, unique_ptr with a
// pool deleter, over-aligned types, exceptions from constructors, destroy_all.
#include "poolkit/object_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

using poolkit::ObjectPool;

namespace {

int g_alive = 0;

struct Tracked {
  std::string name;
  int value;
  Tracked(std::string n, int v) : name(std::move(n)), value(v) { ++g_alive; }
  ~Tracked() { --g_alive; }
};

struct MoveOnlyArg {
  std::unique_ptr<int> p;
  explicit MoveOnlyArg(std::unique_ptr<int> q) : p(std::move(q)) {}
};

struct Aggregate {
  int a;
  double b;
};

struct ThrowsOnSeven {
  explicit ThrowsOnSeven(int v) {
    if (v == 7) throw std::runtime_error("seven");
  }
};

template <std::size_t Align>
struct alignas(Align) OverAligned {
  unsigned char bytes[Align];
};

}  // namespace

TEST(ObjectPool, CreateConstructsFromAnyArguments) {
  ObjectPool<Tracked> pool;
  Tracked* t = pool.create("seven", 7);
  EXPECT_EQ(t->name, "seven");
  EXPECT_EQ(t->value, 7);
  EXPECT_EQ(g_alive, 1);
  pool.destroy(t);
  EXPECT_EQ(g_alive, 0);
}

TEST(ObjectPool, CreatePerfectlyForwardsMoveOnlyArguments) {
  ObjectPool<MoveOnlyArg> pool;
  MoveOnlyArg* m = pool.create(std::make_unique<int>(42));
  EXPECT_EQ(*m->p, 42);
  pool.destroy(m);
}

TEST(ObjectPool, CreateBuildsAggregates) {
  ObjectPool<Aggregate> pool;
  Aggregate* a = pool.create(1, 2.5);
  EXPECT_EQ(a->a, 1);
  EXPECT_EQ(a->b, 2.5);
  pool.destroy(a);
}

TEST(ObjectPool, DestroyReturnsTheChunkForReuse) {
  ObjectPool<Tracked> pool;
  Tracked* a = pool.create("a", 1);
  pool.destroy(a);
  Tracked* b = pool.create("b", 2);
  EXPECT_EQ(static_cast<void*>(a), static_cast<void*>(b));  // O(1): the chunk is on top of the free list
  pool.destroy(b);
  pool.destroy(nullptr);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(ObjectPool, MakeUniqueDestroysBackIntoThePool) {
  ObjectPool<Tracked> pool;
  {
    auto p = pool.make_unique("u", 3);
    EXPECT_EQ(p->value, 3);
    EXPECT_EQ(g_alive, 1);
    EXPECT_TRUE(pool.owns(p.get()));
    static_assert(std::is_same_v<decltype(p), ObjectPool<Tracked>::UniquePtr>);
  }
  EXPECT_EQ(g_alive, 0);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  if (poolkit::FixedPool::kCountsCalls) {
    EXPECT_EQ(pool.stats().deallocations, 1u);
  }
}

TEST(ObjectPool, ThrowingConstructorReturnsTheChunk) {
  ObjectPool<ThrowsOnSeven> pool;
  EXPECT_THROW((void)pool.create(7), std::runtime_error);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  ThrowsOnSeven* ok = pool.create(1);
  pool.destroy(ok);
  EXPECT_TRUE(pool.check());
}

TEST(ObjectPool, ExhaustedPoolThrowsBadAllocOrTryCreateGivesNullptr) {
  ObjectPool<Aggregate> pool({.fixed_capacity = 2});
  Aggregate* a = pool.create(1, 1.0);
  Aggregate* b = pool.create(2, 2.0);
  EXPECT_THROW((void)pool.create(3, 3.0), std::bad_alloc);
  EXPECT_EQ(pool.try_create(3, 3.0), nullptr);
  pool.destroy(a);
  Aggregate* c = pool.try_create(4, 4.0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->a, 4);
  pool.destroy(b);
  pool.destroy(c);
}

template <class T>
void expect_aligned_objects() {
  ObjectPool<T> pool;
  std::vector<T*> objects;
  for (int i = 0; i < 20; ++i) {
    T* p = pool.create();
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(T), 0u) << alignof(T);
    objects.push_back(p);
  }
  for (T* p : objects) pool.destroy(p);
  EXPECT_TRUE(pool.check());
}

TEST(ObjectPool, OverAlignedTypesUpTo4096AreAligned) {
  expect_aligned_objects<OverAligned<32>>();
  expect_aligned_objects<OverAligned<64>>();
  expect_aligned_objects<OverAligned<128>>();
  expect_aligned_objects<OverAligned<256>>();
  expect_aligned_objects<OverAligned<512>>();
  expect_aligned_objects<OverAligned<1024>>();
  expect_aligned_objects<OverAligned<2048>>();
  expect_aligned_objects<OverAligned<4096>>();
}

TEST(ObjectPool, PoolDestructionDoesNotRunDestructors) {
  {
    ObjectPool<Tracked> pool;
    (void)pool.create("short", 1);  // fits the small-string buffer: nothing leaks from the heap
    EXPECT_EQ(g_alive, 1);
  }
  EXPECT_EQ(g_alive, 1);  // documented: memory is reclaimed, ~T is not run
  g_alive = 0;
}

TEST(ObjectPool, DestroyAllRunsEachLiveDestructorOnce) {
  ObjectPool<Tracked> pool({.first_block_chunks = 8});
  std::vector<Tracked*> objects;
  for (int i = 0; i < 100; ++i) objects.push_back(pool.create(std::to_string(i), i));
  for (int i = 0; i < 100; i += 2) pool.destroy(objects[i]);
  EXPECT_EQ(g_alive, 50);
  pool.destroy_all();
  EXPECT_EQ(g_alive, 0);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
  Tracked* again = pool.create("again", 1);
  EXPECT_EQ(again->name, "again");
  pool.destroy(again);
}

TEST(ObjectPool, RandomizedCreateDestroyKeepsObjectsIntact) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED to repeat)");
  std::mt19937_64 rng(seed);
  struct Node {
    std::uint64_t key;
    std::uint64_t check;
  };
  ObjectPool<Node> pool;
  std::vector<Node*> live;
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  for (std::size_t op = 0; op < ops; ++op) {
    if (live.empty() || rng() % 100 < 55) {
      std::uint64_t key = rng();
      live.push_back(pool.create(key, ~key));
    } else {
      std::size_t i = rng() % live.size();
      Node* n = live[i];
      ASSERT_EQ(n->check, ~n->key) << "op " << op;
      pool.destroy(n);
      live[i] = live.back();
      live.pop_back();
    }
  }
  for (Node* n : live) ASSERT_EQ(n->check, ~n->key);
  EXPECT_EQ(pool.stats().live_blocks, live.size());
  EXPECT_TRUE(pool.check());
}
