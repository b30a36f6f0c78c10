// options.cpp: POOLKIT_* environment variables, read once at start-up by walking
// `environ` by hand (getenv-style, no malloc, no locale). Unknown POOLKIT_*
// names get a warning on stderr: a misspelt option must not be silently ignored.
//
//   POOLKIT_STATS=1            summary on stderr at exit
//   POOLKIT_CHECK=1|2|3        checked mode (checked.hpp): canaries around every block,
//                              quarantine, guard pages for huge blocks, call stacks;
//                              2: also walk the calling thread's heap on every call;
//                              3: every block on its own guarded pages (electric-fence)
//   POOLKIT_CHECK_ACTION=abort|log|exit   after a report (default abort)
//   POOLKIT_QUARANTINE=N       bytes of freed blocks held back in checked mode (default 16m)
//   POOLKIT_LEAKS=1            checked mode: blocks live at exit, grouped by allocation stack
//   POOLKIT_STACK_DEPTH=N      frames kept per call stack in checked mode (default 16, max 64)
//   POOLKIT_SAMPLE=N           one in N slow-path allocations (up to 64 KiB) on its own guarded
//                              pages, any mode (GWP-ASan style; the fast path is untouched)
//   POOLKIT_VERBOSE=1          say what the allocator does (init, options, trims)
//   POOLKIT_DECAY_MS=N         empty pages are decommitted N ms after they empty (default 50)
//   POOLKIT_MMAP_THRESHOLD=N   requests above N bytes (suffix k/m) go straight to mmap
//                              (default and maximum 1 MiB: the largest size class)
#include <unistd.h>

#include <cstring>

#include "internal.hpp"

extern char** environ;

namespace poolkit::malloc_impl {

constinit Options g_options = {
    .stats = 0,
    .check =
#if POOLKIT_MALLOC_DEBUG
        2,
#else
        0,
#endif
    .verbose = 0,
    .decay_ms = 50,
    .mmap_threshold = kMaxClassSize,
    .check_pages = 0,
    .check_action = kActionAbort,
    .leaks = 0,
    .stack_depth = 16,
    .quarantine = std::size_t{16} << 20,
    .sample = 0,
};

namespace {

constinit bool g_read_before_environ = false;

// Other POOLKIT_ variables of the project (tests, scripts, the CLI): known, not ours.
constexpr const char* kOtherKnown[] = {"TEST_", "LANES", "JOBS", "RUN_", "SUITE_", "BENCH_", "FUZZ_", "PROBE_",
                                       "CLI",   "REAL_MALLOC", "MALLOC", "QUICK", "GUARD"};

bool parse_size(const char* s, std::size_t* out) noexcept {
  if (*s < '0' || *s > '9') return false;
  std::size_t v = 0;
  while (*s >= '0' && *s <= '9') {
    std::size_t d = static_cast<std::size_t>(*s++ - '0');
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v)) return false;
  }
  std::size_t mul = 1;
  switch (*s) {
    case 'k': case 'K': mul = std::size_t{1} << 10; ++s; break;
    case 'm': case 'M': mul = std::size_t{1} << 20; ++s; break;
    case 'g': case 'G': mul = std::size_t{1} << 30; ++s; break;
    default: break;
  }
  if (*s == 'i' || *s == 'I') ++s;  // "4MiB"
  if (*s == 'b' || *s == 'B') ++s;
  if (*s != 0) return false;
  return !__builtin_mul_overflow(v, mul, out);
}

bool name_is(const char* entry, const char* name, const char** value) noexcept {
  std::size_t n = std::strlen(name);
  if (std::strncmp(entry, name, n) != 0 || entry[n] != '=') return false;
  *value = entry + n + 1;
  return true;
}

