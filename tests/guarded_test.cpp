// Guarded<P>: guards, poison, quarantine, bad frees, leaks, reports, run-time options.
#include "poolkit/guarded.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "support_pools.hpp"
#include "test_support.hpp"

using poolkit::GuardAction;
using poolkit::GuardError;
using poolkit::Guarded;
using poolkit::GuardOptions;
using poolkit::GuardReport;
using poolkit::test::MallocPool;
using poolkit::test::SlotPool;

static_assert(poolkit::Pool<Guarded<MallocPool>>);
static_assert(poolkit::Pool<Guarded<SlotPool>>);

namespace {

// Options that record every report instead of aborting, and ignore POOLKIT_GUARD.
struct Recorder {
  std::vector<GuardReport> reports;
  std::vector<std::string> messages;
  GuardOptions options(std::string name = "test") {
    GuardOptions o;
    o.name = std::move(name);
    o.use_env = false;
    o.action = GuardAction::callback;
    o.on_error = [this](const GuardReport& r) {
      reports.push_back(r);
      messages.push_back(r.message());
    };
    return o;
  }
};

template <class P>
class GuardedTyped : public ::testing::Test {};
using InnerPools = ::testing::Types<MallocPool, SlotPool>;
TYPED_TEST_SUITE(GuardedTyped, InnerPools);

}  // namespace

TYPED_TEST(GuardedTyped, FreshBlockIsAlignedAndFilledWithPoison) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  auto* p = static_cast<unsigned char*>(pool.allocate(40, 16));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
  for (int i = 0; i < 40; ++i) ASSERT_EQ(p[i], 0x5a) << i;
  pool.deallocate(p, 40, 16);
  EXPECT_TRUE(pool.check());
  EXPECT_TRUE(rec.reports.empty());
}

TYPED_TEST(GuardedTyped, OverflowByOneByteIsReportedOnFree) {
  if (poolkit::annotate::kAsan || poolkit::annotate::kValgrind)
    GTEST_SKIP() << "the tool reports this itself (tool_reports_test)";
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  auto* p = static_cast<unsigned char*>(pool.allocate(24));
  p[24] = 0x41;
  pool.deallocate(p, 24);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::overflow);
  EXPECT_EQ(rec.reports[0].offset, 24);
  EXPECT_EQ(rec.reports[0].found, 0x41u);
  EXPECT_EQ(pool.errors(GuardError::overflow), 1u);
}

TYPED_TEST(GuardedTyped, UnderflowIntoTheCanaryIsReportedOnFree) {
  if (poolkit::annotate::kAsan || poolkit::annotate::kValgrind) GTEST_SKIP();
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  auto* p = static_cast<unsigned char*>(pool.allocate(24));
  p[-1] = 0;
  pool.deallocate(p, 24);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::underflow);
  EXPECT_EQ(rec.reports[0].offset, -1);
}

TYPED_TEST(GuardedTyped, DoubleFreeIsReportedAndIgnored) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  void* p = pool.allocate(32);
  pool.deallocate(p, 32);
  pool.deallocate(p, 32);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::double_free);
  EXPECT_EQ(rec.reports[0].size, 32u);
  EXPECT_TRUE(pool.check());
  EXPECT_EQ(pool.stats().deallocations, 1u);
}

TYPED_TEST(GuardedTyped, ForeignPointerIsReportedAndIgnored) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  void* mine = pool.allocate(16);
  int local = 0;
  pool.deallocate(&local, sizeof local);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::foreign_pointer);
  EXPECT_EQ(rec.reports[0].address, &local);
  EXPECT_TRUE(pool.owns(mine));
  pool.deallocate(mine, 16);
  EXPECT_TRUE(pool.check());
}

TYPED_TEST(GuardedTyped, InteriorPointerIsReportedWithItsBlock) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  auto* p = static_cast<unsigned char*>(pool.allocate(64));
  pool.deallocate(p + 8, 64);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::interior_pointer);
  EXPECT_EQ(rec.reports[0].block, p);
  EXPECT_EQ(rec.reports[0].offset, 8);
  EXPECT_TRUE(pool.owns(p));
  pool.deallocate(p, 64);
  EXPECT_TRUE(rec.reports.size() == 1 && pool.check());
}

