// tools/report_command.cpp: `poolkit report FILE [-o DIR] [--top N]`: what a person
// wants to see first about a trace: a summary on the terminal and, with -o, a
// Markdown page with charts drawn by gnuplot (PNG). The figures come from
// trace_analysis; the names of call sites from trace_symbols.

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "trace_analysis.hpp"
#include "commands.hpp"
#include "gnuplot.hpp"
#include "help.hpp"
#include "trace_reader.hpp"
#include "trace_symbols.hpp"

namespace fs = std::filesystem;
using namespace poolkit::trace;

namespace {

using poolkit::cli::kUsageError;

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

std::string command_line(const Trace& t) {
  std::string out;
  for (const std::string& a : t.command) out += (out.empty() ? "" : " ") + a;
  return out.empty() ? "?" : out;
}

// A call site: where malloc was called (the innermost return address). Stacks that
// differ further out are summed into it; `stack` is the one of them with most calls,
// shown as its example.
struct Site {
  std::uint32_t stack;
  SiteFigures figures;
};

void add(SiteFigures& to, const SiteFigures& from) {
  to.allocated.calls += from.allocated.calls;
  to.allocated.bytes += from.allocated.bytes;
  to.temporary += from.temporary;
  to.leaked_blocks += from.leaked_blocks;
  to.leaked_bytes += from.leaked_bytes;
}

std::vector<Site> top_sites(const Trace& t, const Analysis& a, std::size_t top, bool by_leaks) {
  std::map<std::uint64_t, Site> merged;
  for (const auto& [id, f] : a.by_site) {
    if (by_leaks && f.leaked_blocks == 0) continue;
    const auto stack = t.stacks.find(id);
    // Leaks keep whole stacks apart (who holds the memory matters); the rest merge by caller.
    const std::uint64_t key = by_leaks || stack == t.stacks.end() ? id : stack->second.front();
    auto [it, fresh] = merged.try_emplace(key, Site{id, {}});
    const std::uint64_t example = by_leaks ? it->second.figures.leaked_bytes : it->second.figures.allocated.calls;
    if (!fresh && (by_leaks ? f.leaked_bytes : f.allocated.calls) > example) it->second.stack = id;
    add(it->second.figures, f);
  }
  std::vector<Site> sites;
  for (auto& [key, site] : merged) sites.push_back(site);
  std::sort(sites.begin(), sites.end(), [&](const Site& x, const Site& y) {
    if (by_leaks) return x.figures.leaked_bytes > y.figures.leaked_bytes;
    return x.figures.allocated.calls > y.figures.allocated.calls;
  });
  if (sites.size() > top) sites.resize(top);
  return sites;
}

void print_terminal(const Trace& t, const Analysis& a, TraceSymbols& symbols, std::size_t top) {
  std::printf("poolkit report: %s\n", t.path.c_str());
  std::printf("  program      %s (pid %u), %zu thread%s, %s traced\n", command_line(t).c_str(), t.pid,
              t.threads.size(), t.threads.size() == 1 ? "" : "s", format_duration(a.end_time).c_str());
  std::printf("  calls        %" PRIu64 " allocations (%" PRIu64 " realloc), %" PRIu64 " frees, %" PRIu64
              " failed\n",
              a.allocations, a.reallocs, a.releases, a.failed);
  std::printf("  bytes        %s allocated in all\n", format_bytes(a.bytes_allocated).c_str());
  std::printf("  peak live    %s in %" PRIu64 " blocks, at %s\n", format_bytes(a.peak_live_bytes).c_str(),
              a.peak_live_blocks, format_duration(a.peak_time).c_str());
  std::printf("  temporary    %" PRIu64 " (%s of allocations: freed by the next call of their thread)\n",
              a.temporary, percent(a.temporary, a.allocations).c_str());
  std::printf("  never freed  %s in %" PRIu64 " blocks\n", format_bytes(a.leaked_bytes).c_str(), a.leaked_blocks);
  if (a.unknown_releases != 0)
    std::printf("  (%" PRIu64 " frees of blocks allocated before tracing started)\n", a.unknown_releases);

  std::printf("\nby size class           calls         bytes\n");
  for (const Bin& b : a.by_size)
    std::printf("  %-18s %10" PRIu64 " %13s\n", b.label.c_str(), b.counts.calls, format_bytes(b.counts.bytes).c_str());

  std::printf("\nby call site (top %zu by calls)\n      calls         bytes  temporary  site\n", top);
  for (const Site& s : top_sites(t, a, top, false))
    std::printf("  %9" PRIu64 " %13s %10" PRIu64 "  %s\n", s.figures.allocated.calls,
                format_bytes(s.figures.allocated.bytes).c_str(), s.figures.temporary, symbols.site(s.stack).c_str());

  std::printf("\nby thread     calls         bytes      frees  (of another thread's blocks)\n");
  for (const auto& [id, f] : a.by_thread)
    std::printf("  #%-4u %11" PRIu64 " %13s %10" PRIu64 "  %" PRIu64 "\n", id, f.allocated.calls,
                format_bytes(f.allocated.bytes).c_str(), f.releases, f.cross_thread_releases);

  std::printf("\nlifetimes of freed blocks\n  in time                  in allocations made meanwhile\n");
  for (std::size_t i = 0; i < std::max(a.lifetime_time.size(), a.lifetime_calls.size()); ++i) {
    char left[64] = "", right[64] = "";
    if (i < a.lifetime_time.size())
      std::snprintf(left, sizeof left, "%-10s %10" PRIu64, a.lifetime_time[i].label.c_str(), a.lifetime_time[i].counts.calls);
    if (i < a.lifetime_calls.size())
      std::snprintf(right, sizeof right, "%-14s %10" PRIu64, a.lifetime_calls[i].label.c_str(),
                    a.lifetime_calls[i].counts.calls);
    std::printf("  %-24s %s\n", left, right);
  }

  const auto leaks = top_sites(t, a, top, true);
  if (!leaks.empty()) {
    std::printf("\nnever freed, by call site\n     blocks         bytes  site\n");
    for (const Site& s : leaks)
      std::printf("  %9" PRIu64 " %13s  %s\n", s.figures.leaked_blocks, format_bytes(s.figures.leaked_bytes).c_str(),
                  symbols.site(s.stack).c_str());
  }
  for (const std::string& w : t.warnings) std::printf("\nwarning: %s\n", w.c_str());
}

// ---- the page -----------------------------------------------------------------------

std::string markdown_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '<' || c == '>' || c == '*' || c == '_') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string stack_cell(TraceSymbols& symbols, std::uint32_t stack) {
  const auto frames = symbols.frames(stack, 3);
  if (frames.empty()) return "&lt;unknown call site&gt;";
  std::string out;
  for (const FrameName& f : frames) out += (out.empty() ? "" : "<br>") + markdown_escape(f.text());
  return out;
}