void apply(const char* entry, bool first_time) noexcept {
  const char* name = entry + 8;  // after "POOLKIT_"
  const char* value = nullptr;
  std::size_t n = 0;
  if (name_is(name, "STATS", &value)) {
    g_options.stats = parse_size(value, &n) ? static_cast<int>(n != 0) : 1;
  } else if (name_is(name, "CHECK", &value)) {
    // Blocks already handed out carry no guards: the level is fixed at the first read.
    if (first_time) {
      if (!parse_size(value, &n)) n = 1;
      g_options.check = static_cast<int>(n >= 2 ? (n == 2 ? 2 : 1) : n);
      g_options.check_pages = n >= 3;
    }
  } else if (name_is(name, "CHECK_ACTION", &value)) {
    if (std::strcmp(value, "abort") == 0) g_options.check_action = kActionAbort;
    else if (std::strcmp(value, "log") == 0) g_options.check_action = kActionLog;
    else if (std::strcmp(value, "exit") == 0) g_options.check_action = kActionExit;
    else warning("POOLKIT_CHECK_ACTION=%s is not abort, log or exit; keeping abort\n", value);
  } else if (name_is(name, "QUARANTINE", &value)) {
    if (parse_size(value, &n)) g_options.quarantine = n;
    else warning("POOLKIT_QUARANTINE=%s is not a size; keeping %zu\n", value, g_options.quarantine);
  } else if (name_is(name, "LEAKS", &value)) {
    g_options.leaks = parse_size(value, &n) ? static_cast<int>(n != 0) : 1;
  } else if (name_is(name, "STACK_DEPTH", &value)) {
    if (!parse_size(value, &n)) warning("POOLKIT_STACK_DEPTH=%s is not a number; keeping %d\n", value, g_options.stack_depth);
    else g_options.stack_depth = static_cast<int>(n > 64 ? 64 : n);
  } else if (name_is(name, "SAMPLE", &value)) {
    // Fixed at the first read, like the check level: the fast path is chosen by it.
    if (!first_time) return;
    if (parse_size(value, &n)) g_options.sample = n;
    else warning("POOLKIT_SAMPLE=%s is not a number; sampling stays off\n", value);
  } else if (name_is(name, "VERBOSE", &value)) {
    g_options.verbose = parse_size(value, &n) ? static_cast<int>(n != 0) : 1;
  } else if (name_is(name, "DECAY_MS", &value)) {
    if (parse_size(value, &n)) g_options.decay_ms = n;
    else warning("POOLKIT_DECAY_MS=%s is not a number of milliseconds; keeping %llu\n", value,
                 static_cast<unsigned long long>(g_options.decay_ms));
  } else if (name_is(name, "MMAP_THRESHOLD", &value)) {
    if (!parse_size(value, &n)) {
      warning("POOLKIT_MMAP_THRESHOLD=%s is not a size; keeping %zu\n", value, g_options.mmap_threshold);
    } else if (n > kMaxClassSize || n < 4096) {
      std::size_t clamped = n > kMaxClassSize ? kMaxClassSize : 4096;
      warning("POOLKIT_MMAP_THRESHOLD=%s is outside 4 KiB..1 MiB; using %zu\n", value, clamped);
      g_options.mmap_threshold = clamped;
    } else {
      g_options.mmap_threshold = n;
    }
  } else {
    for (const char* other : kOtherKnown)
      if (std::strncmp(name, other, std::strlen(other)) == 0) return;
    if (first_time) {
      const char* eq = std::strchr(entry, '=');
      char shown[64];
      std::size_t len = eq ? static_cast<std::size_t>(eq - entry) : std::strlen(entry);
      if (len >= sizeof shown) len = sizeof shown - 1;
      std::memcpy(shown, entry, len);
      shown[len] = 0;
      warning("unknown option %s (known: POOLKIT_STATS, POOLKIT_CHECK, POOLKIT_CHECK_ACTION, "
              "POOLKIT_QUARANTINE, POOLKIT_LEAKS, POOLKIT_STACK_DEPTH, POOLKIT_SAMPLE, POOLKIT_VERBOSE, "
              "POOLKIT_DECAY_MS, POOLKIT_MMAP_THRESHOLD)\n", shown);
    }
  }
}

void read_environment(bool first_time) noexcept {
  if (!environ) return;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "POOLKIT_", 8) == 0) apply(*e, first_time);
}

}  // namespace

void options_init() noexcept {
  g_read_before_environ = (environ == nullptr);
  read_environment(true);
  verbose("options: stats=%d check=%d%s decay_ms=%llu mmap_threshold=%zu quarantine=%zu sample=%zu\n",
          g_options.stats, g_options.check, g_options.check_pages ? " (pages)" : "",
          static_cast<unsigned long long>(g_options.decay_ms), g_options.mmap_threshold, g_options.quarantine,
          g_options.sample);
}

// A malloc before libc has set up environ (very early in ld.so) saw no options:
// read them again from our constructor. The check level cannot change any more.
void options_reread_if_early() noexcept {
  if (!g_read_before_environ) return;
  g_read_before_environ = false;
  read_environment(false);
}

}  // namespace poolkit::malloc_impl
