// malloc_preload_cxx.cpp: a C++ program, not linked with poolkit, that
// preload_test.sh runs with LD_PRELOAD=libpoolkit-malloc.so (and again with
// POOLKIT_CHECK=1). The library links no C++ runtime and throws through the
// program's: this checks that every failing operator new throws std::bad_alloc that
// the program catches, that the new_handler loop runs (and a handler's own exception
// passes through), that the nothrow forms return nullptr (also when the handler
// throws), that std::uncaught_exceptions stays right, and that one libstdc++ is
// mapped. Prints "cxx ok" and exits 0.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

namespace {

int g_failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "cxx: %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                              \
    }                                                                            \
  } while (0)

constexpr std::size_t kImpossible = std::size_t{1} << 62;  // never fits

// Called through a volatile pointer so the compiler cannot fold a failing new away.
void* (*volatile g_new)(std::size_t) = static_cast<void* (*)(std::size_t)>(::operator new);
void* (*volatile g_new_array)(std::size_t) = static_cast<void* (*)(std::size_t)>(::operator new[]);
void* (*volatile g_new_aligned)(std::size_t, std::align_val_t) =
    static_cast<void* (*)(std::size_t, std::align_val_t)>(::operator new);
void* (*volatile g_new_array_aligned)(std::size_t, std::align_val_t) =
    static_cast<void* (*)(std::size_t, std::align_val_t)>(::operator new[]);

template <class F>
bool throws_bad_alloc(F f) {
  try {
    f();
  } catch (const std::bad_alloc&) {
    return std::uncaught_exceptions() == 0;
  }
  return false;
}

int g_handler_calls = 0;
void counting_handler() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);  // then bad_alloc
}
struct HandlerGaveUp : std::runtime_error {
  HandlerGaveUp() : std::runtime_error("the new_handler gave up") {}
};
void throwing_handler() {
  ++g_handler_calls;
  throw HandlerGaveUp();
}

// Seen in a destructor while a bad_alloc unwinds through it: 1.
int g_uncaught_in_unwind = -1;
struct Watcher {
  ~Watcher() { g_uncaught_in_unwind = std::uncaught_exceptions(); }
};

int mapped_count(const char* name) {
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return -1;
  char line[4096];
  char last[4096] = "";
  int count = 0;
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    const char* path = std::strchr(line, '/');
    if (path == nullptr || std::strstr(path, name) == nullptr) continue;
    if (std::strcmp(path, last) != 0) ++count;  // one object maps several ranges in a row
    std::strcpy(last, path);
  }
  std::fclose(maps);
  return count;
}

}  // namespace

int main() {
  auto owns = reinterpret_cast<int (*)(const void*)>(dlsym(RTLD_DEFAULT, "poolkit_malloc_owns"));
  CHECK(owns != nullptr);
  if (owns == nullptr) return 1;
  int* one = new int(5);
  CHECK(owns(one));
  delete one;

  // Every throwing form, and the program catches std::bad_alloc.
  CHECK(throws_bad_alloc([] { (void)g_new(kImpossible); }));
  CHECK(throws_bad_alloc([] { (void)g_new_array(kImpossible); }));
  CHECK(throws_bad_alloc([] { (void)g_new_aligned(kImpossible, std::align_val_t{64}); }));
  CHECK(throws_bad_alloc([] { (void)g_new_array_aligned(kImpossible, std::align_val_t{4096}); }));
  {
    bool caught = false;
    try {
      Watcher w;
      (void)g_new(kImpossible);
    } catch (const std::bad_alloc& e) {
      caught = std::strlen(e.what()) > 0;
    }
    CHECK(caught);
    CHECK(g_uncaught_in_unwind == 1);
    CHECK(std::uncaught_exceptions() == 0);
  }

  // The new_handler loop: called until it removes itself, then bad_alloc.
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  CHECK(throws_bad_alloc([] { (void)g_new(kImpossible); }));
  CHECK(g_handler_calls == 3);
  // A handler's own exception leaves operator new as it is.
  g_handler_calls = 0;
  std::set_new_handler(throwing_handler);
  bool gave_up = false;
  try {
    (void)g_new_array(kImpossible);
  } catch (const HandlerGaveUp&) {
    gave_up = true;
  }
  CHECK(gave_up && g_handler_calls == 1);

  // nothrow: the handler still runs, and its exception becomes nullptr.
  g_handler_calls = 0;
  CHECK(::operator new(kImpossible, std::nothrow) == nullptr);
  CHECK(::operator new[](kImpossible, std::nothrow) == nullptr);
  CHECK(::operator new(kImpossible, std::align_val_t{64}, std::nothrow) == nullptr);
  CHECK(::operator new[](kImpossible, std::align_val_t{64}, std::nothrow) == nullptr);
  CHECK(g_handler_calls == 4);
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  CHECK(::operator new(kImpossible, std::nothrow) == nullptr);
  CHECK(g_handler_calls == 3);
  // With no handler: nullptr at once.
  std::set_new_handler(nullptr);
  CHECK(::operator new(kImpossible, std::nothrow) == nullptr);
  CHECK(::operator new[](kImpossible, std::align_val_t{128}, std::nothrow) == nullptr);
  int* fine = new (std::nothrow) int[4]{1, 2, 3, 4};
  CHECK(fine != nullptr && fine[3] == 4 && owns(fine));
  delete[] fine;

  // One C++ runtime in the process: the program's.
  CHECK(mapped_count("libstdc++") == 1);
  CHECK(mapped_count("libpoolkit-malloc") == 1);

  if (g_failures != 0) return 1;
  std::puts("cxx ok");
  return 0;
}