void write_bins(const fs::path& file, const std::vector<Bin>& bins) {
  std::ofstream out(file);
  for (std::size_t i = 0; i < bins.size(); ++i)
    out << i << " \"" << bins[i].label << "\" " << bins[i].counts.calls << " " << bins[i].counts.bytes << "\n";
}

// Writes the data files and the gnuplot script; true if the charts were drawn.
bool draw_charts(const fs::path& dir, const Analysis& a, const std::vector<Site>& sites) {
  const fs::path data = dir / "data";
  fs::create_directories(data);
  {
    std::ofstream out(data / "live.dat");
    for (const auto& p : a.timeline)
      out << static_cast<double>(p.time) / 1e9 << " " << static_cast<double>(p.live_bytes) / 1024.0 << "\n";
  }
  write_bins(data / "sizes.dat", a.by_size);
  write_bins(data / "lifetime_time.dat", a.lifetime_time);
  write_bins(data / "lifetime_calls.dat", a.lifetime_calls);
  {
    std::ofstream out(data / "threads.dat");
    std::size_t i = 0;
    for (const auto& [id, f] : a.by_thread) out << i++ << " \"#" << id << "\" " << f.allocated.calls << " " << f.allocated.bytes << "\n";
  }
  {
    std::ofstream out(data / "sites.dat");
    for (std::size_t i = 0; i < sites.size(); ++i)
      out << i << " \"#" << i + 1 << "\" " << sites[i].figures.allocated.calls << " " << sites[i].figures.allocated.bytes << "\n";
  }
  const fs::path script = data / "charts.gp";
  {
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 900,420 font 'sans,10'\n"
          "cd '" << data.string() << "'\n"
          "set grid ytics\nset key off\n"
          "set output '../live_bytes.png'\n"
          "set title 'live bytes over time (KiB)'\nset xlabel 'seconds'\n"
          "plot 'live.dat' using 1:2 with steps lw 2 lc rgb '#1f77b4'\n"
          "unset xlabel\n"
          "set style fill solid 0.8\nset boxwidth 0.7\nset xtics rotate by -35\nset yrange [0:*]\n"
          "set output '../size_classes.png'\n"
          "set title 'allocations by size class'\n"
          "plot 'sizes.dat' using 1:3:xtic(2) with boxes lc rgb '#ff7f0e'\n"
          "set output '../lifetimes.png'\n"
          "set multiplot layout 1,2\n"
          "set title 'lifetime of freed blocks (time)'\n"
          "plot 'lifetime_time.dat' using 1:3:xtic(2) with boxes lc rgb '#2ca02c'\n"
          "set title 'lifetime (allocations made meanwhile)'\n"
          "plot 'lifetime_calls.dat' using 1:3:xtic(2) with boxes lc rgb '#9467bd'\n"
          "unset multiplot\n"
          "set output '../threads.png'\n"
          "set title 'allocations by thread'\n"
          "plot 'threads.dat' using 1:3:xtic(2) with boxes lc rgb '#8c564b'\n"
          "set output '../call_sites.png'\n"
          "set title 'allocations by call site (numbered as in the table)'\n"
          "plot 'sites.dat' using 1:3:xtic(2) with boxes lc rgb '#d62728'\n";
  }
  return poolkit::cli::run_gnuplot(script);
}

