// tools/trace_command.cpp: `poolkit trace [-o FILE] [--depth N] [--lib PATH] -- PROGRAM ARGS`:
// runs PROGRAM with libpoolkit-trace.so preloaded (src/trace/trace_preload.cpp), which
// records every allocation call into FILE; forked children and exec'ed programs
// write FILE.<pid>. The program's own stdout and stderr are left alone; poolkit's
// lines go to stderr after it ends.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "help.hpp"
#include "malloc_library.hpp"
#include "run_command.hpp"

namespace fs = std::filesystem;

namespace {

using poolkit::cli::kUsageError;

int usage(const char* what) {
  std::fprintf(stderr, "poolkit trace: %s (poolkit trace [-o FILE] -- PROGRAM ARGS)\n", what);
  return kUsageError;
}

// FILE and the FILE.<pid>[.<n>] files of children, written since `since`.
std::vector<fs::path> written_files(const fs::path& file, fs::file_time_type since) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) out.push_back(file);
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  const std::string prefix = file.filename().string() + ".";
  std::vector<fs::path> children;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.find_first_not_of("0123456789.", prefix.size()) != std::string::npos) continue;
    if (entry.last_write_time(ec) < since) continue;
    children.push_back(entry.path());
  }
  std::sort(children.begin(), children.end());
  out.insert(out.end(), children.begin(), children.end());
  return out;
}

}  // namespace

int trace_command(int argc, char** argv) {
  using namespace poolkit::cli;
  ParsedLine line;
  if (auto stop = parse_command_line(*find_command("trace"), argc, argv, OperandStyle::kProgram, line)) return *stop;
  std::string output = line.has("--output") ? *line.value("--output") : "";
  std::string library = line.has("--lib") ? *line.value("--lib") : "";
  const std::string depth = line.has("--depth") ? *line.value("--depth") : "";
  RunOptions options;
  options.argv = std::move(line.operands);
  if (options.argv.empty()) return usage("no program given");
  if (!depth.empty()) {
    char* end = nullptr;
    const long d = std::strtol(depth.c_str(), &end, 10);
    if (end == depth.c_str() || *end != '\0' || d < 0 || d > 64)
      return usage(("--depth " + depth + ": not a number from 0 to 64").c_str());
  }

  std::error_code ec;
  if (library.empty()) {
    const std::string exe = poolkit::cli::current_executable();
    const auto candidates =
        poolkit::cli::library_candidates(exe, {"poolkit/libpoolkit-trace.so", "libpoolkit-trace.so"}, "src/trace", POOLKIT_BUILD_TREE_TRACE);
    library = poolkit::cli::find_library_file(candidates);
    if (library.empty()) {
      std::fputs("poolkit trace: libpoolkit-trace.so not found; looked in:\n", stderr);
      for (const std::string& c : candidates) std::fprintf(stderr, "  %s\n", c.c_str());
      std::fputs("pass --lib PATH to name it\n", stderr);
      return kUsageError;
    }
  } else if (!fs::is_regular_file(library, ec)) {
    std::fprintf(stderr, "poolkit trace: --lib %s: no such file\n", library.c_str());
    return kUsageError;
  }
  options.library = fs::absolute(library, ec).string();

  if (output.empty()) output = "poolkit-trace." + fs::path(options.argv[0]).filename().string() + ".pktrace";
  const fs::path file = fs::absolute(output, ec);
  if (fs::is_directory(file, ec)) return usage(("-o " + output + " is a directory").c_str());
  if (fs::exists(file, ec) && !fs::remove(file, ec)) {
    std::fprintf(stderr, "poolkit trace: cannot replace %s: %s\n", output.c_str(), ec.message().c_str());
    return 1;
  }
  // The preloaded library reads these; run_program passes this environment on.
  setenv("PKTRACE_FILE", file.c_str(), 1);
  if (!depth.empty()) setenv("PKTRACE_DEPTH", depth.c_str(), 1);

  const auto since = fs::file_time_type::clock::now() - std::chrono::seconds(1);
  const int status = poolkit::cli::run_program(options);
  const std::vector<fs::path> files = written_files(file, since);
  if (files.empty()) {
    std::fprintf(stderr, "poolkit trace: %s wrote no trace (it may not use the dynamic malloc, "
                 "or be static)\n", options.argv[0].c_str());
    return status != 0 ? status : 1;
  }
  for (const fs::path& f : files) {
    std::fprintf(stderr, "poolkit trace: wrote %s (%ju bytes)\n", f.c_str(),
                 static_cast<std::uintmax_t>(fs::file_size(f, ec)));
  }
  return status;
}
