// tools/trace_analysis.hpp: the figures `poolkit report` shows, computed from a Trace
// in one pass over its calls in time order: counts and bytes by size class, call site
// and thread; live bytes over time and their peak; lifetimes; temporary allocations
// (heaptrack's definition: freed by the very next call of the same thread); blocks
// never freed, by call site. Presentation is elsewhere (report_command.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trace_reader.hpp"

namespace poolkit::trace {

struct Counts {
  std::uint64_t calls = 0;  // allocations (realloc counts as one)
  std::uint64_t bytes = 0;  // requested by them
};

struct SiteFigures {
  Counts allocated;
  std::uint64_t temporary = 0;
  std::uint64_t leaked_blocks = 0;
  std::uint64_t leaked_bytes = 0;
};

struct ThreadFigures {
  Counts allocated;
  std::uint64_t releases = 0;
  std::uint64_t cross_thread_releases = 0;  // of blocks another thread allocated
};

struct Bin {
  std::string label;
  Counts counts;
};

struct Analysis {
  std::uint64_t allocations = 0;     // calls that returned a block (realloc included)
  std::uint64_t releases = 0;        // free and delete of a known block (and realloc's old block)
  std::uint64_t reallocs = 0;
  std::uint64_t failed = 0;          // allocation calls that returned NULL
  std::uint64_t unknown_releases = 0;  // of blocks allocated before tracing started
  std::uint64_t bytes_allocated = 0;
  std::uint64_t temporary = 0;
  std::uint64_t peak_live_bytes = 0;
  std::uint64_t peak_live_blocks = 0;  // at the moment of the peak of bytes
  std::uint64_t peak_time = 0;       // ns since start
  std::uint64_t end_time = 0;        // the last call's time
  std::uint64_t leaked_blocks = 0;
  std::uint64_t leaked_bytes = 0;
  std::vector<Bin> by_size;          // power-of-two size classes, only those used
  std::map<std::uint32_t, SiteFigures> by_site;    // stack id (0: unknown)
  std::map<std::uint32_t, ThreadFigures> by_thread;
  std::vector<Bin> lifetime_time;    // how long freed blocks lived, by decade of time
  std::vector<Bin> lifetime_calls;   // ... in allocations made meanwhile, by decade
  struct Point {
    std::uint64_t time;
    std::uint64_t live_bytes;
  };
  std::vector<Point> timeline;       // live bytes, at most ~1000 points (each the max of its span)
};

Analysis analyze(const Trace& trace);

/// "1.5 KiB", "12 B", "3.2 MiB".
std::string format_bytes(std::uint64_t bytes);
/// "850 ns", "12.3 ms", "4.1 s".
std::string format_duration(std::uint64_t ns);

}  // namespace poolkit::trace
