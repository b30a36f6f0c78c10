// tools/advise_command.cpp: `poolkit advise FILE [--top N] [--rounds N] [--min-calls N]`:
// which poolkit component fits each call site (or group of sites freed together),
// found by advise_patterns and proved by advise_measure: a ranked table, the reason
// of each, and a code snippet for the sites that gain most; or that nothing would help.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "advise_measure.hpp"
#include "advise_patterns.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "trace_analysis.hpp"
#include "trace_reader.hpp"
#include "trace_symbols.hpp"

using namespace poolkit::trace;

namespace {


// A change worth acting on: this much faster, or this much less memory. A pool's
// first regions cost a little memory up front: growth counts against it only past
// both kMemoryGain and kMemorySlack.
constexpr double kTimeGain = 0.05;
constexpr double kMemoryGain = 0.10;
constexpr double kMemorySlack = 256 * 1024;

struct Row {
  Advice advice;
  Measurement m;
  double saved_ns() const { return m.ran ? m.malloc_ns - m.pool_ns : 0.0; }
  bool helps() const {
    if (!m.ran) return false;
    const bool faster = m.pool_ns <= m.malloc_ns * (1.0 - kTimeGain);
    const bool smaller = static_cast<double>(m.pool_peak) <= static_cast<double>(m.malloc_peak) * (1.0 - kMemoryGain);
    const bool slower = m.pool_ns > m.malloc_ns * (1.0 + kTimeGain);
    const double growth = static_cast<double>(m.pool_peak) - static_cast<double>(m.malloc_peak);
    const bool bigger = growth > static_cast<double>(m.malloc_peak) * kMemoryGain && growth > kMemorySlack;
    return (faster && !bigger) || (smaller && !slower);
  }
};

std::string change(double before, double after) {
  char text[32];
  if (before <= 0) return "n/a";
  std::snprintf(text, sizeof text, "%+.0f%%", 100.0 * (after - before) / before);
  return text;
}

std::string symbol_of(TraceSymbols& symbols, std::uint32_t stack) {
  const auto frames = symbols.frames(stack, 1);
  if (frames.empty()) return "<unknown call site>";
  const FrameName& f = frames.front();
  if (f.function.empty()) return f.text();
  std::string name = f.function;  // "(anonymous namespace)::" says nothing a person needs here
  for (std::size_t at; (at = name.find("(anonymous namespace)::")) != std::string::npos;) name.erase(at, 23);
  // The parameter list: the table has no room for it (the snippet's heading keeps it).
  if (!name.empty() && name.back() == ')') {
    int depth = 0;
    for (std::size_t i = name.size(); i-- > 0;) {
      depth += name[i] == ')' ? 1 : name[i] == '(' ? -1 : 0;
      if (depth == 0) {
        if (i > 0) name.resize(i);
        break;
      }
    }
  }
  return name;
}

std::string location_of(TraceSymbols& symbols, std::uint32_t stack) {
  const auto frames = symbols.frames(stack, 1);
  if (frames.empty() || frames.front().location.empty()) return "?";
  const std::string& l = frames.front().location;
  const auto slash = l.rfind('/');
  return slash == std::string::npos ? l : l.substr(slash + 1);
}

std::string clip(std::string s, std::size_t width) {
  if (s.size() > width) s = s.substr(0, width - 3) + "...";
  return s;
}

// The code change for a suggestion, C++ (std::pmr) and C, with the site's figures.
void print_snippet(const Row& row, const std::string& symbol) {
  const Profile& p = row.advice.profile;
  const std::string size = std::to_string(p.top_size);
  std::printf("    // %s: %s\n", symbol.c_str(), row.advice.reason.c_str());
  switch (row.advice.suggestion) {
    case Suggestion::kFixedPool:
      std::printf("    poolkit::FixedPool pool(%s);                 // #include <poolkit/fixed_pool.hpp>\n"
                  "    void* p = pool.allocate(%s);  /* ... */  pool.deallocate(p, %s);\n"
                  "    // typed: poolkit::ObjectPool<T> objects; T* t = objects.create(...); objects.destroy(t);\n"
                  "    // C: poolkit_fixed_pool_options o = {.chunk_size = %s};\n"
                  "    //    poolkit_fixed_pool* pool = poolkit_fixed_pool_create(&o);\n"
                  "    //    void* p = poolkit_fixed_pool_alloc(pool); ... poolkit_fixed_pool_free(pool, p);\n",
                  size.c_str(), size.c_str(), size.c_str(), size.c_str());
      break;
    case Suggestion::kPerCpuFixedPool:
      std::printf("    poolkit::PerCpu<poolkit::FixedPool> pool(0, std::size_t{%s});  // #include <poolkit/per_cpu.hpp>\n"
                  "    void* p = pool.allocate(%s);  /* any thread */  pool.deallocate(p, %s);\n"
                  "    poolkit::PoolResource resource(pool);  // or as a std::pmr::memory_resource\n",
                  size.c_str(), size.c_str(), size.c_str());
      break;
    case Suggestion::kArena:
      std::printf("    poolkit::Arena arena;                          // #include <poolkit/arena.hpp>\n"
                  "    poolkit::PoolResource resource(arena);         // #include <poolkit/memory_resource.hpp>\n"
                  "    for (;;) {                                     // each request, phase or frame\n"
                  "      const auto mark = arena.mark();\n"
                  "      std::pmr::vector<Item> items(&resource);     // its blocks come from the arena\n"
                  "      /* ... */\n"
                  "      arena.rewind(mark);                          // all of them at once, no free()\n"
                  "    }\n"
                  "    // C: poolkit_arena_marker m = poolkit_arena_mark(arena); ... poolkit_arena_rewind(arena, m);\n");
      break;
    case Suggestion::kPoolSet:
      std::printf("    poolkit::PoolSet pools;                        // #include <poolkit/pool_set.hpp>\n"
                  "    void* p = pools.allocate(group_id, size);      // the group the block belongs to\n"
                  "    pools.release(group_id);                       // the whole group, others untouched\n"
                  "    // C: poolkit_pool_set_alloc(set, group_id, size); poolkit_pool_set_release_pool(set, group_id);\n");
      break;
    case Suggestion::kBuddyPool:
      std::printf("    poolkit::BuddyPool buddy({.max_order = 24});   // #include <poolkit/buddy_pool.hpp>\n"
                  "    void* p = buddy.allocate(size, %" PRIu64 ");   /* aligned to its own size */  buddy.deallocate(p, size);\n"
                  "    // C: poolkit_buddy_pool* b = poolkit_buddy_create(4, 24); poolkit_buddy_alloc(b, size, align);\n",
                  std::max<std::uint64_t>(p.max_align, 16));
      break;
    case Suggestion::kHeap:
      std::printf("    poolkit::Heap heap;                            // #include <poolkit/heap.hpp>\n"
                  "    poolkit::PoolResource resource(heap);          // the subsystem's containers use it:\n"
                  "    std::pmr::unordered_map<Key, Value> table(&resource);\n"
                  "    // C: poolkit_heap* h = poolkit_heap_create(NULL); poolkit_heap_alloc(h, n); poolkit_heap_free(h, p);\n");
      break;
    case Suggestion::kNone: break;
  }
}

}  // namespace

