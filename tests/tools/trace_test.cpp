// End-to-end tests of `poolkit trace`, `report` and `replay`: a program with known
// calls (trace_victim.cpp) is traced through the built binary and libpoolkit-trace.so,
// and what the file holds is compared with what the program did.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "cli_harness.hpp"
#include "trace_analysis.hpp"
#include "trace_reader.hpp"
#include "trace_symbols.hpp"

namespace {

namespace fs = std::filesystem;
using namespace poolkit::trace;

using poolkit::testing::Result;
using poolkit::testing::slurp;

class Trace_ : public poolkit::testing::CliTest {
 protected:
  Result poolkit(const std::string& args, const std::string& env = "") { return run_poolkit(args, env); }
  Result trace(const std::string& mode, const std::string& file = "t.pktrace") {
    return poolkit("trace --lib '" + std::string(POOLKIT_TRACE_LIB) + "' -o " + file + " -- '" + POOLKIT_VICTIM +
                   "' " + mode);
  }
};

std::size_t count(const Trace& t, Call call, std::uint64_t size) {
  return static_cast<std::size_t>(std::count_if(t.events.begin(), t.events.end(),
                                                [&](const Event& e) { return e.call == call && e.size == size; }));
}
const Event* find(const Trace& t, Call call, std::uint64_t size) {
  for (const Event& e : t.events)
    if (e.call == call && e.size == size) return &e;
  return nullptr;
}
bool freed(const Trace& t, std::uint64_t ptr, std::uint32_t* thread = nullptr) {
  for (const Event& e : t.events) {
    if (is_release(e.call) && e.ptr == ptr) {
      if (thread) *thread = e.thread;
      return true;
    }
  }
  return false;
}

TEST_F(Trace_, RecordsEveryKnownCallWithItsSizeAlignmentAndAddresses) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  const Result r = trace("known");
  ASSERT_EQ(r.status, 0) << r.err;
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  EXPECT_TRUE(t.warnings.empty());
  EXPECT_EQ(count(t, Call::kMalloc, 1111), 10u);
  for (const Event& e : t.events) {
    if (e.call == Call::kMalloc && e.size == 1111) {
      EXPECT_TRUE(freed(t, e.ptr));
    }
  }
  const Event* c = find(t, Call::kCalloc, 3 * 777);
  ASSERT_NE(c, nullptr);
  const Event* re = find(t, Call::kRealloc, 4444);
  ASSERT_NE(re, nullptr);
  EXPECT_EQ(re->old_ptr, c->ptr);
  EXPECT_TRUE(freed(t, re->ptr));
  const Event* pm = find(t, Call::kPosixMemalign, 5555);
  ASSERT_NE(pm, nullptr);
  EXPECT_EQ(pm->align, 256u);
  EXPECT_EQ(pm->ptr % 256, 0u);
  const Event* aa = find(t, Call::kAlignedAlloc, 8192);
  ASSERT_NE(aa, nullptr);
  EXPECT_EQ(aa->align, 4096u);
  const Event* na = find(t, Call::kNewArray, 1717 * sizeof(int));
  ASSERT_NE(na, nullptr);
  bool deleted_array = false;
  for (const Event& e : t.events) deleted_array |= e.call == Call::kDeleteArray && e.ptr == na->ptr;
  EXPECT_TRUE(deleted_array);
  const Event* big = find(t, Call::kNew, 3456);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->align, 128u);
  const Event* del = find(t, Call::kDelete, 3456);  // the sized delete names the size
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(del->ptr, big->ptr);
  EXPECT_EQ(count(t, Call::kMalloc, 9999), 3u);
  // The child's calls are in the child's file only.
  EXPECT_EQ(count(t, Call::kMalloc, 1357), 0u);
}

