// tools/advise_patterns.cpp: sites, bursts, groups and the rules of `poolkit advise`.
#include "advise_patterns.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace poolkit::trace {

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::kNone: return "none";
    case Pattern::kOneSize: return "one size, churn";
    case Pattern::kDieTogether: return "die together";
    case Pattern::kNumberedGroups: return "freed in groups";
    case Pattern::kPowerOfTwo: return "2^n sizes, aligned";
    case Pattern::kVariableSizes: return "many sizes, churn";
  }
  return "?";
}

const char* suggestion_name(Suggestion s) {
  switch (s) {
    case Suggestion::kNone: return "-";
    case Suggestion::kFixedPool: return "FixedPool";
    case Suggestion::kPerCpuFixedPool: return "PerCpu<FixedPool>";
    case Suggestion::kArena: return "Arena mark/rewind";
    case Suggestion::kPoolSet: return "PoolSet";
    case Suggestion::kBuddyPool: return "BuddyPool";
    case Suggestion::kHeap: return "Heap";
  }
  return "?";
}

namespace {

struct Burst {
  std::uint32_t first_op;
  std::uint32_t last_op;
  std::vector<std::uint32_t> blocks;
};

// Runs of at least kMinBurst releases by one thread with no allocation of its own between.
std::vector<Burst> find_bursts(const Timeline& t) {
  std::vector<Burst> bursts;
  std::unordered_map<std::uint32_t, Burst> open;
  auto close = [&](Burst& b) {
    if (b.blocks.size() >= kMinBurst) bursts.push_back(std::move(b));
    b = Burst{};
  };
  for (std::uint32_t i = 0; i < t.ops.size(); ++i) {
    const TimedOp& op = t.ops[i];
    Burst& b = open[op.thread];
    if (!op.release) {
      close(b);
      continue;
    }
    if (b.blocks.empty()) b.first_op = i;
    b.last_op = i;
    b.blocks.push_back(op.block);
  }
  for (auto& [thread, b] : open) close(b);
  std::sort(bursts.begin(), bursts.end(), [](const Burst& x, const Burst& y) { return x.last_op < y.last_op; });
  return bursts;
}

// Everything the rules need, computed once: blocks by site, bursts by site.
struct Index {
  const Timeline& t;
  std::vector<Burst> bursts;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> blocks_of;  // site -> blocks
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> bursts_of;  // site -> bursts it has blocks in
};

Index make_index(const Timeline& t) {
  Index x{t, find_bursts(t), {}, {}};
  for (std::uint32_t b = 0; b < t.blocks.size(); ++b) x.blocks_of[t.blocks[b].site].push_back(b);
  for (std::uint32_t i = 0; i < x.bursts.size(); ++i) {
    std::set<std::uint64_t> sites;
    for (std::uint32_t b : x.bursts[i].blocks) sites.insert(t.blocks[b].site);
    for (std::uint64_t s : sites) x.bursts_of[s].push_back(i);
  }
  return x;
}

// How a burst frees a group's blocks: the group's blocks it frees (none: not the
// group's burst), and whether it frees every block of the group allocated from its
// oldest one to its end (an Arena rewinds to a mark there), where it would leave some
// alive among them (a PoolSet releases them as one numbered pool).
struct BurstView {
  std::uint32_t freed = 0;
  std::uint32_t oldest = kNever;   // the oldest freed block
  std::uint32_t last_op = 0;       // the group's last release in the burst
  bool rewind = false;
};

BurstView view(const Index& x, const Burst& burst, const std::unordered_set<std::uint64_t>& sites) {
  BurstView v;
  for (std::uint32_t b : burst.blocks) {
    if (!sites.contains(x.t.blocks[b].site)) continue;
    ++v.freed;
    v.oldest = std::min(v.oldest, b);
    v.last_op = std::max(v.last_op, x.t.blocks[b].free_op);
  }
  if (v.freed == 0) return v;
  // Blocks are numbered in allocation order: scan those allocated from the oldest on,
  // up to the burst's end. A very long scan means long-lived blocks among them anyway.
  const std::size_t limit = 64 * std::size_t{v.freed} + 1024;
  v.rewind = true;
  for (std::uint32_t b = v.oldest; b < x.t.blocks.size() && x.t.blocks[b].alloc_op <= v.last_op; ++b) {
    if (b - v.oldest > limit) {
      v.rewind = false;
      break;
    }
    const BlockInfo& info = x.t.blocks[b];
    if (sites.contains(info.site) && (info.free_op == kNever || info.free_op > v.last_op)) {
      v.rewind = false;
      break;
    }
  }
  return v;
}

std::vector<std::uint32_t> group_bursts(const Index& x, const std::vector<std::uint64_t>& sites) {
  std::vector<std::uint32_t> ids;
  for (std::uint64_t s : sites) {
    auto it = x.bursts_of.find(s);
    if (it != x.bursts_of.end()) ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Profile profile_of(const Index& x, std::vector<std::uint64_t> sites) {
  Profile p;
  std::unordered_set<std::uint64_t> set(sites.begin(), sites.end());
  std::map<std::uint64_t, std::uint64_t> sizes;
  std::map<std::uint32_t, std::uint64_t> stacks;
  std::set<std::uint32_t> threads;
  std::vector<std::pair<std::uint32_t, std::int64_t>> changes;  // op, +size/-size
  std::map<std::uint64_t, std::uint64_t> calls_of_site;
  std::uint32_t last_alloc = 0;
  for (std::uint64_t s : sites) last_alloc = std::max(last_alloc, x.t.blocks[x.blocks_of.at(s).back()].alloc_op);
  for (std::uint64_t s : sites) {
    for (std::uint32_t b : x.blocks_of.at(s)) {
      const BlockInfo& info = x.t.blocks[b];
      ++p.allocations;
      ++calls_of_site[s];
      p.bytes += info.size;
      ++sizes[info.size];
      ++stacks[info.stack];
      threads.insert(info.thread);
      if (std::has_single_bit(info.size)) ++p.pow2_calls;
      if (info.align > 16) ++p.aligned_calls;
      p.max_align = std::max<std::uint64_t>(p.max_align, info.align);
      p.max_size = std::max(p.max_size, info.size);
      changes.emplace_back(info.alloc_op, static_cast<std::int64_t>(info.size));
      if (info.free_op != kNever) {
        ++p.releases;
        if (info.free_op < last_alloc) ++p.recycled;
        threads.insert(x.t.ops[info.free_op].thread);
        changes.emplace_back(info.free_op, -static_cast<std::int64_t>(info.size));
      }
    }
  }
  std::sort(sites.begin(), sites.end(),
            [&](std::uint64_t a, std::uint64_t b) { return calls_of_site[a] > calls_of_site[b]; });
  p.sites = sites;
  for (const auto& [size, n] : sizes) {
    if (n > p.top_size_calls) {
      p.top_size = size;
      p.top_size_calls = n;
    }
  }
  p.distinct_sizes = sizes.size();
  std::uint64_t most = 0;
  for (const auto& [stack, n] : stacks) {
    if (n > most) {
      most = n;
      p.stack = stack;
    }
  }
  p.threads = threads.size();
  std::sort(changes.begin(), changes.end());
  std::int64_t live = 0;
  for (const auto& [op, delta] : changes) {
    live += delta;
    p.peak_live_bytes = std::max(p.peak_live_bytes, static_cast<std::uint64_t>(live));
  }
  for (std::uint32_t id : group_bursts(x, sites)) {
    const BurstView v = view(x, x.bursts[id], set);
    p.releases_in_bursts += v.freed;
    if (v.rewind) {
      ++p.rewind_bursts;
    } else {
      ++p.partial_bursts;
    }
  }
  return p;
}

// Sites freed in the same bursts again and again belong together: joined when they
// share at least two bursts and half of the bursts of the one with fewer. A burst
// of very many sites (the teardown at exit) joins nothing.
std::vector<std::vector<std::uint64_t>> find_groups(const Index& x) {
  std::vector<std::uint64_t> sites;
  for (const auto& [s, blocks] : x.blocks_of) sites.push_back(s);
  std::sort(sites.begin(), sites.end());
  std::unordered_map<std::uint64_t, std::size_t> index;
  for (std::size_t i = 0; i < sites.size(); ++i) index[sites[i]] = i;
  std::vector<std::size_t> parent(sites.size());
  std::iota(parent.begin(), parent.end(), std::size_t{0});
  auto root = [&](std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::map<std::pair<std::size_t, std::size_t>, std::uint32_t> shared;
  for (const Burst& burst : x.bursts) {
    std::set<std::size_t> in;
    for (std::uint32_t b : burst.blocks) in.insert(index[x.t.blocks[b].site]);
    if (in.size() < 2 || in.size() > 32) continue;
    for (auto i = in.begin(); i != in.end(); ++i)
      for (auto j = std::next(i); j != in.end(); ++j) ++shared[{*i, *j}];
  }
  for (const auto& [pair, n] : shared) {
    const std::size_t fewer = std::min(x.bursts_of.at(sites[pair.first]).size(), x.bursts_of.at(sites[pair.second]).size());
    if (n >= 2 && 2 * n >= fewer) parent[root(pair.first)] = root(pair.second);
  }
  std::map<std::size_t, std::vector<std::uint64_t>> groups;
  for (std::size_t i = 0; i < sites.size(); ++i) groups[root(i)].push_back(sites[i]);
  std::vector<std::vector<std::uint64_t>> out;
  for (auto& [r, g] : groups) out.push_back(std::move(g));
  return out;
}

bool dies_together(const Profile& p) {
  const std::uint64_t bursts = p.rewind_bursts + p.partial_bursts;
  return p.releases != 0 && bursts >= 2 && p.releases_in_bursts * 10 >= p.releases * 9 &&
         p.releases_in_bursts >= kMinBurst * bursts;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

}  // namespace

void classify(Advice& a, const AdviseLimits& limits) {
  const Profile& p = a.profile;
  const std::uint64_t bursts = p.rewind_bursts + p.partial_bursts;
  // Churn: blocks freed while the site still allocates (a teardown at exit is not).
  const bool churn = p.recycled * 2 >= p.allocations;
  a.pattern = Pattern::kNone;
  a.suggestion = Suggestion::kNone;
  if (p.allocations < limits.min_calls) {
    a.reason = std::to_string(p.allocations) + (p.allocations == 1 ? " allocation" : " allocations") +
               ": too few for a pool to matter";
  } else if (dies_together(p) && p.partial_bursts * 10 <= bursts) {
    a.pattern = Pattern::kDieTogether;
    a.suggestion = Suggestion::kArena;
    a.reason = percent(p.releases_in_bursts, p.releases) + " freed in " + std::to_string(bursts) +
               " bursts, each freeing all allocated since its oldest block: mark, then rewind";
  } else if (dies_together(p)) {
    a.pattern = Pattern::kNumberedGroups;
    a.suggestion = Suggestion::kPoolSet;
    a.reason = percent(p.releases_in_bursts, p.releases) + " freed in " + std::to_string(bursts) +
               " groups while blocks allocated among them live on: one pool per group";
  } else if (churn && p.top_size_calls * 20 >= p.allocations * 19 && p.max_size <= 4096) {
    a.pattern = Pattern::kOneSize;
    a.suggestion = p.threads > 1 ? Suggestion::kPerCpuFixedPool : Suggestion::kFixedPool;
    a.reason = percent(p.top_size_calls, p.allocations) + " of the calls ask for " + std::to_string(p.top_size) + " B, " +
               percent(p.recycled, p.allocations) + " are freed while it still allocates" +
               (p.threads > 1 ? ", by " + std::to_string(p.threads) + " threads" : std::string{});
  } else if (churn && p.pow2_calls * 20 >= p.allocations * 19 && p.aligned_calls * 2 >= p.allocations) {
    a.pattern = Pattern::kPowerOfTwo;
    a.suggestion = Suggestion::kBuddyPool;
    a.reason = percent(p.pow2_calls, p.allocations) + " power-of-two sizes, " + percent(p.aligned_calls, p.allocations) +
               " aligned above 16 B (up to " + std::to_string(p.max_align) + " B)";
  } else if (churn && p.distinct_sizes >= 4) {
    a.pattern = Pattern::kVariableSizes;
    a.suggestion = Suggestion::kHeap;
    a.reason = std::to_string(p.distinct_sizes) + " sizes up to " + std::to_string(p.max_size) + " B, " +
               percent(p.recycled, p.allocations) + " freed while it still allocates: a heap of its own";
  } else if (!churn) {
    a.reason = "only " + percent(p.recycled, p.allocations) + " freed before its last allocation: long-lived blocks, malloc is fine";
  } else {
    a.reason = std::to_string(p.distinct_sizes) + " sizes, no burst of frees: nothing a pool does better";
  }
}

std::vector<Advice> advise(const Timeline& timeline, const AdviseLimits& limits) {
  const Index x = make_index(timeline);
  std::vector<Advice> out;
  for (const auto& group : find_groups(x)) {
    Advice a{profile_of(x, group), {}, {}, {}};
    classify(a, limits);
    // A group is only worth its name when its sites die together; else each alone.
    if (group.size() > 1 && a.suggestion != Suggestion::kArena && a.suggestion != Suggestion::kPoolSet) {
      for (std::uint64_t s : group) {
        Advice one{profile_of(x, {s}), {}, {}, {}};
        classify(one, limits);
        out.push_back(std::move(one));
      }
    } else {
      out.push_back(std::move(a));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Advice& a, const Advice& b) { return a.profile.allocations > b.profile.allocations; });
  return out;
}

ReplayScript replay_script(const Timeline& t, const Advice& advice, bool whole_program) {
  const Index x = make_index(t);
  const std::unordered_set<std::uint64_t> sites(advice.profile.sites.begin(), advice.profile.sites.end());
  const bool arena = advice.suggestion == Suggestion::kArena;
  const bool pool_set = advice.suggestion == Suggestion::kPoolSet;
  // Which blocks a burst takes care of, and where its mark and its end go.
  std::unordered_map<std::uint32_t, std::uint32_t> group_of;  // block -> burst number (1, 2, ...)
  std::unordered_set<std::uint32_t> marks;                    // blocks to mark before
  std::unordered_map<std::uint32_t, std::uint32_t> ends;      // op -> burst number
  if (arena || pool_set) {
    std::uint32_t number = 0;
    for (std::uint32_t id : group_bursts(x, advice.profile.sites)) {
      const BurstView v = view(x, x.bursts[id], sites);
      if (v.freed == 0 || (arena && !v.rewind)) continue;
      ++number;
      for (std::uint32_t b : x.bursts[id].blocks)
        if (sites.contains(t.blocks[b].site)) group_of[b] = number;
      if (arena) marks.insert(v.oldest);
      ends[v.last_op] = number;
    }
  }
  ReplayScript s;
  std::unordered_map<std::uint32_t, std::uint32_t> slot_of;
  for (std::uint32_t i = 0; i < t.ops.size(); ++i) {
    const TimedOp& op = t.ops[i];
    const BlockInfo& info = t.blocks[op.block];
    if (!sites.contains(info.site)) {
      if (!whole_program) continue;
      if (!op.release) {
        slot_of[op.block] = s.slots;
        s.ops.push_back({ReplayKind::kOtherAlloc, s.slots++, 0, info.align, info.size});
      } else {
        s.ops.push_back({ReplayKind::kOtherFree, slot_of.at(op.block), 0, info.align, info.size});
      }
      continue;
    }
    const auto group = group_of.find(op.block);
    const std::uint32_t number = group == group_of.end() ? 0 : group->second;
    if (!op.release) {
      if (marks.contains(op.block)) s.ops.push_back({ReplayKind::kMark, 0, 0, 0, 0});
      const std::uint32_t slot = s.slots++;
      slot_of[op.block] = slot;
      s.ops.push_back({ReplayKind::kAlloc, slot, pool_set ? number : 0, info.align, info.size});
      continue;
    }
    const std::uint32_t slot = slot_of.at(op.block);
    s.ops.push_back({number != 0 ? ReplayKind::kCovered : ReplayKind::kFree, slot, number, info.align, info.size});
    if (auto end = ends.find(i); end != ends.end())
      s.ops.push_back({arena ? ReplayKind::kRewind : ReplayKind::kReleaseGroup, 0, end->second, 0, 0});
  }
  return s;
}

}  // namespace poolkit::trace
