// tools/heapmap_command.cpp: `poolkit heapmap FILE [--at TIME|--peak] [-o map.png]
// [--timeline]`: the traced program's heap at one moment as a picture: its pages as
// rows of cells, each coloured by how full of live bytes it is, the free gaps white,
// with the fragmentation figure; or, with --timeline, live bytes and pages in use over
// time. PNG by gnuplot, as `poolkit report` draws; without -o, a text picture.
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "commands.hpp"
#include "gnuplot.hpp"
#include "help.hpp"
#include "trace_analysis.hpp"
#include "trace_reader.hpp"
#include "trace_timeline.hpp"

namespace fs = std::filesystem;
using namespace poolkit::trace;

namespace {

using poolkit::cli::kUsageError;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kColumns = 64;
constexpr std::uint64_t kMaxRows = 256;
constexpr std::uint64_t kJoinGap = 16;  // pages: a larger unused gap starts a new segment

// Adds `sign * bytes` of the block to the live bytes of each page it covers.
template <class Fn>
void for_pages(const BlockInfo& b, Fn fn) {
  const std::uint64_t size = std::max<std::uint64_t>(b.size, 1);
  for (std::uint64_t at = b.address; at < b.address + size;) {
    const std::uint64_t page = at / kPage;
    const std::uint64_t upto = std::min(b.address + size, (page + 1) * kPage);
    fn(page, upto - at);
    at = upto;
  }
}

// "12.5ms", "3s", "150us", "900ns", or seconds. False when it is none of those.
bool parse_time(std::string_view text, std::uint64_t& ns) {
  char* end = nullptr;
  const std::string s(text);
  const double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !(value >= 0)) return false;
  const std::string unit(end);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e9;
  if (unit == "ms") scale = 1e6;
  if (unit == "us") scale = 1e3;
  if (unit == "ns") scale = 1;
  if (scale == 0) return false;
  ns = static_cast<std::uint64_t>(value * scale);
  return true;
}

struct Moment {
  std::size_t ops = 0;  // ops [0, ops) have happened
  std::uint64_t time = 0;
  std::string label;
};

// The moment of the highest live bytes (its first reaching).
Moment peak_moment(const Timeline& t) {
  std::uint64_t live = 0, best = 0;
  Moment m{0, 0, "the peak of live bytes"};
  for (std::size_t i = 0; i < t.ops.size(); ++i) {
    const BlockInfo& b = t.blocks[t.ops[i].block];
    live = t.ops[i].release ? live - b.size : live + b.size;
    if (live > best) {
      best = live;
      m.ops = i + 1;
      m.time = t.ops[i].time;
    }
  }
  return m;
}

struct Picture {
  struct Page {
    std::uint64_t live = 0;
    bool held = false;  // a block has lived here by then
  };
  std::map<std::uint64_t, Page> pages;
  std::uint64_t live_bytes = 0, live_blocks = 0;
};

Picture picture_at(const Timeline& t, std::size_t ops) {
  Picture p;
  for (std::size_t i = 0; i < ops; ++i) {
    const BlockInfo& b = t.blocks[t.ops[i].block];
    const bool release = t.ops[i].release;
    for_pages(b, [&](std::uint64_t page, std::uint64_t bytes) {
      Picture::Page& pg = p.pages[page];
      pg.held = true;
      pg.live = release ? pg.live - bytes : pg.live + bytes;
    });
    p.live_bytes = release ? p.live_bytes - b.size : p.live_bytes + b.size;
    p.live_blocks = release ? p.live_blocks - 1 : p.live_blocks + 1;
  }
  return p;
}

struct Figures {
  std::uint64_t in_use = 0;   // pages with live bytes
  std::uint64_t empty = 0;    // held pages without
  std::uint64_t gaps = 0;     // runs of empty held pages
  double fragmentation = 0;   // bytes of pages in use / live bytes
};

