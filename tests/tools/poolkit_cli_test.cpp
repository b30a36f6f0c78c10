// Tests of the `poolkit` command-line program, run as a user runs it: each test
// starts the built binary through the shell and looks at its exit status and output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A scratch directory per test, so that ctest -j runs them side by side.
class PoolkitCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("poolkit_cli_test." + std::string(info->name()) + "." + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `poolkit ARGS` (ARGS as shell words) with the probe's output file set.
  Result poolkit(const std::string& args, const std::string& env = "") {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string command = "PKTEST_PROBE_OUT='" + probe_file().string() + "' " + env + " '" +
                                POOLKIT_CLI + "' " + args + " >'" + out.string() + "' 2>'" +
                                err.string() + "'";
    const int raw = std::system(command.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path probe_file() const { return dir_ / "probe"; }
  std::string probe_lines() const { return slurp(probe_file()); }
  static std::string probe() { return std::string("--lib '") + POOLKIT_PROBE_LIB + "'"; }

  fs::path dir_;
};

TEST_F(PoolkitCli, HelpPrintsUsageAndExitsZero) {
  for (const char* spelling : {"--help", "-h", "help"}) {
    const Result r = poolkit(spelling);
    EXPECT_EQ(r.status, 0) << spelling;
    EXPECT_NE(r.out.find("usage: poolkit"), std::string::npos) << spelling;
    EXPECT_NE(r.out.find("run [--stats] [--check]"), std::string::npos) << spelling;
  }
}

TEST_F(PoolkitCli, NoCommandPrintsUsageAndFails) {
  const Result r = poolkit("");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("usage: poolkit"), std::string::npos);
}

TEST_F(PoolkitCli, VersionPrintsTheProjectVersion) {
  const Result r = poolkit("version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("poolkit ") + POOLKIT_VERSION_STRING + "\n");
}

TEST_F(PoolkitCli, UnknownCommandIsAUsageError) {
  const Result r = poolkit("frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST_F(PoolkitCli, RunWithoutAProgramIsAUsageError) {
  EXPECT_EQ(poolkit("run " + probe()).status, 2);
  EXPECT_EQ(poolkit("run " + probe() + " --").status, 2);
}

TEST_F(PoolkitCli, RunWithAnUnknownOptionIsAUsageError) {
  const Result r = poolkit("run --frob -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--frob'"), std::string::npos);
}

TEST_F(PoolkitCli, RunWithAMissingLibraryIsAUsageError) {
  const Result r = poolkit("run --lib /nonexistent/libpoolkit-malloc.so -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no such file"), std::string::npos);
  EXPECT_EQ(probe_lines(), "");
}

TEST_F(PoolkitCli, RunPreloadsTheLibraryIntoTheProgram) {
  const Result r = poolkit("run " + probe() + " -- true");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(probe_lines(), "loaded stats=unset check=unset\n");
}

TEST_F(PoolkitCli, RunAcceptsTheProgramWithoutDoubleDash) {
  const Result r = poolkit("run --lib='" + std::string(POOLKIT_PROBE_LIB) + "' sh -c 'echo hi'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(probe_lines(), "loaded stats=unset check=unset\n");
}

TEST_F(PoolkitCli, RunStatsAndCheckSetTheMallocOptions) {
  const Result r = poolkit("run --stats --check " + probe() + " -- true");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(probe_lines(), "loaded stats=1 check=1\n");
}

TEST_F(PoolkitCli, RunStatsPrintsTheRunSummary) {
  const Result r = poolkit("run --stats " + probe() + " -- sh -c 'exit 3'");
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("peak RSS"), std::string::npos) << r.err;
}

TEST_F(PoolkitCli, RunPassesTheProgramsArgumentsAndOutputThrough) {
  const Result r = poolkit("run " + probe() + " -- printf '%s|' a 'b c' --stats");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "a|b c|--stats|");
}

TEST_F(PoolkitCli, RunPassesTheExitStatusThrough) {
  for (int code : {0, 1, 7, 255}) {
    EXPECT_EQ(poolkit("run " + probe() + " -- sh -c 'exit " + std::to_string(code) + "'").status, code);
  }
}

TEST_F(PoolkitCli, RunReportsADeathBySignalAs128PlusTheSignal) {
  EXPECT_EQ(poolkit("run " + probe() + " -- sh -c 'kill -TERM $$'").status, 128 + 15);
}

TEST_F(PoolkitCli, RunOfAMissingProgramExits127) {
  const Result r = poolkit("run " + probe() + " -- /nonexistent/program");
  EXPECT_EQ(r.status, 127);
  EXPECT_NE(r.err.find("cannot run '/nonexistent/program'"), std::string::npos);
}

TEST_F(PoolkitCli, RunPutsOurLibraryBeforeAnEarlierPreload) {
  // A missing earlier library: the loader only warns, and a sanitizer build of
  // poolkit itself does not object to something loaded before its runtime.
  const fs::path seen = dir_ / "seen";
  const Result r = poolkit("run " + probe() + " -- sh -c 'printf %s \"$LD_PRELOAD\" >" + seen.string() + "'",
                           "LD_PRELOAD=/nonexistent/earlier.so");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(seen), std::string(POOLKIT_PROBE_LIB) + ":/nonexistent/earlier.so");
}

TEST_F(PoolkitCli, RunWithoutAMallocToFindSaysWhereItLooked) {
  if (!std::string(POOLKIT_REAL_MALLOC).empty()) GTEST_SKIP() << "libpoolkit-malloc.so is built here";
  const Result r = poolkit("run -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("libpoolkit-malloc.so not found; looked in:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--lib PATH"), std::string::npos) << r.err;
}

TEST_F(PoolkitCli, RunOnTheRealMallocKeepsTheProgramsOutputAndStatus) {
  if (std::string(POOLKIT_REAL_MALLOC).empty()) GTEST_SKIP() << "libpoolkit-malloc.so is not built here";
  // No --lib: the binary finds the malloc of its own build tree.
  const Result plain = poolkit("run -- sh -c 'seq 1 2000 | sort -r | head -3; exit 5'");
  EXPECT_EQ(plain.status, 5) << plain.err;
  EXPECT_EQ(plain.out, "999\n998\n997\n");
  const Result stats = poolkit("run --stats -- sh -c 'seq 1 2000 | sort -n | tail -1'");
  EXPECT_EQ(stats.status, 0) << stats.err;
  EXPECT_EQ(stats.out, "2000\n");
  EXPECT_NE(stats.err.find("poolkit run:"), std::string::npos) << stats.err;
}

}  // namespace
