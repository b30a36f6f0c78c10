// seed_pool.cpp: seed 003's pool API (compat/pool.h) over one FixedPool per pool, or,
// under DISABLE_MEMORY_POOLING, over malloc'd chunks the pool keeps on a list.
#include "pool.h"

#include <cerrno>
#include <cstdlib>
#include <new>

#include "../c_api_detail.hpp"
#include "poolkit/fixed_pool.hpp"

namespace {

using poolkit::FixedPool;

// Unpooled chunks: each its own malloc, a doubly linked header in front so that
// poolFree unlinks in O(1) and poolFreeAll / poolFreePool can free them all.
struct alignas(16) UnpooledChunk {
  UnpooledChunk* prev;
  UnpooledChunk* next;
};
struct UnpooledChunks {
  UnpooledChunk* head = nullptr;
  poolkit::PoolStats stats;

  void free_all() noexcept {
    while (head) {
      UnpooledChunk* next = head->next;
      std::free(head);
      head = next;
    }
    stats.live_blocks = stats.bytes_requested = stats.bytes_in_use = 0;
  }
};

FixedPool* fixed(const poolkit_seed_pool* p) { return static_cast<FixedPool*>(p->impl); }
UnpooledChunks* unpooled(const poolkit_seed_pool* p) { return static_cast<UnpooledChunks*>(p->impl); }

int fail(int error) {
  errno = error;
  return -1;
}

}  // namespace

extern "C" int poolkit_seed_pool_initialize(poolkit_seed_pool* p, uint32_t chunkSize, uint32_t blockSize,
                                            int unpooled_mode) {
  if (!p) return fail(EINVAL);
  *p = poolkit_seed_pool{};
  if (blockSize == 0) return fail(EINVAL);
  // Raise to a pointer, then round up to the natural alignment of an object of that
  // size: the largest power of two dividing it, kept between 8 and 16.
  std::size_t size = chunkSize < sizeof(void*) ? sizeof(void*) : chunkSize;
  std::size_t align = size & (~size + 1);
  align = align < 8 ? 8 : align > 16 ? 16 : align;
  std::size_t rounded;
  if (!poolkit::checked_align_up(size, align, &rounded) || rounded > UINT32_MAX) return fail(EINVAL);
  if (unpooled_mode) {
    p->impl = new (std::nothrow) UnpooledChunks;
    if (!p->impl) return fail(ENOMEM);
    p->unpooled = 1;
  } else {
    FixedPool::Options options;
    options.chunk_size = rounded;
    options.chunk_align = align;
    options.first_block_chunks = blockSize;  // every block the same size, as in the seed
    options.max_block_chunks = blockSize;
    options.growth_factor = 1;
    try {
      p->impl = new FixedPool(options);
    } catch (const std::bad_alloc&) {
      return fail(ENOMEM);
    } catch (...) {
      return fail(EINVAL);
    }
  }
  p->chunkSize = static_cast<uint32_t>(rounded);
  p->blockSize = blockSize;
  return 0;
}

extern "C" void* poolMalloc(poolkit_seed_pool* p) {
  if (!p || !p->impl) return poolkit::c_api::fail(EINVAL);
  if (p->unpooled) {
    auto* chunk = static_cast<UnpooledChunk*>(std::malloc(sizeof(UnpooledChunk) + p->chunkSize));
    if (!chunk) return poolkit::c_api::fail(ENOMEM);
    UnpooledChunks* list = unpooled(p);
    chunk->prev = nullptr;
    chunk->next = list->head;
    if (list->head) list->head->prev = chunk;
    list->head = chunk;
    ++list->stats.live_blocks;
    ++list->stats.allocations;
    list->stats.bytes_requested += p->chunkSize;
    list->stats.bytes_in_use += p->chunkSize;
    if (list->stats.bytes_in_use > list->stats.peak_in_use) list->stats.peak_in_use = list->stats.bytes_in_use;
    return chunk + 1;
  }
  FixedPool* pool = fixed(p);
  void* chunk = pool->allocate(pool->chunk_size(), pool->chunk_align());
  return chunk ? chunk : poolkit::c_api::fail(ENOMEM);
}

extern "C" void poolFree(poolkit_seed_pool* p, void* ptr) {
  if (!ptr) return;
  if (!p || !p->impl) {
    errno = EINVAL;
    return;
  }
  if (p->unpooled) {
    // No lookup: a bad pointer goes to free(), where valgrind or ASan report it.
    UnpooledChunk* chunk = static_cast<UnpooledChunk*>(ptr) - 1;
    UnpooledChunks* list = unpooled(p);
    if (chunk->prev) chunk->prev->next = chunk->next;
    else list->head = chunk->next;
    if (chunk->next) chunk->next->prev = chunk->prev;
    std::free(chunk);
    --list->stats.live_blocks;
    ++list->stats.deallocations;
    list->stats.bytes_requested -= p->chunkSize;
    list->stats.bytes_in_use -= p->chunkSize;
    return;
  }
  fixed(p)->deallocate(ptr, p->chunkSize, fixed(p)->chunk_align());
}

extern "C" void poolFreeAll(poolkit_seed_pool* p) {
  if (!p || !p->impl) return;
  if (p->unpooled) unpooled(p)->free_all();
  else fixed(p)->release();
}

extern "C" void poolFreePool(poolkit_seed_pool* p) {
  if (!p || !p->impl) return;
  if (p->unpooled) {
    unpooled(p)->free_all();
    delete unpooled(p);
  } else {
    delete fixed(p);
  }
  *p = poolkit_seed_pool{};
}

extern "C" int poolStats(const poolkit_seed_pool* p, poolkit_stats* out) {
  if (!p || !p->impl || !out) return fail(EINVAL);
  *out = poolkit::c_api::to_c(p->unpooled ? unpooled(p)->stats : fixed(p)->stats());
  return 0;
}
