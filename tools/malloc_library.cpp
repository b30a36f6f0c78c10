// tools/malloc_library.cpp: where `poolkit run` finds libpoolkit-malloc.so and
// `poolkit trace` finds libpoolkit-trace.so.
#include "malloc_library.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace poolkit::cli {

namespace fs = std::filesystem;

std::vector<std::string> library_candidates(const std::string& exe_path, const std::vector<std::string>& file_names,
                                            const std::string& build_subdir, const std::string& build_path) {
  std::vector<fs::path> dirs;
  const fs::path bin_dir = fs::path(exe_path).parent_path();
  // Installed: <prefix>/bin/poolkit next to <prefix>/<libdir>/<file_name>.
  dirs.push_back(bin_dir / POOLKIT_BIN_TO_LIB);
  dirs.push_back(bin_dir / ".." / "lib");
  // Build tree: build/<preset>/tools/poolkit next to build/<preset>/<build_subdir>/.
  dirs.push_back(bin_dir / ".." / build_subdir);
  std::vector<std::string> out;
  for (const fs::path& dir : dirs)
    for (const std::string& name : file_names) out.push_back((dir / name).lexically_normal().string());
  if (!build_path.empty()) out.push_back(build_path);
  // With libdir = lib the first two are the same place; list it once.
  std::vector<std::string> unique;
  for (const std::string& c : out) {
    if (std::find(unique.begin(), unique.end(), c) == unique.end()) unique.push_back(c);
  }
  return unique;
}

std::string find_library_file(const std::vector<std::string>& candidates) {
  for (const std::string& candidate : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return fs::absolute(candidate, ec).string();
  }
  return {};
}

std::vector<std::string> malloc_library_candidates(const std::string& exe_path) {
  // The soname first: a packaged system has it without the development symlink
  // (libpoolkit-malloc0 ships libpoolkit-malloc.so.0; libpoolkit-dev adds the .so).
  return library_candidates(exe_path, {POOLKIT_MALLOC_SONAME, "libpoolkit-malloc.so"}, "src/malloc",
                            POOLKIT_BUILD_TREE_MALLOC);
}

std::string find_malloc_library(const std::string& exe_path) {
  return find_library_file(malloc_library_candidates(exe_path));
}

std::string current_executable() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{} : exe.string();
}

}  // namespace poolkit::cli