TEST_F(Trace_, NamesTheCallSites) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("known").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  TraceSymbols symbols(t);
  const Event* small = find(t, Call::kMalloc, 1111);
  const Event* leak = find(t, Call::kMalloc, 9999);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(leak, nullptr);
  EXPECT_NE(symbols.site(small->stack).find("make_small"), std::string::npos) << symbols.site(small->stack);
  EXPECT_NE(symbols.site(leak->stack).find("make_leak"), std::string::npos) << symbols.site(leak->stack);
  // All ten calls come from one place: one stack, stored once.
  for (const Event& e : t.events) {
    if (e.call == Call::kMalloc && e.size == 1111) {
      EXPECT_EQ(e.stack, small->stack);
    }
  }
  const Analysis a = analyze(t);
  EXPECT_EQ(a.by_site.at(leak->stack).leaked_blocks, 3u);
  EXPECT_EQ(a.by_site.at(leak->stack).leaked_bytes, 3u * 9999);
}

TEST_F(Trace_, TellsApartCallersOfOneCallSiteAtTheSameStackDepth) {
  // The tracer memoizes stacks by call site (return address and stack pointer): this
  // call site repeats both, and only the callers further out differ.
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("callers").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  std::map<std::uint32_t, int> calls_by_stack;
  for (const Event& e : t.events)
    if (e.call == Call::kMalloc && e.size == 4321) ++calls_by_stack[e.stack];
  ASSERT_EQ(calls_by_stack.size(), 2u);
  TraceSymbols symbols(t);
  std::map<std::string, int> calls_by_caller;
  for (const auto& [stack, calls] : calls_by_stack) {
    EXPECT_NE(symbols.site(stack).find("make_from_site"), std::string::npos) << symbols.site(stack);
    const std::vector<FrameName> frames = symbols.frames(stack, 2);
    ASSERT_EQ(frames.size(), 2u);
    const std::string caller = frames[1].text();
    calls_by_caller[caller.find("first_caller") != std::string::npos    ? "first"
                    : caller.find("second_caller") != std::string::npos ? "second"
                                                                        : caller] += calls;
  }
  EXPECT_EQ(calls_by_caller["first"], 100);
  EXPECT_EQ(calls_by_caller["second"], 100);
}

TEST_F(Trace_, NamesEveryFrameOfCallersReachedThroughNewChains) {
  // One call site reached through 16 chains of four calls (recursion's shape): after the
  // first unwinds, the tracer walks new chains by the frame sizes it learnt. Every
  // stack must name its own chain, frame by frame.
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("chains").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  TraceSymbols symbols(t);
  std::map<std::uint64_t, int> calls_by_chain;
  for (const Event& e : t.events) {
    if (e.call != Call::kMalloc || e.size < 5000 || e.size >= 5016) continue;
    const unsigned chain = static_cast<unsigned>(e.size - 5000);
    ++calls_by_chain[chain];
    const std::vector<FrameName> frames = symbols.frames(e.stack, 5);
    ASSERT_EQ(frames.size(), 5u) << "chain " << chain;
    EXPECT_NE(frames[0].text().find("make_at_leaf"), std::string::npos) << frames[0].text();
    for (int level = 0; level < 4; ++level) {
      // frames[1] is the innermost branch (bit 0), frames[4] the outermost (bit 3)
      const bool right = (chain >> level) & 1;
      EXPECT_NE(frames[1 + level].text().find(right ? "branch_right" : "branch_left"), std::string::npos)
          << "chain " << chain << ", frame " << 1 + level << ": " << frames[1 + level].text();
    }
  }
  EXPECT_EQ(calls_by_chain.size(), 16u);
  for (const auto& [chain, calls] : calls_by_chain) EXPECT_EQ(calls, 3) << "chain " << chain;
}

