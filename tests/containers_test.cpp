// Standard containers on FixedPool and Arena, through PoolResource (std::pmr) and
// through PoolAllocator (plain STL allocator): vector, list, map, unordered_map.
// FixedPool serves node containers; variable-size requests (vector storage,
// unordered_map buckets) go to PoolResource's fallback resource.
#include <gtest/gtest.h>

#include <list>
#include <map>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

#include "poolkit/allocator.hpp"
#include "poolkit/arena.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/memory_resource.hpp"
#include "test_support.hpp"

using poolkit::Arena;
using poolkit::FixedPool;
using poolkit::PoolAllocator;
using poolkit::PoolResource;

namespace {

// Big enough for the nodes of std::list<int>, std::map<int,int> and
// std::unordered_map<int,int> in libstdc++ (24, 40 and 16 bytes).
constexpr std::size_t kNodeChunk = 48;

template <class T, class P>
using Alloc = PoolAllocator<T, P>;

template <class P>
using Map = std::map<int, int, std::less<int>, Alloc<std::pair<const int, int>, P>>;

template <class P>
using UnorderedMap =
    std::unordered_map<int, int, std::hash<int>, std::equal_to<int>, Alloc<std::pair<const int, int>, P>>;

}  // namespace

// ---- FixedPool through std::pmr ----

