// tools/replay_command.cpp: `poolkit replay FILE [--malloc LIST] [--rounds N]`: runs
// the recorded calls again (replay_plan: same sizes, same order per thread, the same
// cross-thread frees) on each allocator, each in its own process under its preload
// (replay_worker), interleaved over rounds, and prints the medians side by side with
// ratios to the best: time, peak RSS, peak fragmentation (RSS against live bytes).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "help.hpp"
#include "malloc_library.hpp"
#include "replay_plan.hpp"
#include "trace_analysis.hpp"
#include "trace_reader.hpp"

namespace fs = std::filesystem;
using namespace poolkit::trace;

int replay_worker(const char* plan_path);

namespace {

using poolkit::cli::kUsageError;

struct Allocator {
  std::string name;
  std::string library;  // "" for glibc
};

struct Run {
  double seconds = 0;
  std::uint64_t peak_live = 0;
  std::uint64_t rss_kib = 0;  // peak RSS minus RSS before the replay
};

std::string peer_library(const std::string& name) {
  const std::string dir = std::string("/usr/lib/") + POOLKIT_LIBRARY_ARCHITECTURE + "/";
  if (name == "jemalloc") return dir + "libjemalloc.so.2";
  if (name == "tcmalloc") return dir + "libtcmalloc_minimal.so.4";
  if (name == "mimalloc") return dir + "libmimalloc.so.2";
  if (name == "poolkit") return poolkit::cli::find_malloc_library(poolkit::cli::current_executable());
  return {};
}

// One worker process; false (with a message) if it failed.
bool run_once(const Allocator& a, const std::string& plan, Run& out) {
  const std::string self = poolkit::cli::current_executable();
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "PKTRACE_", 8) != 0) env.emplace_back(*e);
  }
  if (!a.library.empty()) env.push_back("LD_PRELOAD=" + a.library);
  std::vector<char*> envp;
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = self, arg1 = "replay", arg2 = "--run-plan", arg3 = plan;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), arg3.data(), nullptr};
  int fds[2];
  if (pipe(fds) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; rc == 0 && (n = read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  if (rc != 0) {
    std::fprintf(stderr, "poolkit replay: cannot start %s: %s\n", self.c_str(), std::strerror(rc));
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  long long ns = 0;
  unsigned long long live = 0, before = 0;
  long maxrss = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      std::sscanf(text.c_str(), "replay ns=%lld peak_live=%llu rss_before_kib=%llu maxrss_kib=%ld", &ns, &live,
                  &before, &maxrss) != 4) {
    std::fprintf(stderr, "poolkit replay: the %s run failed (%s %d)\n", a.name.c_str(),
                 WIFSIGNALED(status) ? "signal" : "status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return false;
  }
  out.seconds = static_cast<double>(ns) / 1e9;
  out.peak_live = live;
  out.rss_kib = static_cast<std::uint64_t>(maxrss) > before ? static_cast<std::uint64_t>(maxrss) - before : 0;
  return true;
}

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int replay_command(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[0]) == "--run-plan") return replay_worker(argv[1]);
  using namespace poolkit::cli;
  const Command& command = *find_command("replay");
  ParsedLine line;
  if (auto stop = parse_command_line(command, argc, argv, OperandStyle::kFiles, line)) return *stop;
  std::string file;
  if (auto stop = take_trace_file(command, line, file)) return *stop;
  std::string list = "glibc,jemalloc,tcmalloc,mimalloc,poolkit";
  const bool list_given = line.has("--malloc");
  if (list_given) list = *line.value("--malloc");
  long rounds_given = 3;
  if (auto stop = number_option(command, line, "--rounds", 1, 100, rounds_given)) return *stop;
  const int rounds = static_cast<int>(rounds_given);
  ReplayOrder order = ReplayOrder::kPeak;
  if (const std::string* name = line.value("--order"); name != nullptr && !parse_replay_order(*name, order)) {
    std::fprintf(stderr, "poolkit replay: unknown --order '%s' (peak, recorded, free)\n", name->c_str());
    return kUsageError;
  }

  std::vector<Allocator> allocators;
  std::stringstream names(list);
  for (std::string name; std::getline(names, name, ',');) {
    if (name != "glibc" && name != "jemalloc" && name != "tcmalloc" && name != "mimalloc" && name != "poolkit") {
      std::fprintf(stderr, "poolkit replay: unknown allocator '%s' (glibc, jemalloc, tcmalloc, mimalloc, poolkit)\n",
                   name.c_str());
      return kUsageError;
    }
    Allocator a{name, peer_library(name)};
    std::error_code ec;
    if (name != "glibc" && (a.library.empty() || !fs::is_regular_file(a.library, ec))) {
      if (list_given) {
        std::fprintf(stderr, "poolkit replay: %s is not installed (%s)\n", name.c_str(),
                     a.library.empty() ? "not found" : a.library.c_str());
        return kUsageError;
      }
      std::fprintf(stderr, "poolkit replay: skipping %s (not installed)\n", name.c_str());
      continue;
    }
    allocators.push_back(a);
  }

  Plan plan;
  try {
    const Trace trace = read_trace(file);
    for (const std::string& w : trace.warnings) std::fprintf(stderr, "poolkit replay: warning: %s\n", w.c_str());
    plan = make_plan(trace, order);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "poolkit replay: %s\n", e.what());
    return 1;
  }
  std::uint64_t calls = 0;
  for (const auto& t : plan.threads) calls += t.size();
  char plan_path[] = "/tmp/poolkit-replay-XXXXXX";
  const int fd = mkstemp(plan_path);
  if (fd < 0) {
    std::perror("poolkit replay: mkstemp");
    return 1;
  }
  close(fd);
  try {
    write_plan(plan, plan_path);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "poolkit replay: %s\n", e.what());
    unlink(plan_path);
    return 1;
  }
  std::printf("poolkit replay: %s: %zu thread%s, %" PRIu64 " calls, recorded peak live %s (%" PRIu64 " B); %d round%s\n",
              file.c_str(), plan.threads.size(), plan.threads.size() == 1 ? "" : "s", calls,
              format_bytes(plan.peak_live_bytes).c_str(), plan.peak_live_bytes, rounds, rounds == 1 ? "" : "s");
  if (plan.threads.size() > 1) {
    std::printf("order %s: %s\n", replay_order_name(order),
                order == ReplayOrder::kFree
                    ? "each thread's calls in order, threads free to interleave (the peak may differ)"
                    : (std::to_string(plan.gates) + " point" + (plan.gates == 1 ? "" : "s") +
                       " where the threads wait for the recorded order")
                          .c_str());
  }

  std::map<std::string, std::vector<Run>> runs;
  bool failed = false;
  for (int r = 0; r < rounds && !failed; ++r) {
    // Interleaved, and each round starts with a different allocator.
    for (std::size_t k = 0; k < allocators.size(); ++k) {
      const Allocator& a = allocators[(k + static_cast<std::size_t>(r)) % allocators.size()];
      Run run;
      if (!run_once(a, plan_path, run)) {
        failed = true;
        break;
      }
      runs[a.name].push_back(run);
    }
  }
  unlink(plan_path);
  if (failed) return 1;

  struct Row {
    std::string name;
    double seconds;
    std::uint64_t rss_kib;
    std::uint64_t live;
  };
  std::vector<Row> rows;
  for (const Allocator& a : allocators) {
    std::vector<double> t;
    std::vector<std::uint64_t> rss, live;
    for (const Run& run : runs[a.name]) {
      t.push_back(run.seconds);
      rss.push_back(run.rss_kib);
      live.push_back(run.peak_live);
    }
    rows.push_back({a.name, median(t), median(rss), median(live)});
  }
  double best_time = rows.front().seconds;
  std::uint64_t best_rss = rows.front().rss_kib;
  for (const Row& row : rows) {
    best_time = std::min(best_time, row.seconds);
    best_rss = std::min(best_rss, row.rss_kib);
  }
  std::printf("\n%-10s %10s %7s %14s %7s %14s %18s\n", "allocator", "time", "ratio", "peak RSS", "ratio",
              "fragmentation", "peak live (replay)");
  for (const Row& row : rows) {
    const double frag = plan.peak_live_bytes == 0 ? 0.0
                                                  : static_cast<double>(row.rss_kib) * 1024.0 /
                                                        static_cast<double>(plan.peak_live_bytes);
    std::printf("%-10s %10s %6.2fx %14s %6.2fx %13.2fx %18" PRIu64 "\n", row.name.c_str(),
                format_duration(static_cast<std::uint64_t>(row.seconds * 1e9)).c_str(), best_time > 0 ? row.seconds / best_time : 1.0, format_bytes(row.rss_kib * 1024).c_str(),
                best_rss > 0 ? static_cast<double>(row.rss_kib) / static_cast<double>(best_rss) : 1.0, frag,
                row.live);
  }
  std::printf("\nmedians of %d round%s; peak RSS counts what the replay added to the process; "
              "fragmentation = peak RSS / recorded peak live bytes\n",
              rounds, rounds == 1 ? "" : "s");
  return 0;
}
