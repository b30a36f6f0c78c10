// poolkit/detail/buffer_claim.hpp: the checks every pool makes on a caller's buffer
// (null, too small, misaligned, overlapping a buffer another live pool holds) and
// the process-wide record of claimed buffers behind the last one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poolkit::detail {

/// Held by a pool built on a caller's buffer for as long as the pool lives. While it
/// is held, no other pool can claim a byte of [begin, end).
class BufferClaim {
 public:
  BufferClaim() noexcept = default;
  /// Claims [buffer, buffer + size) for `pool` (a type name, for messages). Throws
  /// std::invalid_argument saying which pool and what is wrong: a null buffer, a size
  /// below min_size, an address not a multiple of align, or an overlap with a buffer
  /// claimed by a live pool (whose type and range the message names).
  /// The claim can be taken once per BufferClaim (a pool's constructor does).
  void take(const char* pool, void* buffer, std::size_t size, std::size_t align, std::size_t min_size);
  ~BufferClaim() { drop(); }
  BufferClaim(const BufferClaim&) = delete;
  BufferClaim& operator=(const BufferClaim&) = delete;
  /// Hands the claim over (the record keeps it; `other` holds nothing after).
  BufferClaim(BufferClaim&& other) noexcept : begin_(other.begin_), end_(other.end_) { other.begin_ = other.end_ = 0; }

  bool held() const noexcept { return end_ != begin_; }
  std::uintptr_t begin() const noexcept { return begin_; }
  std::uintptr_t end() const noexcept { return end_; }

 private:
  void drop() noexcept;
  std::uintptr_t begin_ = 0;
  std::uintptr_t end_ = 0;  // == begin_: nothing held
};

}  // namespace poolkit::detail