Figures figures_of(const Picture& p) {
  Figures f;
  std::uint64_t previous = 0;
  bool in_gap = false;
  for (const auto& [page, pg] : p.pages) {
    if (page != previous + 1) in_gap = false;
    if (pg.live > 0) {
      ++f.in_use;
      in_gap = false;
    } else {
      ++f.empty;
      if (!in_gap) ++f.gaps;
      in_gap = true;
    }
    previous = page;
  }
  f.fragmentation = p.live_bytes == 0 ? 0.0 : static_cast<double>(f.in_use * kPage) / static_cast<double>(p.live_bytes);
  return f;
}

// Rows of cells: -1 never used, 0 held but free, (0, 1] fullness, NaN past a row's end.
struct Grid {
  std::vector<std::vector<double>> rows;
  std::vector<std::pair<std::size_t, std::uint64_t>> labels;  // row, address
  std::uint64_t pages_per_cell = 1;
};

Grid grid_of(const Picture& p) {
  // Segments: runs of held pages with small unused gaps between them.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> segments;  // first page, last page
  for (const auto& [page, pg] : p.pages) {
    if (!segments.empty() && page - segments.back().second <= kJoinGap)
      segments.back().second = page;
    else
      segments.push_back({page, page});
  }
  Grid g;
  for (;;) {
    std::uint64_t rows = 0;
    for (const auto& [first, last] : segments)
      rows += ((last - first) / g.pages_per_cell + kColumns) / kColumns + 1;
    if (rows <= kMaxRows || g.pages_per_cell >= (1u << 20)) break;
    g.pages_per_cell *= 2;
  }
  for (const auto& [first, last] : segments) {
    if (!g.rows.empty()) g.rows.push_back(std::vector<double>(kColumns, NAN));  // separator
    g.labels.push_back({g.rows.size(), first * kPage});
    const std::uint64_t cells = (last - first) / g.pages_per_cell + 1;
    for (std::uint64_t c = 0; c < cells; ++c) {
      if (c % kColumns == 0) g.rows.push_back(std::vector<double>(kColumns, NAN));
      std::uint64_t live = 0;
      bool held = false;
      for (std::uint64_t k = 0; k < g.pages_per_cell; ++k) {
        auto it = p.pages.find(first + c * g.pages_per_cell + k);
        if (it == p.pages.end()) continue;
        held = true;
        live += it->second.live;
      }
      const double full = std::min(1.0, static_cast<double>(live) / static_cast<double>(kPage * g.pages_per_cell));
      g.rows.back()[c % kColumns] = !held ? -1.0 : live == 0 ? 0.0 : std::max(full, 0.01);
    }
  }
  return g;
}

std::string hex(std::uint64_t a) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%" PRIx64, a);
  return text;
}

void print_text(const Grid& g, std::FILE* out) {
  std::fprintf(out, "one character = %" PRIu64 " page%s of 4 KiB: '#' full of live bytes  '+' over half  '-' some  "
               "'.' free (held a block before)  ' ' never used\n",
               g.pages_per_cell, g.pages_per_cell == 1 ? "" : "s");
  std::size_t label = 0;
  for (std::size_t r = 0; r < g.rows.size(); ++r) {
    std::string line;
    for (double v : g.rows[r]) {
      if (std::isnan(v)) break;
      line.push_back(v < 0 ? ' ' : v == 0 ? '.' : v >= 1.0 ? '#' : v > 0.5 ? '+' : '-');
    }
    std::string prefix(18, ' ');
    if (label < g.labels.size() && g.labels[label].first == r) prefix = hex(g.labels[label++].second) + "  ";
    prefix.resize(18, ' ');
    std::fprintf(out, "%s%s\n", prefix.c_str(), line.c_str());
  }
}

