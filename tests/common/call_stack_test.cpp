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