void write_page(const fs::path& dir, const Trace& t, const Analysis& a, TraceSymbols& symbols, std::size_t top,
                bool charts) {
  std::ofstream md(dir / "report.md");
  md << "# poolkit report: `" << command_line(t) << "`\n\n"
     << "Trace `" << t.path << "` (pid " << t.pid << ", " << t.threads.size() << (t.threads.size() == 1 ? " thread, " : " threads, ")
     << format_duration(a.end_time) << " traced).\n\n"
     << "| figure | value |\n| --- | --- |\n"
     << "| allocations | " << a.allocations << " (" << a.reallocs << " realloc) |\n"
     << "| frees | " << a.releases << " |\n"
     << "| failed allocations | " << a.failed << " |\n"
     << "| bytes allocated | " << format_bytes(a.bytes_allocated) << " |\n"
     << "| peak live bytes | " << format_bytes(a.peak_live_bytes) << " (" << a.peak_live_bytes << " B) in "
     << a.peak_live_blocks << " blocks, at " << format_duration(a.peak_time) << " |\n"
     << "| temporary allocations | " << a.temporary << " (" << percent(a.temporary, a.allocations)
     << ", freed by the next call of their thread) |\n"
     << "| never freed | " << format_bytes(a.leaked_bytes) << " in " << a.leaked_blocks << " blocks |\n\n";
  for (const std::string& w : t.warnings) md << "> warning: " << markdown_escape(w) << "\n\n";
  if (charts) md << "## Live bytes over time\n\n![live bytes](live_bytes.png)\n\n";
  md << "## By size class\n\n";
  if (charts) md << "![size classes](size_classes.png)\n\n";
  md << "| size | calls | bytes |\n| --- | ---: | ---: |\n";
  for (const Bin& b : a.by_size) md << "| " << b.label << " | " << b.counts.calls << " | " << format_bytes(b.counts.bytes) << " |\n";
  md << "\n## By call site (top " << top << " by calls)\n\n";
  if (charts) md << "![call sites](call_sites.png)\n\n";
  md << "| # | calls | bytes | temporary | call stack |\n| ---: | ---: | ---: | ---: | --- |\n";
  int rank = 0;
  for (const Site& s : top_sites(t, a, top, false))
    md << "| " << ++rank << " | " << s.figures.allocated.calls << " | " << format_bytes(s.figures.allocated.bytes) << " | "
       << s.figures.temporary << " | " << stack_cell(symbols, s.stack) << " |\n";
  md << "\n## By thread\n\n";
  if (charts) md << "![threads](threads.png)\n\n";
  md << "| thread | calls | bytes | frees | of another thread's blocks |\n| --- | ---: | ---: | ---: | ---: |\n";
  for (const auto& [id, f] : a.by_thread)
    md << "| #" << id << " | " << f.allocated.calls << " | " << format_bytes(f.allocated.bytes) << " | " << f.releases
       << " | " << f.cross_thread_releases << " |\n";
  md << "\n## Lifetimes of freed blocks\n\n";
  if (charts) md << "![lifetimes](lifetimes.png)\n\n";
  md << "| lived | blocks |\n| --- | ---: |\n";
  for (const Bin& b : a.lifetime_time) md << "| " << b.label << " | " << b.counts.calls << " |\n";
  md << "\n| allocations made meanwhile | blocks |\n| --- | ---: |\n";
  for (const Bin& b : a.lifetime_calls) md << "| " << b.label << " | " << b.counts.calls << " |\n";
  md << "\n## Never freed, by call site\n\n";
  const auto leaks = top_sites(t, a, top, true);
  if (leaks.empty()) {
    md << "Every block was freed.\n";
  } else {
    md << "| blocks | bytes | call stack |\n| ---: | ---: | --- |\n";
    for (const Site& s : leaks)
      md << "| " << s.figures.leaked_blocks << " | " << format_bytes(s.figures.leaked_bytes) << " | "
         << stack_cell(symbols, s.stack) << " |\n";
  }
}

}  // namespace