bool draw_map(const fs::path& png, const Grid& g, const std::string& title) {
  const fs::path dir = fs::temp_directory_path() / ("poolkit-heapmap." + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream data(dir / "map.dat");
    for (const auto& row : g.rows) {
      for (std::size_t c = 0; c < row.size(); ++c) data << (c ? " " : "") << (std::isnan(row[c]) ? std::string("NaN") : std::to_string(row[c]));
      data << "\n";
    }
  }
  const std::size_t rows = g.rows.size();
  const int height = static_cast<int>(std::clamp<std::size_t>(rows * 12 + 200, 320, 3200));
  {
    std::ofstream gp(dir / "map.gp");
    gp << "set terminal pngcairo size 1000," << height << " font 'sans,10'\n"
       << "set output '" << fs::absolute(png).string() << "'\n"
       << "set title \"" << title << "\" noenhanced\n"
       << "set xrange [-0.5:" << kColumns - 0.5 << "]\nset yrange [" << rows - 0.5 << ":-0.5]\n"
       << "set xlabel 'cell in the row (" << g.pages_per_cell << " page" << (g.pages_per_cell == 1 ? "" : "s")
       << " of 4 KiB each)'\n"
       << "set cbrange [-1:1]\nset cbtics ('never used' -1, 'free' 0, 'half full' 0.5, 'full' 1)\n"
       << "set cblabel 'live bytes in the cell'\n"
       << "set palette defined (-1 '#d9d9d9', -0.02 '#d9d9d9', -0.01 '#6baed6', 0 '#6baed6', 0.01 '#ffffb2', "
          "0.5 '#fd8d3c', 1 '#800026')\n"
       << "unset key\nset ytics (";
    std::size_t step = std::max<std::size_t>(1, g.labels.size() / 40);
    for (std::size_t i = 0; i < g.labels.size(); i += step)
      gp << (i ? ", " : "") << "'" << hex(g.labels[i].second) << "' " << g.labels[i].first;
    gp << ")\nset ytics font 'mono,8'\n"
       << "plot '" << (dir / "map.dat").string() << "' matrix with image\n";
  }
  const bool ok = poolkit::cli::run_gnuplot(dir / "map.gp");
  if (ok) fs::remove_all(dir);
  else std::fprintf(stderr, "poolkit heapmap: gnuplot failed; its script and log are in %s\n", dir.c_str());
  return ok;
}

bool draw_timeline(const fs::path& png, const Timeline& t, const std::string& title) {
  const fs::path dir = fs::temp_directory_path() / ("poolkit-heapmap." + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream data(dir / "timeline.dat");
    std::unordered_map<std::uint64_t, std::uint64_t> pages;
    std::uint64_t live = 0, in_use = 0, span_live = 0, span_pages = 0, span_start = 0;
    const std::uint64_t end = t.ops.empty() ? 0 : t.ops.back().time;
    const std::uint64_t span = end / 1000 + 1;
    bool open = false;
    for (const TimedOp& op : t.ops) {
      const BlockInfo& b = t.blocks[op.block];
      for_pages(b, [&](std::uint64_t page, std::uint64_t bytes) {
        std::uint64_t& v = pages[page];
        if (op.release) {
          v -= bytes;
          if (v == 0) --in_use;
        } else {
          if (v == 0) ++in_use;
          v += bytes;
        }
      });
      live = op.release ? live - b.size : live + b.size;
      const std::uint64_t start = op.time / span * span;
      if (open && start != span_start) {
        data << static_cast<double>(span_start) / 1e9 << " " << static_cast<double>(span_live) / 1024.0 << " "
             << span_pages << "\n";
        span_live = span_pages = 0;
      }
      open = true;
      span_start = start;
      span_live = std::max(span_live, live);
      span_pages = std::max(span_pages, in_use);
    }
    if (open)
      data << static_cast<double>(span_start) / 1e9 << " " << static_cast<double>(span_live) / 1024.0 << " "
           << span_pages << "\n";
  }
  {
    std::ofstream gp(dir / "timeline.gp");
    gp << "set terminal pngcairo size 1000,450 font 'sans,10'\n"
       << "set output '" << fs::absolute(png).string() << "'\n"
       << "set title \"" << title << "\" noenhanced\n"
       << "set xlabel 'seconds'\nset ylabel 'live KiB'\nset y2label 'pages in use (4 KiB)'\n"
       << "set ytics nomirror\nset y2tics\nset yrange [0:*]\nset y2range [0:*]\nset grid ytics\nset key top left\n"
       << "plot '" << (dir / "timeline.dat").string() << "' using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'live bytes (KiB)', "
       << "'' using 1:3 axes x1y2 with steps lw 2 lc rgb '#d62728' title 'pages in use'\n";
  }
  const bool ok = poolkit::cli::run_gnuplot(dir / "timeline.gp");
  if (ok) fs::remove_all(dir);
  else std::fprintf(stderr, "poolkit heapmap: gnuplot failed; its script and log are in %s\n", dir.c_str());
  return ok;
}

}  // namespace

