// tools/poolkit_main.cpp: the `poolkit` command: parses the command line and
// dispatches to `run`, `version` or the help text.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "malloc_library.hpp"
#include "run_command.hpp"

namespace {

constexpr int kUsageError = 2;

void print_help(std::FILE* out) {
  std::fputs(
      "usage: poolkit <command> [options]\n"
      "\n"
      "commands:\n"
      "  run [--stats] [--check] [--lib PATH] [--] PROGRAM [ARGS...]\n"
      "      Run PROGRAM with libpoolkit-malloc.so preloaded (LD_PRELOAD) and pass its\n"
      "      exit status through (128+N when signal N ended it, 127 when not found).\n"
      "        --stats      set POOLKIT_STATS=1: the malloc prints its summary to stderr\n"
      "                     at exit; poolkit adds the wall time and peak RSS of the run\n"
      "        --check      set POOLKIT_CHECK=1: checked mode (canaries, quarantine, guard pages, call stacks)\n"
      "        --lib PATH   preload this library instead of the one found next to\n"
      "                     poolkit (<prefix>/lib, or the build tree)\n"
      "      Other options reach the malloc through the environment as usual:\n"
      "      POOLKIT_VERBOSE, POOLKIT_DECAY_MS, POOLKIT_MMAP_THRESHOLD.\n"
      "  version     print poolkit's version\n"
      "  help        print this text (also --help, -h)\n",
      out);
}

int run_command(int argc, char** argv) {
  poolkit::cli::RunOptions options;
  int i = 0;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--stats") {
      options.stats = true;
    } else if (arg == "--check") {
      options.check = true;
    } else if (arg == "--lib") {
      if (i + 1 >= argc) {
        std::fputs("poolkit run: --lib needs a path\n", stderr);
        return kUsageError;
      }
      options.library = argv[++i];
    } else if (arg.starts_with("--lib=")) {
      options.library = std::string(arg.substr(6));
    } else if (arg == "--help" || arg == "-h") {
      print_help(stdout);
      return 0;
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "poolkit run: unknown option '%s' (see poolkit --help)\n", argv[i]);
      return kUsageError;
    } else {
      break;  // the program; everything after it is its own arguments
    }
  }
  for (; i < argc; ++i) options.argv.emplace_back(argv[i]);
  if (options.argv.empty()) {
    std::fputs("poolkit run: no program given (poolkit run [options] -- PROGRAM ARGS)\n", stderr);
    return kUsageError;
  }

  if (options.library.empty()) {
    const std::string exe = poolkit::cli::current_executable();
    options.library = poolkit::cli::find_malloc_library(exe);
    if (options.library.empty()) {
      std::fputs("poolkit run: libpoolkit-malloc.so not found; looked in:\n", stderr);
      for (const std::string& c : poolkit::cli::malloc_library_candidates(exe)) {
        std::fprintf(stderr, "  %s\n", c.c_str());
      }
      std::fputs("pass --lib PATH to name it\n", stderr);
      return kUsageError;
    }
  } else {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.library, ec)) {
      std::fprintf(stderr, "poolkit run: --lib %s: no such file\n", options.library.c_str());
      return kUsageError;
    }
    // The dynamic loader resolves a relative LD_PRELOAD against the child's directory.
    options.library = std::filesystem::absolute(options.library, ec).string();
  }
  return poolkit::cli::run_program(options);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help(stderr);
    return kUsageError;
  }
  const std::string_view command = argv[1];
  if (command == "run") return run_command(argc - 2, argv + 2);
  if (command == "version" || command == "--version") {
    std::printf("poolkit %s\n", POOLKIT_VERSION_STRING);
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    print_help(stdout);
    return 0;
  }
  std::fprintf(stderr, "poolkit: unknown command '%s'\n\n", argv[1]);
  print_help(stderr);
  return kUsageError;
}
