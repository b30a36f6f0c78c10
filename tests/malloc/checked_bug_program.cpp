// checked_bug_program BUG SIZE: commits one heap bug on a block of SIZE bytes, as a
// program under LD_PRELOAD=libpoolkit-malloc.so POOLKIT_CHECK=1 would. The checked
// tests (CMakeLists.txt) run it once per bug class and size band and match the report.
// Every access goes through volatile pointers or opaque calls, so the compiler keeps it.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

using Bytes = unsigned char* volatile;

// Opaque to the optimiser: the bugs must reach the allocator as written.
__attribute__((noinline)) void* opaque(void* p) {
  asm volatile("" : "+r"(p));
  return p;
}
using MemcpyFn = void* (*)(void*, const void*, std::size_t);
using FreeFn = void (*)(void*);
volatile MemcpyFn g_memcpy = std::memcpy;
volatile FreeFn g_free = std::free;

__attribute__((noinline)) unsigned char* allocate_block(std::size_t n) {
  return static_cast<unsigned char*>(std::malloc(n));
}

__attribute__((noinline)) void churn() {
  // Enough traffic to push freed blocks out of a small quarantine.
  for (int i = 0; i < 2000; ++i) g_free(opaque(std::malloc(static_cast<std::size_t>(64 + i % 512))));
}

// One call site of malloc and one of free, each reached from two callers at the same
// stack depth: checked mode memoizes stacks by call site, and the second caller's
// stacks must still name the second caller. (The asm after each call: no tail call.)
__attribute__((noinline)) unsigned char* alloc_site(std::size_t n) {
  auto* p = static_cast<unsigned char*>(opaque(std::malloc(n)));
  asm volatile("");
  return p;
}
__attribute__((noinline)) void free_site(void* p) {
  std::free(opaque(p));
  asm volatile("");
}
__attribute__((noinline)) unsigned char* alloc_from_a(std::size_t n) {
  auto* p = static_cast<unsigned char*>(opaque(alloc_site(n)));
  asm volatile("");
  return p;
}
__attribute__((noinline)) unsigned char* alloc_from_b(std::size_t n) {
  auto* p = static_cast<unsigned char*>(opaque(alloc_site(n)));
  asm volatile("");
  return p;
}
__attribute__((noinline)) void free_from_a(void* p) {
  free_site(opaque(p));
  asm volatile("");
}
__attribute__((noinline)) void free_from_b(void* p) {
  free_site(opaque(p));
  asm volatile("");
}

// Recursion, as a tree is built: one call site reached at one depth through ever
// different chains of callers (the bits of `path`, outermost first, choose
// branch_left or branch_right). Stacks are walked by frame sizes learnt from earlier
// unwinds, and each must still name its own chain. (The two count their calls apart,
// so that the optimiser cannot fold them into one function.)
volatile unsigned g_left_calls = 0, g_right_calls = 0;
__attribute__((noinline)) unsigned char* descend(int depth, unsigned path, std::size_t n);
__attribute__((noinline)) unsigned char* branch_left(int depth, unsigned path, std::size_t n) {
  g_left_calls = g_left_calls + 1;
  auto* p = static_cast<unsigned char*>(opaque(descend(depth, path, n)));
  asm volatile("");
  return p;
}
__attribute__((noinline)) unsigned char* branch_right(int depth, unsigned path, std::size_t n) {
  g_right_calls = g_right_calls + 1;
  auto* p = static_cast<unsigned char*>(opaque(descend(depth, path, n)));
  asm volatile("");
  return p;
}
__attribute__((noinline)) unsigned char* descend(int depth, unsigned path, std::size_t n) {
  unsigned char* p;
  if (depth == 0) p = alloc_site(n);
  else if (path & 1) p = branch_right(depth - 1, path >> 1, n);
  else p = branch_left(depth - 1, path >> 1, n);
  asm volatile("");
  return static_cast<unsigned char*>(opaque(p));
}

// Threads one after another, each through the same call sites (a thread's stack memo
// goes to the next thread when it ends): the last one commits the bug.
struct MemoThread {
  std::size_t n;
  bool last;
};
void* memo_thread(void* arg) {
  auto* t = static_cast<MemoThread*>(arg);
  for (int i = 0; i < 100; ++i) free_from_a(alloc_from_a(t->n));
  if (t->last) {
    Bytes p = alloc_from_b(t->n);
    free_from_b(p);
    p[3] = 7;
  }
  return nullptr;
}

void programs_own_handler(int) {
  static const char message[] = "the program's own SIGSEGV handler ran\n";
  if (write(2, message, sizeof message - 1) < 0) _exit(4);
  _exit(3);
}

