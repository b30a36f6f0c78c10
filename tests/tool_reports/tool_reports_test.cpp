// tool_reports: a use after free and an overflow inside pool memory are reported by
// the memory tool this build is for (valgrind memcheck with -DPOOLKIT_VALGRIND=ON,
// ASan in the asan preset). Each case runs pool_misuse as a child and reads its stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <string>

#include "poolkit/detail/annotations.hpp"

namespace {

struct ChildResult {
  int exit_code;
  std::string output;
};

ChildResult run(const std::string& command) {
  ChildResult r{-1, {}};
  FILE* f = popen((command + " 2>&1").c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f)) r.output.append(buf.data(), n);
  int status = pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string misuse_command(const std::string& pool, const std::string& bug) {
  std::string victim = std::string(POOL_MISUSE_PATH) + " '" + pool + "' " + bug;
  if (poolkit::annotate::kValgrind)
    return "valgrind --error-exitcode=99 --exit-on-first-error=no " + victim;
  return "ASAN_OPTIONS=detect_leaks=0 " + victim;
}

class ToolReports : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!poolkit::annotate::kAsan && !poolkit::annotate::kValgrind)
      GTEST_SKIP() << "needs the asan or valgrind preset";
  }
  void expect_reported(const std::string& bug, const char* asan_kind) {
    ChildResult r = run(misuse_command(GetParam(), bug));
    SCOPED_TRACE(r.output);
    EXPECT_NE(r.exit_code, 0);
    if (poolkit::annotate::kValgrind) {
      EXPECT_EQ(r.exit_code, 99);
      EXPECT_NE(r.output.find("Invalid write of size 1"), std::string::npos);
    } else {
      EXPECT_NE(r.output.find("ERROR: AddressSanitizer: " + std::string(asan_kind)), std::string::npos);
    }
  }
};

// Every pool the tools must see into (the real pools join as they land on main).
INSTANTIATE_TEST_SUITE_P(Pools, ToolReports,
                         ::testing::Values("FixedPool", "Arena", "Heap", "BuddyPool", "PoolSet", "Guarded<FixedPool>",
                                           "Guarded<Heap>", "SlotPool", "Guarded<SlotPool>",
                                           "Guarded<MallocPool>"),
                         [](const auto& info) {
                           std::string name;
                           for (const char* c = info.param; *c; ++c)
                             if (std::isalnum(static_cast<unsigned char>(*c))) name += *c;
                           return name;
                         });

TEST_P(ToolReports, CleanRunIsNotReported) {
  ChildResult r = run(misuse_command(GetParam(), "none"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_P(ToolReports, UseAfterFreeIsReported) { expect_reported("use_after_free", "use-after-poison"); }

TEST_P(ToolReports, OverflowByOneByteIsReported) { expect_reported("overflow", "use-after-poison"); }

}  // namespace