TYPED_TEST(GuardedTyped, MisalignedPointerIntoTheGuardIsAnInteriorPointer) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  auto* p = static_cast<unsigned char*>(pool.allocate(64));
  pool.deallocate(p - 3, 64);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::interior_pointer);
  pool.deallocate(p, 64);
}

TYPED_TEST(GuardedTyped, WriteAfterFreeIsReportedWhenTheBlockLeavesQuarantine) {
  if (poolkit::annotate::kAsan || poolkit::annotate::kValgrind) GTEST_SKIP();
  Recorder rec;
  GuardOptions o = rec.options();
  o.quarantine_blocks = 2;
  Guarded<TypeParam> pool(std::move(o));
  auto* p = static_cast<unsigned char*>(pool.allocate(48));
  pool.deallocate(p, 48);
  p[10] = 7;  // the bug
  EXPECT_FALSE(pool.check());
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::write_after_free);
  EXPECT_EQ(rec.reports[0].offset, 10);
  for (int i = 0; i < 2; ++i) pool.deallocate(pool.allocate(16), 16);  // pushes p out
  EXPECT_EQ(pool.errors(GuardError::write_after_free), 2u);
}

TYPED_TEST(GuardedTyped, SizeMismatchOnFreeIsReported) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  void* p = pool.allocate(40);
  pool.deallocate(p, 41);
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::size_mismatch);
  EXPECT_EQ(rec.reports[0].found, 41u);
  EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TYPED_TEST(GuardedTyped, BadRequestsReturnNullAndCountFailures) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  EXPECT_EQ(pool.allocate(SIZE_MAX), nullptr);
  EXPECT_EQ(pool.allocate(SIZE_MAX - 20), nullptr);
  EXPECT_EQ(pool.allocate(8, 0), nullptr);
  EXPECT_EQ(pool.allocate(8, 3), nullptr);
  EXPECT_EQ(pool.allocate(8, 8192), nullptr);
  EXPECT_EQ(pool.stats().failures, 5u);
  pool.deallocate(nullptr, 8);
  EXPECT_TRUE(rec.reports.empty());
  EXPECT_TRUE(pool.check());
}

TYPED_TEST(GuardedTyped, SizeZeroGivesDistinctBlocks) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  void* a = pool.allocate(0);
  void* b = pool.allocate(0);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a, b);
  pool.deallocate(a, 0);
  pool.deallocate(b, 0);
  EXPECT_TRUE(rec.reports.empty());
}

TYPED_TEST(GuardedTyped, ReleaseFreesLiveAndQuarantinedBlocks) {
  Recorder rec;
  Guarded<TypeParam> pool(rec.options());
  void* a = pool.allocate(100);
  pool.deallocate(pool.allocate(50), 50);
  pool.release();
  EXPECT_FALSE(pool.owns(a));
  EXPECT_EQ(pool.stats().live_blocks, 0u);
  EXPECT_EQ(pool.quarantined_blocks(), 0u);
  EXPECT_TRUE(pool.leaks().empty());
  void* b = pool.allocate(100);
  EXPECT_NE(b, nullptr);
  pool.deallocate(b, 100);
  EXPECT_TRUE(rec.reports.empty());
}

