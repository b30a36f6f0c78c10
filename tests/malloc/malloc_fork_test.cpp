// fork in a single-threaded program: from a signal handler that interrupted another
// fork (or a malloc), in a loop of forks. No test in this file starts a thread, so
// the process stays single-threaded (glibc's __libc_single_threaded), the case where
// glibc's fork takes no malloc lock and neither may ours.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "malloc_test_support.hpp"
#include "test_support.hpp"

#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define POOLKIT_TEST_HAVE_SINGLE_THREADED 1
#endif

namespace {

volatile sig_atomic_t g_handler_forks = 0;
volatile sig_atomic_t g_handler_failures = 0;

// fork is async-signal-safe (POSIX.1-2008); the child only exits.
void fork_in_handler(int) {
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) g_handler_failures = g_handler_failures + 1;
    g_handler_forks = g_handler_forks + 1;
  }
  errno = saved;
}

// The loop of forks; before each, a one-shot SIGALRM 1 to 400 us ahead, so that the
// handler's fork lands at every point of the loop's fork (one per iteration: a
// periodic timer faster than fork would starve the loop). Exits 0 on success.
[[noreturn]] void fork_storm(int forks) {
  struct sigaction action {};
  action.sa_handler = fork_in_handler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  int failures = 0;
  for (int i = 0; i < forks; ++i) {
    void* keep = PK(malloc)(static_cast<std::size_t>(16 + (i * 97) % 3000));
    void* huge = PK(malloc)(std::size_t{3} << 20);  // the huge-block cache's lock too
    itimerval timer{{0, 0}, {0, 1 + (i * 37) % 400}};
    setitimer(ITIMER_REAL, &timer, nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      void* p = PK(malloc)(100);  // the child's allocator works
      PK(free)(p);
      _exit(0);
    }
    if (pid < 0) _exit(4);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    PK(free)(huge);
    PK(free)(keep);
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  if (failures != 0 || g_handler_failures != 0) _exit(3);
  _exit(g_handler_forks > 0 ? 0 : 5);  // 5: the signal never came, the test proved nothing
}

TEST(MallocFork, ForkFromASignalHandlerInALoopOfForksCompletes) {
#ifdef POOLKIT_TEST_HAVE_SINGLE_THREADED
  if (!__libc_single_threaded)
    GTEST_SKIP() << "the process has threads (a sanitizer's runtime?): glibc's fork then takes its locks too";
#else
  GTEST_SKIP() << "no __libc_single_threaded in this C library";
#endif
  const int forks = static_cast<int>(poolkit::test::scaled(3000));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) fork_storm(forks);
  // A deadlock shows as a child that never exits: kill it and fail, do not hang.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(child, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "the loop of " << forks << " forks with forks from SIGALRM did not finish in 120 s (deadlock)";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: a child failed, 4: fork failed, 5: no fork ran in the handler";
}

}  // namespace
