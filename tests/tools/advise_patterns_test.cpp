// The rules of `poolkit advise` on synthetic call sequences: each test builds a trace
// with a known pattern and checks the one thing the advice must say about it.
#include "advise_patterns.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace poolkit::trace {
namespace {

// Writes calls into a Trace as `poolkit trace` would: times increase by one per call;
// a site is named by its stack id, whose innermost frame is 0x1000 * id.
class Recorder {
 public:
  std::uint64_t malloc(std::uint32_t site, std::uint64_t size, std::uint32_t thread = 1, std::uint64_t align = 0) {
    add_stack(site);
    const std::uint64_t ptr = next_ptr_ += 0x1000;
    trace_.events.push_back({align != 0 ? Call::kAlignedAlloc : Call::kMalloc, thread, site, ++time_, size, align, ptr,
                             0, 0});
    return ptr;
  }
  void free(std::uint64_t ptr, std::uint32_t thread = 1) {
    trace_.events.push_back({Call::kFree, thread, 0, ++time_, 0, 0, ptr, 0, 0});
  }
  const Trace& trace() const { return trace_; }

 private:
  void add_stack(std::uint32_t site) { trace_.stacks[site] = {0x1000ull * site}; }
  Trace trace_;
  std::uint64_t time_ = 0;
  std::uint64_t next_ptr_ = 0x100000;
};

const Advice& advice_for(const std::vector<Advice>& all, std::uint32_t site) {
  for (const Advice& a : all)
    if (std::find(a.profile.sites.begin(), a.profile.sites.end(), 0x1000ull * site) != a.profile.sites.end()) return a;
  ADD_FAILURE() << "no advice for site " << site;
  static const Advice none;
  return none;
}

std::vector<Advice> advise_on(const Recorder& r) { return advise(make_timeline(r.trace())); }

// 1000 live blocks of one size, one replaced at each step.
void one_size_churn(Recorder& r, std::uint32_t site, std::uint64_t size, std::uint32_t threads) {
  std::vector<std::uint64_t> live;
  for (int i = 0; i < 100; ++i) live.push_back(r.malloc(site, size));
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const std::size_t k = (i * 37) % live.size();
    r.free(live[k], 1 + i % threads);
    live[k] = r.malloc(site, size, 1 + i % threads);
  }
}

TEST(AdvisePatterns, OneSizeWithChurnOnOneThreadGetsAFixedPool) {
  Recorder r;
  one_size_churn(r, 1, 48, 1);
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.pattern, Pattern::kOneSize);
  EXPECT_EQ(a.suggestion, Suggestion::kFixedPool);
  EXPECT_EQ(a.profile.top_size, 48u);
}

TEST(AdvisePatterns, OneSizeWithChurnOnSeveralThreadsGetsAPerCpuPool) {
  Recorder r;
  one_size_churn(r, 1, 48, 2);
  const auto all = advise_on(r);
  EXPECT_EQ(advice_for(all, 1).suggestion, Suggestion::kPerCpuFixedPool);
}

TEST(AdvisePatterns, FewCallsGetNoSuggestion) {
  Recorder r;
  for (int i = 0; i < 50; ++i) r.free(r.malloc(1, 48));
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.suggestion, Suggestion::kNone);
  EXPECT_NE(a.reason.find("too few"), std::string::npos) << a.reason;
}

TEST(AdvisePatterns, BlocksFreedOnlyAtTheEndAreLongLivedNotChurn) {
  Recorder r;
  std::vector<std::uint64_t> kept;
  for (int i = 0; i < 500; ++i) kept.push_back(r.malloc(1, 40));
  for (std::uint64_t p : kept) r.free(p);
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.suggestion, Suggestion::kNone) << a.reason;
  EXPECT_EQ(a.profile.recycled, 0u);
}

// Requests: two sites allocate, everything of the request is freed at its end.
TEST(AdvisePatterns, SitesWhoseBlocksDieTogetherAreOneGroupForAnArena) {
  Recorder r;
  for (int request = 0; request < 50; ++request) {
    std::vector<std::uint64_t> blocks;
    for (int i = 0; i < 10; ++i) {
      blocks.push_back(r.malloc(1, 16 + static_cast<std::uint64_t>(i) * 7));
      blocks.push_back(r.malloc(2, 100));
    }
    for (std::uint64_t p : blocks) r.free(p);
  }
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.pattern, Pattern::kDieTogether);
  EXPECT_EQ(a.suggestion, Suggestion::kArena);
  EXPECT_EQ(a.profile.sites.size(), 2u);  // site 2 is in the same group
  EXPECT_EQ(a.profile.rewind_bursts, 50u);
}