int run(const char* bug, std::size_t n) {
  static char not_heap[64];
  char on_stack[64];
  if (!std::strcmp(bug, "overflow")) {  // one byte past the end, then free
    Bytes p = allocate_block(n);
    p[n] = 1;
    g_free(p);
  } else if (!std::strcmp(bug, "overflow-memcpy")) {  // memcpy one byte too many, block never freed
    Bytes p = allocate_block(n);
    static unsigned char source[(4 << 20) + 64];
    g_memcpy(p, source, n + 1);
  } else if (!std::strcmp(bug, "overflow-realloc")) {
    Bytes p = allocate_block(n);
    p[n + 2] = 1;
    std::printf("%p\n", opaque(std::realloc(p, 2 * n)));
  } else if (!std::strcmp(bug, "overflow-check")) {  // found by poolkit_malloc_check()
    Bytes p = allocate_block(n);
    p[n] = 1;
    auto check = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "poolkit_malloc_check"));
    if (check == nullptr) return 3;
    std::printf("poolkit_malloc_check: %d\n", check());
    std::fflush(stdout);
  } else if (!std::strcmp(bug, "underflow")) {  // one byte before the start
    Bytes p = allocate_block(n);
    p[-1] = 1;
    g_free(p);
  } else if (!std::strcmp(bug, "underflow-32")) {  // one byte 32 before the start: into the header
    Bytes p = allocate_block(n);
    p[-32] = 1;
    g_free(p);
  } else if (!std::strcmp(bug, "write-after-free")) {
    Bytes p = allocate_block(n);
    g_free(p);
    p[3] = 7;
    churn();
  } else if (!std::strcmp(bug, "write-after-free-many")) {  // then more tiny frees than a quarantine ring holds
    Bytes p = allocate_block(n);
    g_free(p);
    p[3] = 7;
    for (int i = 0; i < (1 << 20) + 64; ++i) g_free(opaque(std::malloc(1)));
  } else if (!std::strcmp(bug, "write-after-free-memo")) {  // stacks of a call site seen before
    for (int i = 0; i < 100; ++i) free_from_a(alloc_from_a(n));
    Bytes p = alloc_from_b(n);
    free_from_b(p);
    p[3] = 7;
    churn();
  } else if (!std::strcmp(bug, "write-after-free-recursive")) {
    // Every chain of 4 branches but 0b0101 (right, left, right, left from the
    // outermost), many times; then that one commits the bug.
    for (int round = 0; round < 50; ++round)
      for (unsigned path = 0; path < 16; ++path)
        if (path != 5) free_site(descend(4, path, n));
    Bytes p = descend(4, 5, n);
    free_site(p);
    p[3] = 7;
    churn();
  } else if (!std::strcmp(bug, "write-after-free-memo-threads")) {
    for (int i = 0; i < 8; ++i) {
      MemoThread t{n, i == 7};
      pthread_t thread;
      if (pthread_create(&thread, nullptr, memo_thread, &t) != 0 || pthread_join(thread, nullptr) != 0) return 3;
    }
    churn();
  } else if (!std::strcmp(bug, "read-after-free")) {  // caught by page protection only
    Bytes p = allocate_block(n);
    std::memset(p, 'A', n);
    g_free(p);
    std::printf("read %d\n", p[n / 2]);
  } else if (!std::strcmp(bug, "stale-contents")) {  // freed memory does not keep what it held
    Bytes p = allocate_block(n);
    std::memset(p, 'A', n);
    g_free(p);
    std::printf("freed byte %s\n", p[0] == 'A' ? "kept" : "changed");
  } else if (!std::strcmp(bug, "fresh-contents")) {  // new memory is not zero by accident
    Bytes p = allocate_block(n);
    std::size_t zero = 0;
    for (std::size_t i = 0; i < n; ++i) zero += p[i] == 0;
    std::printf("zero bytes %zu of %zu\n", zero, n);
    g_free(p);
  } else if (!std::strcmp(bug, "double-free")) {
    Bytes p = allocate_block(n);
    g_free(p);
    g_free(p);
  } else if (!std::strcmp(bug, "interior-free")) {
    Bytes p = allocate_block(n);
    g_free(p + n / 2 + 16 - (n / 2) % 16);
  } else if (!std::strcmp(bug, "unaligned-free")) {
    Bytes p = allocate_block(n);
    g_free(p + 1);
  } else if (!std::strcmp(bug, "invalid-free")) {
    g_free(opaque(not_heap));
  } else if (!std::strcmp(bug, "stack-free")) {
    g_free(opaque(on_stack));
  } else if (!std::strcmp(bug, "zero-size-write")) {
    Bytes p = allocate_block(0);
    p[0] = 1;
  } else if (!std::strcmp(bug, "new-free")) {
    Bytes p = static_cast<unsigned char*>(opaque(new unsigned char[n]));
    g_free(p);
  } else if (!std::strcmp(bug, "new-array-delete")) {
    auto* p = static_cast<unsigned char*>(opaque(new unsigned char[n]));
    ::operator delete(p);
  } else if (!std::strcmp(bug, "malloc-delete")) {
    Bytes p = allocate_block(n);
    ::operator delete(p);
  } else if (!std::strcmp(bug, "sized-delete")) {
    void* p = opaque(::operator new(n));
    ::operator delete(p, n + 8);
  } else if (!std::strcmp(bug, "handler-overflow")) {  // a handler installed after start-up
    signal(SIGSEGV, programs_own_handler);
    Bytes p = allocate_block(n);
    p[n] = 1;
  } else if (!std::strcmp(bug, "handler-null")) {  // not a heap fault: the program's handler
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = programs_own_handler;
    sigaction(SIGSEGV, &action, nullptr);
    int* volatile target = static_cast<int*>(opaque(nullptr));
    *target = 1;
  } else if (!std::strcmp(bug, "wild-null")) {  // not a heap fault, no handler: the default action
    int* volatile target = static_cast<int*>(opaque(nullptr));
    *target = 1;
  } else if (!std::strcmp(bug, "leak")) {
    for (int i = 0; i < 3; ++i) opaque(allocate_block(n));
    opaque(std::malloc(7));
  } else if (!std::strcmp(bug, "clean")) {  // no bug: no report, exit 0
    Bytes p = allocate_block(n);
    std::memset(p, 1, n);
    p = static_cast<unsigned char*>(std::realloc(p, n + 100));
    g_free(p);
  } else {
    std::fprintf(stderr, "checked_bug_program: unknown bug '%s'\n", bug);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: checked_bug_program BUG SIZE\n");
    return 2;
  }
  int rc = run(argv[1], std::strtoull(argv[2], nullptr, 10));
  std::printf("done\n");
  return rc;
}
