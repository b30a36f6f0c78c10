// cxx_runtime.cpp: the program's C++ runtime through dlsym (see cxx_runtime.hpp).
// dlsym may call malloc (for an error string): it is only ever called from a failed
// operator new, outside every lock of the allocator, so that malloc is served.
#include "cxx_runtime.hpp"

#include <dlfcn.h>

#include <atomic>
#include <new>

#include "os.hpp"

namespace poolkit::malloc_impl {
namespace {

// A symbol looked up once found: the pointer is cached; while not found it is looked
// up again on each need (a C program may dlopen a C++ library later).
void* lookup(std::atomic<void*>& cache, void* handle, const char* name) noexcept {
  void* p = cache.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = ::dlsym(handle, name);
    if (p != nullptr) cache.store(p, std::memory_order_release);
  }
  return p;
}

constinit std::atomic<void*> g_get_new_handler{nullptr};
constinit std::atomic<void*> g_throw_libstdcxx{nullptr};
constinit std::atomic<void*> g_throw_libcxx{nullptr};
constinit std::atomic<void*> g_nothrow_new[4]{};

// The nothrow forms by index: 1 for new[], 2 for the aligned ones.
constexpr const char* kNothrowNames[4] = {
    "_ZnwmRKSt9nothrow_t",                // operator new(size_t, const nothrow_t&)
    "_ZnamRKSt9nothrow_t",                // operator new[](size_t, const nothrow_t&)
    "_ZnwmSt11align_val_tRKSt9nothrow_t",  // operator new(size_t, align_val_t, const nothrow_t&)
    "_ZnamSt11align_val_tRKSt9nothrow_t",  // operator new[](size_t, align_val_t, const nothrow_t&)
};
static_assert(sizeof(std::size_t) == 8, "the mangled names above spell size_t as unsigned long (m)");

}  // namespace

NewHandler cxx_new_handler() noexcept {
  void* get = lookup(g_get_new_handler, RTLD_DEFAULT, "_ZSt15get_new_handlerv");  // std::get_new_handler()
  return get != nullptr ? reinterpret_cast<NewHandler (*)()>(get)() : nullptr;
}

void cxx_throw_bad_alloc() {
  using Thrower = void (*)();
  // std::__throw_bad_alloc(): libstdc++; std::__1::__throw_bad_alloc(): libc++.
  void* p = lookup(g_throw_libstdcxx, RTLD_DEFAULT, "_ZSt17__throw_bad_allocv");
  if (p == nullptr) p = lookup(g_throw_libcxx, RTLD_DEFAULT, "_ZNSt3__117__throw_bad_allocEv");
  if (p != nullptr) reinterpret_cast<Thrower>(p)();
  fatal("poolkit: operator new: out of memory, and no C++ runtime is loaded to throw std::bad_alloc\n");
}

void* cxx_nothrow_new(std::size_t size, std::size_t alignment, bool array) noexcept {
  int form = (array ? 1 : 0) + (alignment != 0 ? 2 : 0);
  // RTLD_NEXT: the runtime's definition, behind ours in the search order.
  void* p = lookup(g_nothrow_new[form], RTLD_NEXT, kNothrowNames[form]);
  if (p == nullptr) return nullptr;
  const std::nothrow_t tag{};  // a local one: std::nothrow itself lives in the runtime
  if (alignment != 0) {
    using Aligned = void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&) noexcept;
    return reinterpret_cast<Aligned>(p)(size, static_cast<std::align_val_t>(alignment), tag);
  }
  using Plain = void* (*)(std::size_t, const std::nothrow_t&) noexcept;
  return reinterpret_cast<Plain>(p)(size, tag);
}

}  // namespace poolkit::malloc_impl
