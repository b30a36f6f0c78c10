// option_docs.hpp: what each POOLKIT_* environment variable of libpoolkit-malloc
// means, for people: `poolkit help malloc` prints this table and the man page
// poolkit-malloc(7) is generated from it. options.cpp parses the variables; a test
// (PoolkitCli.EveryDocumentedMallocOptionIsKnownToTheMalloc and its converse) fails
// when the two disagree, so a new option is one row here beside its parsing.
#pragma once

#include <string_view>

namespace poolkit::malloc_impl {

struct OptionDoc {
  std::string_view name;           // the whole variable name
  std::string_view values;         // what may follow '=': "0|1", "N", "SIZE"
  std::string_view default_value;  // as the user would write it
  std::string_view range;          // what is accepted, and what happens to anything else
  std::string_view effect;         // plain text; lines break at '\n'
};

inline constexpr OptionDoc kOptionDocs[] = {
    {"POOLKIT_STATS", "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "At exit, print a readable summary on stderr: calls, bytes by size class, peak,\n"
     "RSS, fragmentation, time in system calls."},
    {"POOLKIT_CHECK", "0|1|2|3", "0, or 2 in a POOLKIT_MALLOC_DEBUG build",
     "0 to 3; numbers above 3 mean 3, a value that is not a number means 1;\n"
     "read once at start-up (blocks already handed out carry no guards)",
     "1: checked mode: canaries on both sides of every block, a quarantine of freed\n"
     "blocks, guard pages for huge blocks, no-access malloc(0) blocks; each bug is\n"
     "reported with the allocation, free and detection call stacks (docs/checked.md).\n"
     "2: also walk the calling thread's heap on every call (slow; for hunting a\n"
     "corruption). 3: checked mode with every block on its own guarded pages\n"
     "(electric-fence style: reads and writes past the end or after free fault)."},
    {"POOLKIT_CHECK_ACTION", "abort|log|exit", "abort", "one of the three words; anything else is refused with a warning",
     "What follows a checked-mode report: abort the program, log and go on (a bad\n"
     "free is skipped), or exit with status 1 at once."},
    {"POOLKIT_QUARANTINE", "SIZE", "16 MiB",
     "0 and up, in bytes or with a suffix k, m, g; a value that is not a size is\n"
     "refused with a warning and the default kept",
     "Checked mode: how many bytes of freed blocks are held back (filled with a\n"
     "pattern, verified when they leave) before they are reused. 0: none."},
    {"POOLKIT_LEAKS", "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "Checked mode: at exit, list the blocks still allocated, grouped by the call\n"
     "stack that allocated them, largest total first."},
    {"POOLKIT_STACK_DEPTH", "N", "16", "0 to 64; larger numbers are clamped, with a warning",
     "Checked mode: frames kept of each call stack in reports. 0: none (much faster)."},
    {"POOLKIT_SAMPLE", "N", "0",
     "a whole number, 0 and up (0: off); read once at start-up",
     "One in N of the allocations that reach the slow path (up to 64 KiB) gets its own\n"
     "guarded pages, as GWP-ASan does: an overflow or a use after free of it faults and\n"
     "is reported. Works with or without POOLKIT_CHECK; the fast path pays nothing."},
    {"POOLKIT_VERBOSE", "0|1", "0", "0 or 1; any other number means 1, and so does a value that is not a number",
     "Say on stderr what the allocator does: start-up, the options in force, trims."},
    {"POOLKIT_DECAY_MS", "N", "50",
     "a whole number of milliseconds, 0 and up (0: at once); a value that is not a\n"
     "number is refused with a warning and the default kept",
     "How long empty pages wait before they are handed back to the OS (madvise). Longer\n"
     "keeps memory for a program that frees and allocates again; shorter lowers RSS."},
    {"POOLKIT_MMAP_THRESHOLD", "SIZE", "1 MiB",
     "4 KiB to 1 MiB, in bytes or with a suffix k, m, g (KiB, MiB, GiB; \"64k\", \"1MiB\");\n"
     "outside that range the nearest bound is used, with a warning",
     "Requests above SIZE bytes come straight from mmap and go back to the OS on free;\n"
     "smaller ones come from size-class pages."},
};

}  // namespace poolkit::malloc_impl
