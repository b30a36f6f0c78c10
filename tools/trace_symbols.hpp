// tools/trace_symbols.hpp: names for a trace's return addresses, offline: each address
// is mapped to its module and file offset with the trace's module map, and the
// shared symbolizer (src/common/symbolizer, addr2line) names a whole batch at once.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace_reader.hpp"

namespace poolkit::trace {

struct FrameName {
  std::string function;  // "" if unknown
  std::string location;  // "file.c:12", "" if unknown
  std::string module;    // the module's file name (no directory), "" if unknown
  std::uint64_t offset = 0;
  /// "parse_line (parse.c:42)", "parse_line (libfoo.so)", "libfoo.so+0x1a2b".
  std::string text() const;
};

class TraceSymbols {
 public:
  explicit TraceSymbols(const Trace& trace) : trace_(trace) {}
  /// Names the first `depth` frames of each stack in one batch.
  void resolve(const std::vector<std::uint32_t>& stacks, int depth);
  /// The first `depth` frames of a stack (resolving any not yet named).
  std::vector<FrameName> frames(std::uint32_t stack, int depth);
  /// One line naming a call site: its innermost frame, "<unknown>" for stack 0.
  std::string site(std::uint32_t stack);

 private:
  const Trace& trace_;
  std::unordered_map<std::uint64_t, FrameName> names_;
};

}  // namespace poolkit::trace
