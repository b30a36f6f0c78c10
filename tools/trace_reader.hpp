// tools/trace_reader.hpp: reads a file `poolkit trace` wrote (format:
// src/trace/trace_format.hpp, docs/trace.md) into memory, for report, replay and
// advise. Every check of the bytes is here: a foreign, corrupted or newer file throws
// TraceError naming what is wrong and at which offset; a truncated file (a crashed
// program) is read up to its last whole chunk, with a warning.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "trace/trace_format.hpp"

namespace poolkit::trace {

class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One call, as recorded. For realloc, `time_before` is when the old block went.
struct Event {
  Call call;
  std::uint32_t thread;
  std::uint32_t stack;  // 0: unknown
  std::uint64_t time;   // ns since the file's start
  std::uint64_t size;
  std::uint64_t align;  // 0 where the call takes none
  std::uint64_t ptr;
  std::uint64_t old_ptr;
  std::uint64_t time_before;
};

struct Module {
  std::string path;
  std::uint64_t bias = 0;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};

struct ThreadInfo {
  std::uint32_t thread = 0;
  std::uint32_t tid = 0;
  std::uint64_t start_time = 0;
};

struct Trace {
  std::string path;
  std::uint32_t version = 0;
  std::uint32_t pid = 0;
  std::uint32_t parent_pid = 0;
  std::uint64_t start_unix_ns = 0;
  std::vector<std::string> command;              // argv of the traced process
  std::vector<Event> events;                     // by time; each thread's own order kept
  std::map<std::uint32_t, std::vector<std::uint64_t>> stacks;  // id -> return addresses, innermost first
  std::vector<Module> modules;                   // every module seen, in order of first sight
  std::map<std::uint32_t, ThreadInfo> threads;
  std::uint64_t file_bytes = 0;
  std::uint64_t chunks = 0;
  std::vector<std::string> warnings;             // e.g. the truncated tail

  /// The module holding a return address, or nullptr.
  const Module* module_of(std::uint64_t address) const;
};

/// Reads and checks the whole file. Throws TraceError on a file that is not a trace,
/// is corrupted or is of a newer format version; tolerates a truncated tail.
Trace read_trace(const std::string& path);

/// The same from bytes in memory (`name` is used in messages).
Trace parse_trace(const std::vector<unsigned char>& bytes, const std::string& name);

}  // namespace poolkit::trace