TEST(Guarded, EveryAlignmentUpToThePageIsHonoured) {
  Recorder rec;
  Guarded<MallocPool> pool(rec.options());
  for (std::size_t align = 1; align <= 4096; align <<= 1) {
    void* p = pool.allocate(33, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
    pool.deallocate(p, 33, align);
  }
  EXPECT_TRUE(pool.check());
  EXPECT_TRUE(rec.reports.empty());
}

TEST(Guarded, LeaksListsLiveBlocksWithSizeAndTag) {
  Recorder rec;
  GuardOptions o = rec.options();
  o.checks.leaks = false;
  Guarded<MallocPool> pool(std::move(o));
  void* a = pool.allocate(10, 16, "parser");
  void* b;
  {
    poolkit::GuardTag tag("scoped");
    b = pool.allocate(20);
  }
  void* c = pool.allocate(30);
  auto leaks = pool.leaks();
  ASSERT_EQ(leaks.size(), 3u);
  for (const auto& l : leaks) {
    if (l.address == a) {
      EXPECT_TRUE(l.size == 10 && std::string(l.tag) == "parser");
    } else if (l.address == b) {
      EXPECT_TRUE(l.size == 20 && std::string(l.tag) == "scoped");
    } else {
      EXPECT_TRUE(l.address == c && l.size == 30 && l.tag == nullptr);
    }
  }
}

TEST(Guarded, DestructorReportsEachLeakOnce) {
  Recorder rec;
  {
    Guarded<MallocPool> pool(rec.options("leaky"));
    pool.allocate(12, 16, "cache");
    pool.deallocate(pool.allocate(8), 8);
  }
  ASSERT_EQ(rec.reports.size(), 1u);
  EXPECT_EQ(rec.reports[0].kind, GuardError::leak);
  EXPECT_EQ(rec.reports[0].size, 12u);
  EXPECT_NE(rec.messages[0].find("\"leaky\""), std::string::npos);
  EXPECT_NE(rec.messages[0].find("\"cache\""), std::string::npos);
}

TEST(Guarded, ReportIsOneLineNamingPoolAddressSizeErrorAndTag) {
  Recorder rec;
  Guarded<MallocPool> pool(rec.options("net-buffers"));
  void* p = pool.allocate(24, 16, "http_parser");
  pool.deallocate(p, 24);
  pool.deallocate(p, 24);
  ASSERT_EQ(rec.messages.size(), 1u);
  const std::string& m = rec.messages[0];
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", p);
  EXPECT_NE(m.find("net-buffers"), std::string::npos) << m;
  EXPECT_NE(m.find("double free"), std::string::npos) << m;
  EXPECT_NE(m.find(addr), std::string::npos) << m;
  EXPECT_NE(m.find("24 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("http_parser"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(GuardedDeathTest, DefaultActionPrintsTheReportAndAborts) {
  GuardOptions o;
  o.name = "fatal";
  o.use_env = false;
  Guarded<MallocPool> pool(std::move(o));
  void* p = pool.allocate(8);
  pool.deallocate(p, 8);
  EXPECT_DEATH(pool.deallocate(p, 8), "pool \"fatal\": double free: block 0x[0-9a-f]+ of 8 bytes");
}

TEST(Guarded, CountActionCountsEachKindAndContinues) {
  GuardOptions o;
  o.use_env = false;
  o.action = GuardAction::count;
  Guarded<MallocPool> pool(std::move(o));
  void* p = pool.allocate(8);
  int x;
  pool.deallocate(&x, 4);
  pool.deallocate(&x, 4);
  pool.deallocate(p, 8);
  pool.deallocate(p, 8);
  EXPECT_EQ(pool.errors(GuardError::foreign_pointer), 2u);
  EXPECT_EQ(pool.errors(GuardError::double_free), 1u);
  EXPECT_EQ(pool.errors_total(), 3u);
}

TEST(Guarded, WithCanaryOffAnOverflowGoesUnreported) {
  if (poolkit::annotate::kAsan || poolkit::annotate::kValgrind) GTEST_SKIP();
  Recorder rec;
  GuardOptions o = rec.options();
  o.checks.canary = false;
  Guarded<MallocPool> pool(std::move(o));
  auto* p = static_cast<unsigned char*>(pool.allocate(24));
  p[24] = 1;
  pool.deallocate(p, 24);
  EXPECT_TRUE(rec.reports.empty());
}

TEST(Guarded, WithoutQuarantineFreedBlocksGoStraightBack) {
  Recorder rec;
  GuardOptions o = rec.options();
  o.checks.quarantine = false;
  Guarded<MallocPool> pool(std::move(o));
  pool.deallocate(pool.allocate(24), 24);
  EXPECT_EQ(pool.quarantined_blocks(), 0u);
  EXPECT_EQ(pool.inner().stats().live_blocks, 0u);
}

TEST(Guarded, QuarantineHoldsAtMostItsBlockAndByteLimits) {
  Recorder rec;
  GuardOptions o = rec.options();
  o.quarantine_blocks = 4;
  o.quarantine_bytes = 1000;
  Guarded<MallocPool> pool(std::move(o));
  for (int i = 0; i < 10; ++i) pool.deallocate(pool.allocate(16), 16);
  EXPECT_EQ(pool.quarantined_blocks(), 4u);
  // 944 more bytes: the oldest leave until the total is at most 1000 (944 + 48).
  pool.deallocate(pool.allocate(900), 900);
  EXPECT_EQ(pool.quarantined_blocks(), 2u);
  EXPECT_TRUE(pool.check());
}

TEST(Guarded, ExhaustedInnerPoolGetsTheQuarantineBack) {
  Recorder rec;
  Guarded<SlotPool> pool(rec.options(), 256, 4);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(pool.allocate(100));
  EXPECT_EQ(pool.allocate(100), nullptr);
  for (void* p : blocks) pool.deallocate(p, 100);
  EXPECT_EQ(pool.quarantined_blocks(), 4u);
  void* p = pool.allocate(100);
  EXPECT_NE(p, nullptr);
  pool.deallocate(p, 100);
  EXPECT_TRUE(rec.reports.empty());
}

TEST(Guarded, CustomPoisonByteIsUsed) {
  Recorder rec;
  GuardOptions o = rec.options();
  o.poison = 0xcc;
  Guarded<MallocPool> pool(std::move(o));
  auto* p = static_cast<unsigned char*>(pool.allocate(5));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p[i], 0xcc);
  pool.deallocate(p, 5);
}

TEST(Guarded, StatsCountUserSizesAndCalls) {
  Recorder rec;
  Guarded<MallocPool> pool(rec.options());
  void* a = pool.allocate(10);
  void* b = pool.allocate(20);
  pool.deallocate(a, 10);
  auto s = pool.stats();
  EXPECT_EQ(s.bytes_requested, 20u);
  EXPECT_EQ(s.live_blocks, 1u);
  EXPECT_EQ(s.allocations, 2u);
  EXPECT_EQ(s.deallocations, 1u);
  EXPECT_GT(s.bytes_in_use, 20u);  // guards and the quarantine
  pool.deallocate(b, 20);
}

TEST(GuardSpec, PlainNamesSelectExactlyThoseChecks) {
  GuardOptions o;
  EXPECT_TRUE(poolkit::apply_guard_spec(o, "canary,leaks"));
  EXPECT_TRUE(o.checks.canary && o.checks.leaks);
  EXPECT_FALSE(o.checks.poison || o.checks.quarantine || o.checks.size);
}

TEST(GuardSpec, PlusAndMinusEditTheDefaults) {
  GuardOptions o;
  EXPECT_TRUE(poolkit::apply_guard_spec(o, "-quarantine,-size"));
  EXPECT_TRUE(o.checks.canary && o.checks.poison && o.checks.leaks);
  EXPECT_FALSE(o.checks.quarantine || o.checks.size);
}

TEST(GuardSpec, SettingsTakeValues) {
  GuardOptions o;
  EXPECT_TRUE(poolkit::apply_guard_spec(o, "all, quarantine=7, quarantine_bytes=4096, poison=0xa5, action=count"));
  EXPECT_EQ(o.quarantine_blocks, 7u);
  EXPECT_EQ(o.quarantine_bytes, 4096u);
  EXPECT_EQ(o.poison, 0xa5);
  EXPECT_EQ(o.action, GuardAction::count);
  EXPECT_TRUE(poolkit::apply_guard_spec(o, "none"));
  EXPECT_FALSE(o.checks.canary || o.checks.poison || o.checks.leaks);
}

TEST(GuardSpec, UnknownTokensAreIgnoredAndFlagged) {
  GuardOptions o;
  EXPECT_FALSE(poolkit::apply_guard_spec(o, "canary,bogus,poison=999"));
  EXPECT_TRUE(o.checks.canary);
  EXPECT_EQ(o.poison, 0x5a);
}

TEST(GuardSpec, EnvironmentVariableOverridesConstructorOptions) {
  ::setenv("POOLKIT_GUARD", "none,action=count", 1);
  GuardOptions o;
  Guarded<MallocPool> pool(o);
  ::unsetenv("POOLKIT_GUARD");
  EXPECT_FALSE(pool.options().checks.canary);
  EXPECT_EQ(pool.options().action, GuardAction::count);
  GuardOptions ignore;
  ignore.use_env = false;
  ::setenv("POOLKIT_GUARD", "none", 1);
  Guarded<MallocPool> pool2(ignore);
  ::unsetenv("POOLKIT_GUARD");
  EXPECT_TRUE(pool2.options().checks.canary);
}

// Randomized differential test: Guarded over each inner pool against BlockModel.
template <class P, class... Args>
void run_differential(std::size_t ops, Args... inner_args) {
  const auto seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Recorder rec;
  GuardOptions o = rec.options();
  o.quarantine_blocks = 16;
  Guarded<P> pool(std::move(o), inner_args...);
  poolkit::test::BlockModel model;
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < ops; ++i) {
    bool alloc = model.empty() || (model.count() < 200 && rng() % 100 < 55);
    if (alloc) {
      std::size_t size = rng() % 200;
      std::size_t align = std::size_t{1} << (rng() % 7);
      void* p = pool.allocate(size, align);
      if (!p) continue;  // SlotPool can be full
      ASSERT_TRUE(model.add(p, size, align, static_cast<std::uint8_t>(rng())));
    } else {
      auto b = model.take_random(rng);
      ASSERT_TRUE(pool.owns(b.p));
      pool.deallocate(b.p, b.size, b.align);
    }
    if (i % 16384 == 0) {
      ASSERT_TRUE(pool.check());
      model.verify_all();
    }
  }
  for (const auto& b : model.blocks()) pool.deallocate(b.p, b.size, b.align);
  EXPECT_TRUE(pool.check());
  EXPECT_TRUE(rec.reports.empty()) << (rec.messages.empty() ? "" : rec.messages[0]);
}

TEST(Guarded, MatchesTheModelOverMallocPoolForAMillionOperations) {
  run_differential<MallocPool>(poolkit::test::scaled(1'000'000));
}

TEST(Guarded, MatchesTheModelOverSlotPoolForAMillionOperations) {
  run_differential<SlotPool>(poolkit::test::scaled(1'000'000), 512, 256);
}

TEST(Guarded, MatchesTheModelOverHeapForAMillionOperations) {
  run_differential<poolkit::Heap>(poolkit::test::scaled(1'000'000), poolkit::Heap::Options{});
}

TEST(Guarded, MatchesTheModelOverBuddyPoolForAMillionOperations) {
  run_differential<poolkit::BuddyPool>(poolkit::test::scaled(1'000'000),
                                       poolkit::BuddyPool::Options{.min_order = 4, .max_order = 22});
}

TEST(Guarded, MatchesTheModelOverFixedPoolForAMillionOperations) {
  run_differential<poolkit::FixedPool>(
      poolkit::test::scaled(1'000'000),
      poolkit::FixedPool::Options{.chunk_size = 512, .chunk_align = 64});
}

// An arena only reclaims its last block, so this run is shorter to bound its memory.
TEST(Guarded, MatchesTheModelOverArena) {
  run_differential<poolkit::Arena>(poolkit::test::scaled(200'000), poolkit::Arena::Options{});
}

TEST(Guarded, MatchesTheModelOverPoolSetForAMillionOperations) {
  run_differential<poolkit::test::PoolSetPool>(poolkit::test::scaled(1'000'000));
}
