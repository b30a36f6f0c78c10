// common/unwinder.hpp (private): libunwind, loaded with dlopen the first time a stack
// is wanted, so that a process that never captures one never maps it (the drop-in
// malloc under LD_PRELOAD: libunwind and the liblzma it needs would otherwise add
// their pages to every small program's RSS). call_stack.cpp unwinds through it.
//
// Loaded RTLD_LOCAL: libunwind's _Unwind_* functions then never take the place of
// libgcc's for the program's own C++ exceptions.
#pragma once

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace poolkit::detail {

/// The libunwind entry points this process uses: unw_backtrace for a whole stack at
/// once, and the cursor calls for a walk frame by frame (capture_call_stack_sp).
struct Unwinder {
  int (*backtrace)(void** frames, int max_frames);
  int (*getcontext)(unw_context_t* context);
  int (*init_local)(unw_cursor_t* cursor, unw_context_t* context);
  int (*get_reg)(unw_cursor_t* cursor, unw_regnum_t reg, unw_word_t* value);
  int (*is_signal_frame)(unw_cursor_t* cursor);
  int (*step)(unw_cursor_t* cursor);
};

/// The loaded unwinder; nullptr while it is being loaded (a malloc reached from inside
/// dlopen), when loading failed (libunwind is not installed), or when it is not loaded
/// yet and lazy loading was deferred. Loads it on the first call otherwise.
const Unwinder* unwinder() noexcept;

/// From now on, unwinder() loads nothing: only unwinder_load() does. For the drop-in
/// malloc, whose first calls come from inside the dynamic loader and libc's start-up,
/// where a dlopen must not happen; it loads the unwinder from its constructor.
void unwinder_defer_loading() noexcept;

/// Loads libunwind now (once; later calls return what the first found). Call it where
/// a dlopen may run: not inside a malloc lock, after libc's start-up. False when
/// libunwind could not be loaded (a warning-free failure: stacks are then empty).
bool unwinder_load() noexcept;

}  // namespace poolkit::detail
