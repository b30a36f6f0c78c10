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
  int check;                  // POOLKIT_CHECK: 1 checked mode (checked.hpp), 2 also a heap walk per call
  int verbose;                // POOLKIT_VERBOSE
  std::uint64_t decay_ms;     // POOLKIT_DECAY_MS
  std::size_t mmap_threshold; // POOLKIT_MMAP_THRESHOLD
  std::size_t remote_cache;   // POOLKIT_REMOTE_CACHE: bytes per thread of other heaps' blocks (remote_cache.cpp)
  // checked mode (checked.hpp)
  int check_pages;            // POOLKIT_CHECK=3 (then check is 1): every block on its own guarded pages
  int check_action;           // POOLKIT_CHECK_ACTION: CheckAction
  int leaks;                  // POOLKIT_LEAKS: blocks live at exit, by allocation stack
  int stack_depth;            // POOLKIT_STACK_DEPTH: frames kept per call stack (0: none)
  std::size_t quarantine;     // POOLKIT_QUARANTINE: bytes of freed blocks held back
  std::size_t sample;         // POOLKIT_SAMPLE: one in N slow-path blocks on guarded pages (0: off)
};
enum CheckAction { kActionAbort = 0, kActionLog = 1, kActionExit = 2 };  // the words of CHECK_ACTION, in order
static_assert(std::is_same_v<std::size_t, std::uint64_t>, "the option table stores sizes as uint64_t");

enum class OptionKind : std::uint8_t {
  kSwitch,  // 0 or 1: any number other than 0 turns it on, and so does a value that is no number
  kLevel,   // 0..max: larger numbers give max, a value that is no number gives 1
  kNumber,  // a count in [min, max]; a value that is no number is refused with a warning
  kSize,    // bytes, suffix k/m/g; outside [min, max] it is clamped, with a warning
  kChoice,  // one of the words of `what` ("abort|log|exit"), stored as its index; else a warning
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
  // For people: `poolkit help malloc` prints these and poolkit-malloc(7) is generated
  // from them (tools/help_command.cpp, tools/docgen.cpp). Lines break at '\n'.
  const char* values;             // what may follow '=': "0|1", "N", "SIZE"
  const char* default_text;       // the default as the user would write it
  const char* range;              // what is accepted, and what happens to anything else
  const char* effect;             // what the option does
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
     "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "At exit, print a readable summary on stderr: calls, bytes by size class, peak,\n"
     "RSS, fragmentation, time in system calls."},
    {"CHECK", OptionKind::kLevel, kDefaultCheck, 0, 3, true, &Options::check, nullptr, "level",
     "0|1|2|3", kDefaultCheck ? "2 (a POOLKIT_MALLOC_DEBUG build)" : "0",
     "0 to 3; numbers above 3 mean 3, a value that is not a number means 1;\n"
     "read once at start-up (blocks already handed out carry no guards)",
     "1: checked mode: canaries on both sides of every block, a quarantine of freed\n"
     "blocks, guard pages for huge blocks, no-access malloc(0) blocks; each bug is\n"
     "reported with the allocation, free and detection call stacks (docs/checked.md).\n"
     "2: also walk the calling thread's heap on every call (slow; for hunting a\n"
     "corruption). 3: checked mode with every block on its own guarded pages\n"
     "(electric-fence style: reads and writes past the end or after free fault)."},
    {"CHECK_ACTION", OptionKind::kChoice, kActionAbort, 0, 2, false, &Options::check_action, nullptr,
     "abort|log|exit", "abort|log|exit", "abort", "one of the three words; anything else is refused with a warning",
     "What follows a checked-mode report: abort the program, log and go on (a bad\n"
     "free is skipped), or exit with status 1 at once."},
    {"QUARANTINE", OptionKind::kSize, std::uint64_t{16} << 20, 0, std::uint64_t{1} << 40, false, nullptr,
     &Options::quarantine, "size", "SIZE", "16 MiB",
     "0 and up, in bytes or with a suffix k, m, g; a value that is not a size is\n"
     "refused with a warning and the default kept",
     "Checked mode: how many bytes of freed blocks are held back (filled with a\n"
     "pattern, verified when they leave) before they are reused. 0: none."},
    {"LEAKS", OptionKind::kSwitch, 0, 0, 1, false, &Options::leaks, nullptr, "switch",
     "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "Checked mode: at exit, list the blocks still allocated, grouped by the call\n"
     "stack that allocated them, largest total first."},
    {"STACK_DEPTH", OptionKind::kNumber, 12, 0, 64, false, &Options::stack_depth, nullptr, "number of frames",
     "N", "12", "0 to 64; larger numbers are clamped, with a warning",
     "Checked mode: frames kept of each call stack in reports. 0: none (much faster)."},
    {"SAMPLE", OptionKind::kNumber, 0, 0, ~std::uint64_t{0}, true, nullptr, &Options::sample, "number",
     "N", "0", "a whole number, 0 and up (0: off); read once at start-up",
     "One in N of the allocations that reach the slow path (up to 64 KiB) gets its own\n"
     "guarded pages, as GWP-ASan does: an overflow or a use after free of it faults and\n"
     "is reported. Works with or without POOLKIT_CHECK; the fast path pays nothing."},
    {"VERBOSE", OptionKind::kSwitch, 0, 0, 1, false, &Options::verbose, nullptr, "switch",
     "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "Say on stderr what the allocator does: start-up, the options in force, trims."},
    {"DECAY_MS", OptionKind::kNumber, 50, 0, ~std::uint64_t{0}, false, nullptr, &Options::decay_ms,
     "number of milliseconds", "N", "50",
     "a whole number of milliseconds, 0 and up (0: at once); a value that is not a\n"
     "number is refused with a warning and the default kept",
     "How long empty pages wait before they are handed back to the OS (madvise). Longer\n"
     "keeps memory for a program that frees and allocates again; shorter lowers RSS."},
    {"MMAP_THRESHOLD", OptionKind::kSize, kMaxClassSize, 4096, kMaxClassSize, false,
     nullptr, &Options::mmap_threshold, "size", "SIZE", "1 MiB",
     "4 KiB to 1 MiB, in bytes or with a suffix k, m, g (KiB, MiB, GiB; \"64k\", \"1MiB\");\n"
     "outside that range the nearest bound is used, with a warning",
     "Requests above SIZE bytes come straight from mmap and go back to the OS on free;\n"
     "smaller ones come from size-class pages."},
    {"REMOTE_CACHE", OptionKind::kSize, kRemoteCacheDefault, 0, kRemoteCacheMax, true,
     nullptr, &Options::remote_cache, "size", "SIZE", "1 MiB",
     "0 to 16 MiB, in bytes or with a suffix k, m, g; outside that range the nearest\n"
     "bound is used, with a warning; read once at start-up",
     "Per thread: bytes of blocks of other threads that the thread freed and keeps for\n"
     "its own next mallocs (an eighth of it, and 64 blocks, per size class; blocks up\n"
     "to 32 KiB). Larger: more reuse between threads, more memory held. 0: none, every\n"
     "such free goes back to the block's page at once."},
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
