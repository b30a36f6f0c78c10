// cxx_runtime.hpp (private): the program's C++ runtime, found with dlsym when first
// needed. The library links no libstdc++ (or libm, which libstdc++ brings): a C
// program under LD_PRELOAD never maps them, and a C++ program, the only kind that
// calls operator new, has its own loaded. Only a failing operator new gets here.
#pragma once

#include <cstddef>

namespace poolkit::malloc_impl {

using NewHandler = void (*)();

/// std::get_new_handler() of the program's C++ runtime; nullptr when none is
/// installed or no C++ runtime is loaded (then none can be).
NewHandler cxx_new_handler() noexcept;

/// Throws std::bad_alloc through the program's C++ runtime (libstdc++, or libc++);
/// with none loaded, says so on stderr and aborts.
[[noreturn]] void cxx_throw_bad_alloc();

/// The runtime's own nothrow operator new (new or new[], aligned when `alignment` is
/// not 0) for `size`: it calls the throwing form (ours) inside a try and returns
/// nullptr for whatever that throws, so a new_handler that throws becomes nullptr
/// without this library catching anything. nullptr, without calling the handler,
/// when the runtime has no such function.
void* cxx_nothrow_new(std::size_t size, std::size_t alignment, bool array) noexcept;

}  // namespace poolkit::malloc_impl
