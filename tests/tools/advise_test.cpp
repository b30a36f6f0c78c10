// End to end: the programs of examples/advise_*.cpp, each with a known pattern, are
// traced and advised through the built binary; the advice must be the one a person
// would give (the site, the pattern, the pool). The measured gains are not asserted
// (a timed test would be flaky on a shared machine); docs/advise.md shows them.
// `poolkit heapmap` is checked on the same traces.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_harness.hpp"

namespace {

namespace fs = std::filesystem;

using poolkit::testing::Result;
using poolkit::testing::slurp;

class Advise : public poolkit::testing::CliTest {
 protected:
  void SetUp() override {
    POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
    CliTest::SetUp();
  }

  Result poolkit(const std::string& args) { return run_poolkit(args); }

  // Traces `program ARGS` and returns `poolkit advise` on it (one round: only the
  // advice is checked here).
  std::string advise(const std::string& program, const std::string& args) {
    const Result traced = poolkit("trace --lib '" + std::string(POOLKIT_TRACE_LIB) + "' -o t.pktrace -- '" + program +
                                  "' " + args);
    EXPECT_EQ(traced.status, 0) << traced.err;
    const Result advised = poolkit("advise --rounds 1 t.pktrace");
    EXPECT_EQ(advised.status, 0) << advised.err;
    return advised.out;
  }

  // The table row that names `symbol`.
  static std::string row_of(const std::string& out, const std::string& symbol) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (line.find(symbol) != std::string::npos && line.find("file:line") == std::string::npos) return line;
    return {};
  }

};

TEST_F(Advise, TheHot48ByteSiteGetsAFixedPool) {
  const std::string out = advise(ADVISE_HOT_SITE, "30000");
  const std::string row = row_of(out, "spawn_particle");
  EXPECT_NE(row.find("advise_hot_site.cpp:"), std::string::npos) << out;
  EXPECT_NE(row.find("one size, churn"), std::string::npos) << out;
  EXPECT_NE(row.find("FixedPool"), std::string::npos) << out;
  EXPECT_NE(out.find("ask for 48 B"), std::string::npos) << out;
  // The cold site is left alone.
  EXPECT_NE(row_of(out, "load_name").find(" - "), std::string::npos) << out;
}

TEST_F(Advise, TheRequestLoopsSitesAreOneGroupForAnArena) {
  const std::string out = advise(ADVISE_REQUESTS, "600");
  const std::string row = row_of(out, "+1 site");
  EXPECT_TRUE(row.find("read_field") != std::string::npos || row.find("tokenize") != std::string::npos) << out;
  EXPECT_NE(row.find("die together"), std::string::npos) << out;
  EXPECT_NE(row.find("Arena mark/rewind"), std::string::npos) << out;
  EXPECT_NE(out.find("freed in 600 bursts"), std::string::npos) << out;
}

TEST_F(Advise, TheFragmentingMessagesGetAHeapOfTheirOwnAndTheRecordsNothing) {
  const std::string out = advise(ADVISE_FRAGMENTS, "8000");
  const std::string messages = row_of(out, "receive_message");
  EXPECT_NE(messages.find("many sizes, churn"), std::string::npos) << out;
  EXPECT_NE(messages.find("Heap"), std::string::npos) << out;
  EXPECT_NE(row_of(out, "keep_record").find("none"), std::string::npos) << out;
  EXPECT_NE(out.find("long-lived blocks"), std::string::npos) << out;
}

TEST_F(Advise, AProgramWithoutAPatternIsToldNothingWouldHelp) {
  // No steps: the particles are made once and freed at the end.
  const std::string out = advise(ADVISE_HOT_SITE, "0");
  EXPECT_NE(out.find("nothing would help"), std::string::npos) << out;
  EXPECT_EQ(out.find("the change, for the sites"), std::string::npos) << out;
}

TEST_F(Advise, BadInputGetsAClearMessage) {
  std::ofstream(dir_ / "not-a-trace") << std::string(100, 'x');
  const Result r = poolkit("advise not-a-trace");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("poolkit advise: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a poolkit trace"), std::string::npos) << r.err;
  const Result no_file = poolkit("advise");
  EXPECT_EQ(no_file.status, 2);
  EXPECT_NE(no_file.err.find("no trace file given"), std::string::npos) << no_file.err;
  const Result bad_rounds = poolkit("advise --rounds 0 x");
  EXPECT_EQ(bad_rounds.status, 2);
  EXPECT_NE(bad_rounds.err.find("--rounds 0"), std::string::npos) << bad_rounds.err;
}

TEST_F(Advise, HeapmapShowsThePeakWithItsFiguresAndAPictureOfThePages) {
  advise(ADVISE_FRAGMENTS, "4000");
  const Result r = poolkit("heapmap t.pktrace");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("(the peak of live bytes)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fragmentation "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pages held but free"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("one character = 1 page"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n0x"), std::string::npos) << r.out;  // a row labelled with its address
  EXPECT_NE(r.out.find('#'), std::string::npos) << r.out;      // full pages
}

TEST_F(Advise, HeapmapAtTheStartShowsNothingLive) {
  advise(ADVISE_HOT_SITE, "100");
  const Result r = poolkit("heapmap --at 0ns t.pktrace");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("0 B live in 0 blocks on 0 pages;"), std::string::npos) << r.out;
}

TEST_F(Advise, HeapmapDrawsPngsWithGnuplot) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gnuplot";
  advise(ADVISE_FRAGMENTS, "4000");
  const Result map = poolkit("heapmap t.pktrace --peak -o map.png");
  ASSERT_EQ(map.status, 0) << map.err;
  const Result timeline = poolkit("heapmap t.pktrace --timeline -o timeline.png");
  ASSERT_EQ(timeline.status, 0) << timeline.err;
  for (const char* name : {"map.png", "timeline.png"}) {
    const std::string png = slurp(dir_ / name);
    ASSERT_GT(png.size(), 1000u) << name;
    EXPECT_EQ(png.substr(1, 3), "PNG") << name;
  }
}

TEST_F(Advise, HeapmapRejectsBadOptionsClearly) {
  const Result both = poolkit("heapmap --at 1s --peak x");
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("give one"), std::string::npos) << both.err;
  const Result bad_time = poolkit("heapmap --at soon x");
  EXPECT_EQ(bad_time.status, 2);
  EXPECT_NE(bad_time.err.find("--at soon: not a time"), std::string::npos) << bad_time.err;
  const Result no_output = poolkit("heapmap --timeline x");
  EXPECT_EQ(no_output.status, 2);
  EXPECT_NE(no_output.err.find("give -o FILE.png"), std::string::npos) << no_output.err;
}

}  // namespace
