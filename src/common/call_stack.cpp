// common/call_stack.cpp: capture_call_stack on libunwind (see call_stack.hpp), which
// unwinder.hpp loads on first use.
#include "common/call_stack.hpp"

#include "common/unwinder.hpp"

namespace poolkit::detail {
namespace {
// Set while this thread unwinds: a malloc reached from inside libunwind (its first-use
// set-up, the dlopen that loads it, or a preloaded malloc's own hooks) must not unwind
// again.
thread_local bool t_capturing = false;

// One capture's preamble and epilogue: the re-entry flag set for the scope, and the
// unwinder looked up. get() is nullptr when this thread is capturing already, when
// nothing is wanted, or when libunwind is not loaded.
class CaptureScope {
 public:
  explicit CaptureScope(int max_frames) noexcept {
    if (t_capturing || max_frames <= 0) return;
    t_capturing = true;
    owner_ = true;
    unwind_ = unwinder();
  }
  ~CaptureScope() {
    if (owner_) t_capturing = false;
  }
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;
  const Unwinder* get() const noexcept { return unwind_; }

 private:
  const Unwinder* unwind_ = nullptr;
  bool owner_ = false;
};
}  // namespace

int capture_call_stack(void** frames, int max_frames, int skip) noexcept {
  CaptureScope scope(max_frames);
  const Unwinder* unwind = scope.get();
  if (unwind == nullptr) return 0;
  // One extra frame for capture_call_stack itself, plus the caller's skip.
  void* buffer[kMaxCallStackDepth + 8];
  int want = max_frames + skip + 1;
  if (want > kMaxCallStackDepth + 8) want = kMaxCallStackDepth + 8;
  int got = unwind->backtrace(buffer, want);
  int first = skip + 1;
  int count = got > first ? got - first : 0;
  if (count > max_frames) count = max_frames;
  for (int i = 0; i < count; ++i) frames[i] = buffer[first + i];
  return count;
}

int capture_call_stack_sp(void** frames, std::uintptr_t* sps, int max_frames, int skip, bool* plain) noexcept {
  *plain = true;
  CaptureScope scope(max_frames);
  const Unwinder* unwind = scope.get();
  if (unwind == nullptr) return 0;
  unw_context_t context;
  unw_cursor_t cursor;
  int count = 0;
  if (unwind->getcontext(&context) == 0 && unwind->init_local(&cursor, &context) == 0) {
    // Frame 0 is this function, as in unw_backtrace's list: skip it and `skip` more.
    const int first = skip + 1;
    int frame = 0;
    do {
      if (frame++ < first) continue;
      unw_word_t ip = 0, sp = 0;
      if (unwind->get_reg(&cursor, UNW_REG_IP, &ip) != 0 || unwind->get_reg(&cursor, UNW_REG_SP, &sp) != 0 || ip == 0)
        break;
      if (unwind->is_signal_frame(&cursor) > 0) *plain = false;
      frames[count] = reinterpret_cast<void*>(ip);
      sps[count] = sp;
      ++count;
    } while (count < max_frames && unwind->step(&cursor) > 0);
  }
  return count;
}

}  // namespace poolkit::detail
