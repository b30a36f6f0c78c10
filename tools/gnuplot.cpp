// tools/gnuplot.cpp: gnuplot as a child process.
#include "gnuplot.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <string>

namespace poolkit::cli {

bool run_gnuplot(const std::filesystem::path& script) {
  // Its messages (e.g. "empty y range") go to a log beside the script, not the terminal.
  const std::filesystem::path log = script.parent_path() / "gnuplot.log";
  const std::string command = "gnuplot '" + script.string() + "' >'" + log.string() + "' 2>&1";
  const int rc = std::system(command.c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

}  // namespace poolkit::cli
