// common/unwinder.cpp: libunwind through dlopen (see unwinder.hpp).
#include "common/unwinder.hpp"

#include <dlfcn.h>

#include <atomic>
#include <type_traits>

// libunwind's names are macros over per-architecture symbols (unw_backtrace stays,
// unw_set_caching_policy becomes _ULx86_64_set_caching_policy): dlsym wants the symbol.
// unw_getcontext is a function-like macro: its symbol is unw_tdep_getcontext's.
#define PK_UNW_STR2(x) #x
#define PK_UNW_STR(x) PK_UNW_STR2(x)

#ifndef POOLKIT_LIBUNWIND_SONAME
#error "POOLKIT_LIBUNWIND_SONAME (the soname to dlopen) comes from src/common/CMakeLists.txt"
#endif

namespace poolkit::detail {
namespace {

enum : int { kNotLoaded, kLoading, kLoaded, kFailed };
// Goes kNotLoaded -> kLoading -> kLoaded or kFailed, once; g_table is written before
// the release store of kLoaded and read only after an acquire load sees it.
constinit std::atomic<int> g_state{kNotLoaded};
constinit std::atomic<bool> g_deferred{false};
constinit Unwinder g_table{};

bool load_once() noexcept {
  // RTLD_NOW: every symbol resolved here, not at a first unwind inside a malloc.
  void* lib = ::dlopen(POOLKIT_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  // Each entry point by its symbol, typed as the header declares it.
  auto symbol = [lib](auto& entry, const char* name) {
    entry = reinterpret_cast<std::remove_reference_t<decltype(entry)>>(::dlsym(lib, name));
    return entry != nullptr;
  };
  Unwinder table{};
  const bool all = symbol(table.backtrace, PK_UNW_STR(unw_backtrace)) &&
                   symbol(table.getcontext, PK_UNW_STR(unw_tdep_getcontext)) &&
                   symbol(table.init_local, PK_UNW_STR(unw_init_local)) &&
                   symbol(table.get_reg, PK_UNW_STR(unw_get_reg)) &&
                   symbol(table.is_signal_frame, PK_UNW_STR(unw_is_signal_frame)) &&
                   symbol(table.step, PK_UNW_STR(unw_step));
  auto set_policy =
      reinterpret_cast<decltype(&unw_set_caching_policy)>(::dlsym(lib, PK_UNW_STR(unw_set_caching_policy)));
  auto* local_space = static_cast<unw_addr_space_t*>(::dlsym(lib, PK_UNW_STR(unw_local_addr_space)));
  if (!all) return false;  // the library stays loaded (dlclose could run its code later)
  // A per-thread cache of frame layouts needs no lock; the global one would lock on
  // every lookup.
  if (set_policy != nullptr && local_space != nullptr) set_policy(*local_space, UNW_CACHE_PER_THREAD);
  g_table = table;
  return true;
}

}  // namespace

bool unwinder_load() noexcept {
  int state = g_state.load(std::memory_order_acquire);
  if (state == kNotLoaded && g_state.compare_exchange_strong(state, kLoading, std::memory_order_acq_rel)) {
    state = load_once() ? kLoaded : kFailed;
    g_state.store(state, std::memory_order_release);
  }
  return state == kLoaded;  // kLoading: another thread (or this one, re-entered) is loading
}

const Unwinder* unwinder() noexcept {
  int state = g_state.load(std::memory_order_acquire);
  if (state == kLoaded) return &g_table;
  if (state != kNotLoaded || g_deferred.load(std::memory_order_relaxed)) return nullptr;
  return unwinder_load() ? &g_table : nullptr;
}

void unwinder_defer_loading() noexcept { g_deferred.store(true, std::memory_order_relaxed); }

}  // namespace poolkit::detail
