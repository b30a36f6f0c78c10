// poolkit/heapmap.hpp: a picture of a pool's memory as text, one character per cell
// of its address space, by how full the cell is: where the live blocks are, where the
// free gaps are, and the fragmentation figure. For Heap, BuddyPool and FixedPool (C:
// poolkit_*_print_heapmap). Pick it to see fragmentation, in a test, a log or a doc.
#pragma once

#include <cstddef>
#include <cstdio>

namespace poolkit {

class Heap;
class BuddyPool;
class FixedPool;

struct HeapmapOptions {
  std::size_t cell_bytes = 0;  // bytes per character, a power of two >= 16; 0: a region fits in 32 rows
  unsigned columns = 64;       // characters per row (8..256)
};

// Legend (printed with each picture): '#' cell full of live bytes, '+' more than half,
// '-' some, '.' free, 'c' free in a cache (Heap's front cache), '_' never handed out
// (FixedPool's uncarved chunks). Headers and rounding count as live: they are memory
// the live blocks hold.
void print_heapmap(const Heap& heap, std::FILE* out, const HeapmapOptions& options = {});
void print_heapmap(const BuddyPool& pool, std::FILE* out, const HeapmapOptions& options = {});
void print_heapmap(const FixedPool& pool, std::FILE* out, const HeapmapOptions& options = {});

}  // namespace poolkit
