// call_stack_test: capture_call_stack and the symbolizer name the functions, files
// and lines a person would look for.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/call_stack.hpp"
#include "common/symbolizer.hpp"

namespace pd = poolkit::detail;

namespace {
struct Captured {
  void* frames[pd::kMaxCallStackDepth];
  int count = 0;
};

__attribute__((noinline)) void capture_here(Captured& c) {
  c.count = pd::capture_call_stack(c.frames, pd::kMaxCallStackDepth);
  asm volatile("" ::: "memory");  // keep the call from becoming a tail call
}
__attribute__((noinline)) void outer_caller(Captured& c) {
  capture_here(c);
  asm volatile("" ::: "memory");
}

std::string print_to_string(const Captured& c) {
  char path[] = "/tmp/poolkit_call_stack_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  pd::print_call_stack(fd, c.frames, c.count, "    ");
  std::string text;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(fd);
  unlink(path);
  return text;
}
}  // namespace

TEST(CallStack, CaptureStartsAtTheCallerAndIncludesItsCallers) {
  Captured c;
  outer_caller(c);
  ASSERT_GE(c.count, 3);
  pd::SymbolizedFrame symbols[pd::kMaxCallStackDepth];
  pd::symbolize(c.frames, c.count, symbols);
  EXPECT_NE(std::strstr(symbols[0].function, "capture_here"), nullptr) << symbols[0].function;
  EXPECT_NE(std::strstr(symbols[1].function, "outer_caller"), nullptr) << symbols[1].function;
}

TEST(CallStack, SkipLeavesOutInnerFrames) {
  void* frames[8];
  struct Local {
    __attribute__((noinline)) static int skip_one(void** f) {
      int n = pd::capture_call_stack(f, 8, 1);
      asm volatile("" ::: "memory");
      return n;
    }
  };
  int n = Local::skip_one(frames);
  ASSERT_GE(n, 1);
  pd::SymbolizedFrame symbols[8];
  pd::symbolize(frames, n, symbols);
  EXPECT_EQ(std::strstr(symbols[0].function, "skip_one"), nullptr) << symbols[0].function;
}

TEST(CallStack, MaxFramesBoundsTheCapture) {
  void* frames[2];
  EXPECT_LE(pd::capture_call_stack(frames, 2), 2);
  EXPECT_EQ(pd::capture_call_stack(frames, 0), 0);
}

TEST(Symbolizer, PrintsFunctionFileAndLine) {
  Captured c;
  outer_caller(c);
  std::string text = print_to_string(c);
  EXPECT_NE(text.find("#0 "), std::string::npos) << text;
  EXPECT_NE(text.find("capture_here"), std::string::npos) << text;
  EXPECT_NE(text.find("call_stack_test.cpp:"), std::string::npos) << text;
}

TEST(Symbolizer, LocatesAddressesInSharedLibraries) {
  char module[256];
  std::uintptr_t offset = 0;
  ASSERT_TRUE(pd::locate_address(reinterpret_cast<const void*>(&::getpid), module, sizeof module, &offset));
  EXPECT_NE(std::strstr(module, "libc"), nullptr) << module;
  EXPECT_FALSE(pd::locate_address(reinterpret_cast<const void*>(16), module, sizeof module, &offset));
}

TEST(Symbolizer, UnknownAddressesPrintAsUnknownModule) {
  const void* frames[] = {reinterpret_cast<const void*>(0x10)};
  char path[] = "/tmp/poolkit_call_stack_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  pd::print_call_stack(fd, frames, 1, "");
  char buf[512] = {};
  lseek(fd, 0, SEEK_SET);
  ASSERT_GT(read(fd, buf, sizeof buf - 1), 0);
  close(fd);
  unlink(path);
  EXPECT_NE(std::strstr(buf, "<unknown module>"), nullptr) << buf;
}

namespace {
struct Both {
  void* fast[pd::kMaxCallStackDepth];
  void* slow[pd::kMaxCallStackDepth];
  std::uintptr_t sps[pd::kMaxCallStackDepth];
  void* in_slot[pd::kMaxCallStackDepth];  // the word at sps[i] - 8, read while the frames live
  int fast_count = 0, slow_count = 0;
  bool plain = false;
};
// As the tracer uses it: from a helper of the function whose callers are wanted.
__attribute__((noinline)) void capture_slow(Both& b) {
  b.slow_count = pd::capture_call_stack_sp(b.slow, b.sps, pd::kMaxCallStackDepth, 1, &b.plain);
  for (int i = 0; i + 1 < b.slow_count; ++i) b.in_slot[i] = *reinterpret_cast<void* const*>(b.sps[i] - 8);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void capture_both(Both& b) {
  b.fast_count = pd::capture_call_stack(b.fast, pd::kMaxCallStackDepth);
  capture_slow(b);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void outer_both(Both& b) {
  capture_both(b);
  asm volatile("" ::: "memory");
}
}  // namespace

TEST(CallStack, WithStackPointersGivesTheSameCallersAndWhereEachReturnAddressLives) {
  Both b;
  outer_both(b);
  ASSERT_GE(b.slow_count, 3);
  EXPECT_TRUE(b.plain);
  EXPECT_EQ(b.slow_count, b.fast_count);
  // Frame 0 is a different call in capture_both; its callers are the same.
  for (int i = 1; i < b.slow_count && i < b.fast_count; ++i) EXPECT_EQ(b.slow[i], b.fast[i]) << "frame " << i;
  pd::SymbolizedFrame symbols[2];
  pd::symbolize(b.slow, 2, symbols);
  EXPECT_NE(std::strstr(symbols[0].function, "capture_both"), nullptr) << symbols[0].function;
  EXPECT_NE(std::strstr(symbols[1].function, "outer_both"), nullptr) << symbols[1].function;
#if defined(__x86_64__)
  // Callers further out sit higher on the stack, each return address just below its callee's frame address.
  for (int i = 0; i < b.slow_count; ++i) {
    if (i > 0) {
      EXPECT_GT(b.sps[i], b.sps[i - 1]) << "frame " << i;
    }
    if (i + 1 < b.slow_count) {
      EXPECT_EQ(b.in_slot[i], b.slow[i]) << "frame " << i;
    }
  }
#endif
}

TEST(CallStack, WithStackPointersSkipsAndBoundsLikeTheFastCapture) {
  void* frames[2];
  std::uintptr_t sps[2];
  bool plain = false;
  EXPECT_LE(pd::capture_call_stack_sp(frames, sps, 2, 0, &plain), 2);
  EXPECT_EQ(pd::capture_call_stack_sp(frames, sps, 0, 0, &plain), 0);
}
