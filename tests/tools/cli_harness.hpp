// tests/tools/cli_harness.hpp: runs the built `poolkit` program as a user does, through
// the shell, in a scratch directory of its own per test (so ctest -j runs tests side by
// side), and keeps its exit status and output. The directory stays when a test fails.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

// For a test that needs a library the build may leave out (a sanitizer build makes
// neither libpoolkit-trace.so nor libpoolkit-malloc.so): skips it, naming the library,
// when `path` (the test's compile definition of the library's path) is empty.
#define POOLKIT_SKIP_UNLESS_BUILT(path, name) \
  if (std::string(path).empty()) GTEST_SKIP() << name << " is not built here (sanitizer build)"

namespace poolkit::testing {

struct Result {
  int status = -1;  // the exit status; -1 when killed by a signal
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("poolkit_" + std::string(info->test_suite_name()) + "." + info->name() + "." + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (dir_.empty()) return;  // skipped before SetUp made it
    if (HasFailure()) {
      std::fprintf(stderr, "(kept %s)\n", dir_.c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  // Runs `poolkit ARGS` (ARGS as shell words) in the scratch directory, with `env`
  // (shell assignments, "A=1 B=2") in its environment.
  Result run_poolkit(const std::string& args, const std::string& env = "") const {
    const std::filesystem::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string command = "cd '" + dir_.string() + "' && " + env + " '" + POOLKIT_CLI + "' " + args + " >'" +
                                out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(command.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  std::filesystem::path dir_;
};

}  // namespace poolkit::testing