TEST_F(Trace_, RecordsThreadsAndCrossThreadFrees) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("known").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  EXPECT_EQ(count(t, Call::kMalloc, 2468), 7u);
  const Event* first = find(t, Call::kMalloc, 1111);
  for (const Event& e : t.events) {
    if (e.call != Call::kMalloc || e.size != 2468) continue;
    EXPECT_NE(e.thread, first->thread);
    std::uint32_t by = 0;
    ASSERT_TRUE(freed(t, e.ptr, &by));
    EXPECT_EQ(by, first->thread);
  }
  EXPECT_GE(t.threads.size(), 2u);
}

// exit() flushes every thread's buffer while three threads are still recording: the
// file reads whole, with at least the calls each had made when main exited.
TEST_F(Trace_, ExitFlushesThreadsThatAreStillRecording) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  for (int run = 0; run < 5; ++run) {
    ASSERT_EQ(trace("busy_exit").status, 0);
    const Trace t = read_trace((dir_ / "t.pktrace").string());
    EXPECT_TRUE(t.warnings.empty()) << run;
    std::map<std::uint32_t, std::size_t> per_thread;
    for (const Event& e : t.events) {
      if ((e.call == Call::kMalloc && e.size == 2345) || is_release(e.call)) ++per_thread[e.thread];
    }
    std::size_t busy = 0;
    for (const auto& [thread, n] : per_thread) busy += n >= 20000;
    EXPECT_EQ(busy, 3u) << run;
    fs::remove(dir_ / "t.pktrace");
  }
}

TEST_F(Trace_, AForkedChildWritesItsOwnReadableFile) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("known").status, 0);
  std::vector<fs::path> children;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename().string().starts_with("t.pktrace.")) children.push_back(e.path());
  ASSERT_EQ(children.size(), 1u);
  const Trace child = read_trace(children[0].string());
  EXPECT_EQ(count(child, Call::kMalloc, 1357), 4u);
  const Trace parent = read_trace((dir_ / "t.pktrace").string());
  EXPECT_EQ(child.parent_pid, parent.pid);
  // Its call sites resolve from its own file (stacks and modules re-sent at fork).
  TraceSymbols symbols(child);
  EXPECT_NE(symbols.site(find(child, Call::kMalloc, 1357)->stack).find("make_small"), std::string::npos);
}

TEST_F(Trace_, AnExecedProgramWritesItsOwnFileAndTheCallsBeforeExecAreKept) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  for (const std::string mode : {"exec", "execl"}) {
    const std::string file = mode + ".pktrace";
    ASSERT_EQ(trace(mode, file).status, 0) << mode;
    const Trace before = read_trace((dir_ / file).string());
    EXPECT_EQ(count(before, Call::kMalloc, 1212), 1u) << mode;
    const fs::path after = dir_ / (file + "." + std::to_string(before.pid));
    ASSERT_TRUE(fs::exists(after)) << mode;
    const Trace t = read_trace(after.string());
    EXPECT_EQ(t.pid, before.pid);
    EXPECT_EQ(analyze(t).allocations, 6u) << mode;  // the `count` sequence
    ASSERT_FALSE(t.command.empty());
    EXPECT_EQ(t.command.back(), "count");
  }
}

// The hand count of trace_victim's `count` (see the comments there and docs/trace.md).
TEST_F(Trace_, ReportFiguresMatchAHandCount) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("count").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  const Analysis a = analyze(t);
  EXPECT_EQ(a.allocations, 6u);  // a b c d e, and realloc's new d
  EXPECT_EQ(a.reallocs, 1u);
  EXPECT_EQ(a.releases, 5u);     // a c e b, and realloc's old d
  EXPECT_EQ(a.bytes_allocated, 1000u + 2000 + 3000 + 400 + 50 + 800);
  EXPECT_EQ(a.peak_live_bytes, 5000u);
  EXPECT_EQ(a.peak_live_blocks, 2u);
  EXPECT_EQ(a.temporary, 1u);    // c
  EXPECT_EQ(a.leaked_blocks, 1u);
  EXPECT_EQ(a.leaked_bytes, 800u);
  EXPECT_EQ(a.failed, 0u);

  const Result r = poolkit("report t.pktrace -o page");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("6 allocations (1 realloc), 5 frees, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("temporary    1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("never freed  800 B in 1 blocks"), std::string::npos) << r.out;
  const std::string page = slurp(dir_ / "page" / "report.md");
  EXPECT_NE(page.find("(5000 B) in 2 blocks"), std::string::npos) << page;
  EXPECT_NE(page.find("count"), std::string::npos);
  for (const char* png : {"live_bytes.png", "size_classes.png", "lifetimes.png", "threads.png", "call_sites.png"}) {
    EXPECT_TRUE(fs::exists(dir_ / "page" / png)) << png << " missing; gnuplot says: "
                                                 << slurp(dir_ / "page" / "data" / "gnuplot.log");
    EXPECT_NE(page.find(png), std::string::npos) << png;
  }
}

