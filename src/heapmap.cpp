// heapmap.cpp: print_heapmap: the pools' read-only walks (visit_blocks, visit_chunks)
// collected into pieces, grouped into regions by address, drawn cell by cell.
#include "poolkit/heapmap.hpp"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdint>
#include <string>
#include <vector>

#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

namespace {

// kRun: a Heap's size-class run, its metadata and the slots not handed out (its live
// slots come as kLive pieces).
enum : unsigned { kFree = 0, kLive = 1, kUnused = 2, kCached = 3, kRun = 4, kStates = 5 };

struct Piece {
  std::uintptr_t start;
  std::size_t bytes;
  unsigned state;
};

void collect(void* ctx, const void* block, std::size_t bytes, unsigned state) {
  static_cast<std::vector<Piece>*>(ctx)->push_back({reinterpret_cast<std::uintptr_t>(block), bytes, state});
}

// Bytes of one cell by state.
struct Cell {
  std::size_t bytes[kStates] = {};
};

char glyph(const Cell& c, std::size_t cell_bytes) {
  const std::size_t live = c.bytes[kLive];
  if (live == 0) {
    if (c.bytes[kRun] > c.bytes[kFree] && c.bytes[kRun] >= c.bytes[kCached] && c.bytes[kRun] >= c.bytes[kUnused])
      return 'r';
    if (c.bytes[kCached] > c.bytes[kFree] && c.bytes[kCached] >= c.bytes[kUnused]) return 'c';
    if (c.bytes[kUnused] > c.bytes[kFree]) return '_';
    return '.';
  }
  if (live >= cell_bytes) return '#';
  return 2 * live > cell_bytes ? '+' : '-';
}

void draw(const char* kind, std::vector<Piece> pieces, const PoolStats& stats, std::FILE* out,
          const HeapmapOptions& options) {
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.start < b.start; });
  // Regions: runs of pieces that touch.
  struct Region {
    std::size_t first, last;  // pieces [first, last)
    std::uintptr_t begin, end;
  };
  std::vector<Region> regions;
  std::size_t free_gaps = 0, largest_gap = 0, gap = 0, free_bytes = 0, live_bytes = 0, live_blocks = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    if (regions.empty() || regions.back().end != p.start) {
      regions.push_back({i, i, p.start, p.start});
      gap = 0;
    }
    regions.back().last = i + 1;
    regions.back().end = p.start + p.bytes;
    if (p.state == kLive) {
      live_bytes += p.bytes;
      ++live_blocks;
      gap = 0;
    } else if (p.state == kFree || p.state == kCached || p.state == kRun) {
      free_bytes += p.bytes;
      if (gap == 0) ++free_gaps;
      gap += p.bytes;
      largest_gap = std::max(largest_gap, gap);
    }
  }
  const unsigned columns = std::clamp(options.columns, 8u, 256u);
  std::size_t widest = 0;
  for (const Region& r : regions) widest = std::max<std::size_t>(widest, r.end - r.begin);
  std::size_t cell = options.cell_bytes;
  if (cell == 0) cell = std::bit_ceil(std::max<std::size_t>(16, (widest + columns * 32 - 1) / (columns * 32)));
  cell = std::bit_ceil(std::max<std::size_t>(cell, 16));

  std::fprintf(out, "%s heapmap: %zu region%s, %s reserved; live %s in %zu block%s; free %s in %zu gap%s "
               "(widest %s)\n",
               kind, regions.size(), regions.size() == 1 ? "" : "s", format_bytes(stats.bytes_reserved).c_str(),
               format_bytes(live_bytes).c_str(), live_blocks, live_blocks == 1 ? "" : "s",
               format_bytes(free_bytes).c_str(), free_gaps, free_gaps == 1 ? "" : "s", format_bytes(largest_gap).c_str());
  // The pool's own figure: a gap of neighbouring free blocks that cannot merge (buddies
  // of different orders, FixedPool's chunks) still serves only its largest block.
  if (stats.fixed_size_blocks) {
    std::fprintf(out, "fragmentation none: every free chunk serves any request (one size)\n");
  } else {
    std::fprintf(out, "fragmentation %.0f%% (1 - largest free block %s / free %s)\n",
                 100.0 * stats.external_fragmentation(), format_bytes(stats.largest_free).c_str(),
                 format_bytes(stats.bytes_free).c_str());
  }
  std::fprintf(out, "one character = %zu B: '#' full  '+' over half live  '-' some live  '.' free  'c' cached  "
               "'r' run, no live slot  '_' never handed out\n", cell);
  for (std::size_t n = 0; n < regions.size(); ++n) {
    const Region& r = regions[n];
    const std::size_t cells = (r.end - r.begin + cell - 1) / cell;
    std::vector<Cell> row(cells);
    for (std::size_t i = r.first; i < r.last; ++i) {
      // Spread the piece over the cells it covers.
      std::uintptr_t at = pieces[i].start;
      const std::uintptr_t end = pieces[i].start + pieces[i].bytes;
      while (at < end) {
        const std::size_t index = (at - r.begin) / cell;
        const std::uintptr_t cell_end = r.begin + (index + 1) * cell;
        const std::uintptr_t upto = std::min(end, cell_end);
        row[index].bytes[pieces[i].state] += upto - at;
        at = upto;
      }
    }
    std::fprintf(out, "region %zu at %p, %s\n", n + 1, reinterpret_cast<void*>(r.begin), format_bytes(r.end - r.begin).c_str());
    for (std::size_t first = 0; first < cells; first += columns) {
      std::string line;
      for (std::size_t c = first; c < std::min<std::size_t>(cells, first + columns); ++c) line.push_back(glyph(row[c], cell));
      std::fprintf(out, "  +0x%08zx %s\n", first * cell, line.c_str());
    }
  }
}

}  // namespace

void print_heapmap(const Heap& heap, std::FILE* out, const HeapmapOptions& options) {
  std::vector<Piece> pieces;
  heap.visit_blocks(collect, &pieces);
  draw("Heap", std::move(pieces), heap.stats(), out, options);
}

void print_heapmap(const BuddyPool& pool, std::FILE* out, const HeapmapOptions& options) {
  std::vector<Piece> pieces;
  pool.visit_blocks(collect, &pieces);
  draw("BuddyPool", std::move(pieces), pool.stats(), out, options);
}

void print_heapmap(const FixedPool& pool, std::FILE* out, const HeapmapOptions& options) {
  std::vector<Piece> pieces;
  pool.visit_chunks(collect, &pieces);
  draw("FixedPool", std::move(pieces), pool.stats(), out, options);
}

}  // namespace poolkit
