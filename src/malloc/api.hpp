// api.hpp (private): the calls behind the exported names (override.cpp), with
// glibc's conventions; alloc.cpp has them, fast_path.hpp has malloc and free.
#pragma once

#include <cstddef>

namespace poolkit::malloc_impl {

void* api_calloc(std::size_t n, std::size_t size) noexcept;
void* api_realloc(void* p, std::size_t size) noexcept;
void* api_reallocarray(void* p, std::size_t n, std::size_t size) noexcept;
void* api_aligned(std::size_t alignment, std::size_t size) noexcept;  // alignment: a power of two
int api_posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept;
void* api_aligned_alloc(std::size_t alignment, std::size_t size) noexcept;
void* api_memalign(std::size_t alignment, std::size_t size) noexcept;
void* api_valloc(std::size_t size) noexcept;
void* api_pvalloc(std::size_t size) noexcept;
std::size_t api_usable_size(const void* p) noexcept;
int api_trim() noexcept;
int api_check() noexcept;

}  // namespace poolkit::malloc_impl
