// common/call_stack.hpp (private): capture the calling thread's stack as return
// addresses, cheaply enough to do on every allocation in checked mode or a trace.
//
// Capture uses libunwind's unw_backtrace (dlopened on first use: unwinder.hpp), which
// reads the DWARF unwind tables (so it works through code built without frame
// pointers, as most Debian libraries are) and caches each return address's frame
// layout per thread, so a warm capture costs tens of nanoseconds per frame. Once
// loaded it never calls malloc (libunwind takes its memory with mmap), so the drop-in
// malloc may call it. A re-entrant call on the same thread (the loading dlopen or
// libunwind's own first-use set-up reaching malloc) captures nothing.
//
// Symbolising is separate (symbolizer.hpp) and happens only when a report is written.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poolkit::detail {

inline constexpr int kMaxCallStackDepth = 64;

/// Writes up to `max_frames` return addresses of the caller's stack to `frames`,
/// innermost first, leaving out `skip` frames above the caller of this function
/// (capture_call_stack itself is never listed). Returns the number written; 0 when
/// re-entered on this thread, when nothing could be unwound, or when libunwind is not
/// loaded (not installed, or deferred: unwinder.hpp).
int capture_call_stack(void** frames, int max_frames, int skip = 0) noexcept;

/// The same frames as capture_call_stack, and each frame's stack pointer: sps[i] is
/// the stack pointer of frame i at its call (the canonical frame address of the
/// function it called), so that on x86-64 the return address frames[i] is the word at
/// sps[i] - 8. Unwinds frame by frame (several times slower than capture_call_stack):
/// for callers that memoize what they capture. *plain is false when a frame is a
/// signal frame (its address was interrupted, not pushed by a call).
int capture_call_stack_sp(void** frames, std::uintptr_t* sps, int max_frames, int skip, bool* plain) noexcept;

}  // namespace poolkit::detail