TEST_F(Trace_, LeavesTheProgramsOutputAlone) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  const Result r = trace("stdio");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "hello out\n");
  EXPECT_TRUE(r.err.starts_with("hello err\npoolkit trace: wrote ")) << r.err;
}

// The tracer's operator new keeps the standard's failure behaviour.
TEST_F(Trace_, AFailingNewThrowsCallsTheHandlerAndNothrowGivesNull) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  const Result r = trace("newfail");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "new: bad_alloc\n"
            "handler: bad_alloc after 3 calls\n"
            "nothrow: nullptr\n"
            "nothrow, throwing handler: nullptr\n");
}

TEST_F(Trace_, KeepsTheFlushedChunksOfAProgramThatCrashes) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  const Result r = trace("crash");
  EXPECT_EQ(r.status, 128 + SIGABRT);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  const std::size_t n = count(t, Call::kMalloc, 24);
  // Whole 64 KiB buffers reached the file (about 6000 packed events each); the last
  // partial one did not.
  EXPECT_GE(n, 40000u);
  EXPECT_LT(n, 50000u);
}

TEST_F(Trace_, AMultiThreadedProgramIsRecordedAndReplays) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("threads").status, 0);
  const Trace t = read_trace((dir_ / "t.pktrace").string());
  const Analysis a = analyze(t);
  std::size_t workers = 0;
  for (const auto& [id, f] : a.by_thread) {
    if (f.allocated.calls >= 2000) {
      ++workers;
      EXPECT_GE(f.cross_thread_releases, 1000u);
    }
  }
  EXPECT_EQ(workers, 4u);
  const Result r = poolkit("replay t.pktrace --malloc glibc,poolkit --rounds 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("glibc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("poolkit "), std::string::npos) << r.out;
}

// The peak live bytes each allocator's replay counted: the last column of its row.
std::map<std::string, std::string> replay_peaks(const std::string& out) {
  std::map<std::string, std::string> peaks;
  for (const std::string name : {"glibc", "jemalloc", "tcmalloc", "mimalloc", "poolkit"}) {
    const std::size_t at = out.find("\n" + name + " ");
    if (at == std::string::npos) continue;
    const std::string row = out.substr(at + 1, out.find('\n', at + 1) - at - 1);
    peaks[name] = row.substr(row.find_last_of(' ') + 1);
  }
  return peaks;
}

// A single-threaded trace: its replay follows the recorded order by itself.
TEST_F(Trace_, AReplayReproducesTheRecordedPeakLiveBytes) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("count").status, 0);
  const Analysis a = analyze(read_trace((dir_ / "t.pktrace").string()));
  const Result r = poolkit("replay t.pktrace --malloc glibc,poolkit --rounds 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("recorded peak live"), std::string::npos);
  const auto peaks = replay_peaks(r.out);
  ASSERT_EQ(peaks.size(), 2u) << r.out;
  for (const auto& [name, peak] : peaks) EXPECT_EQ(peak, std::to_string(a.peak_live_bytes)) << name << "\n" << r.out;
}

