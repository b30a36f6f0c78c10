// tools/trace_analysis.cpp: one pass over a trace's calls (trace_analysis.hpp).
#include "trace_analysis.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <unordered_map>

namespace poolkit::trace {

namespace {

// A block or a release in time order. realloc is split: its old block goes at the
// time before the call, its new one exists at the time after.
struct Op {
  std::uint64_t time;
  std::uint32_t event;
  bool release;
};

struct Live {
  std::uint64_t size;
  std::uint64_t time;
  std::uint64_t seq;  // allocations made before it
  std::uint32_t stack;
  std::uint32_t thread;
};

struct LastCall {
  bool allocation = false;
  std::uint64_t ptr = 0;
};

std::string size_label(int cls) {
  if (cls == 0) return "0 B";
  if (cls <= 3) return "1-8 B";
  if (cls >= 64) return "> " + format_bytes(std::uint64_t{1} << 63);  // a damaged file's size
  return "<= " + format_bytes(std::uint64_t{1} << cls);
}

// Decades: "< 1 us", "1-10 us", ... for times; "0", "1-9", "10-99", ... for counts.
int decade(std::uint64_t v) {
  int d = 0;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char text[32];
  if (u == 0 || v >= 100 || v == static_cast<double>(static_cast<std::uint64_t>(v)))
    std::snprintf(text, sizeof text, "%.0f %s", v, units[u]);
  else
    std::snprintf(text, sizeof text, "%.1f %s", v, units[u]);
  return text;
}

std::string format_duration(std::uint64_t ns) {
  char text[32];
  if (ns < 1000)
    std::snprintf(text, sizeof text, "%ju ns", static_cast<std::uintmax_t>(ns));
  else if (ns < 1'000'000)
    std::snprintf(text, sizeof text, "%.1f us", static_cast<double>(ns) / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(ns) / 1e6);
  else
    std::snprintf(text, sizeof text, "%.2f s", static_cast<double>(ns) / 1e9);
  return text;
}

Analysis analyze(const Trace& trace) {
  Analysis a;
  std::vector<Op> ops;
  ops.reserve(trace.events.size() + trace.events.size() / 8);
  for (std::uint32_t i = 0; i < trace.events.size(); ++i) {
    const Event& e = trace.events[i];
    if (is_release(e.call)) {
      ops.push_back({e.time, i, true});
    } else if (is_realloc(e.call)) {
      ++a.reallocs;
      if (e.old_ptr != 0 && (e.ptr != 0 || e.size == 0)) ops.push_back({e.time_before, i, true});
      if (e.ptr != 0) ops.push_back({e.time, i, false});
      if (e.ptr == 0 && e.size != 0) ++a.failed;
    } else if (e.ptr != 0) {
      ops.push_back({e.time, i, false});
    } else {
      ++a.failed;
    }
  }
  std::stable_sort(ops.begin(), ops.end(), [](const Op& x, const Op& y) { return x.time < y.time; });

  std::unordered_map<std::uint64_t, Live> live;
  std::unordered_map<std::uint32_t, LastCall> last;
  std::array<Counts, 65> sizes{};
  std::array<Counts, 20> life_time{}, life_calls{};
  std::vector<Analysis::Point> points;
  points.reserve(ops.size());
  std::uint64_t live_bytes = 0;
  for (const Op& op : ops) {
    const Event& e = trace.events[op.event];
    ThreadFigures& thread = a.by_thread[e.thread];
    LastCall& previous = last[e.thread];
    if (op.release) {
      const std::uint64_t ptr = is_realloc(e.call) ? e.old_ptr : e.ptr;
      auto it = live.find(ptr);
      if (it == live.end()) {
        ++a.unknown_releases;
      } else {
        const Live& b = it->second;
        ++a.releases;
        ++thread.releases;
        if (b.thread != e.thread) ++thread.cross_thread_releases;
        if (previous.allocation && previous.ptr == ptr) {
          ++a.temporary;
          ++a.by_site[b.stack].temporary;
        }
        const std::uint64_t lived = op.time > b.time ? op.time - b.time : 0;
        const int td = std::min(decade(lived / 1000), 19);  // from 1 us
        const int cd = std::min(decade(a.allocations - b.seq - 1), 19);
        ++life_time[static_cast<std::size_t>(lived < 1000 ? 0 : td + 1)].calls;
        life_time[static_cast<std::size_t>(lived < 1000 ? 0 : td + 1)].bytes += b.size;
        const std::uint64_t between = a.allocations - b.seq - 1;
        ++life_calls[static_cast<std::size_t>(between == 0 ? 0 : cd + 1)].calls;
        life_calls[static_cast<std::size_t>(between == 0 ? 0 : cd + 1)].bytes += b.size;
        live_bytes -= b.size;
        live.erase(it);
      }
      previous = LastCall{false, 0};
    } else {
      auto [it, fresh] = live.try_emplace(e.ptr, Live{e.size, op.time, a.allocations, e.stack, e.thread});
      if (!fresh) {  // its release was not seen (a call the trace missed): replace it
        live_bytes -= it->second.size;
        it->second = Live{e.size, op.time, a.allocations, e.stack, e.thread};
      }
      ++a.allocations;
      a.bytes_allocated += e.size;
      live_bytes += e.size;
      const int cls = e.size == 0 ? 0 : std::max(3, static_cast<int>(std::bit_width(e.size - 1)));
      ++sizes[static_cast<std::size_t>(cls)].calls;
      sizes[static_cast<std::size_t>(cls)].bytes += e.size;
      SiteFigures& site = a.by_site[e.stack];
      ++site.allocated.calls;
      site.allocated.bytes += e.size;
      ++thread.allocated.calls;
      thread.allocated.bytes += e.size;
      if (live_bytes > a.peak_live_bytes) {
        a.peak_live_bytes = live_bytes;
        a.peak_live_blocks = live.size();
        a.peak_time = op.time;
      }
      previous = LastCall{true, e.ptr};
    }
    points.push_back({op.time, live_bytes});
  }
  a.end_time = ops.empty() ? 0 : ops.back().time;
  for (const auto& [ptr, b] : live) {
    ++a.leaked_blocks;
    a.leaked_bytes += b.size;
    ++a.by_site[b.stack].leaked_blocks;
    a.by_site[b.stack].leaked_bytes += b.size;
  }
  for (int cls = 0; cls < 65; ++cls) {
    if (sizes[static_cast<std::size_t>(cls)].calls != 0)
      a.by_size.push_back({size_label(cls), sizes[static_cast<std::size_t>(cls)]});
  }
  const char* time_labels[] = {"< 1 us", "1-10 us", "10-100 us", "0.1-1 ms", "1-10 ms", "10-100 ms", "0.1-1 s",
                               "1-10 s", "10-100 s", ">= 100 s"};
  for (std::size_t d = 0; d < life_time.size(); ++d) {
    if (life_time[d].calls == 0) continue;
    a.lifetime_time.push_back({time_labels[std::min<std::size_t>(d, 9)], life_time[d]});
  }
  for (std::size_t d = 0; d < life_calls.size(); ++d) {
    if (life_calls[d].calls == 0) continue;
    std::string label = "0";
    if (d > 0) {
      std::uint64_t lo = 1;
      for (std::size_t k = 1; k < d; ++k) lo *= 10;
      label = std::to_string(lo) + "-" + std::to_string(lo * 10 - 1);
    }
    a.lifetime_calls.push_back({label, life_calls[d]});
  }
  // The timeline, at most 1000 spans, each showing its highest point (so the peak shows).
  constexpr std::size_t kPoints = 1000;
  if (points.size() <= kPoints) {
    a.timeline = std::move(points);
  } else {
    const std::uint64_t span = a.end_time / kPoints + 1;
    for (const auto& p : points) {
      const std::uint64_t start = p.time / span * span;
      if (a.timeline.empty() || a.timeline.back().time != start)
        a.timeline.push_back({start, p.live_bytes});
      else
        a.timeline.back().live_bytes = std::max(a.timeline.back().live_bytes, p.live_bytes);
    }
  }
  return a;
}

}  // namespace poolkit::trace
