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

#include "cli_harness.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "malloc/options.hpp"
#include "suggest.hpp"

namespace {

namespace fs = std::filesystem;

using poolkit::testing::Result;
using poolkit::testing::slurp;

class PoolkitCli : public poolkit::testing::CliTest {
 protected:
  // `poolkit ARGS`, with the probe library's output file set.
  Result poolkit(const std::string& args, const std::string& env = "") {
    return run_poolkit(args, "PKTEST_PROBE_OUT='" + probe_file().string() + "' " + env);
  }

  fs::path probe_file() const { return dir_ / "probe"; }
  std::string probe_lines() const { return slurp(probe_file()); }
  static std::string probe() { return std::string("--lib '") + POOLKIT_PROBE_LIB + "'"; }
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
  EXPECT_NE(r.err.find("poolkit --help"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << "nothing is near 'frobnicate': " << r.err;
}

TEST_F(PoolkitCli, UnknownCommandSuggestsTheNearest) {
  const Result r = poolkit("rnu -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'rnu' (did you mean 'run'?)"), std::string::npos) << r.err;
  EXPECT_NE(poolkit("verison").err.find("did you mean 'version'?"), std::string::npos);
}

TEST_F(PoolkitCli, UnknownTopLevelOptionSuggestsTheNearest) {
  const Result r = poolkit("--verison");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--verison' (did you mean '--version'?)"), std::string::npos) << r.err;
}

TEST_F(PoolkitCli, UnknownRunOptionSuggestsTheNearest) {
  const Result r = poolkit("run --stat -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--stat' (did you mean '--stats'?)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("poolkit help run"), std::string::npos) << r.err;
  EXPECT_NE(poolkit("run --lbi=x -- true").err.find("unknown option '--lbi' (did you mean '--lib'?)"),
            std::string::npos);
}

TEST_F(PoolkitCli, VersionHasTheUsualSpellings) {
  for (const char* spelling : {"version", "--version", "-V"}) {
    const Result r = poolkit(spelling);
    EXPECT_EQ(r.status, 0) << spelling;
    EXPECT_EQ(r.out, std::string("poolkit ") + POOLKIT_VERSION_STRING + "\n") << spelling;
  }
  const Result extra = poolkit("version now");
  EXPECT_EQ(extra.status, 2);
  EXPECT_NE(extra.err.find("takes no arguments, got 'now'"), std::string::npos) << extra.err;
}

TEST_F(PoolkitCli, HelpListsEveryCommandOfTheTable) {
  const Result r = poolkit("--help");
  for (const poolkit::cli::Command& c : poolkit::cli::commands()) {
    EXPECT_NE(r.out.find("  " + poolkit::cli::synopsis(c) + "\n"), std::string::npos) << c.name;
    EXPECT_NE(r.out.find(std::string(c.summary)), std::string::npos) << c.name;
  }
}

TEST_F(PoolkitCli, HelpCommandPrintsItsOptionsAndDescription) {
  for (const std::string way : {"help run", "run --help", "run -h"}) {
    const Result r = poolkit(way);
    EXPECT_EQ(r.status, 0) << way;
    EXPECT_NE(r.out.find("usage: poolkit run [--stats] [--check] [--lib PATH] [--] PROGRAM [ARGS...]"),
              std::string::npos)
        << way << r.out;
    EXPECT_NE(r.out.find("--lib PATH"), std::string::npos) << way;
    EXPECT_NE(r.out.find("128+N when signal N"), std::string::npos) << way;
  }
  EXPECT_EQ(poolkit("help help").status, 0);
  EXPECT_NE(poolkit("help version").out.find("usage: poolkit version"), std::string::npos);
}

TEST_F(PoolkitCli, HelpOfAnUnknownTopicSuggestsTheNearestAndListsThem) {
  const Result r = poolkit("help mallco");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no command or topic 'mallco' (did you mean 'malloc'?)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the topics: run, trace, report, replay, advise, heapmap, help, version, malloc"), std::string::npos) << r.err;
  EXPECT_EQ(poolkit("help run version").status, 2);
}

TEST_F(PoolkitCli, HelpMallocDocumentsEveryOptionWithDefaultAndRange) {
  const Result r = poolkit("help malloc");
  EXPECT_EQ(r.status, 0);
  for (const poolkit::cli::OptionText& o : poolkit::cli::malloc_option_texts()) {
    EXPECT_NE(r.out.find("  " + std::string(o.name) + "=" + std::string(o.values)), std::string::npos) << o.name;
    EXPECT_NE(r.out.find("(default " + std::string(o.default_value) + ")"), std::string::npos) << o.name;
    const std::string first_range_line(o.range.substr(0, o.range.find('\n')));
    EXPECT_NE(r.out.find("Accepts: " + first_range_line), std::string::npos) << o.name;
  }
}

TEST_F(PoolkitCli, HelpAllHoldsEveryCommandAndTheMallocOptions) {
  const Result r = poolkit("help --all");
  EXPECT_EQ(r.status, 0);
  for (const poolkit::cli::Command& c : poolkit::cli::commands()) {
    EXPECT_NE(r.out.find("usage: poolkit " + poolkit::cli::synopsis(c)), std::string::npos) << c.name;
  }
  for (const poolkit::cli::OptionText& o : poolkit::cli::malloc_option_texts()) {
    EXPECT_NE(r.out.find(std::string(o.name)), std::string::npos) << o.name;
  }
  EXPECT_NE(poolkit("help --al").err.find("did you mean '--all'?"), std::string::npos);
}

TEST(Suggest, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  using poolkit::cli::edit_distance;
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("run", "run"), 0u);
  EXPECT_EQ(edit_distance("run", ""), 3u);
  EXPECT_EQ(edit_distance("", "help"), 4u);
  EXPECT_EQ(edit_distance("--stat", "--stats"), 1u);
  EXPECT_EQ(edit_distance("hlep", "help"), 2u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Suggest, NearestTakesTheClosestAndRefusesWildGuesses) {
  using poolkit::cli::nearest;
  const std::vector<std::string_view> words = {"run", "help", "version"};
  EXPECT_EQ(nearest("rn", words), "run");
  EXPECT_EQ(nearest("versoin", words), "version");
  EXPECT_EQ(nearest("halp", words), "help");
  EXPECT_EQ(nearest("frobnicate", words), "");
  EXPECT_EQ(nearest("x", {}), "");
  EXPECT_EQ(poolkit::cli::did_you_mean("--chek", {"--check", "--stats"}), " (did you mean '--check'?)");
  EXPECT_EQ(poolkit::cli::did_you_mean("zzzzzz", {"--check"}), "");
}

TEST(CommandTable, NamesAndOptionsAreUniqueAndEveryRowIsComplete) {
  std::vector<std::string_view> names;
  for (const poolkit::cli::Command& c : poolkit::cli::commands()) {
    EXPECT_FALSE(c.summary.empty()) << c.name;
    EXPECT_FALSE(c.description.empty()) << c.name;
    EXPECT_NE(c.entry, nullptr) << c.name;
    for (std::string_view seen : names) EXPECT_NE(seen, c.name);
    names.push_back(c.name);
    std::vector<std::string_view> options = poolkit::cli::option_names(c);
    for (std::size_t i = 0; i < options.size(); ++i) {
      EXPECT_TRUE(options[i].starts_with("-")) << c.name << " " << options[i];
      for (std::size_t j = i + 1; j < options.size(); ++j) EXPECT_NE(options[i], options[j]) << c.name;
    }
    for (const poolkit::cli::CommandOption& o : c.options) EXPECT_FALSE(o.help.empty()) << o.name;
  }
}

TEST_F(PoolkitCli, RunWithoutAProgramIsAUsageError) {
  EXPECT_EQ(poolkit("run " + probe()).status, 2);
  EXPECT_EQ(poolkit("run " + probe() + " --").status, 2);
}

TEST_F(PoolkitCli, RunLibWithoutAPathIsAUsageError) {
  for (const char* args : {"run --lib", "run --lib="}) {
    const Result r = poolkit(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find("--lib needs a value: --lib PATH"), std::string::npos) << args << ": " << r.err;
  }
}

TEST_F(PoolkitCli, AFlagGivenAValueIsAUsageError) {
  const Result r = poolkit("run --stats=1 -- true");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--stats takes no value"), std::string::npos) << r.err;
}

TEST_F(PoolkitCli, OptionsTakeTheirValueAfterAnEqualsSignOrAsTheNextWord) {
  for (const char* args : {"report --top=0 x.pktrace", "report --top 0 x.pktrace", "report x.pktrace --top 0"}) {
    const Result r = poolkit(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find("--top 0: not a number from 1 to 1000000"), std::string::npos) << args << ": " << r.err;
  }
}

TEST_F(PoolkitCli, ASecondTraceFileIsAUsageError) {
  const Result r = poolkit("report a.pktrace b.pktrace");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("one trace file at a time"), std::string::npos) << r.err;
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
  EXPECT_NE(r.err.find("check the name, or give its path"), std::string::npos) << r.err;
}

TEST_F(PoolkitCli, RunOfAFileThatIsNotExecutableExits126AndSaysWhy) {
  const fs::path script = dir_ / "not_executable.sh";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  const Result r = poolkit("run " + probe() + " -- '" + script.string() + "'");
  EXPECT_EQ(r.status, 126);
  EXPECT_NE(r.err.find("is it executable (chmod +x)?"), std::string::npos) << r.err;
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
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_REAL_MALLOC, "libpoolkit-malloc.so");
  // No --lib: the binary finds the malloc of its own build tree.
  const Result plain = poolkit("run -- sh -c 'seq 1 2000 | sort -r | head -3; exit 5'");
  EXPECT_EQ(plain.status, 5) << plain.err;
  EXPECT_EQ(plain.out, "999\n998\n997\n");
  const Result stats = poolkit("run --stats -- sh -c 'seq 1 2000 | sort -n | tail -1'");
  EXPECT_EQ(stats.status, 0) << stats.err;
  EXPECT_EQ(stats.out, "2000\n");
  EXPECT_NE(stats.err.find("poolkit run:"), std::string::npos) << stats.err;
}

// The malloc's options are parsed in src/malloc/options.cpp and documented in
// src/malloc/options.hpp (help, man page): these two tests keep them in step.
TEST_F(PoolkitCli, EveryDocumentedMallocOptionIsKnownToTheMalloc) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_REAL_MALLOC, "libpoolkit-malloc.so");
  for (const poolkit::cli::OptionText& o : poolkit::cli::malloc_option_texts()) {
    // A value in range for every option: the malloc must not call the name unknown.
    const std::string value = o.name == "POOLKIT_MMAP_THRESHOLD" ? "64k" : o.name == "POOLKIT_DECAY_MS" ? "50" : "0";
    const Result r = poolkit("run -- true", std::string(o.name) + "=" + value);
    EXPECT_EQ(r.status, 0) << o.name << r.err;
    EXPECT_EQ(r.err.find("unknown option"), std::string::npos) << o.name << ": " << r.err;
  }
}

TEST_F(PoolkitCli, EveryOptionTheMallocKnowsIsDocumented) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_REAL_MALLOC, "libpoolkit-malloc.so");
  // The malloc's warning for an unknown POOLKIT_ variable lists the ones it knows.
  const Result r = poolkit("run -- true", "POOLKIT_NO_SUCH_OPTION=1");
  const std::size_t known = r.err.find("known: ");
  ASSERT_NE(known, std::string::npos) << "the malloc's warning no longer lists its options: " << r.err;
  std::string list = r.err.substr(known + 7, r.err.find(')', known) - known - 7);
  std::size_t start = 0;
  int count = 0;
  while (start < list.size()) {
    std::size_t end = list.find(", ", start);
    if (end == std::string::npos) end = list.size();
    const std::string name = list.substr(start, end - start);
    bool documented = false;
    for (const poolkit::cli::OptionText& o : poolkit::cli::malloc_option_texts()) documented |= o.name == name;
    EXPECT_TRUE(documented) << name << " is not in src/malloc/options.hpp";
    ++count;
    start = end + 2;
  }
  EXPECT_EQ(count, static_cast<int>(std::size(poolkit::malloc_impl::kOptions)));
}

}  // namespace
