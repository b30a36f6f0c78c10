// options.cpp: the POOLKIT_* environment variables of options.hpp's table, read
// once at start-up by walking `environ` by hand (getenv-style, no malloc, no
// locale). A POOLKIT_* name that is neither in the table nor one of the library's
// own run-time options gets a warning on stderr: a misspelt option must not be
// silently ignored. (The project's scripts, tests and benchmarks use PKTEST_*
// variables, which the malloc never looks at.)
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "internal.hpp"

extern char** environ;

namespace poolkit::malloc_impl {

constinit Options g_options = default_options();

namespace {

constinit bool g_read_before_environ = false;

// Run-time options of libpoolkit read elsewhere (guard_report.cpp: the Guarded
// decorator), which a program on this malloc may well set: known, not ours.
constexpr const char* kLibraryOptions[] = {"GUARD"};

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

// "4 KiB", "1 MiB", "100 B": the largest unit that divides n exactly.
const char* human_size(char* buf, std::size_t size, std::uint64_t n) noexcept {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB"};
  unsigned u = 0;
  while (u + 1 < sizeof kUnits / sizeof *kUnits && n != 0 && n % 1024 == 0) n /= 1024, ++u;
  std::snprintf(buf, size, "%llu %s", static_cast<unsigned long long>(n), kUnits[u]);
  return buf;
}

std::uint64_t current(const OptionSpec& spec) noexcept {
  return spec.int_field ? static_cast<std::uint64_t>(g_options.*spec.int_field) : g_options.*spec.u64_field;
}
void store(const OptionSpec& spec, std::uint64_t v) noexcept {
  if (spec.int_field) g_options.*spec.int_field = static_cast<int>(v);
  else g_options.*spec.u64_field = v;
}

// Sets one option from its text, as its kind says (options.hpp); warns about a
// value it cannot use, naming the option, the value and what it does instead.
void set(const OptionSpec& spec, const char* value) noexcept {
  std::size_t n = 0;
  const bool number = parse_size(value, &n);
  switch (spec.kind) {
    case OptionKind::kSwitch:
      store(spec, number ? n != 0 : 1);
      return;
    case OptionKind::kLevel:
      store(spec, number ? (n > spec.max ? spec.max : n) : 1);
      return;
    case OptionKind::kChoice: {
      // `what` lists the words in order: "abort|log|exit".
      std::uint64_t index = 0;
      for (const char* w = spec.what; *w; ++index) {
        const char* end = std::strchr(w, '|');
        std::size_t len = end ? static_cast<std::size_t>(end - w) : std::strlen(w);
        if (std::strlen(value) == len && std::strncmp(value, w, len) == 0) {
          store(spec, index);
          return;
        }
        w += len + (end ? 1 : 0);
      }
      warning("POOLKIT_%s=%s is not one of %s; left as it was\n", spec.name, value, spec.what);
      return;
    }
    case OptionKind::kNumber:
    case OptionKind::kSize:
      break;
  }
  if (!number) {
    warning("POOLKIT_%s=%s is not a %s; keeping %llu\n", spec.name, value, spec.what,
            static_cast<unsigned long long>(current(spec)));
  } else if (n < spec.min || n > spec.max) {
    std::uint64_t clamped = n > spec.max ? spec.max : spec.min;
    char lo[32], hi[32];
    warning("POOLKIT_%s=%s is outside %s..%s; using %llu\n", spec.name, value, human_size(lo, sizeof lo, spec.min),
            human_size(hi, sizeof hi, spec.max), static_cast<unsigned long long>(clamped));
    store(spec, clamped);
  } else {
    store(spec, n);
  }
}

// "POOLKIT_STATS, POOLKIT_CHECK, ...": every name of the table, for the warning.
const char* known_names(char* buf, std::size_t size) noexcept {
  std::size_t used = 0;
  buf[0] = 0;
  for (const OptionSpec& spec : kOptions) {
    int n = std::snprintf(buf + used, size - used, "%sPOOLKIT_%s", used ? ", " : "", spec.name);
    if (n < 0 || static_cast<std::size_t>(n) >= size - used) break;
    used += static_cast<std::size_t>(n);
  }
  return buf;
}

void warn_unknown(const char* entry) noexcept {
  const char* eq = std::strchr(entry, '=');
  char shown[64];
  std::size_t len = eq ? static_cast<std::size_t>(eq - entry) : std::strlen(entry);
  if (len >= sizeof shown) len = sizeof shown - 1;
  std::memcpy(shown, entry, len);
  shown[len] = 0;
  char known[256];
  warning("unknown option %s (known: %s)\n", shown, known_names(known, sizeof known));
}

// The part of `name=value` after "=" if `entry` is exactly that name, else nullptr.
const char* value_of(const char* entry, const char* name) noexcept {
  std::size_t n = std::strlen(name);
  return std::strncmp(entry, name, n) == 0 && entry[n] == '=' ? entry + n + 1 : nullptr;
}

void apply(const char* entry, bool first_time) noexcept {
  const char* name = entry + 8;  // after "POOLKIT_"
  for (const OptionSpec& spec : kOptions) {
    if (const char* value = value_of(name, spec.name)) {
      if (first_time || !spec.fixed_at_start) set(spec, value);
      return;
    }
  }
  for (const char* other : kLibraryOptions)
    if (value_of(name, other)) return;
  if (first_time) warn_unknown(entry);
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
  if (g_options.check == 3) {  // checked mode with every block on its own guarded pages
    g_options.check = 1;
    g_options.check_pages = 1;
  }
  verbose("options: stats=%d check=%d%s decay_ms=%llu mmap_threshold=%zu quarantine=%zu sample=%zu remote_cache=%zu\n",
          g_options.stats, g_options.check, g_options.check_pages ? " (pages)" : "",
          static_cast<unsigned long long>(g_options.decay_ms), g_options.mmap_threshold, g_options.quarantine,
          g_options.sample, g_options.remote_cache);
}

// A malloc before libc has set up environ (very early in ld.so) saw no options:
// read them again from our constructor. The options fixed at start cannot change any more.
void options_reread_if_early() noexcept {
  if (!g_read_before_environ) return;
  g_read_before_environ = false;
  read_environment(false);
}

}  // namespace poolkit::malloc_impl
