// buffer_claim.cpp: the record of buffers held by live pools, and the checks on a
// caller's buffer. A sorted map of [begin, end) under one lock: pools are made and
// destroyed rarely, and never on an allocation path.
#include "poolkit/detail/buffer_claim.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "common/assert.hpp"

namespace poolkit::detail {
namespace {

struct Claimed {
  std::uintptr_t end;
  const char* pool;
};

struct Registry {
  std::mutex lock;
  std::map<std::uintptr_t, Claimed> by_begin;  // invariant: the ranges do not overlap
};

// Never destroyed: a pool with static storage may be destroyed after any other static.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

std::string hex(std::uintptr_t x) {
  char text[24];
  std::snprintf(text, sizeof text, "%#zx", std::size_t(x));
  return text;
}

// One snprintf, not operator+ chains (g++ 12 warns falsely about those at -O2: -Wrestrict).
std::string range(std::uintptr_t begin, std::uintptr_t end) {
  char text[48];
  std::snprintf(text, sizeof text, "[%#zx, %#zx)", std::size_t(begin), std::size_t(end));
  return text;
}

[[noreturn]] void refuse(const char* pool, const std::string& why) {
  throw std::invalid_argument(std::string(pool) + ": " + why);
}

}  // namespace

void BufferClaim::take(const char* pool, void* buffer, std::size_t size, std::size_t align, std::size_t min_size) {
  PK_ASSERT(!held());
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer);
  if (!buffer) refuse(pool, "the buffer is null");
  if (size < min_size)
    refuse(pool, "the buffer of " + std::to_string(size) + " bytes is too small: it needs at least " +
                     std::to_string(min_size) + " bytes");
  if (begin % align != 0)
    refuse(pool, "the buffer at " + hex(begin) + " is not aligned to " + std::to_string(align) + " bytes");
  if (size > UINTPTR_MAX - begin) refuse(pool, "the buffer wraps around the end of the address space");
  const std::uintptr_t end = begin + size;
  Registry& r = registry();
  std::lock_guard<std::mutex> hold(r.lock);
  auto next = r.by_begin.lower_bound(end);  // first claim starting at or after end
  if (next != r.by_begin.begin()) {
    auto before = std::prev(next);  // the last claim starting below end
    if (before->second.end > begin)
      refuse(pool, "the buffer " + range(begin, end) + " overlaps the buffer " +
                       range(before->first, before->second.end) + " of a live " + before->second.pool);
  }
  r.by_begin.emplace(begin, Claimed{end, pool});
  begin_ = begin;
  end_ = end;
}

void BufferClaim::drop() noexcept {
  if (!held()) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> hold(r.lock);
  [[maybe_unused]] auto erased = r.by_begin.erase(begin_);
  PK_ASSERT(erased == 1);  // every held claim is in the record
  begin_ = end_ = 0;
}

}  // namespace poolkit::detail
