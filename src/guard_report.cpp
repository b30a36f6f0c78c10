// guard_report.cpp: the non-template half of Guarded: report messages, the
// POOLKIT_GUARD parser, caller tags, and delivering a report (abort/log/callback).
#include "poolkit/guard_report.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace poolkit {

std::string_view to_string(GuardError kind) noexcept {
  switch (kind) {
    case GuardError::overflow: return "overflow";
    case GuardError::underflow: return "underflow";
    case GuardError::double_free: return "double free";
    case GuardError::foreign_pointer: return "foreign pointer";
    case GuardError::interior_pointer: return "interior pointer";
    case GuardError::write_after_free: return "write after free";
    case GuardError::size_mismatch: return "size mismatch";
    case GuardError::leak: return "leak";
  }
  return "unknown error";
}

std::string GuardReport::message() const {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "poolkit: pool \"%.*s\": %.*s: ",
                        static_cast<int>(pool.size()), pool.data(),
                        static_cast<int>(to_string(kind).size()), to_string(kind).data());
  std::string out(buf, static_cast<std::size_t>(n));
  auto add = [&](const char* fmt, auto... args) {
    int m = std::snprintf(buf, sizeof buf, fmt, args...);
    if (m > 0) out.append(buf, static_cast<std::size_t>(m) < sizeof buf ? static_cast<std::size_t>(m) : sizeof buf - 1);
  };
  switch (kind) {
    case GuardError::foreign_pointer:
      add("%p was not allocated by this pool", address);
      break;
    case GuardError::interior_pointer:
      add("%p points %td bytes into block %p of %zu bytes", address, offset, block, size);
      break;
    case GuardError::double_free:
      add("block %p of %zu bytes was already freed", address, size);
      break;
    case GuardError::size_mismatch:
      add("block %p of %zu bytes freed with size %u", address, size, found);
      break;
    case GuardError::leak:
      add("block %p of %zu bytes was never freed", address, size);
      break;
    case GuardError::overflow:
    case GuardError::underflow:
      add("block %p of %zu bytes: guard byte at offset %+td is 0x%02x, expected 0x%02x",
          address, size, offset, found, expected);
      break;
    case GuardError::write_after_free:
      add("block %p of %zu bytes: freed byte at offset %+td is 0x%02x, expected poison 0x%02x",
          address, size, offset, found, expected);
      break;
  }
  if (tag) add(" (allocated by \"%s\")", tag);
  return out;
}

namespace {

bool* check_named(GuardChecks& checks, std::string_view name) {
  if (name == "canary") return &checks.canary;
  if (name == "poison") return &checks.poison;
  if (name == "quarantine") return &checks.quarantine;
  if (name == "leaks") return &checks.leaks;
  if (name == "size") return &checks.size;
  return nullptr;
}

bool parse_number(std::string_view text, std::size_t* out) {
  std::string s(text);
  if (s.empty()) return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (*end != '\0') return false;
  *out = static_cast<std::size_t>(v);
  return true;
}

}  // namespace

bool apply_guard_spec(GuardOptions& options, std::string_view spec) {
  bool ok = true, cleared = false;
  while (!spec.empty()) {
    std::size_t comma = spec.find(',');
    std::string_view token = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) continue;

    bool understood = true;
    std::size_t eq = token.find('=');
    if (eq != std::string_view::npos) {
      std::string_view key = token.substr(0, eq), value = token.substr(eq + 1);
      std::size_t n = 0;
      if (key == "quarantine" && parse_number(value, &n)) {
        options.quarantine_blocks = n;
        options.checks.quarantine = n != 0;
      } else if (key == "quarantine_bytes" && parse_number(value, &n)) {
        options.quarantine_bytes = n;
      } else if (key == "poison" && parse_number(value, &n) && n <= 0xff) {
        options.poison = static_cast<std::uint8_t>(n);
      } else if (key == "action" && value == "abort") {
        options.action = GuardAction::abort_on_error;
      } else if (key == "action" && value == "log") {
        options.action = GuardAction::log;
      } else if (key == "action" && value == "count") {
        options.action = GuardAction::count;
      } else {
        understood = false;
      }
    } else if (token == "all" || token == "none") {
      bool on = token == "all";
      options.checks = GuardChecks{on, on, on, on, on};
      cleared = true;
    } else if (token.front() == '+' || token.front() == '-') {
      if (bool* flag = check_named(options.checks, token.substr(1)))
        *flag = token.front() == '+';
      else
        understood = false;
    } else if (bool* flag = check_named(options.checks, token); flag) {
      if (!cleared) {
        options.checks = GuardChecks{false, false, false, false, false};
        flag = check_named(options.checks, token);
        cleared = true;
      }
      *flag = true;
    } else {
      understood = false;
    }
    if (!understood) {
      std::fprintf(stderr, "poolkit: POOLKIT_GUARD: ignoring unknown setting \"%.*s\"\n",
                   static_cast<int>(token.size()), token.data());
      ok = false;
    }
  }
  return ok;
}

void apply_guard_env(GuardOptions& options) {
  if (!options.use_env) return;
  if (const char* spec = std::getenv("POOLKIT_GUARD")) apply_guard_spec(options, spec);
}

namespace {
thread_local const char* t_guard_tag = nullptr;
}

const char* current_guard_tag() noexcept { return t_guard_tag; }

GuardTag::GuardTag(const char* tag) noexcept : previous_(t_guard_tag) { t_guard_tag = tag; }
GuardTag::~GuardTag() { t_guard_tag = previous_; }

namespace detail {

void deliver_guard_report(const GuardOptions& options, const GuardReport& report) {
  switch (options.action) {
    case GuardAction::abort_on_error:
      std::fprintf(stderr, "%s\n", report.message().c_str());
      std::fflush(stderr);
      std::abort();
    case GuardAction::log:
      std::fprintf(stderr, "%s\n", report.message().c_str());
      return;
    case GuardAction::count:
      return;
    case GuardAction::callback:
      if (options.on_error) options.on_error(report);
      else std::fprintf(stderr, "%s\n", report.message().c_str());
      return;
  }
}

}  // namespace detail
}  // namespace poolkit
