// tools/malloc_library.cpp: where `poolkit run` finds libpoolkit-malloc.so.
#include "malloc_library.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace poolkit::cli {

namespace fs = std::filesystem;

std::vector<std::string> malloc_library_candidates(const std::string& exe_path) {
  std::vector<fs::path> dirs;
  const fs::path bin_dir = fs::path(exe_path).parent_path();
  // Installed: <prefix>/bin/poolkit next to <prefix>/<libdir>/libpoolkit-malloc.so.
  dirs.push_back(bin_dir / POOLKIT_BIN_TO_LIB);
  dirs.push_back(bin_dir / ".." / "lib");
  // Build tree: build/<preset>/tools/poolkit next to build/<preset>/src/malloc/.
  dirs.push_back(bin_dir / ".." / "src" / "malloc");
  std::vector<std::string> out;
  // The soname first: a packaged system has it without the development symlink
  // (libpoolkit-malloc0 ships libpoolkit-malloc.so.0; libpoolkit-dev adds the .so).
  for (const fs::path& dir : dirs) {
    for (const char* name : {POOLKIT_MALLOC_SONAME, "libpoolkit-malloc.so"}) {
      out.push_back((dir / name).lexically_normal().string());
    }
  }
  if (const std::string built = POOLKIT_BUILD_TREE_MALLOC; !built.empty()) out.push_back(built);
  // With libdir = lib the first two are the same place; list it once.
  std::vector<std::string> unique;
  for (const std::string& c : out) {
    if (std::find(unique.begin(), unique.end(), c) == unique.end()) unique.push_back(c);
  }
  return unique;
}

std::string find_malloc_library(const std::string& exe_path) {
  for (const std::string& candidate : malloc_library_candidates(exe_path)) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return fs::absolute(candidate, ec).string();
  }
  return {};
}

std::string current_executable() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{} : exe.string();
}

}  // namespace poolkit::cli
