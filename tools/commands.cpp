// tools/commands.cpp: the table of `poolkit` subcommands (see commands.hpp). To add a
// command: write tools/<name>_command.cpp with `int <name>_command(int argc, char** argv)`,
// declare it below, and add its row (and its options array) to kCommands.
#include "commands.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "help.hpp"
#include "suggest.hpp"

// The trace commands (tools/trace_command.cpp, report_command.cpp, replay_command.cpp).
int trace_command(int argc, char** argv);
int report_command(int argc, char** argv);
int replay_command(int argc, char** argv);
int advise_command(int argc, char** argv);
int heapmap_command(int argc, char** argv);

namespace poolkit::cli {

// The entry of each command, one per tools/<name>_command.cpp.
int run_command(int argc, char** argv);
int help_command(int argc, char** argv);
int version_command(int argc, char** argv);

namespace {

constexpr CommandOption kRunOptions[] = {
    {"--stats", "", "",
     "set POOLKIT_STATS=1: the malloc prints its summary to stderr at exit;\n"
     "poolkit adds the wall time, CPU time and peak RSS of the run"},
    {"--check", "", "",
     "set POOLKIT_CHECK=1: checked mode (canaries, quarantine, guard pages,\n"
     "reports with call stacks; docs/checked.md)"},
    {"--lib", "", "PATH",
     "preload this library instead of the one found next to poolkit\n"
     "(<prefix>/lib, or the build tree)"},
};

constexpr CommandOption kTraceOptions[] = {
    {"--output", "-o", "FILE", "where to write (an existing FILE is replaced)"},
    {"--depth", "", "N", "frames kept per call stack, 0..64 (default 16; 0: no stacks)"},
    {"--lib", "", "PATH", "preload this libpoolkit-trace.so instead of the one found next to poolkit"},
};

constexpr CommandOption kReportOptions[] = {
    {"--output", "-o", "DIR", "also write DIR/report.md with PNG charts (gnuplot)"},
    {"--top", "", "N", "call sites listed (default 10)"},
};

constexpr CommandOption kReplayOptions[] = {
    {"--malloc", "", "LIST",
     "comma-separated, from glibc,jemalloc,tcmalloc,mimalloc,poolkit\n"
     "(default: all that are installed)"},
    {"--rounds", "", "N", "interleaved rounds (default 3)"},
    {"--order", "", "ORDER",
     "how the threads interleave: peak (default: free, but cut so that the\n"
     "recorded peak live bytes are reached exactly), recorded (every call in\n"
     "the recorded order), free (each thread's own order only)"},
};

constexpr CommandOption kAdviseOptions[] = {
    {"--top", "", "N", "call sites measured and listed (default 10)"},
    {"--rounds", "", "N", "interleaved rounds of each measurement, 1..100 (default 5)"},
    {"--min-calls", "", "N", "sites with fewer allocations get no suggestion (default 100)"},
};

constexpr CommandOption kHeapmapOptions[] = {
    {"--at", "", "TIME", "the heap at this moment of the trace (2.5s, 120ms, 300us, 900ns)"},
    {"--peak", "", "", "the heap at the peak of live bytes (the default)"},
    {"--output", "-o", "FILE", "draw a PNG (gnuplot) instead of the text picture"},
    {"--timeline", "", "", "draw live bytes and pages in use over time instead (needs -o)"},
};

constexpr CommandOption kHelpOptions[] = {
    {"--all", "", "", "the program, every command and the malloc's environment variables"},
};

constexpr Command kCommands[] = {
    {"run",
     "run a program on libpoolkit-malloc (LD_PRELOAD) and pass its exit status through",
     "[--] PROGRAM [ARGS...]", Operands::kProgram, kRunOptions,
     "Starts PROGRAM with libpoolkit-malloc.so preloaded (LD_PRELOAD, ahead of any earlier\n"
     "LD_PRELOAD) and returns its exit status: 128+N when signal N ended it, 127 when it\n"
     "is not found, 126 when it cannot be executed. The first word that is not an option\n"
     "is PROGRAM; everything after it is PROGRAM's own.\n"
     "\n"
     "Without --lib, the library is <prefix>/lib/libpoolkit-malloc.so next to an\n"
     "installed <prefix>/bin/poolkit, else the build tree's copy; when none exists,\n"
     "poolkit run lists the places it looked.\n"
     "\n"
     "The malloc's other options reach it through the environment as usual\n"
     "(poolkit help malloc). While PROGRAM runs, poolkit ignores SIGINT and SIGQUIT,\n"
     "so a Ctrl-C goes to PROGRAM. Children of PROGRAM inherit LD_PRELOAD.",
     run_command},
    {"trace", "record every allocation call of a program into a trace file",
     "[--] PROGRAM [ARGS...]", Operands::kProgram, kTraceOptions,
     "Runs PROGRAM and records every call of the malloc family and of C++ new and\n"
     "delete (size, alignment, addresses, thread, time, call stack) into FILE\n"
     "(default: poolkit-trace.<program>.pktrace). A forked child or exec'ed program\n"
     "writes FILE.<pid>. The program runs on poolkit's malloc; its own stdout and\n"
     "stderr are left alone. Read the file with 'poolkit report FILE' or\n"
     "'poolkit replay FILE'. Exit status as for run. docs/trace.md has the format.",
     ::trace_command},
    {"report", "summarise a trace: sizes, call sites, threads, peak, lifetimes, leaks",
     "FILE", Operands::kFile, kReportOptions,
     "Summarises a trace: calls and bytes by size class, call site and thread; peak\n"
     "live bytes and when; lifetimes; temporary allocations; blocks never freed by\n"
     "call site. With -o DIR it also writes DIR/report.md with PNG charts.",
     ::report_command},
    {"replay", "replay a trace on glibc, jemalloc, tcmalloc, mimalloc and poolkit's malloc",
     "FILE", Operands::kFile, kReplayOptions,
     "Replays a trace's calls (same sizes, same order per thread, the same cross-\n"
     "thread frees, touching every page) on each allocator in its own process,\n"
     "interleaved over N rounds; prints median time, peak RSS and peak fragmentation\n"
     "(peak RSS / peak live bytes) side by side, with ratios to the best. The\n"
     "threads keep to the recorded order enough that the replay reaches the\n"
     "recorded peak live bytes exactly (--order peak).",
     ::replay_command},
    {"advise", "which poolkit pool fits each call site of a trace, with the gain measured",
     "FILE", Operands::kFile, kAdviseOptions,
     "Goes through a trace call site by call site, and by groups of sites whose blocks\n"
     "are freed together, and names the pattern of each: one size with churn\n"
     "(FixedPool; PerCpu<FixedPool> when several threads use it), blocks that die\n"
     "together (Arena with mark and rewind), groups freed as a whole while others live\n"
     "on (PoolSet), power-of-two sizes with tight alignment (BuddyPool), many sizes\n"
     "with churn (a Heap of its own).\n"
     "\n"
     "Each suggestion is measured: the site's calls are replayed through the pool and\n"
     "through malloc in this process, interleaved over N rounds; the table shows the\n"
     "medians of time and the peak memory of each, ranked by the time saved, then the\n"
     "reason for each row and a code snippet (std::pmr and C) for the top sites. When\n"
     "no pool is measurably better, it says that nothing would help. docs/advise.md.",
     ::advise_command},
    {"heapmap", "draw the heap of a traced program: pages by fullness, free gaps, fragmentation",
     "FILE", Operands::kFile, kHeapmapOptions,
     "Draws the traced program's heap at one moment (the peak of live bytes, or --at\n"
     "TIME): every 4 KiB page a block has used, as rows of 64 cells coloured by how full\n"
     "of live bytes the page is, free pages blue, unused gaps grey, one block of rows\n"
     "per stretch of address space, with the figures: live bytes, pages in use, free\n"
     "pages and the gaps they form, and fragmentation (bytes of the pages in use / live\n"
     "bytes). With -o FILE.png gnuplot draws it; without, a text picture. --timeline\n"
     "draws live bytes and pages in use over time instead. docs/advise.md.",
     ::heapmap_command},
    {"help", "print the usage, a command's options, or the malloc's environment variables",
     "[COMMAND | malloc]", Operands::kHelpTopic, kHelpOptions,
     "Without an argument, lists the commands. With a COMMAND, prints its options.\n"
     "'poolkit help malloc' prints every POOLKIT_* environment variable of\n"
     "libpoolkit-malloc: its values, default and effect.",
     help_command},
    {"version", "print poolkit's version", "", Operands::kNone, {},
     "Prints 'poolkit VERSION' (also poolkit --version).", version_command},
};

constexpr ProgramText kProgram = {
    "poolkit runs programs on libpoolkit-malloc, poolkit's drop-in malloc, and explains\n"
    "its options. The malloc itself is configured by POOLKIT_* environment variables:\n"
    "see poolkit-malloc(7), or 'poolkit help malloc'. The pool library's C API is in\n"
    "poolkit(3).",
    "0 on success; 2 for a usage error of poolkit itself (the message names the mistake\n"
    "and the nearest valid spelling). 'poolkit run' returns the program's own status.",
    "<prefix>/lib/<multiarch>/libpoolkit-malloc.so.0 (the malloc that 'poolkit run' preloads)",
};

constexpr CommandOption kHelpOption = {"--help", "-h", "", "print this command's usage and options"};

}  // namespace

std::span<const Command> commands() { return kCommands; }

const Command* find_command(std::string_view name) {
  for (const Command& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const ProgramText& program_text() { return kProgram; }

std::string synopsis(const Command& command) {
  std::string s(command.name);
  for (const CommandOption& o : command.options) {
    s += " [";
    s += o.name;
    if (!o.argument.empty()) {
      s += ' ';
      s += o.argument;
    }
    s += ']';
  }
  if (!command.operands.empty()) {
    s += ' ';
    s += command.operands;
  }
  return s;
}

std::vector<std::string_view> option_names(const Command& command) {
  std::vector<std::string_view> names;
  for (const CommandOption& o : command.options) {
    names.push_back(o.name);
    if (!o.alias.empty()) names.push_back(o.alias);
  }
  names.push_back(kHelpOption.name);
  names.push_back(kHelpOption.alias);
  return names;
}

const CommandOption* find_option(const Command& command, std::string_view arg) {
  const std::string_view name = arg.substr(0, arg.find('='));
  if (name == kHelpOption.name || name == kHelpOption.alias) return &kHelpOption;
  for (const CommandOption& o : command.options) {
    if (name == o.name || (!o.alias.empty() && name == o.alias)) return &o;
  }
  return nullptr;
}

int unknown_option(const Command& command, std::string_view arg) {
  const std::string name(arg.substr(0, arg.find('=')));
  std::fprintf(stderr, "poolkit %.*s: unknown option '%s'%s; see 'poolkit help %.*s'\n",
               static_cast<int>(command.name.size()), command.name.data(), name.c_str(),
               did_you_mean(name, option_names(command)).c_str(), static_cast<int>(command.name.size()),
               command.name.data());
  return kUsageError;
}

bool ParsedLine::has(std::string_view name) const {
  return value(name) != nullptr;
}

const std::string* ParsedLine::value(std::string_view name) const {
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    if (it->name == name) return &it->value;
  }
  return nullptr;
}

std::optional<int> parse_command_line(const Command& command, int argc, char** argv, OperandStyle style,
                                      ParsedLine& out) {
  int i = 0;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (!arg.starts_with("-") || arg == "-") {
      if (style == OperandStyle::kProgram) break;  // the program; the rest are its own
      out.operands.emplace_back(arg);
      continue;
    }
    const CommandOption* option = find_option(command, arg);
    if (option == nullptr) return unknown_option(command, arg);
    if (option == &kHelpOption) {
      print_command_help(command, stdout);
      return 0;
    }
    const std::size_t eq = arg.find('=');
    std::string value;
    if (option->argument.empty()) {
      if (eq != std::string_view::npos) {
        std::fprintf(stderr, "poolkit %.*s: %.*s takes no value\n", static_cast<int>(command.name.size()),
                     command.name.data(), static_cast<int>(option->name.size()), option->name.data());
        return kUsageError;
      }
    } else if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (!option->argument.empty() && value.empty()) {
      std::fprintf(stderr, "poolkit %.*s: %.*s needs a value: %.*s %.*s\n", static_cast<int>(command.name.size()),
                   command.name.data(), static_cast<int>(arg.substr(0, eq).size()), arg.data(),
                   static_cast<int>(option->name.size()), option->name.data(),
                   static_cast<int>(option->argument.size()), option->argument.data());
      return kUsageError;
    }
    out.options.push_back({option->name, std::move(value)});
  }
  for (; i < argc; ++i) out.operands.emplace_back(argv[i]);
  return std::nullopt;
}

std::optional<int> take_trace_file(const Command& command, const ParsedLine& line, std::string& file) {
  const int n = static_cast<int>(command.name.size());
  if (line.operands.empty()) {
    std::fprintf(stderr, "poolkit %.*s: no trace file given (poolkit %s)\n", n, command.name.data(),
                 synopsis(command).c_str());
    return kUsageError;
  }
  if (line.operands.size() > 1) {
    std::fprintf(stderr, "poolkit %.*s: one trace file at a time ('%s' and '%s')\n", n, command.name.data(),
                 line.operands[0].c_str(), line.operands[1].c_str());
    return kUsageError;
  }
  file = line.operands[0];
  return std::nullopt;
}

std::optional<int> number_option(const Command& command, const ParsedLine& line, std::string_view name, long least,
                                 long most, long& out) {
  const std::string* text = line.value(name);
  if (text == nullptr) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || errno != 0 || value < least || value > most) {
    std::fprintf(stderr, "poolkit %.*s: %.*s %s: not a number from %ld to %ld\n", static_cast<int>(command.name.size()),
                 command.name.data(), static_cast<int>(name.size()), name.data(), text->c_str(), least, most);
    return kUsageError;
  }
  out = value;
  return std::nullopt;
}

}  // namespace poolkit::cli
