// checked_report.cpp: what checked mode prints. One block of text per bug: the kind,
// the address, the block and its size, the offset of the first bad byte, and the call
// stacks where the block was allocated, where it was freed and where the bug was
// detected (symbolised by addr2line in a child process; no malloc here). Then
// POOLKIT_CHECK_ACTION: abort (default), log (go on), or exit (status 1 at once).
// Also the leak report (POOLKIT_LEAKS=1): live blocks at exit grouped by allocation
// stack, largest total first, as LeakSanitizer prints them.
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "checked.hpp"
#include "common/symbolizer.hpp"

namespace poolkit::malloc_impl {

namespace {

constinit SpinLock g_report_lock;  // one report at a time, whole

void say(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) noexcept {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  write_stderr(buf);
}

const char* bug_name(BugKind kind) noexcept {
  switch (kind) {
    case BugKind::kOverflow: case BugKind::kGuardOverflow: return "heap-buffer-overflow";
    case BugKind::kUnderflow: case BugKind::kGuardUnderflow: return "heap-buffer-underflow";
    case BugKind::kUseAfterFree: case BugKind::kGuardUseAfterFree: return "heap-use-after-free";
    case BugKind::kDoubleFree: return "double-free";
    case BugKind::kInvalidFree: return "invalid-free";
    case BugKind::kInteriorFree: return "invalid-free of an interior pointer";
    case BugKind::kStackFree: return "invalid-free of a stack address";
    case BugKind::kMismatch: return "alloc-dealloc-mismatch";
    case BugKind::kSizedDelete: return "new-delete-size-mismatch";
    case BugKind::kZeroSizeUse: return "zero-size-block-access";
  }
  return "heap bug";
}

void print_stack(std::uint32_t id, const char* none) noexcept {
  const void* const* frames = nullptr;
  int n = depot_get(id, &frames);
  if (n == 0) {
    say("    %s\n", none);
    return;
  }
  detail::print_call_stack(2, frames, n, "    ");
}

const char* access_name(int access) noexcept { return access == 2 ? "write" : access == 1 ? "read" : "access"; }

void what_happened(const BugReport& bug) noexcept {
  std::size_t size = bug.block ? static_cast<std::size_t>(bug.block->size) : 0;
  switch (bug.kind) {
    case BugKind::kOverflow:
      say("  %zu byte(s) after the end of a %zu-byte block were overwritten; the first at offset %td "
          "(byte %td past the end)\n", bug.bad_bytes, size, bug.offset, bug.offset - static_cast<std::ptrdiff_t>(size) + 1);
      break;
    case BugKind::kUnderflow:
      if (bug.bad_bytes != 0) {
        say("  %zu byte(s) before the start of a block were overwritten; the nearest at offset %td\n", bug.bad_bytes,
            bug.offset);
      }
      break;
    case BugKind::kUseAfterFree:
      say("  %zu byte(s) of a freed %zu-byte block were written after the free; the first at offset %td\n",
          bug.bad_bytes, size, bug.offset);
      break;
    case BugKind::kGuardOverflow:
      say("  %s at offset %td of a %zu-byte block (byte %td past the end): hit the guard page\n",
          access_name(bug.access), bug.offset, size, bug.offset - static_cast<std::ptrdiff_t>(size) + 1);
      break;
    case BugKind::kGuardUnderflow:
      say("  %s at offset %td of a %zu-byte block (before its start): hit the guard page\n", access_name(bug.access),
          bug.offset, size);
      break;
    case BugKind::kGuardUseAfterFree:
      say("  %s at offset %td of a freed %zu-byte block\n", access_name(bug.access), bug.offset, size);
      break;
    case BugKind::kZeroSizeUse:
      say("  %s at offset %td of a block of 0 bytes (malloc(0) or new of an empty array)\n", access_name(bug.access),
          bug.offset);
      break;
    case BugKind::kDoubleFree:
      say("  %s of a block that was already freed\n", bug.detected_in);
      break;
    case BugKind::kInteriorFree:
      say("  %s of an address %td bytes inside a %zu-byte block\n", bug.detected_in, bug.offset, size);
      break;
    case BugKind::kInvalidFree:
    case BugKind::kStackFree:
      say("  %s of an address that is not a block from malloc\n", bug.detected_in);
      break;
    case BugKind::kMismatch:
    case BugKind::kSizedDelete:
      break;
  }
}

}  // namespace

const char* alloc_kind_name(AllocKind kind) noexcept {
  switch (kind) {
    case AllocKind::kMalloc: return "malloc";
    case AllocKind::kNew: return "operator new";
    case AllocKind::kNewArray: return "operator new[]";
  }
  return "?";
}

void report_bug(const BugReport& bug) noexcept {
  std::uint32_t here = !bug.capture_here ? 0 : bug.here_stack ? *bug.here_stack : depot_capture(bug.skip_frames);
  {
    LockGuard guard(g_report_lock);
    say("==%d== poolkit: ERROR: %s at %p\n", static_cast<int>(getpid()), bug_name(bug.kind), bug.address);
    what_happened(bug);
    if (bug.detail) say("  %s\n", bug.detail);
    if (bug.block != nullptr) {
      const CheckedHeader* h = bug.block;
      say("  block %p: %zu bytes from %s, %s\n", static_cast<void*>(user_of(h)), static_cast<std::size_t>(h->size),
          alloc_kind_name(h->kind),
          h->state == BlockState::kLive ? "live" : h->state == BlockState::kQuarantined ? "freed" : "given back");
    }
    if (bug.capture_here) {
      say("  detected in %s by thread %d:\n", bug.detected_in, static_cast<int>(syscall(SYS_gettid)));
      print_stack(here, "(no call stack)");
    } else {
      say("  detected in %s\n", bug.detected_in);
    }
    if (bug.block == nullptr && bug.alloc_stack != 0) {
      say("  allocated at:\n");
      print_stack(bug.alloc_stack, "(no call stack)");
      if (bug.free_stack != 0) {
        say("  freed at:\n");
        print_stack(bug.free_stack, "(no call stack)");
      }
    }
    if (bug.block != nullptr) {
      say("  allocated by %s(%zu) in thread %u:\n", alloc_kind_name(bug.block->kind),
          static_cast<std::size_t>(bug.block->size), bug.block->thread);
      print_stack(bug.block->alloc_stack, "(no call stack: POOLKIT_STACK_DEPTH=0?)");
      if (bug.block->state != BlockState::kLive) {
        say("  freed by:\n");
        print_stack(bug.block->free_stack, "(no call stack)");
      }
    }
  }
  switch (g_options.check_action) {
    case kActionLog:
      return;
    case kActionExit:
      say("==%d== poolkit: exiting (POOLKIT_CHECK_ACTION=exit)\n", static_cast<int>(getpid()));
      _exit(1);
    default:
      say("==%d== poolkit: aborting (POOLKIT_CHECK_ACTION=log to go on, =exit to exit)\n", static_cast<int>(getpid()));
      signal(SIGABRT, SIG_DFL);
      abort();
  }
}

void report_fault_and_die(const BugReport& bug) noexcept {
  if (g_options.check_action == kActionLog) g_options.check_action = kActionAbort;  // a faulting access cannot be skipped
  report_bug(bug);
  _exit(1);  // not reached
}

void leak_report(CheckedHeader* const* heads, int shard_count) noexcept {
  struct Group {
    std::uint32_t stack;
    std::size_t bytes;
    std::size_t blocks;
  };
  std::size_t live = 0;
  for (int i = 0; i < shard_count; ++i)
    for (const CheckedHeader* h = heads[i]; h != nullptr; h = h->next) ++live;
  if (live == 0) {
    say("==%d== poolkit: no leaks: every block was freed\n", static_cast<int>(getpid()));
    return;
  }
  std::size_t slots = 64;
  while (slots < 2 * live) slots <<= 1;
  std::size_t map_bytes = slots * sizeof(Group);
  void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  auto* table = static_cast<Group*>(m);
  std::size_t groups = 0, total_bytes = 0;
  for (int i = 0; i < shard_count; ++i) {
    for (const CheckedHeader* h = heads[i]; h != nullptr; h = h->next) {
      std::size_t k = (h->alloc_stack * 0x9e3779b1u) & (slots - 1);
      while (table[k].blocks != 0 && table[k].stack != h->alloc_stack) k = (k + 1) & (slots - 1);
      if (table[k].blocks == 0) {
        table[k].stack = h->alloc_stack;
        ++groups;
      }
      table[k].blocks++;
      table[k].bytes += h->size;
      total_bytes += h->size;
    }
  }
  Group* end = std::remove_if(table, table + slots, [](const Group& g) { return g.blocks == 0; });
  std::sort(table, end, [](const Group& a, const Group& b) { return a.bytes > b.bytes; });
  LockGuard guard(g_report_lock);
  say("==%d== poolkit: LEAKS: %zu bytes in %zu blocks still allocated at exit, from %zu call stacks\n",
      static_cast<int>(getpid()), total_bytes, live, groups);
  constexpr std::size_t kShown = 32;
  std::size_t shown = 0;
  for (Group* g = table; g != end && shown < kShown; ++g, ++shown) {
    say("  %zu bytes in %zu block(s) allocated at:\n", g->bytes, g->blocks);
    print_stack(g->stack, "(no call stack)");
  }
  if (groups > kShown) say("  ... and %zu more call stacks\n", groups - kShown);
  munmap(m, map_bytes);
}

}  // namespace poolkit::malloc_impl
