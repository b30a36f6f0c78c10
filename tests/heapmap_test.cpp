// print_heapmap: the picture of each pool shows its live blocks, its free gaps and
// the pool's fragmentation figure, one behaviour per test.
#include "poolkit/heapmap.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/poolkit.h"

namespace {

template <class Pool>
std::string picture(const Pool& pool, poolkit::HeapmapOptions options = {}) {
  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  poolkit::print_heapmap(pool, out, options);
  std::fclose(out);
  std::string s(text, size);
  std::free(text);
  return s;
}

// The rows of the first region, cells only.
std::string cells(const std::string& map) {
  std::string out;
  std::size_t at = map.find("region 1");
  while ((at = map.find("  +0x", at)) != std::string::npos) {
    const std::size_t start = map.find(' ', at + 3) + 1;
    const std::size_t end = map.find('\n', start);
    out += map.substr(start, end - start);
    at = end;
    if (map.compare(end + 1, 6, "region") == 0) break;
  }
  return out;
}

TEST(Heapmap, BuddyAfterMalloc3000ShowsOneFullBlockAndTheFreeBuddies) {
  poolkit::BuddyPool pool({.min_order = 4, .max_order = 16});
  void* p = pool.allocate(3000);
  ASSERT_NE(p, nullptr);
  const std::string map = picture(pool, {.cell_bytes = 1024, .columns = 64});
  EXPECT_EQ(cells(map), std::string(4, '#') + std::string(60, '.')) << map;
  EXPECT_NE(map.find("live 4.0 KiB in 1 block"), std::string::npos) << map;
  // 60 KiB free, the largest block 32 KiB: 47% fragmentation.
  EXPECT_NE(map.find("fragmentation 47%"), std::string::npos) << map;
  pool.deallocate(p, 3000);
}

TEST(Heapmap, HeapShowsTheHoleBetweenLiveBlocks) {
  poolkit::Heap::Options o;
  o.region_size = 64 * 1024;
  o.front_cache = false;
  poolkit::Heap heap(o);
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(heap.allocate(4000));
  heap.deallocate(blocks[2], 4000);
  heap.deallocate(blocks[3], 4000);
  const std::string map = picture(heap, {.cell_bytes = 1024, .columns = 64});
  const std::string c = cells(map);
  // Blocks 0-1 live, 2-3 a hole (about 8 KiB), 4-7 live, the rest free.
  EXPECT_EQ(c.substr(1, 6), "######") << map;
  EXPECT_NE(c.find("......", 8), std::string::npos) << map;
  EXPECT_EQ(c.find('.'), c.find("......")) << map;
  EXPECT_NE(c.find('#', c.find("......")), std::string::npos) << map;  // live blocks after the hole
  EXPECT_NE(map.find("in 2 gaps"), std::string::npos) << map;
  for (void* b : blocks) heap.deallocate(b, 4000);
}

TEST(Heapmap, FixedPoolShowsLiveFreeAndNeverUsedChunks) {
  poolkit::FixedPool pool(poolkit::FixedPool::Options{.chunk_size = 64, .first_block_chunks = 64});
  std::vector<void*> chunks;
  for (int i = 0; i < 32; ++i) chunks.push_back(pool.allocate(64));
  for (int i = 0; i < 16; ++i) pool.deallocate(chunks[static_cast<std::size_t>(i)], 64);
  const std::string c = cells(picture(pool, {.cell_bytes = 64, .columns = 64}));
  ASSERT_GE(c.size(), 64u);
  EXPECT_EQ(c.substr(0, 16), std::string(16, '.'));
  EXPECT_EQ(c.substr(16, 16), std::string(16, '#'));
  EXPECT_EQ(c.substr(32, 32), std::string(32, '_'));
  for (int i = 16; i < 32; ++i) pool.deallocate(chunks[static_cast<std::size_t>(i)], 64);
}

TEST(Heapmap, AOneSizePoolSaysItHasNoFragmentation) {
  poolkit::FixedPool pool(poolkit::FixedPool::Options{.chunk_size = 64, .first_block_chunks = 64});
  void* a = pool.allocate(64);
  void* b = pool.allocate(64);
  pool.deallocate(a, 64);
  const std::string map = picture(pool, {.cell_bytes = 64, .columns = 64});
  EXPECT_NE(map.find("fragmentation none: every free chunk serves any request (one size)"), std::string::npos) << map;
  pool.deallocate(b, 64);
}

TEST(Heapmap, TheCCallsPrintTheSamePictureAndRejectNull) {
  poolkit_buddy_pool* pool = poolkit_buddy_create(4, 16);
  ASSERT_NE(pool, nullptr);
  void* p = poolkit_buddy_alloc(pool, 3000, 0);
  std::FILE* out = std::tmpfile();
  EXPECT_EQ(poolkit_buddy_print_heapmap(pool, out), 0);
  EXPECT_GT(std::ftell(out), 0);
  std::fclose(out);
  EXPECT_EQ(poolkit_buddy_print_heapmap(nullptr, stdout), -1);
  EXPECT_EQ(poolkit_heap_print_heapmap(nullptr, stdout), -1);
  EXPECT_EQ(poolkit_fixed_pool_print_heapmap(nullptr, stdout), -1);
  poolkit_buddy_free(pool, p, 3000);
  poolkit_buddy_destroy(pool);
}

}  // namespace
