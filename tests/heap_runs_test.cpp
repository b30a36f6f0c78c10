// Heap's size-class runs: medium blocks (1-64 KiB) come from slots of runs, a run goes
// back to the heap with its last slot, slots keep the Heap's contract (sizes, stats,
// bad frees, resize, check), and runs stay off where they are not wanted.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "poolkit/heap.hpp"
#include "poolkit/heapmap.hpp"

using poolkit::Heap;

namespace {

struct Report {
  const void* p;
  Heap::BadFree what;
};

void record(const Heap&, const void* p, Heap::BadFree what, void* context) {
  static_cast<std::vector<Report>*>(context)->push_back({p, what});
}

// A fresh heap has no region yet, and a run is only cut from free memory the heap
// already holds: one small block coming and going maps the first region.
void warm(Heap& heap) { heap.deallocate(heap.allocate(1)); }

std::string picture(const Heap& heap, poolkit::HeapmapOptions options) {
  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  poolkit::print_heapmap(heap, out, options);
  std::fclose(out);
  std::string s(text, size);
  std::free(text);
  return s;
}

}  // namespace

TEST(HeapRuns, MediumBlocksOfOneClassShareARun) {
  Heap heap;
  warm(heap);
  void* a = heap.allocate(2000);
  void* b = heap.allocate(1900);  // the same class (strides of 2048 bytes)
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(heap.runs(), 1u);
  const auto gap = reinterpret_cast<std::uintptr_t>(b) > reinterpret_cast<std::uintptr_t>(a)
                       ? reinterpret_cast<std::uintptr_t>(b) - reinterpret_cast<std::uintptr_t>(a)
                       : reinterpret_cast<std::uintptr_t>(a) - reinterpret_cast<std::uintptr_t>(b);
  EXPECT_EQ(gap, 2048u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 16, 0u);
  EXPECT_TRUE(heap.check());
  heap.deallocate(a);
  heap.deallocate(b);
}

TEST(HeapRuns, AFreedSlotIsTheNextOneHandedOut) {
  Heap heap;
  warm(heap);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(heap.allocate(3000));
  heap.deallocate(blocks[2]);
  EXPECT_EQ(heap.allocate(3000), blocks[2]);
  EXPECT_TRUE(heap.check());
  for (void* p : blocks) heap.deallocate(p);
}

TEST(HeapRuns, TheLastFreeGivesTheRunBackToTheHeap) {
  Heap heap;
  warm(heap);
  const std::size_t free_before = heap.free_blocks();
  std::vector<void*> blocks;
  for (std::size_t n : {1100u, 5000u, 20000u, 65536u}) blocks.push_back(heap.allocate(n));
  EXPECT_EQ(heap.runs(), 4u);
  for (void* p : blocks) heap.deallocate(p);
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_EQ(heap.free_blocks(), free_before);  // merged back into the free block they came from
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().bytes_in_use, 0u);
  heap.flush_cache();  // the warming block
  EXPECT_EQ(heap.stats().external_fragmentation(), 0.0);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, SmallAndLargeRequestsDoNotUseRuns) {
  Heap heap;
  void* small = heap.allocate(1016);  // the front cache's largest
  void* large = heap.allocate(65537);
  void* aligned = heap.allocate(2000, 64);
  EXPECT_EQ(heap.runs(), 0u);
  heap.deallocate(small);
  heap.deallocate(large);
  heap.deallocate(aligned);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, SlotsReportTheSizesOfAPlainBlock) {
  Heap heap;
  warm(heap);
  void* p = heap.allocate(5000);
  ASSERT_EQ(heap.runs(), 1u);
  EXPECT_EQ(heap.requested_size(p), 5000u);
  EXPECT_EQ(heap.usable_size(p), 5000u);  // size + header rounded to 16, as a plain block: 5008
  std::size_t usable = 0, requested = 0;
  ASSERT_TRUE(heap.live_sizes(p, &usable, &requested));
  EXPECT_EQ(usable, heap.usable_size(p));
  EXPECT_EQ(requested, 5000u);
  EXPECT_EQ(heap.usable_size_of_new(p), usable);
  EXPECT_EQ(heap.inspect(p), Heap::BlockState::kLive);
  std::memset(p, 0xAB, heap.usable_size(p));  // every usable byte is the user's
  EXPECT_TRUE(heap.check());
  heap.deallocate(p);
}