TEST(ContainersOnFixedPool, PmrListLivesInThePool) {
  FixedPool pool(kNodeChunk);
  PoolResource resource(pool);
  {
    std::pmr::list<int> list(&resource);
    for (int i = 0; i < 10000; ++i) list.push_back(i);
    EXPECT_EQ(pool.stats().live_blocks, 10000u);
    list.remove_if([](int x) { return x % 2 == 0; });
    EXPECT_EQ(pool.stats().live_blocks, 5000u);
    int expect = 1;
    for (int x : list) {
      ASSERT_EQ(x, expect);
      expect += 2;
    }
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(ContainersOnFixedPool, PmrMapOfOneMillionNodes) {
  FixedPool pool(kNodeChunk);
  PoolResource resource(pool);
  const int n = static_cast<int>(poolkit::test::scaled(1'000'000));
  {
    std::pmr::map<int, int> map(&resource);
    for (int i = 0; i < n; ++i) map.emplace(static_cast<int>((i * 7919LL) % n), i);  // 7919 is prime: a permutation
    ASSERT_EQ(map.size(), std::size_t(n));
    EXPECT_EQ(pool.stats().live_blocks, std::size_t(n));
    long long sum = 0;
    for (const auto& [k, v] : map) sum += k;
    EXPECT_EQ(sum, (long long)n * (n - 1) / 2);
    EXPECT_TRUE(pool.check());
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(ContainersOnFixedPool, PmrUnorderedMapPutsBucketsOnTheFallback) {
  FixedPool pool(kNodeChunk);
  PoolResource resource(pool, std::pmr::new_delete_resource());
  {
    std::pmr::unordered_map<int, int> map(&resource);
    for (int i = 0; i < 20000; ++i) map[i] = -i;
    for (int i = 0; i < 20000; ++i) ASSERT_EQ(map.at(i), -i);
    EXPECT_EQ(pool.stats().live_blocks, map.size());  // nodes in the pool, the bucket array elsewhere
    for (int i = 0; i < 20000; i += 2) map.erase(i);
    EXPECT_EQ(pool.stats().live_blocks, map.size());
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_TRUE(pool.check());
}

TEST(ContainersOnFixedPool, PmrVectorWithinAChunkLivesInThePoolThenMovesToTheFallback) {
  FixedPool pool(64);
  PoolResource resource(pool, std::pmr::new_delete_resource());
  std::pmr::vector<int> v(&resource);
  v.reserve(16);  // 64 bytes: one chunk
  EXPECT_TRUE(pool.owns(v.data()));
  for (int i = 0; i < 1000; ++i) v.push_back(i);  // outgrows the chunk
  EXPECT_FALSE(pool.owns(v.data()));
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(v[i], i);
}

TEST(ContainersOnFixedPool, PmrWithoutFallbackThrowsBadAllocForBigRequests) {
  FixedPool pool(kNodeChunk);
  PoolResource resource(pool);
  std::pmr::vector<int> v(&resource);
  EXPECT_THROW(v.reserve(1000), std::bad_alloc);
  EXPECT_TRUE(v.empty());
}

// ---- FixedPool through PoolAllocator ----

TEST(ContainersOnFixedPool, AllocatorListLivesInThePool) {
  FixedPool pool(kNodeChunk);
  std::list<std::string, Alloc<std::string, FixedPool>> list{Alloc<std::string, FixedPool>(pool)};
  // std::string nodes are 48 bytes: 2 links + 32-byte string.
  for (int i = 0; i < 1000; ++i) list.push_back(std::to_string(i));
  EXPECT_EQ(pool.stats().live_blocks, 1000u);
  EXPECT_EQ(list.back(), "999");
  list.clear();
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(ContainersOnFixedPool, AllocatorMapOfOneMillionNodes) {
  FixedPool pool(kNodeChunk);
  const int n = static_cast<int>(poolkit::test::scaled(1'000'000));
  {
    Map<FixedPool> map{Alloc<std::pair<const int, int>, FixedPool>(pool)};
    for (int i = 0; i < n; ++i) map.emplace(i, 2 * i);
    EXPECT_EQ(pool.stats().live_blocks, std::size_t(n));
    for (int i = 0; i < n; i += 1000) ASSERT_EQ(map.at(i), 2 * i);
    for (int i = 0; i < n; i += 2) map.erase(i);
    EXPECT_EQ(pool.stats().live_blocks, map.size());
    EXPECT_TRUE(pool.check());
  }
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(ContainersOnFixedPool, AllocatorVectorBeyondAChunkThrowsBadAlloc) {
  FixedPool pool(kNodeChunk);
  std::vector<int, Alloc<int, FixedPool>> v{Alloc<int, FixedPool>(pool)};
  EXPECT_NO_THROW(v.reserve(12));
  EXPECT_THROW(v.reserve(13), std::bad_alloc);  // 52 bytes > 48: a FixedPool serves one size
}

TEST(ContainersOnFixedPool, ReleaseAfterTheContainerIsGoneKeepsThePoolUsable) {
  FixedPool pool(kNodeChunk);
  PoolResource resource(pool);
  {
    std::pmr::list<int> list(&resource);
    for (int i = 0; i < 1000; ++i) list.push_back(i);
  }
  pool.release();
  std::pmr::list<int> list(&resource);
  list.push_back(1);
  EXPECT_EQ(pool.stats().live_blocks, 1u);
}

// ---- Arena through std::pmr ----

TEST(ContainersOnArena, PmrVectorGrowsInTheArena) {
  Arena arena;
  PoolResource resource(arena);
  std::pmr::vector<int> v(&resource);
  for (int i = 0; i < 100000; ++i) v.push_back(i);
  EXPECT_TRUE(arena.owns(v.data()));
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(v[i], i);
  EXPECT_TRUE(arena.check());
}

TEST(ContainersOnArena, PmrListMapAndUnorderedMap) {
  Arena arena;
  PoolResource resource(arena);
  std::pmr::list<int> list(&resource);
  std::pmr::map<int, std::pmr::string> map(&resource);
  std::pmr::unordered_map<int, int> hash(&resource);
  for (int i = 0; i < 20000; ++i) {
    list.push_back(i);
    map.emplace(i, std::pmr::string(std::to_string(i) + " is a number long enough for the heap"));
    hash[i] = i * 3;
  }
  EXPECT_EQ(list.size(), 20000u);
  EXPECT_EQ(map.at(1234), "1234 is a number long enough for the heap");
  EXPECT_TRUE(arena.owns(map.at(1234).data()));  // the pmr string propagated the arena
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(hash.at(i), i * 3);
  EXPECT_TRUE(arena.check());
}

TEST(ContainersOnArena, FixedArenaExhaustionThrowsBadAllocAndResetRecovers) {
  Arena arena({.initial_size = 16 * 1024, .fixed = true});
  PoolResource resource(arena);
  {
    std::pmr::vector<int> v(&resource);
    EXPECT_THROW(for (int i = 0; i < 100000; ++i) v.push_back(i), std::bad_alloc);
  }
  arena.reset();
  std::pmr::vector<int> v(&resource);
  EXPECT_NO_THROW(v.resize(1000));
}

// ---- Arena through PoolAllocator ----

TEST(ContainersOnArena, AllocatorVectorListMapAndUnorderedMap) {
  Arena arena;
  std::vector<int, Alloc<int, Arena>> v{Alloc<int, Arena>(arena)};
  std::list<int, Alloc<int, Arena>> list{Alloc<int, Arena>(arena)};
  Map<Arena> map{Alloc<std::pair<const int, int>, Arena>(arena)};
  UnorderedMap<Arena> hash{Alloc<std::pair<const int, int>, Arena>(arena)};
  for (int i = 0; i < 20000; ++i) {
    v.push_back(i);
    list.push_front(i);
    map.emplace(i, -i);
    hash.emplace(i, i + 1);
  }
  EXPECT_EQ(v[19999], 19999);
  EXPECT_EQ(list.front(), 19999);
  EXPECT_EQ(map.at(5), -5);
  EXPECT_EQ(hash.at(5), 6);
  EXPECT_TRUE(arena.owns(v.data()));
  EXPECT_TRUE(arena.check());
}

TEST(ContainersOnArena, RewindDropsAContainerBuiltAfterTheMark) {
  Arena arena;
  PoolResource resource(arena);
  auto mark = arena.mark();
  std::size_t used_before = arena.used();
  {
    std::pmr::map<int, int> scratch(&resource);
    for (int i = 0; i < 1000; ++i) scratch[i] = i;
  }  // destroy it first: its destructor reads its nodes
  ASSERT_TRUE(arena.rewind(mark));
  EXPECT_EQ(arena.used(), used_before);
}