int advise_command(int argc, char** argv) {
  using namespace poolkit::cli;
  const Command& command = *find_command("advise");
  ParsedLine line;
  if (auto stop = parse_command_line(command, argc, argv, OperandStyle::kFiles, line)) return *stop;
  std::string file;
  if (auto stop = take_trace_file(command, line, file)) return *stop;
  long top_given = 10, rounds_given = 5, min_calls_given = 0;
  if (auto stop = number_option(command, line, "--top", 1, 1000000000L, top_given)) return *stop;
  if (auto stop = number_option(command, line, "--rounds", 1, 100, rounds_given)) return *stop;
  if (auto stop = number_option(command, line, "--min-calls", 1, 1000000000L, min_calls_given)) return *stop;
  const auto top = static_cast<std::size_t>(top_given);
  const int rounds = static_cast<int>(rounds_given);
  AdviseLimits limits;
  if (line.has("--min-calls")) limits.min_calls = static_cast<std::uint64_t>(min_calls_given);
  Trace trace;
  try {
    trace = read_trace(file);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "poolkit advise: %s\n", e.what());
    return 1;
  }
  for (const std::string& w : trace.warnings) std::fprintf(stderr, "poolkit advise: warning: %s\n", w.c_str());

  const Timeline timeline = make_timeline(trace);
  std::vector<Advice> advice = advise(timeline, limits);
  std::vector<Row> rows;
  std::size_t measured = 0;
  for (Advice& a : advice) {
    Row row{std::move(a), {}};
    if (row.advice.suggestion != Suggestion::kNone && measured < top) {
      ++measured;
      row.m = measure(replay_script(timeline, row.advice), replay_script(timeline, row.advice, true), row.advice,
                      rounds);
    }
    rows.push_back(std::move(row));
  }
  // Ranked by what the change buys: the ones that help, most time saved first; then
  // the rest by calls.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    if (x.helps() != y.helps()) return x.helps();
    if (x.helps()) return x.saved_ns() > y.saved_ns();
    return false;
  });
  if (rows.size() > top) rows.resize(top);

  std::vector<std::uint32_t> stacks;
  for (const Row& r : rows) stacks.push_back(r.advice.profile.stack);
  TraceSymbols symbols(trace);
  symbols.resolve(stacks, 1);

  std::string program;
  for (const std::string& a : trace.command) program += (program.empty() ? "" : " ") + a;
  std::printf("poolkit advise: %s (%s): %zu call sites, %zu allocations\n", file.c_str(),
              program.empty() ? "?" : program.c_str(), advice.size(), timeline.blocks.size());
  std::printf("each suggestion replays the site's calls through the pool and through malloc, "
              "%d interleaved rounds, medians\n\n", rounds);
  std::printf("%3s  %-26s %-24s %-18s %-18s %9s %10s  %-28s %s\n", "#", "symbol", "file:line", "pattern", "suggestion",
              "calls", "bytes", "time: malloc -> pool", "peak: malloc -> pool");
  int rank = 0;
  for (const Row& r : rows) {
    const Profile& p = r.advice.profile;
    const std::string more = p.sites.size() > 1 ? " +" + std::to_string(p.sites.size() - 1) + " site" +
                                                      (p.sites.size() > 2 ? "s" : "")
                                                : "";
    const std::string symbol = clip(symbol_of(symbols, p.stack), 26 - more.size()) + more;
    std::string time = "-", peak = "-";
    if (r.m.ran) {
      time = format_duration(static_cast<std::uint64_t>(r.m.malloc_ns)) + " -> " +
             format_duration(static_cast<std::uint64_t>(r.m.pool_ns)) + " (" + change(r.m.malloc_ns, r.m.pool_ns) + ")";
      peak = format_bytes(r.m.malloc_peak) + " -> " + format_bytes(r.m.pool_peak) + " (" +
             change(static_cast<double>(r.m.malloc_peak), static_cast<double>(r.m.pool_peak)) + ")";
    }
    std::printf("%3d  %-26s %-24s %-18s %-18s %9" PRIu64 " %10s  %-28s %s\n", ++rank, symbol.c_str(),
                clip(location_of(symbols, p.stack), 24).c_str(), pattern_name(r.advice.pattern),
                suggestion_name(r.advice.suggestion), p.allocations, format_bytes(p.bytes).c_str(), time.c_str(),
                peak.c_str());
  }
  std::printf("\ntime: one pass of the site's calls; peak: the RSS that a replay of the whole program adds, "
              "the site on malloc -> on the pool\n");
  std::printf("\nwhy\n");
  rank = 0;
  for (const Row& r : rows) {
    std::printf("%3d  %s%s\n", ++rank, r.advice.reason.c_str(),
                r.m.ran && !r.helps() ? "; measured: no clear gain, keep malloc" : "");
    if (r.m.fallbacks != 0)
      std::printf("     (%" PRIu64 " allocations did not fit the pool and went to malloc)\n", r.m.fallbacks);
  }
  const bool any = !rows.empty() && rows.front().helps();
  if (!any) {
    std::printf("\nnothing would help: no call site has a pattern a poolkit pool serves measurably better "
                "than malloc (at least %.0f%% faster or %.0f%% less memory)\n",
                kTimeGain * 100, kMemoryGain * 100);
    return 0;
  }
  std::printf("\nthe change, for the sites that gain most\n");
  rank = 0;
  for (const Row& r : rows) {
    ++rank;
    if (!r.helps() || rank > 3) break;
    std::printf("\n#%d %s (%s)\n", rank, symbol_of(symbols, r.advice.profile.stack).c_str(),
                location_of(symbols, r.advice.profile.stack).c_str());
    print_snippet(r, symbol_of(symbols, r.advice.profile.stack));
  }
  return 0;
}