TEST(HeapRuns, StatsCountLiveSlotsAsBlocksAndAFreedSlotAsRunFreeBytes) {
  Heap heap;
  warm(heap);
  void* a = heap.allocate(3000);
  void* b = heap.allocate(3000);
  auto s = heap.stats();
  EXPECT_EQ(s.live_blocks, 2u);
  EXPECT_EQ(s.bytes_requested, 6000u);
  EXPECT_EQ(s.bytes_in_use, 2u * 3008u);
  const std::size_t bytes_free = s.bytes_free;
  const std::size_t run_free = heap.run_free_bytes();
  heap.deallocate(a);
  s = heap.stats();
  EXPECT_EQ(s.live_blocks, 1u);
  EXPECT_EQ(s.bytes_requested, 3000u);
  // The freed slot serves its class only: run_free_bytes() counts it (its class's whole
  // slot, at least the block's 3008 bytes), bytes_free does not.
  EXPECT_GE(heap.run_free_bytes(), run_free + 3008u);
  EXPECT_EQ(s.bytes_free, bytes_free);
  heap.deallocate(b);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, DoubleFreeOfASlotIsReportedAndChangesNothing) {
  std::vector<Report> reports;
  Heap heap(Heap::Options{.on_bad_free = &record, .bad_free_context = &reports});
  warm(heap);
  void* keep = heap.allocate(4000);
  void* p = heap.allocate(4000);
  heap.deallocate(p);
  const auto before = heap.stats();
  heap.deallocate(p);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].what, Heap::BadFree::kDoubleFree);
  EXPECT_EQ(heap.bad_frees(), 1u);
  EXPECT_EQ(heap.stats().live_blocks, before.live_blocks);
  EXPECT_EQ(heap.inspect(p), Heap::BlockState::kFree);
  EXPECT_EQ(heap.usable_size(p), 0u);
  EXPECT_TRUE(heap.check());
  heap.deallocate(keep);  // the run goes back to the heap: the stale slot is still refused
  EXPECT_EQ(heap.runs(), 0u);
  heap.deallocate(p);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].what, Heap::BadFree::kDoubleFree);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, InteriorPointersIntoARunAreReported) {
  std::vector<Report> reports;
  Heap heap(Heap::Options{.on_bad_free = &record, .bad_free_context = &reports});
  warm(heap);
  auto* p = static_cast<char*>(heap.allocate(4000));
  auto* q = static_cast<char*>(heap.allocate(4000));
  ASSERT_EQ(heap.runs(), 1u);
  const char* first_slot = std::min(p, q);
  // Inside a slot, between two slots (the next slot's back word), and the run's own
  // metadata (what a pointer to the run block's payload would be).
  const char* bad[] = {p + 16, q + 32, first_slot - 16, first_slot - 64};
  for (const char* b : bad) {
    heap.deallocate(const_cast<char*>(b));
    EXPECT_NE(heap.inspect(b), Heap::BlockState::kLive);
  }
  ASSERT_EQ(reports.size(), 4u);
  for (const Report& r : reports) EXPECT_EQ(r.what, Heap::BadFree::kInteriorPointer) << r.p;
  EXPECT_EQ(heap.stats().live_blocks, 2u);
  EXPECT_TRUE(heap.check());
  heap.deallocate(p);
  heap.deallocate(q);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, ResizeStaysWithinTheSlot) {
  Heap heap;
  warm(heap);
  auto* p = static_cast<unsigned char*>(heap.allocate(2000));  // a 2048-byte slot
  for (int i = 0; i < 2000; ++i) p[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(heap.resize(p, 2024), p);  // 2024 + 8 rounded to 2032, plus the back word: 2040 <= 2048
  EXPECT_EQ(heap.requested_size(p), 2024u);
  EXPECT_EQ(heap.resize(p, 2025), nullptr);  // 2048 + 8 does not fit
  EXPECT_EQ(heap.resize(p, 100), p);  // shrinking keeps the slot
  EXPECT_EQ(heap.requested_size(p), 100u);
  EXPECT_EQ(heap.resize(p, 3000), nullptr);  // past the stride: the block is untouched
  EXPECT_EQ(heap.requested_size(p), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p[i], static_cast<unsigned char>(i));
  EXPECT_EQ(heap.stats().bytes_requested, 100u);
  EXPECT_TRUE(heap.check());
  const std::size_t cached = heap.cached_blocks();
  heap.deallocate(p);  // a shrunk slot still goes back to its run, not to the front cache
  EXPECT_EQ(heap.cached_blocks(), cached);
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, OffWithTheOptionTheFrontCacheOrBoundedTime) {
  Heap::Options no_runs;
  no_runs.size_class_runs = false;
  Heap::Options no_cache;
  no_cache.front_cache = false;
  Heap::Options bounded;
  bounded.bounded_time = true;
  for (const Heap::Options& o : {no_runs, no_cache, bounded}) {
    Heap heap(o);
    void* p = heap.allocate(3000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap.runs(), 0u);
    heap.deallocate(p);
    EXPECT_TRUE(heap.check());
  }
}

TEST(HeapRuns, ARunNeverMakesTheHeapGrow) {
  // A 64 KiB region cannot hold a run of 4 KiB slots (128 KiB): the request is a plain block.
  Heap heap(Heap::Options{.region_size = 64 * 1024});
  void* p = heap.allocate(4000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_EQ(heap.stats().regions, 1u);
  heap.deallocate(p);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, RunsWorkOnACallersBuffer) {
  alignas(16) static unsigned char buffer[512 * 1024];
  Heap heap(buffer, sizeof buffer, {});
  std::vector<void*> blocks;
  for (int i = 0; i < 20; ++i) blocks.push_back(heap.allocate(2500));
  EXPECT_GE(heap.runs(), 1u);
  for (void* p : blocks) EXPECT_TRUE(heap.owns(p));
  EXPECT_TRUE(heap.check());
  for (void* p : blocks) heap.deallocate(p);
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_EQ(heap.free_blocks(), 1u);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, ReleaseDropsEveryRun) {
  Heap heap;
  warm(heap);
  for (int i = 0; i < 100; ++i) ASSERT_NE(heap.allocate(1100 + 600 * static_cast<std::size_t>(i % 50)), nullptr);
  EXPECT_GT(heap.runs(), 1u);
  heap.release();
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_EQ(heap.stats().bytes_free, heap.stats().largest_free);  // one free block again
  EXPECT_TRUE(heap.check());
  EXPECT_NE(heap.allocate(3000), nullptr);
  EXPECT_TRUE(heap.check());
}

TEST(HeapRuns, HeapmapDrawsARunWithoutLiveSlotsAsItsOwnClass) {
  Heap heap(Heap::Options{.region_size = 1 << 20});
  warm(heap);
  void* p = heap.allocate(1500);  // a run of 64 slots of 1536 bytes: 96 KiB
  ASSERT_EQ(heap.runs(), 1u);
  const std::string map = picture(heap, {.cell_bytes = 1024, .columns = 64});
  EXPECT_NE(map.find("'r' run, no live slot"), std::string::npos) << map;
  EXPECT_NE(map.find("rrrrrrrrrrrrrrrrrrrr"), std::string::npos) << map;  // the run's free slots
  EXPECT_NE(map.find("live 1.5 KiB in 1 block"), std::string::npos) << map;
  heap.deallocate(p);
  EXPECT_EQ(picture(heap, {.cell_bytes = 1024, .columns = 64}).find("rrrr"), std::string::npos);
}

TEST(HeapRuns, RandomMediumChurnAgreesWithCheckAndTheContents) {
  Heap heap;
  std::mt19937_64 rng(20261129);
  struct Live {
    unsigned char* p;
    std::size_t n;
    unsigned char fill;
  };
  std::vector<Live> live;
  for (int op = 0; op < 200000; ++op) {
    if (live.size() < 400 && (live.empty() || rng() % 2)) {
      const std::size_t n = 1017 + rng() % (65536 - 1017 + 1);
      auto* p = static_cast<unsigned char*>(heap.allocate(n));
      ASSERT_NE(p, nullptr);
      const auto fill = static_cast<unsigned char>(rng());
      std::memset(p, fill, n);
      live.push_back({p, n, fill});
    } else {
      const std::size_t i = rng() % live.size();
      const Live b = live[i];
      ASSERT_EQ(b.p[0], b.fill);
      ASSERT_EQ(b.p[b.n - 1], b.fill);
      ASSERT_EQ(heap.requested_size(b.p), b.n);
      heap.deallocate(b.p);
      live[i] = live.back();
      live.pop_back();
    }
    if (op % 2000 == 0) {
      ASSERT_TRUE(heap.check()) << "op " << op;
    }
  }
  EXPECT_GT(heap.runs(), 0u);
  for (const Live& b : live) heap.deallocate(b.p);
  EXPECT_EQ(heap.runs(), 0u);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_TRUE(heap.check());
}

// The header checks the class ranges at their ends (at compile time); this walks every
// need a run slot can be asked for.
TEST(HeapRuns, EveryNeedMapsToTheSmallestClassThatHoldsIt) {
  using poolkit::detail::RunLayout;
  std::size_t wrong = 0, first_wrong = 0;
  for (std::size_t need = RunLayout::kMinNeed; need <= RunLayout::kMaxNeed; ++need) {
    const std::size_t k = RunLayout::class_of(need);
    const bool fits = k < RunLayout::kClasses && RunLayout::stride_of(k) >= need;
    const bool smallest = k == 0 || RunLayout::stride_of(k - 1) < need;
    if (!(fits && smallest) && wrong++ == 0) first_wrong = need;
  }
  EXPECT_EQ(wrong, 0u) << "first at need " << first_wrong;
}

// A run's free slots serve their class only, so stats() leaves them out of both
// bytes_free and largest_free (run_free_bytes() counts them): largest_free keeps its fit
// guarantee, and external_fragmentation() measures the memory any request can use.
TEST(HeapRuns, FreeSlotsAreInNeitherFreeBytesNorTheLargestFreeBlock) {
  alignas(16) static unsigned char buffer[256 * 1024];
  Heap heap(buffer, sizeof buffer, {});
  std::vector<void*> blocks;
  while (void* p = heap.allocate(3000)) blocks.push_back(p);  // runs of 3072-byte slots, then plain blocks
  ASSERT_GE(heap.runs(), 1u);
  EXPECT_EQ(heap.run_free_bytes(), 0u);  // every run is full
  const auto full = heap.stats();
  ASSERT_LT(full.largest_free, 3000u);  // the index holds less than a block of 3000
  heap.deallocate(blocks.front());      // a slot of a run: free, but for its class only
  const auto s = heap.stats();
  EXPECT_EQ(heap.run_free_bytes(), 3072u - 16u);  // the slot's usable bytes
  EXPECT_EQ(s.bytes_free, full.bytes_free);
  EXPECT_EQ(s.largest_free, full.largest_free);
  EXPECT_EQ(s.external_fragmentation(), full.external_fragmentation());
  // The fit guarantee holds: a request above largest_free of another class may fail...
  EXPECT_EQ(heap.allocate(full.largest_free + 200), nullptr);
  // ...while the slot still serves its own class.
  void* again = heap.allocate(3000);
  EXPECT_EQ(again, blocks.front());
  EXPECT_EQ(heap.run_free_bytes(), 0u);
  EXPECT_TRUE(heap.check());
  for (void* p : blocks) heap.deallocate(p);
  EXPECT_EQ(heap.run_free_bytes(), 0u);  // every run went back to the heap
  EXPECT_TRUE(heap.check());
}

// Frees of blocks and slots in any region (not only the one used last) take the common
// checked pass: a small block goes on the front cache, a slot back to its run, and a
// second free or an interior pointer in an older region is still reported, with nothing
// changed.
TEST(HeapRuns, FreesInOlderRegionsAreCachedOrReturnedAndStillChecked) {
  std::vector<Report> reports;
  Heap heap(Heap::Options{.region_size = 256 * 1024, .on_bad_free = record, .bad_free_context = &reports});
  std::vector<void*> small, medium;
  while (heap.stats().regions < 3) {
    small.push_back(heap.allocate(100));
    medium.push_back(heap.allocate(3000));
    ASSERT_NE(small.back(), nullptr);
    ASSERT_NE(medium.back(), nullptr);
  }
  // The first blocks are in the oldest region; make the newest the region used last.
  EXPECT_EQ(heap.usable_size(small.back()), 104u);
  const std::size_t cached = heap.cached_blocks(), slot_bytes = heap.run_free_bytes();
  heap.deallocate(small.front());
  EXPECT_EQ(heap.cached_blocks(), cached + 1);
  EXPECT_EQ(heap.inspect(small.front()), Heap::BlockState::kFree);
  heap.deallocate(medium.front());
  EXPECT_EQ(heap.run_free_bytes(), slot_bytes + 3072 - 16);
  EXPECT_EQ(heap.inspect(medium.front()), Heap::BlockState::kFree);
  const auto before = heap.stats();
  heap.deallocate(small.front());
  heap.deallocate(medium.front());
  heap.deallocate(static_cast<char*>(small[1]) + 16);
  heap.deallocate(static_cast<char*>(medium[1]) + 16);
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0].what, Heap::BadFree::kDoubleFree);
  EXPECT_EQ(reports[1].what, Heap::BadFree::kDoubleFree);
  EXPECT_EQ(reports[2].what, Heap::BadFree::kInteriorPointer);
  EXPECT_EQ(reports[3].what, Heap::BadFree::kInteriorPointer);
  EXPECT_EQ(heap.bad_frees(), 4u);
  const auto after = heap.stats();
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.deallocations, before.deallocations);
  EXPECT_EQ(heap.cached_blocks(), cached + 1);
  EXPECT_TRUE(heap.check());
  for (std::size_t i = 1; i < small.size(); ++i) {
    heap.deallocate(small[i]);
    heap.deallocate(medium[i]);
  }
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.bad_frees(), 4u);
  EXPECT_TRUE(heap.check());
}
