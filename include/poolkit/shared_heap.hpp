// poolkit/shared_heap.hpp: a heap in shared memory that several processes use at
// once (boost::interprocess's managed segments are the model). Its whole state is
// in the segment and every link is an offset, so each process may map it at its own
// address; one process-shared robust lock serialises the calls; named objects let
// processes find each other's data. Pick it for data that outlives or crosses
// processes; within one process, Heap is faster. See docs/memory_source.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "poolkit/align.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/shared_segment.hpp"

namespace poolkit {

class SharedHeap {
 public:
  /// Offsets of blocks, valid in every process that maps the heap (0 is no block).
  using Offset = std::uint64_t;
  static constexpr std::size_t kMaxNameLength = 39;
  static constexpr std::size_t kNamedObjects = 32;

  /// A new named segment of `size` bytes holding an empty heap (shm_open). Throws
  /// what SharedSegment::create throws, or std::invalid_argument for a size too small.
  static SharedHeap create(const std::string& name, std::size_t size);
  /// Attaches to the heap in an existing named segment, from any process. Throws
  /// std::system_error (no such segment) or std::invalid_argument (not a SharedHeap,
  /// another version, or a size that disagrees with the segment's).
  static SharedHeap open(const std::string& name);
  /// A heap in an anonymous segment (memfd): shared with processes forked later.
  static SharedHeap anonymous(std::size_t size);
  /// A heap on shared memory the caller mapped (MAP_SHARED, 16-aligned): format()
  /// makes an empty heap there, attach() uses the one already there. The caller
  /// keeps the mapping alive while the SharedHeap lives.
  static SharedHeap format(void* base, std::size_t size);
  static SharedHeap attach(void* base, std::size_t size);

  SharedHeap(SharedHeap&& other) noexcept;
  SharedHeap& operator=(SharedHeap&&) = delete;
  SharedHeap(const SharedHeap&) = delete;
  ~SharedHeap() = default;  // the segment (if owned) is unmapped; the heap stays for the others

  /// A block of `size` bytes aligned to `align` (a power of two up to 4096), from any
  /// process. nullptr when no free block is big enough, for a bad alignment, or when
  /// the heap is damaged().
  [[nodiscard]] void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept;
  /// Frees a block allocated by any process. nullptr does nothing; a pointer that is
  /// not a live block (double free, foreign, interior) is ignored and counted in bad_frees().
  void deallocate(void* p, std::size_t size = 0, std::size_t align = 0) noexcept;
  /// True if p lies in this heap's block area.
  bool owns(const void* p) const noexcept;
  /// Frees every block of every process at once, named objects included.
  void release() noexcept;
  PoolStats stats() const noexcept;
  /// Walks every block and free list under the lock; false (and a message on stderr)
  /// on a broken invariant.
  bool check() const noexcept;

  /// Position independence: the offset of a block (or any byte of the segment) and
  /// back, in this process's mapping. offset_of(nullptr) == 0, at(0) == nullptr.
  Offset offset_of(const void* p) const noexcept;
  void* at(Offset offset) const noexcept;

  /// Named objects, the way processes find each other's data: the block recorded
  /// under `name` (at most kMaxNameLength characters), or nullptr.
  void* find(const char* name) const noexcept;
  /// The block under `name`; made (size bytes, zero-filled) by the first caller of any
  /// process, atomically. nullptr if it cannot be made (no memory, bad or too many
  /// names), or if the existing one is smaller than size.
  void* find_or_allocate(const char* name, std::size_t size) noexcept;

  /// Times the lock's holder died holding it (counted by the next process to lock).
  std::uint64_t owner_deaths() const noexcept;
  /// A process died in the middle of changing the heap and check() then found it
  /// broken: every later allocate returns nullptr and frees are ignored, in every
  /// process. (A death between calls, or one that left the heap whole, is survived.)
  bool damaged() const noexcept;
  std::uint64_t bad_frees() const noexcept;

  void* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  /// The smallest segment a heap fits in.
  static std::size_t min_size() noexcept;

 private:
  struct Header;
  class Guard;
  SharedHeap(void* base, std::size_t size, SharedSegment segment) noexcept
      : segment_(static_cast<SharedSegment&&>(segment)), base_(static_cast<unsigned char*>(base)), size_(size) {}
  Header* header() const noexcept { return reinterpret_cast<Header*>(base_); }
  static void format_at(unsigned char* base, std::size_t size);
  static void check_attachable(const unsigned char* base, std::size_t size);

  // Under the lock:
  Offset allocate_locked(std::size_t size, std::size_t align) noexcept;
  bool free_locked(Offset block) noexcept;
  bool check_locked() const noexcept;
  bool live_block(Offset block) const noexcept;
  void insert_free(Offset block, std::uint64_t size) noexcept;
  void unlink_free(Offset block, std::uint64_t size) noexcept;
  Offset find_free(std::uint64_t size) const noexcept;
  std::uint64_t& word(Offset at) const noexcept { return *reinterpret_cast<std::uint64_t*>(base_ + at); }

  SharedSegment segment_;  // empty for format()/attach()
  unsigned char* base_;
  std::size_t size_;
};

static_assert(Pool<SharedHeap>);

}  // namespace poolkit
