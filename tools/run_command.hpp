// tools/run_command.hpp: `poolkit run`: start a program with libpoolkit-malloc.so
// preloaded and the malloc's options set in its environment, wait for it, and
// hand back its exit status the way a shell reports it.
#pragma once

#include <string>
#include <vector>

namespace poolkit::cli {

struct RunOptions {
  bool stats = false;               // POOLKIT_STATS=1: the malloc prints its summary at exit
  bool check = false;               // POOLKIT_CHECK=1: guards and double-free detection
  std::string library;              // the .so to preload (absolute path)
  std::vector<std::string> argv;    // PROGRAM ARGS...
};

/// `poolkit run [options] [--] PROGRAM [ARGS...]`; argv is what follows "run".
int run_command(int argc, char** argv);

/// Runs the program and waits. Returns its exit status, 128+N if signal N ended it,
/// 127 if it could not be found and 126 if it could not be executed.
int run_program(const RunOptions& options);

/// The environment of this process with LD_PRELOAD (the library first, any earlier
/// LD_PRELOAD after it) and the POOLKIT_* options asked for.
std::vector<std::string> preload_environment(const RunOptions& options, char** environ_in);

}  // namespace poolkit::cli
