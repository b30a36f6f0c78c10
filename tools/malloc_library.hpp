// tools/malloc_library.hpp: finds libpoolkit-malloc.so for `poolkit run`.
// Looks next to the installed binary (<prefix>/bin -> <prefix>/lib; the soname
// libpoolkit-malloc.so.0 first, then libpoolkit-malloc.so), then in the build tree
// the binary was built in; an explicit --lib path wins over both.
#pragma once

#include <string>
#include <vector>

namespace poolkit::cli {

/// The places searched, in order, for a binary at `exe_path`.
std::vector<std::string> malloc_library_candidates(const std::string& exe_path);

/// The first candidate that exists as a regular file, or "" when none does.
std::string find_malloc_library(const std::string& exe_path);

/// The same search for another of poolkit's libraries: `file_names` (e.g.
/// "libpoolkit-trace.so") next to the installed binary, then in the build tree's
/// `build_subdir` (e.g. "src/trace"), then at `build_path` when not empty.
std::vector<std::string> library_candidates(const std::string& exe_path, const std::vector<std::string>& file_names,
                                            const std::string& build_subdir, const std::string& build_path);
std::string find_library_file(const std::vector<std::string>& candidates);

/// The path of the running executable (from /proc/self/exe), or "" if unknown.
std::string current_executable();

}  // namespace poolkit::cli