int heapmap_command(int argc, char** argv) {
  using namespace poolkit::cli;
  const Command& command = *find_command("heapmap");
  ParsedLine line;
  if (auto stop = parse_command_line(command, argc, argv, OperandStyle::kFiles, line)) return *stop;
  std::string file;
  if (auto stop = take_trace_file(command, line, file)) return *stop;
  const std::string output = line.has("--output") ? *line.value("--output") : "";
  const std::string at_text = line.has("--at") ? *line.value("--at") : "";
  const bool peak = line.has("--peak"), timeline = line.has("--timeline");
  if (peak && !at_text.empty()) {
    std::fputs("poolkit heapmap: --at and --peak name two moments; give one\n", stderr);
    return kUsageError;
  }
  std::uint64_t at = 0;
  if (!at_text.empty() && !parse_time(at_text, at)) {
    std::fprintf(stderr, "poolkit heapmap: --at %s: not a time (e.g. 2.5s, 120ms, 300us, 900ns)\n", at_text.c_str());
    return kUsageError;
  }
  if (timeline && output.empty()) {
    std::fputs("poolkit heapmap: --timeline draws a chart: give -o FILE.png\n", stderr);
    return kUsageError;
  }
  Trace trace;
  try {
    trace = read_trace(file);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "poolkit heapmap: %s\n", e.what());
    return 1;
  }
  for (const std::string& w : trace.warnings) std::fprintf(stderr, "poolkit heapmap: warning: %s\n", w.c_str());
  const Timeline t = make_timeline(trace);
  const std::uint64_t end = t.ops.empty() ? 0 : t.ops.back().time;

  if (timeline) {
    if (!draw_timeline(output, t, "poolkit heapmap --timeline: " + file)) return 1;
    std::printf("poolkit heapmap: wrote %s (live bytes and pages in use over %s)\n", output.c_str(),
                format_duration(end).c_str());
    return 0;
  }
  Moment m;
  if (!at_text.empty()) {
    m.time = std::min(at, end);
    m.ops = static_cast<std::size_t>(std::upper_bound(t.ops.begin(), t.ops.end(), m.time,
                                                      [](std::uint64_t v, const TimedOp& op) { return v < op.time; }) -
                                     t.ops.begin());
    m.label = at > end ? "the end (--at is past it)" : "--at " + at_text;
  } else {
    m = peak_moment(t);  // the default: where memory matters most
  }
  const Picture p = picture_at(t, m.ops);
  const Figures f = figures_of(p);
  const Grid g = grid_of(p);
  char summary[512];
  auto s = [](std::uint64_t n) { return n == 1 ? "" : "s"; };
  std::snprintf(summary, sizeof summary,
                "at %s (%s): %s live in %" PRIu64 " block%s on %" PRIu64 " page%s; %" PRIu64
                " page%s held but free, in %" PRIu64 " gap%s; fragmentation %.2fx (pages in use / live bytes)",
                format_duration(m.time).c_str(), m.label.c_str(), format_bytes(p.live_bytes).c_str(), p.live_blocks,
                s(p.live_blocks), f.in_use, s(f.in_use), f.empty, s(f.empty), f.gaps, s(f.gaps), f.fragmentation);
  std::printf("poolkit heapmap: %s\n  %s\n", file.c_str(), summary);
  if (output.empty()) {
    print_text(g, stdout);
    return 0;
  }
  const std::string program = trace.command.empty() ? file : fs::path(trace.command.front()).filename().string();
  std::string title = "heap of " + program + "\\n" + summary;  // gnuplot breaks lines at \n
  title.replace(title.find("; "), 2, "\\n");
  if (!draw_map(output, g, title)) return 1;
  std::printf("poolkit heapmap: wrote %s (%zu rows of %" PRIu64 " cells, %" PRIu64 " page%s a cell)\n", output.c_str(),
              g.rows.size(), kColumns, g.pages_per_cell, g.pages_per_cell == 1 ? "" : "s");
  return 0;
}
