// common/symbolizer.hpp (private): turn return addresses into "function file:line"
// for a report a person reads. Used inside the drop-in malloc (checked-mode reports)
// and by the poolkit tools (trace reports), so it never calls malloc: results go to
// fixed buffers, and the work is done by addr2line (binutils) in a child process,
// one run per module for a whole batch of addresses, started with vfork + execve (no
// at-fork handlers, so it is safe while the malloc holds its locks) and without
// LD_PRELOAD, so the child runs on the system's malloc.
//
// Without addr2line, or without debug info, a frame still names its module and
// offset, and the nearest exported symbol when dladdr knows one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poolkit::detail {

struct SymbolizedFrame {
  const void* address = nullptr;  // the return address as captured
  std::uintptr_t offset = 0;      // address - 1 as an address in the module's file (ELF vaddr)
  char module[256] = {};          // path of the executable or shared object ("" if unknown)
  char function[256] = {};        // demangled, "" if unknown
  char location[256] = {};        // "file.c:12", "" if unknown
};

/// Where a live address of this process lies: the module's path and the address as a
/// virtual address of that file (what addr2line takes). False if no module holds it.
bool locate_address(const void* address, char* module, std::size_t module_size,
                    std::uintptr_t* file_address) noexcept;

/// Symbolises `count` return addresses of this process (frames from capture_call_stack).
void symbolize(const void* const* addresses, int count, SymbolizedFrame* out) noexcept;

/// Symbolises addresses already split into module and file address (a trace read back
/// after the run): fills function and location of out[i] for each i < count; out[i].module
/// and out[i].offset must be set by the caller.
void symbolize_in_module(SymbolizedFrame* out, int count) noexcept;

/// Prints one frame a line to `fd`:  "<indent>#3 0x55d0c2a1b2c3 in parse_line src/parse.c:42"
/// (or "(module+0x1a2b)" where no name is known). Stops after the frame named `main`.
void print_call_stack(int fd, const void* const* frames, int count, const char* indent) noexcept;

}  // namespace poolkit::detail
