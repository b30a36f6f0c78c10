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

/// The path of the running executable (from /proc/self/exe), or "" if unknown.
std::string current_executable();

}  // namespace poolkit::cli
