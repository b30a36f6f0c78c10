// poolkit/guard_report.hpp: what Guarded<P> reports and how it is configured:
// the kinds of error, one report per error (formatted as a single line), the
// checks that run (GuardOptions, or the POOLKIT_GUARD environment variable) and
// what happens on an error (abort, log, count, or a callback of yours).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace poolkit {

/// Every kind of misuse Guarded detects.
enum class GuardError : unsigned {
  overflow,          // the back guard (0xBAADF00D bytes after the block) was written
  underflow,         // the front guard (size word + 0xdeadbeef canary) was written
  double_free,       // the block was already freed (it sits in the quarantine)
  foreign_pointer,   // the pointer is not from this pool
  interior_pointer,  // the pointer is inside a block, not at its start
  write_after_free,  // the poison of a freed block changed before it left the quarantine
  size_mismatch,     // deallocate(p, n) with n other than the size allocated
  leak,              // a block still live when the pool was destroyed
};
inline constexpr std::size_t kGuardErrorKinds = 8;

/// "overflow", "double free", ...
std::string_view to_string(GuardError kind) noexcept;

/// One detected error. message() is the single line Guarded prints.
struct GuardReport {
  std::string_view pool;           // the name given at construction
  GuardError kind{};
  const void* address = nullptr;   // the block (or the bad pointer)
  std::size_t size = 0;            // the block's size, when a block is known
  const char* tag = nullptr;       // who allocated it (caller tag), when known
  std::ptrdiff_t offset = 0;       // first damaged byte, relative to the block start
  unsigned found = 0, expected = 0;  // that byte's value and what it should be
  const void* block = nullptr;     // for an interior pointer: the block it points into

  std::string message() const;
};

/// Which checks run. Block registry (double free, foreign and interior pointers) always runs.
struct GuardChecks {
  bool canary = true;      // front and back guards, checked on free
  bool poison = true;      // fill fresh and freed memory with the poison byte
  bool quarantine = true;  // hold freed blocks back; check their poison when they leave
  bool leaks = true;       // report live blocks when the pool is destroyed
  bool size = true;        // deallocate's size must match allocate's
};

enum class GuardAction {
  abort_on_error,  // print the report to stderr, then std::abort() (default)
  log,             // print the report to stderr, count it, continue
  count,           // count it silently, continue
  callback,        // call GuardOptions::on_error, count it, continue
};

struct GuardOptions {
  std::string name = "guarded";
  GuardChecks checks{};
  std::uint8_t poison = 0x5a;
  std::size_t quarantine_blocks = 64;         // FIFO limits: a freed block leaves
  std::size_t quarantine_bytes = 1u << 20;    // when either is exceeded
  GuardAction action = GuardAction::abort_on_error;
  std::function<void(const GuardReport&)> on_error;  // for GuardAction::callback
  bool use_env = true;  // let POOLKIT_GUARD override checks, limits and action
};

/// Applies a POOLKIT_GUARD-style spec to options. Tokens, comma separated:
///   canary poison quarantine leaks size   turn exactly these checks on (the first
///                                         plain token clears the rest)
///   all  none                             every check / no check
///   +name  -name                          add / remove one check from the current set
///   quarantine=N  quarantine_bytes=N      FIFO limits
///   poison=0xNN                           the poison byte
///   action=abort|log|count                what an error does
/// Unknown tokens are reported on stderr and ignored; returns false if any was.
bool apply_guard_spec(GuardOptions& options, std::string_view spec);

/// Applies getenv("POOLKIT_GUARD") when options.use_env and the variable is set.
void apply_guard_env(GuardOptions& options);

/// The caller tag in force on this thread (set by GuardTag), or nullptr.
const char* current_guard_tag() noexcept;

/// Scoped caller tag: blocks allocated through any Guarded pool on this thread
/// while it lives carry `tag` (a string that outlives the blocks, e.g. a literal).
class GuardTag {
 public:
  explicit GuardTag(const char* tag) noexcept;
  ~GuardTag();
  GuardTag(const GuardTag&) = delete;
  GuardTag& operator=(const GuardTag&) = delete;

 private:
  const char* previous_;
};

namespace detail {
/// Delivers one report as options.action says (abort does not return).
void deliver_guard_report(const GuardOptions& options, const GuardReport& report);
}  // namespace detail

}  // namespace poolkit
