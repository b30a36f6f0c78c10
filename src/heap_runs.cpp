// heap_runs.cpp: the Heap's size-class runs for medium blocks (1 KiB..64 KiB). A run is
// one used block of the heap cut into equal slots; a slot is handed out and taken back
// touching only itself and its run's metadata, where a plain block would split or merge
// through its neighbours' boundary tags and free-list links (detail/size_class_runs.hpp).
#include <algorithm>
#include <bit>
#include <cstdio>
#include <vector>

#include "common/assert.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/heap.hpp"

namespace poolkit {
namespace {

using L = detail::BlockLayout;
using Runs = detail::RunLayout;

bool fail_check(const char* what, std::uintptr_t where) noexcept {
  std::fprintf(stderr, "poolkit::Heap::check: %s (at %p)\n", what, reinterpret_cast<void*>(where));
  return false;
}

// The usable bytes a slot of this stride offers while it is free (what stats count).
constexpr std::size_t free_slot_bytes(std::size_t stride) noexcept { return stride - Runs::kSlotOverhead; }

}  // namespace

// A slot of class k for a block of `needed` bytes (the size a plain block would have);
// nullptr if the class has no run with room and no free block can hold a new one.
void* Heap::run_allocate(std::size_t k, std::size_t needed, std::size_t requested) noexcept {
  std::uintptr_t run = run_lists_[k];
  if (!run && !(run = new_run(k))) return nullptr;
  const std::size_t stride = Runs::stride_of(k);
  std::uint64_t map = Runs::free_map(run);
  PK_ASSERT(map != 0 && needed + L::kWord <= stride);  // runs on the list have a free slot
  std::size_t i;
  if (const std::uint64_t recent = Runs::recent(run)) {
    i = (recent & 0xFF) - 1;
    Runs::set_recent(run, recent >> 8);
  } else {
    i = static_cast<std::size_t>(std::countr_zero(map));
  }
  PK_ASSERT(map >> i & 1);
  map &= ~(std::uint64_t{1} << i);
  Runs::set_free_map(run, map);
  if (map == 0) unlink_run(k, run);  // full: off the list until a slot is freed

  const std::uintptr_t slot = Runs::slot_at(run, i, stride);
  L::store_word(slot, slot - run);
  const std::uintptr_t block = Runs::header_of_slot(slot);
  const std::size_t usable = needed - L::kHeaderSize;
  write_header(block, needed, L::kRunBit, usable - requested);
  // Accounted as the plain block it stands for (PoolSet sums those), inline: this is the hot path.
  bytes_in_use_ += needed;
  bytes_requested_ += requested;
  peak_in_use_ = bytes_in_use_ > peak_in_use_ ? bytes_in_use_ : peak_in_use_;
  ++live_blocks_;
  ++allocations_;
  run_free_bytes_ -= free_slot_bytes(stride);
  void* p = reinterpret_cast<void*>(L::payload_of(block));
  annotate::block_allocated(this, p, usable);
  return p;
}

// Cuts a new run of class k from a free block and puts it at the head of its list.
std::uintptr_t Heap::new_run(std::size_t k) noexcept {
  const std::uintptr_t run = carve_run_block(Runs::run_size_of(k));
  if (!run) return 0;
  Runs::set_shape(run, k);
  Runs::set_free_map(run, Runs::all_free(k));
  Runs::set_recent(run, 0);
  link_run(k, run);
  run_free_bytes_ += Runs::slots_of(k) * free_slot_bytes(Runs::stride_of(k));
  ++run_count_;
  return run;
}

// Frees slot `index` of `run`, whose header h is at `block` (run_of_slot found them). The
// run's last live slot gives the whole run back to the heap, where it merges with its
// free neighbours.
void Heap::run_free(Region* region, std::uintptr_t block, std::uint64_t h, std::uintptr_t run,
                    std::size_t index) noexcept {
  const std::size_t k = Runs::klass(run);
  const std::size_t stride = Runs::stride_of(k);
  const std::size_t usable = L::size_of(h) - L::kHeaderSize;
  note_freed(usable + L::kHeaderSize, usable - L::slack_of(h));
  annotate::block_freed(this, reinterpret_cast<void*>(L::payload_of(block)), usable);
  L::store_word(block, h | L::kFreeBit);
  run_free_bytes_ += free_slot_bytes(stride);

  const std::uint64_t map = Runs::free_map(run);
  const std::uint64_t now = map | std::uint64_t{1} << index;
  if (now == Runs::all_free(k)) {  // empty: the run goes back as one block
    if (map != 0) unlink_run(k, run);
    run_free_bytes_ -= Runs::slots_of(k) * free_slot_bytes(stride);
    --run_count_;
    release_block(region, run);
    return;
  }
  Runs::set_free_map(run, now);
  Runs::set_recent(run, Runs::recent(run) << 8 | (index + 1));  // the oldest drops off; its bit stays
  if (map == 0) link_run(k, run);  // it was full: it has room again
}

// A slot grows or shrinks within its stride; it never moves to another.
bool Heap::run_resize(std::uintptr_t block, std::size_t size) noexcept {
  const std::uintptr_t slot = Runs::slot_of_header(block);
  const std::size_t stride = Runs::stride(slot - L::load_word(slot));
  if (size > Runs::kMaxRequest) return false;
  std::size_t needed = align_up(size + L::kHeaderSize, L::kGranule);
  if (needed < L::kMinBlock) needed = L::kMinBlock;
  if (needed + L::kWord > stride) return false;
  const std::uint64_t h = header(block);
  const std::size_t old_usable = L::size_of(h) - L::kHeaderSize;
  const std::size_t usable = needed - L::kHeaderSize;
  write_header(block, needed, L::kRunBit, usable - size);
  annotate::block_resized(this, reinterpret_cast<void*>(L::payload_of(block)), old_usable, usable);
  bytes_requested_ = bytes_requested_ - (old_usable - L::slack_of(h)) + size;
  bytes_in_use_ = bytes_in_use_ - old_usable + usable;
  peak_in_use_ = std::max(peak_in_use_, bytes_in_use_);
  return true;
}

// The run holding the slot whose header, h, is at `block` in `region` (h's tag checked,
// run bit set), or 0 if it is no slot: its back word must lead to a run block of the
// same region that holds it at a slot boundary, and a live header (no free bit) must
// have its slot's bit clear in the free map. *index gets the slot's index. Reads the
// candidates without side effects (they may be a user's bytes when p is bad).
std::uintptr_t Heap::run_of_slot(const Region* region, std::uintptr_t block, std::uint64_t h,
                                 std::size_t* index) const noexcept {
  if (Runs::is_run_block(h) || L::size_of(h) < L::kMinBlock) return 0;  // a run's own header is no user block
  const std::uintptr_t slot = Runs::slot_of_header(block);
  const std::uint64_t back = L::peek_word(slot);
  if (back < Runs::kFirstSlot || back > slot - region->first_block()) return 0;
  const std::uintptr_t run = slot - back;
  const std::uint64_t rh = L::peek_word(run);
  if (!L::tag_ok(run, rh, secret_) || !Runs::is_run_block(rh) || (rh & (L::kFreeBit | L::kCachedBit))) return 0;
  const std::size_t k = Runs::klass(run);
  if (k >= Runs::kClasses || back >= L::size_of(rh)) return 0;
  const std::size_t offset = back - Runs::kFirstSlot, stride = Runs::stride_of(k);
  const std::size_t i = Runs::divide(offset, k);
  if (i * stride != offset || i >= Runs::slots_of(k) || L::size_of(h) + L::kWord > stride) return 0;
  if (!L::is_free(h) && (Runs::free_map(run) >> i & 1)) return 0;  // "live" in a free slot: stale bytes
  *index = i;
  return run;
}

void Heap::link_run(std::size_t k, std::uintptr_t run) noexcept {
  const std::uintptr_t head = run_lists_[k];
  Runs::set_next(run, head);
  Runs::set_prev(run, 0);
  if (head) Runs::set_prev(head, run);
  run_lists_[k] = run;
}

void Heap::unlink_run(std::size_t k, std::uintptr_t run) noexcept {
  const std::uintptr_t next = Runs::next(run), prev = Runs::prev(run);
  if (prev) Runs::set_next(prev, next);
  else run_lists_[k] = next;
  if (next) Runs::set_prev(next, prev);
}

// ---- check and pictures --------------------------------------------------------

// One run: its shape, its free map and every live slot. Live slots add to the live
// counters; runs with room go to open_runs for the lists' check.
bool Heap::check_run(std::uintptr_t run, std::size_t size, std::size_t* used_bytes, std::size_t* used_count,
                     std::size_t* requested, std::size_t* free_bytes,
                     std::vector<std::uintptr_t>* open_runs) const noexcept {
  if (!runs_) return fail_check("a run in a heap without runs", run);
  const std::size_t k = Runs::klass(run);
  if (k >= Runs::kClasses) return fail_check("run class out of range", run);
  const std::size_t stride = Runs::stride(run), capacity = Runs::capacity(run);
  if (stride != Runs::stride_of(k) || capacity != Runs::slots_of(k))
    return fail_check("run shape disagrees with its class", run);
  if (size < Runs::run_size_of(k) || size - Runs::run_size_of(k) >= L::kMinBlock)
    return fail_check("run block size disagrees with its class", run);
  const std::uint64_t map = Runs::free_map(run);
  if ((map & ~Runs::all_free(k)) != 0) return fail_check("run free map has bits past its slots", run);
  if (map == Runs::all_free(k)) return fail_check("an empty run was kept", run);
  std::uint64_t seen = 0;
  for (std::uint64_t r = Runs::recent(run); r; r >>= 8) {
    const std::size_t i = (r & 0xFF) - 1;
    if ((r & 0xFF) == 0 || i >= capacity || !(map >> i & 1) || (seen >> i & 1))
      return fail_check("recently freed list holds a slot that is not free, or twice", run);
    seen |= std::uint64_t{1} << i;
  }
  std::size_t live = 0;
  for (std::size_t i = 0; i < capacity; ++i) {
    if (map >> i & 1) continue;
    const std::uintptr_t slot = Runs::slot_at(run, i, stride);
    const std::uintptr_t block = Runs::header_of_slot(slot);
    const std::uint64_t h = header(block);
    if (L::load_word(slot) != slot - run) return fail_check("slot back word disagrees", slot);
    if (!L::tag_ok(block, h, secret_)) return fail_check("slot header tag does not match its address", block);
    if (!(h & L::kRunBit) || Runs::is_run_block(h) || L::is_free(h) || L::is_cached(h) || L::prev_is_free(h))
      return fail_check("live slot header flags", block);
    const std::size_t bytes = L::size_of(h);
    if (bytes < L::kMinBlock || bytes + L::kWord > stride || L::slack_of(h) >= L::kGranule)
      return fail_check("slot size out of range", block);
    ++live;
    *used_bytes += bytes;
    ++*used_count;
    *requested += bytes - L::kHeaderSize - L::slack_of(h);
  }
  *free_bytes += (capacity - live) * free_slot_bytes(stride);
  if (map != 0) {
    try {
      open_runs->push_back(run);
    } catch (...) {
      return fail_check("out of memory while checking", 0);
    }
  }
  return true;
}

// Every run with room is on the list of its class once, and only those are.
bool Heap::check_run_lists(std::vector<std::uintptr_t>* open_runs) const noexcept {
  std::sort(open_runs->begin(), open_runs->end());
  std::vector<bool> seen;
  try {
    seen.assign(open_runs->size(), false);
  } catch (...) {
    return fail_check("out of memory while checking", 0);
  }
  std::size_t listed = 0;
  for (std::size_t k = 0; k < Runs::kClasses; ++k) {
    std::uintptr_t prev = 0;
    for (std::uintptr_t run = run_lists_[k]; run; prev = run, run = Runs::next(run)) {
      const auto at = std::lower_bound(open_runs->begin(), open_runs->end(), run);
      if (at == open_runs->end() || *at != run) return fail_check("run list holds something that is not a run with room", run);
      const auto i = static_cast<std::size_t>(at - open_runs->begin());
      if (seen[i]) return fail_check("a run is on a list twice", run);
      seen[i] = true;
      if (Runs::klass(run) != k) return fail_check("run on the wrong class's list", run);
      if (Runs::prev(run) != prev) return fail_check("broken run back link", run);
      ++listed;
    }
  }
  if (listed != open_runs->size()) return fail_check("a run with room is on no list", 0);
  return true;
}

void Heap::visit_run(std::uintptr_t run, std::size_t size, void (*fn)(void*, const void*, std::size_t, unsigned),
                     void* ctx) const noexcept {
  constexpr unsigned kRunBytes = 4;
  const std::size_t stride = Runs::stride(run), capacity = Runs::capacity(run);
  const std::uint64_t map = Runs::free_map(run);
  fn(ctx, reinterpret_cast<const void*>(run), Runs::kFirstSlot, kRunBytes);
  for (std::size_t i = 0; i < capacity; ++i) {
    const std::uintptr_t slot = Runs::slot_at(run, i, stride);
    fn(ctx, reinterpret_cast<const void*>(slot), stride, map >> i & 1 ? kRunBytes : 1u);
  }
  const std::uintptr_t end = Runs::slot_at(run, capacity, stride);
  fn(ctx, reinterpret_cast<const void*>(end), run + size - end, kRunBytes);
}

}  // namespace poolkit
