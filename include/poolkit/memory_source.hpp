// poolkit/memory_source.hpp: where a pool gets its regions. Every pool takes a
// MemorySource* in its Options; PageSource (mmap, page_source.hpp) is the one used
// when none is given. Implement it to put pools on huge pages, a NUMA node, a file
// mapping or anything else that hands out regions (docs/memory_source.md).
#pragma once

#include <cstddef>

namespace poolkit {

/// The interface between pools and the memory under them, in the style of
/// std::pmr::memory_resource: public non-virtual calls, protected virtual hooks.
///
/// The contract an implementation keeps (pools rely on each point):
///  - do_allocate(size, alignment) returns a region of at least `size` bytes whose
///    address is a multiple of the page size (PageSource::page_size()) and of
///    `alignment` (0, or a power of two), or nullptr (errno set) when it cannot. Pools
///    ask for whole pages; the region's contents may be anything.
///  - do_deallocate(p, size) takes back a region from do_allocate with the size it
///    was asked for; the pool never touches it again.
///  - calls come from the thread(s) using the pool: a source shared by pools on
///    several threads must lock itself (PageSource does: it is lock-free).
/// A source must outlive every pool that uses it.
class MemorySource {
 public:
  [[nodiscard]] void* allocate(std::size_t size, std::size_t alignment = 0) noexcept {
    return do_allocate(size, alignment);
  }
  void deallocate(void* p, std::size_t size) noexcept { do_deallocate(p, size); }

 protected:
  constexpr MemorySource() noexcept = default;
  MemorySource(const MemorySource&) = default;
  MemorySource& operator=(const MemorySource&) = default;
  ~MemorySource() = default;  // never deleted through this interface

  virtual void* do_allocate(std::size_t size, std::size_t alignment) noexcept = 0;
  virtual void do_deallocate(void* p, std::size_t size) noexcept = 0;
};

}  // namespace poolkit
