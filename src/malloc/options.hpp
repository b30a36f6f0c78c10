// options.hpp (private): the malloc's options, in ONE table. Each POOLKIT_<name>
// environment variable of the drop-in malloc has one row here: its name, its kind,
// its default, its range and what it means. options.cpp parses them from it, the
// unknown-option warning lists them from it, and docs/malloc.md mirrors it; a new
// option is a new row (and a field of Options), nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "types.hpp"

namespace poolkit::malloc_impl {

// The values in force, read by every file (g_options.<field>).
struct Options {
  int stats;                  // POOLKIT_STATS
  int check;                  // POOLKIT_CHECK: 1 guards + double free, 2 also a heap walk per call
  int verbose;                // POOLKIT_VERBOSE
  std::uint64_t decay_ms;     // POOLKIT_DECAY_MS
  std::size_t mmap_threshold; // POOLKIT_MMAP_THRESHOLD
};
static_assert(std::is_same_v<std::size_t, std::uint64_t>, "the option table stores sizes as uint64_t");

enum class OptionKind : std::uint8_t {
  kSwitch,  // 0 or 1: any number other than 0 turns it on, and so does a value that is no number
  kLevel,   // 0..max: larger numbers give max, a value that is no number gives 1
  kNumber,  // a count in [min, max]; a value that is no number is refused with a warning
  kSize,    // bytes, suffix k/m/g; outside [min, max] it is clamped, with a warning
};

struct OptionSpec {
  const char* name;               // after POOLKIT_
  OptionKind kind;
  std::uint64_t default_value;
  std::uint64_t min, max;
  bool fixed_at_start;            // blocks already out depend on it: a late re-read keeps it
  int Options::*int_field;        // where the value goes: exactly one of the two is set
  std::uint64_t Options::*u64_field;
  const char* what;               // the unit, for messages ("milliseconds", "size")
  const char* meaning;            // one line, for --help and the docs
};

inline constexpr std::uint64_t kDefaultCheck =
#if POOLKIT_MALLOC_DEBUG
    2;
#else
    0;
#endif

// The table. The mmap threshold is at most the largest size class (1 MiB).
inline constexpr OptionSpec kOptions[] = {
    {"STATS", OptionKind::kSwitch, 0, 0, 1, false, &Options::stats, nullptr, "switch",
     "print a summary of the allocator's work on stderr at exit"},
    {"CHECK", OptionKind::kLevel, kDefaultCheck, 0, 2, true, &Options::check, nullptr, "level",
     "1: guard bytes after every block and double-free detection; 2: also walk the calling "
     "thread's heap on every call"},
    {"VERBOSE", OptionKind::kSwitch, 0, 0, 1, false, &Options::verbose, nullptr, "switch",
     "say what the allocator does (start-up, options, trims) on stderr"},
    {"DECAY_MS", OptionKind::kNumber, 50, 0, ~std::uint64_t{0}, false, nullptr, &Options::decay_ms,
     "number of milliseconds", "empty pages are decommitted this many ms after they empty"},
    {"MMAP_THRESHOLD", OptionKind::kSize, kMaxClassSize, 4096, kMaxClassSize, false,
     nullptr, &Options::mmap_threshold, "size",
     "requests above this many bytes go straight to mmap (suffix k/m)"},
};

/// The defaults of the table, as an Options (constant-initialised: no constructor runs).
constexpr Options default_options() noexcept {
  Options o{};
  for (const OptionSpec& spec : kOptions) {
    if (spec.int_field) o.*spec.int_field = static_cast<int>(spec.default_value);
    else o.*spec.u64_field = spec.default_value;
  }
  return o;
}

extern constinit Options g_options;
void options_init() noexcept;
void options_reread_if_early() noexcept;

}  // namespace poolkit::malloc_impl