int report_command(int argc, char** argv) {
  using namespace poolkit::cli;
  const Command& command = *find_command("report");
  ParsedLine line;
  if (auto stop = parse_command_line(command, argc, argv, OperandStyle::kFiles, line)) return *stop;
  std::string file, dir;
  if (auto stop = take_trace_file(command, line, file)) return *stop;
  if (const std::string* d = line.value("--output")) dir = *d;
  long top_given = 10;
  if (auto stop = number_option(command, line, "--top", 1, 1000000, top_given)) return *stop;
  const auto top = static_cast<std::size_t>(top_given);
  Trace trace;
  try {
    trace = read_trace(file);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "poolkit report: %s\n", e.what());
    return 1;
  }
  const Analysis analysis = analyze(trace);
  TraceSymbols symbols(trace);
  {
    std::vector<std::uint32_t> wanted;
    for (const Site& s : top_sites(trace, analysis, top, false)) wanted.push_back(s.stack);
    for (const Site& s : top_sites(trace, analysis, top, true)) wanted.push_back(s.stack);
    symbols.resolve(wanted, dir.empty() ? 1 : 3);
  }
  print_terminal(trace, analysis, symbols, top);
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "poolkit report: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
      return 1;
    }
    const bool charts = draw_charts(dir, analysis, top_sites(trace, analysis, top, false));
    if (!charts) std::fputs("poolkit report: gnuplot failed or is missing: the page has no charts\n", stderr);
    write_page(dir, trace, analysis, symbols, top, charts);
    std::printf("\nwrote %s\n", (fs::path(dir) / "report.md").c_str());
  }
  return 0;
}
