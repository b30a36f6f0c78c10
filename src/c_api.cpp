// c_api.cpp: the parts of poolkit.h that every pool shares.
#include <cstdint>
#include <stdexcept>

#include "c_api_detail.hpp"

namespace poolkit::c_api {
namespace {
thread_local char last_error[320];  // a fixed array: no allocation, nothing to destroy
}  // namespace

void* fail_because(int error, const char* function, const char* why) noexcept {
  std::snprintf(last_error, sizeof last_error, "%s: %s", function, why);
  errno = error;
  return nullptr;
}

bool split_buffer(const char* function, void* buffer, std::size_t size, std::size_t handle_size,
                  std::size_t region_align, BufferSplit* out) noexcept {
  char why[160];
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer);
  if (!buffer) return fail_because(EINVAL, function, "the buffer is null") != nullptr;
  if (begin % region_align != 0) {
    std::snprintf(why, sizeof why, "the buffer at %#zx is not aligned to %zu bytes", std::size_t(begin), region_align);
    return fail_because(EINVAL, function, why) != nullptr;
  }
  const std::size_t offset = align_up(handle_size, region_align);
  if (size <= offset) {
    std::snprintf(why, sizeof why,
                  "the buffer of %zu bytes is too small: the pool's handle at its start takes %zu bytes", size, offset);
    return fail_because(EINVAL, function, why) != nullptr;
  }
  constexpr char kHandle[] = "a C pool's handle";  // how other pools' messages name this claim
  try {
    out->handle.take(kHandle, buffer, offset, region_align, offset);
  } catch (const std::invalid_argument& e) {
    return fail_because(EINVAL, function, e.what() + sizeof kHandle + 1) != nullptr;  // past "<kHandle>: "
  }
  out->region = static_cast<unsigned char*>(buffer) + offset;
  out->region_size = size - offset;
  return true;
}

}  // namespace poolkit::c_api

extern "C" const char* poolkit_last_error(void) { return poolkit::c_api::last_error; }

extern "C" void poolkit_stats_print(const poolkit_stats* stats, const char* name, FILE* out) {
  if (!stats) return;
  poolkit::print_stats(poolkit::c_api::from_c(*stats), name ? name : "pool", out ? out : stderr);
}