// Four threads freeing each other's blocks: left free, their replay peaks lower than
// the recording (docs/trace.md); the default order (peak) and the recorded order reach
// the recorded peak exactly, on every allocator installed, run after run.
TEST_F(Trace_, AMultiThreadedReplayReproducesTheRecordedPeakLiveBytesOnEveryAllocator) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  ASSERT_EQ(trace("threads").status, 0);
  const Analysis a = analyze(read_trace((dir_ / "t.pktrace").string()));
  const std::string recorded = std::to_string(a.peak_live_bytes);
  for (const std::string order : {"", " --order peak", " --order peak", " --order recorded"}) {
    const Result r = poolkit("replay t.pktrace --rounds 1" + order);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("order " + std::string(order.empty() ? "peak" : order.substr(9)) + ": "), std::string::npos)
        << r.out;
    const auto peaks = replay_peaks(r.out);
    EXPECT_TRUE(peaks.count("glibc") && peaks.count("poolkit")) << r.out;
    for (const auto& [name, peak] : peaks) EXPECT_EQ(peak, recorded) << name << order << "\n" << r.out;
  }
}

TEST_F(Trace_, Python3IsRecordedReportedAndReplays) {
  POOLKIT_SKIP_UNLESS_BUILT(POOLKIT_TRACE_LIB, "libpoolkit-trace.so");
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  // PYTHONMALLOC=malloc: every object through malloc, not only the large ones.
  const Result r = poolkit("trace --lib '" + std::string(POOLKIT_TRACE_LIB) +
                               "' -o py.pktrace -- /usr/bin/python3 -c 'import json; print(len(json.dumps(list(range(20000)))))'",
                           "PYTHONMALLOC=malloc");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "128890\n");
  const Trace t = read_trace((dir_ / "py.pktrace").string());
  EXPECT_GT(analyze(t).allocations, 20000u);
  EXPECT_TRUE(t.warnings.empty());
  const Result report = poolkit("report py.pktrace");
  ASSERT_EQ(report.status, 0) << report.err;
  EXPECT_NE(report.out.find("python3"), std::string::npos);
  const Result replay = poolkit("replay py.pktrace --malloc glibc --rounds 1");
  ASSERT_EQ(replay.status, 0) << replay.err;
}

TEST_F(Trace_, ReportAndReplayRefuseABadFileClearly) {
  std::ofstream(dir_ / "bad.pktrace") << "not a trace at all, just some text of some length";
  for (const char* command : {"report", "replay"}) {
    const Result r = poolkit(std::string(command) + " bad.pktrace");
    EXPECT_EQ(r.status, 1) << command;
    EXPECT_NE(r.err.find("bad.pktrace: not a poolkit trace"), std::string::npos) << r.err;
  }
  const Result missing = poolkit("report nowhere.pktrace");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("nowhere.pktrace: cannot open"), std::string::npos) << missing.err;
}

TEST_F(Trace_, TraceRefusesBadArguments) {
  EXPECT_EQ(poolkit("trace").status, 2);
  const Result depth = poolkit("trace --depth 65 -- true");
  EXPECT_EQ(depth.status, 2);
  EXPECT_NE(depth.err.find("--depth 65"), std::string::npos) << depth.err;
  const Result lib = poolkit("trace --lib /nonexistent.so -- true");
  EXPECT_EQ(lib.status, 2);
  EXPECT_NE(lib.err.find("/nonexistent.so: no such file"), std::string::npos);
  const Result alloc = poolkit("replay x.pktrace --malloc nosuch");
  EXPECT_EQ(alloc.status, 2);
  EXPECT_NE(alloc.err.find("unknown allocator 'nosuch'"), std::string::npos) << alloc.err;
  const Result order = poolkit("replay x.pktrace --order timed");
  EXPECT_EQ(order.status, 2);
  EXPECT_NE(order.err.find("unknown --order 'timed' (peak, recorded, free)"), std::string::npos) << order.err;
}

}  // namespace
