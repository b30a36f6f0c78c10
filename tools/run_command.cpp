// tools/run_command.cpp: `poolkit run`: parses its options, finds the malloc,
// starts PROGRAM with it preloaded and waits for it.
#include "run_command.hpp"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "commands.hpp"
#include "help.hpp"
#include "malloc_library.hpp"

namespace poolkit::cli {

namespace {

bool has_name(const std::string& entry, const char* name) {
  const std::size_t n = std::strlen(name);
  return entry.size() > n && entry.compare(0, n, name) == 0 && entry[n] == '=';
}

// Ignores SIGINT and SIGQUIT while the child runs (as system() does): a Ctrl-C reaches
// the child, which is in the same process group, and its status is what we report.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &old_int_);
    sigaction(SIGQUIT, &ignore, &old_quit_);
  }
  ~IgnoreInterrupts() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

}  // namespace

std::vector<std::string> preload_environment(const RunOptions& options, char** environ_in) {
  std::vector<std::string> env;
  std::string earlier_preload;
  for (char** e = environ_in; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (has_name(entry, "LD_PRELOAD")) {
      earlier_preload = entry.substr(std::strlen("LD_PRELOAD="));
      continue;
    }
    if ((options.stats && has_name(entry, "POOLKIT_STATS")) ||
        (options.check && has_name(entry, "POOLKIT_CHECK"))) {
      continue;
    }
    env.push_back(entry);
  }
  // Ours first so that it interposes malloc before anything else preloaded.
  std::string preload = "LD_PRELOAD=" + options.library;
  if (!earlier_preload.empty()) preload += ":" + earlier_preload;
  env.push_back(preload);
  if (options.stats) env.emplace_back("POOLKIT_STATS=1");
  if (options.check) env.emplace_back("POOLKIT_CHECK=1");
  return env;
}

int run_program(const RunOptions& options) {
  if (options.argv.empty()) return 2;
  std::vector<std::string> env_strings = preload_environment(options, environ);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  IgnoreInterrupts ignore_interrupts;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (spawn_error != 0) {
    const char* what_to_do = spawn_error == ENOENT   ? "; check the name, or give its path"
                             : spawn_error == EACCES ? "; is it executable (chmod +x)?"
                                                     : "";
    std::fprintf(stderr, "poolkit run: cannot run '%s': %s%s\n", argv[0], std::strerror(spawn_error), what_to_do);
    return spawn_error == ENOENT ? 127 : 126;
  }

  int status = 0;
  struct rusage usage {};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::perror("poolkit run: wait4");
      return 126;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int code = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
  }
  if (options.stats) {
    // The malloc's own summary went to the program's stderr; this is what only the parent sees.
    std::fprintf(stderr, "poolkit run: %s %s %d after %.3f s wall, %.3f s user, %.3f s sys, peak RSS %.1f MiB\n",
                 argv[0], WIFSIGNALED(status) ? "killed by signal" : "exited with status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : code, seconds,
                 static_cast<double>(usage.ru_utime.tv_sec) + static_cast<double>(usage.ru_utime.tv_usec) / 1e6,
                 static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) / 1e6,
                 static_cast<double>(usage.ru_maxrss) / 1024.0);
  }
  return code;
}

int run_command(int argc, char** argv) {
  const Command& self = *find_command("run");
  ParsedLine line;
  if (auto stop = parse_command_line(self, argc, argv, OperandStyle::kProgram, line)) return *stop;
  RunOptions options;
  options.stats = line.has("--stats");
  options.check = line.has("--check");
  if (const std::string* lib = line.value("--lib")) options.library = *lib;
  options.argv = std::move(line.operands);
  if (options.argv.empty()) {
    std::fputs("poolkit run: no program given: poolkit run [options] [--] PROGRAM [ARGS...]\n", stderr);
    return kUsageError;
  }

  if (options.library.empty()) {
    const std::string exe = current_executable();
    options.library = find_malloc_library(exe);
    if (options.library.empty()) {
      std::fputs("poolkit run: libpoolkit-malloc.so not found; looked in:\n", stderr);
      for (const std::string& c : malloc_library_candidates(exe)) {
        std::fprintf(stderr, "  %s\n", c.c_str());
      }
      std::fputs("pass --lib PATH to name it (or install libpoolkit-malloc0)\n", stderr);
      return kUsageError;
    }
  } else {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.library, ec)) {
      std::fprintf(stderr, "poolkit run: --lib %s: no such file; name an existing libpoolkit-malloc.so\n",
                   options.library.c_str());
      return kUsageError;
    }
    // The dynamic loader resolves a relative LD_PRELOAD against the child's directory.
    options.library = std::filesystem::absolute(options.library, ec).string();
  }
  return run_program(options);
}

}  // namespace poolkit::cli
