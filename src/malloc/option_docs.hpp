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
    {"POOLKIT_CHECK", "0|1|2", "0, or 2 in a POOLKIT_MALLOC_DEBUG build",
     "0, 1 or 2; numbers above 2 mean 2, a value that is not a number means 1;\n"
     "read once at start-up (blocks already handed out carry no guards)",
     "1: guard bytes after every block and double-free detection; a violation aborts\n"
     "with a message naming the block. 2: also walk the calling thread's heap on\n"
     "every call (slow; for hunting a corruption)."},
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