// Groups that interleave: blocks of group A and B alternate, A is freed while B lives on.
TEST(AdvisePatterns, GroupsFreedWhileOthersAmongThemLiveOnGetAPoolSet) {
  Recorder r;
  std::vector<std::uint64_t> older;
  for (int round = 0; round < 40; ++round) {
    std::vector<std::uint64_t> newer;
    for (int i = 0; i < 8; ++i) newer.push_back(r.malloc(1, 64 + static_cast<std::uint64_t>(i)));
    // The previous round's blocks go, as one group, after this round's were made.
    for (std::uint64_t p : older) r.free(p);
    older = newer;
  }
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.pattern, Pattern::kNumberedGroups);
  EXPECT_EQ(a.suggestion, Suggestion::kPoolSet);
}

TEST(AdvisePatterns, AlignedPowerOfTwoSizesGetABuddyPool) {
  Recorder r;
  std::vector<std::uint64_t> live;
  for (int i = 0; i < 600; ++i) {
    const std::uint64_t size = std::uint64_t{64} << (i % 5);
    live.push_back(r.malloc(1, size, 1, size));
    if (live.size() > 20) {
      r.free(live.front());
      live.erase(live.begin());
    }
  }
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.pattern, Pattern::kPowerOfTwo);
  EXPECT_EQ(a.suggestion, Suggestion::kBuddyPool);
}

TEST(AdvisePatterns, ManySizesWithChurnGetAHeap) {
  Recorder r;
  std::vector<std::uint64_t> live(16, 0);
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const std::size_t k = (i * 7) % live.size();
    if (live[k] != 0) r.free(live[k]);
    live[k] = r.malloc(1, 100 + (i % 40) * 33);
  }
  const auto all = advise_on(r);
  const Advice& a = advice_for(all, 1);
  EXPECT_EQ(a.pattern, Pattern::kVariableSizes);
  EXPECT_EQ(a.suggestion, Suggestion::kHeap);
}

TEST(AdvisePatterns, AnArenaScriptMarksBeforeEachRequestAndRewindsAtItsEnd) {
  Recorder r;
  for (int request = 0; request < 30; ++request) {
    std::vector<std::uint64_t> blocks;
    for (int i = 0; i < 6; ++i) blocks.push_back(r.malloc(1, 32));
    for (std::uint64_t p : blocks) r.free(p);
  }
  const Timeline t = make_timeline(r.trace());
  const auto all = advise(t);
  const Advice& a = advice_for(all, 1);
  ASSERT_EQ(a.suggestion, Suggestion::kArena);
  const ReplayScript s = replay_script(t, a);
  auto count = [&](ReplayKind k) { return std::count_if(s.ops.begin(), s.ops.end(), [&](const ReplayOp& op) { return op.kind == k; }); };
  EXPECT_EQ(count(ReplayKind::kMark), 30);
  EXPECT_EQ(count(ReplayKind::kRewind), 30);
  EXPECT_EQ(count(ReplayKind::kAlloc), 180);
  EXPECT_EQ(count(ReplayKind::kCovered), 180);  // malloc frees them one by one, the arena skips them
  EXPECT_EQ(s.ops.front().kind, ReplayKind::kMark);
  EXPECT_EQ(s.ops.back().kind, ReplayKind::kRewind);
}

TEST(AdvisePatterns, TheWholeProgramScriptKeepsTheOtherSitesCallsOnMalloc) {
  Recorder r;
  one_size_churn(r, 1, 48, 1);
  for (int i = 0; i < 10; ++i) r.malloc(2, 1000);
  const Timeline t = make_timeline(r.trace());
  const auto all = advise(t);
  const Advice& a = advice_for(all, 1);
  const ReplayScript site = replay_script(t, a);
  const ReplayScript program = replay_script(t, a, true);
  EXPECT_EQ(program.ops.size(), site.ops.size() + 10);
  EXPECT_EQ(std::count_if(program.ops.begin(), program.ops.end(),
                          [](const ReplayOp& op) { return op.kind == ReplayKind::kOtherAlloc; }),
            10);
}

}  // namespace
}  // namespace poolkit::trace
