// poolkit/shared_segment.hpp: a mapping of shared memory: a named POSIX segment
// (shm_open, attached by name from any process) or an anonymous one (memfd_create,
// shared with the children forked after it, or passed by its descriptor). The
// memory under a SharedHeap; usable alone for any data several processes map.
#pragma once

#include <cstddef>
#include <string>

namespace poolkit {

class SharedSegment {
 public:
  /// A new named segment of `size` bytes (zero-filled), mapped read-write. Throws
  /// std::system_error (EEXIST if the name is taken: remove() it or open() it) or
  /// std::invalid_argument for a name that is not "/" followed by 1..250 characters without "/".
  static SharedSegment create(const std::string& name, std::size_t size);
  /// Maps an existing named segment (its size from the segment itself). Throws
  /// std::system_error (ENOENT when there is none) or std::invalid_argument (bad name).
  static SharedSegment open(const std::string& name);
  /// An anonymous segment (memfd_create): processes forked after this share it.
  static SharedSegment anonymous(std::size_t size);
  /// Removes the name (shm_unlink): mappings stay valid until unmapped. False if none.
  static bool remove(const std::string& name) noexcept;

  SharedSegment() noexcept = default;  // maps nothing
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  ~SharedSegment();

  /// The same memory mapped once more, at another address (from the descriptor).
  SharedSegment map_again() const;

  void* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }
  bool mapped() const noexcept { return base_ != nullptr; }

 private:
  SharedSegment(int fd, std::size_t size);  // maps fd; owns it from then on
  void reset() noexcept;
  void* base_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace poolkit
