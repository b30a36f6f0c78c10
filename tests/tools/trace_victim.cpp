// tests/tools/trace_victim.cpp: a program with known allocation calls for the trace
// tests (trace_test.cpp) to record and count. Sizes are distinctive so that the tests
// can tell them from the C library's own allocations. Modes:
//   known    every call of the family once or more from named functions, a thread
//            whose blocks main frees, a forked child, three leaks
//   count    a short sequence the tests count by hand (nothing else allocates)
//   threads  4 threads, each freeing half of its blocks in the next thread
//   crash    50000 blocks, then abort() (the trace keeps the flushed chunks)
//   stdio    writes one line to stdout and one to stderr
//   exec     one malloc(1212), then exec's itself in mode `count` (execv)
//   execl    the same through execl
//   callers  one malloc(4321) call site reached from two callers at the same stack
//            depth, alternately, 100 times each (the tracer must tell them apart)
//   chains   one malloc(5000 + k) call site reached through 16 chains k of four
//            branch_left/branch_right calls (bit 3 of k the outermost), each chain
//            3 times: the tracer walks new chains by frame sizes it learnt earlier
//   newfail  operator new that cannot be satisfied: std::bad_alloc, the new_handler
//            loop, and nullptr from the nothrow forms (prints what it saw)
//   busy_exit 3 threads allocating and freeing 2345-byte blocks without end; main
//            exits once each has made 20000 calls (exit's flush meets them mid-call)
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace {

// Kept in frames of their own so that the tests find these names as call sites.
__attribute__((noinline)) void* make_small(std::size_t size) {
  void* p = std::malloc(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* make_leak(std::size_t size) {
  void* p = std::malloc(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}

struct alignas(128) Big {
  char bytes[3456];
};
static_assert(sizeof(Big) == 3456);

void* volatile g_sink;

int known() {
  void* small[10];
  for (void*& p : small) p = make_small(1111);
  for (void* p : small) std::free(p);
  void* q = std::calloc(3, 777);
  q = std::realloc(q, 4444);
  std::free(q);
  void* a = nullptr;
  if (posix_memalign(&a, 256, 5555) != 0) return 1;
  std::free(a);
  void* b = std::aligned_alloc(4096, 8192);
  std::free(b);
  int* array = new int[1717];
  g_sink = array;
  delete[] array;
  Big* big = new Big;
  g_sink = big;
  delete big;
  for (int i = 0; i < 3; ++i) g_sink = make_leak(9999);

  void* cross[7];
  std::thread t([&] {
    for (void*& p : cross) p = std::malloc(2468);
  });
  t.join();
  for (void* p : cross) std::free(p);

  const pid_t child = fork();
  if (child == 0) {
    for (int i = 0; i < 4; ++i) std::free(make_small(1357));
    std::exit(0);  // exit, not _exit: the child's trace is flushed at exit
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

// The sequence docs/trace.md and the tests count by hand.
int count() {
  void* a = std::malloc(1000);
  void* b = std::malloc(2000);
  std::free(a);
  void* c = std::malloc(3000);
  std::free(c);  // temporary: freed by the next call
  void* d = std::malloc(400);
  void* e = std::malloc(50);
  d = std::realloc(d, 800);
  std::free(e);
  std::free(b);
  g_sink = d;  // never freed
  return 0;
}

int threads() {
  constexpr int kThreads = 4, kBlocks = 2000;
  std::vector<std::vector<void*>> handed(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<void*> mine;
      mine.reserve(kBlocks);
      for (int i = 0; i < kBlocks; ++i) mine.push_back(std::malloc(16 + static_cast<std::size_t>((i * 37 + t) % 4000)));
      for (int i = 0; i < kBlocks; i += 2) std::free(mine[static_cast<std::size_t>(i)]);
      for (int i = 1; i < kBlocks; i += 2) handed[static_cast<std::size_t>(t)].push_back(mine[static_cast<std::size_t>(i)]);
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (void* p : handed[static_cast<std::size_t>((t + 1) % kThreads)]) std::free(p);
    });
  }
  for (std::thread& t : pool) t.join();
  return 0;
}

// make_from_site is called by two identical functions from the same loop, so its call
// of malloc is at the same return address with the same stack pointer both times: only
// the frames further out tell the two stacks apart.
__attribute__((noinline)) void* make_from_site(std::size_t size) {
  void* p = std::malloc(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* first_caller(std::size_t size) {
  void* p = make_from_site(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* second_caller(std::size_t size) {
  void* p = make_from_site(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}

int callers() {
  for (int i = 0; i < 100; ++i) {
    std::free(first_caller(4321));
    std::free(second_caller(4321));
  }
  return 0;
}

// chains: each branch function counts its calls in a variable of its own, so that the
// compiler cannot fold the two into one.
volatile int g_left_calls = 0;
volatile int g_right_calls = 0;
__attribute__((noinline)) void* make_at_leaf(std::size_t size) {
  void* p = std::malloc(size);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
using Branch = void* (*)(unsigned chain, int level);
void* branch_left(unsigned chain, int level);
void* branch_right(unsigned chain, int level);
// The branch called at level + 1 of the chain: bit 3 - level of it (through a pointer,
// so that no helper is inlined into the frames the test names).
Branch next_branch(unsigned chain, int level) { return (chain >> (3 - level)) & 1 ? branch_right : branch_left; }
__attribute__((noinline)) void* branch_left(unsigned chain, int level) {
  g_left_calls = g_left_calls + 1;
  void* p = level == 4 ? make_at_leaf(5000 + chain) : next_branch(chain, level)(chain, level + 1);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* branch_right(unsigned chain, int level) {
  g_right_calls = g_right_calls + 1;
  void* p = level == 4 ? make_at_leaf(5000 + chain) : next_branch(chain, level)(chain, level + 1);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}

int chains() {
  for (int round = 0; round < 3; ++round) {
    for (unsigned chain = 0; chain < 16; ++chain) std::free(next_branch(chain, 0)(chain, 1));
  }
  return 0;
}

int busy_exit() {
  constexpr int kThreads = 3;
  static std::atomic<long> calls[kThreads];
  for (int t = 0; t < kThreads; ++t) {
    std::thread([t] {
      for (;;) {
        void* p = std::malloc(2345);
        asm volatile("" ::"r"(p) : "memory");
        std::free(p);
        calls[t].fetch_add(2, std::memory_order_relaxed);
      }
    }).detach();
  }
  for (int t = 0; t < kThreads; ++t) {
    while (calls[t].load(std::memory_order_relaxed) < 20000) std::this_thread::yield();
  }
  std::exit(0);
}

int crash() {
  for (int i = 0; i < 50000; ++i) g_sink = std::malloc(24);
  std::abort();
}

int stdio() {
  std::fputs("hello out\n", stdout);
  std::fputs("hello err\n", stderr);
  return 0;
}

int exec_count() {
  g_sink = std::malloc(1212);
  char self[] = "/proc/self/exe";
  char mode[] = "count";
  char* argv[] = {self, mode, nullptr};
  execv(self, argv);
  std::perror("execv");
  return 1;
}

int execl_count() {  // the same through execl (varargs: another way into execve)
  g_sink = std::malloc(1212);
  execl("/proc/self/exe", "/proc/self/exe", "count", static_cast<char*>(nullptr));
  std::perror("execl");
  return 1;
}

int g_handler_calls = 0;
void give_up_after_three() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);
}
void throw_from_handler() { throw std::bad_alloc(); }

int new_fails() {
  static volatile std::size_t too_big_at_run_time = SIZE_MAX / 2;  // no compile-time size check
  const std::size_t too_big = too_big_at_run_time;
  try {
    g_sink = new char[too_big];
    std::puts("new: returned");
  } catch (const std::bad_alloc&) {
    std::puts("new: bad_alloc");
  }
  std::set_new_handler(give_up_after_three);
  try {
    g_sink = ::operator new(too_big);
    std::puts("handler: returned");
  } catch (const std::bad_alloc&) {
    std::printf("handler: bad_alloc after %d calls\n", g_handler_calls);
  }
  std::printf("nothrow: %s\n", new (std::nothrow) char[too_big] == nullptr ? "nullptr" : "memory");
  std::set_new_handler(throw_from_handler);
  std::printf("nothrow, throwing handler: %s\n",
              ::operator new(too_big, std::nothrow) == nullptr ? "nullptr" : "memory");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "known") == 0) return known();
  if (std::strcmp(mode, "count") == 0) return count();
  if (std::strcmp(mode, "threads") == 0) return threads();
  if (std::strcmp(mode, "crash") == 0) return crash();
  if (std::strcmp(mode, "callers") == 0) return callers();
  if (std::strcmp(mode, "chains") == 0) return chains();
  if (std::strcmp(mode, "busy_exit") == 0) return busy_exit();
  if (std::strcmp(mode, "stdio") == 0) return stdio();
  if (std::strcmp(mode, "exec") == 0) return exec_count();
  if (std::strcmp(mode, "execl") == 0) return execl_count();
  if (std::strcmp(mode, "newfail") == 0) return new_fails();
  std::fputs("usage: trace_victim known|count|threads|crash|stdio|exec|execl|callers|busy_exit|newfail\n", stderr);
  return 2;
}
