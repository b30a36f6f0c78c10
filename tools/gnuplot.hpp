// tools/gnuplot.hpp: runs a gnuplot script, for the charts of `poolkit report` and the
// pictures of `poolkit heapmap`.
#pragma once

#include <filesystem>

namespace poolkit::cli {

/// Runs gnuplot on `script`; its messages go to gnuplot.log beside the script, not to
/// the terminal. True if gnuplot ran and succeeded.
bool run_gnuplot(const std::filesystem::path& script);

}  // namespace poolkit::cli
