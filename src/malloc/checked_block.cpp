// checked_block.cpp: the calls of checked mode (checked.hpp has the block layout).
// Live blocks are kept in sharded lists (one spin lock per shard, the shard chosen per
// thread) so poolkit_malloc_check() and the exit check can visit them all; freed
// blocks wait in per-shard quarantine rings bounded in bytes, and are verified and
// given back to the heap when they leave them.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "checked.hpp"
#include "fast_path.hpp"

namespace poolkit::malloc_impl {

__thread bool t_checked_guard_all __attribute__((tls_model("initial-exec"))) = false;

namespace {

constexpr int kShards = 32;

// Invariant: every block whose state is kLive is in exactly one shard's list (its
// header's `shard`), and blocks/bytes count that list.
struct alignas(64) Shard {
  SpinLock lock;
  CheckedHeader* head = nullptr;
  std::size_t blocks = 0;
  std::size_t bytes = 0;
};
constinit Shard g_shards[kShards];

// One quarantine per shard, so that threads freeing at once do not share a lock: a
// ring of pointers (no link to chase through cold headers; the cost is kept beside the
// pointer, so counting needs no header either). Mapped on first use.
// Invariant: slots [tail, head) (counters mod capacity) hold, oldest first, the blocks
// in state kQuarantined that the shard's threads freed; bytes is the sum of their
// costs; each holds at most POOLKIT_QUARANTINE divided by the number of shards in use,
// and at most capacity blocks.
struct QuarantineSlot {
  CheckedHeader* h;
  std::size_t cost;
};
struct alignas(64) Quarantine {
  SpinLock lock;
  QuarantineSlot* ring = nullptr;
  std::size_t capacity = 0;  // a power of two; 0 until mapped
  std::size_t head = 0;      // counters, not indices: head - tail blocks are held
  std::size_t tail = 0;
  std::size_t bytes = 0;
  bool failed = false;       // no memory for the ring: blocks go back at once
  QuarantineSlot& at(std::size_t i) noexcept { return ring[i & (capacity - 1)]; }
};
constinit Quarantine g_quarantines[kShards];

bool g_exit_checked = false;  // the exit check runs: reports carry no detecting stack (it is exit's)

__thread std::uint32_t t_tid __attribute__((tls_model("initial-exec"))) = 0;
constinit std::atomic<std::uint32_t> g_next_shard{0};

std::uint32_t this_thread() noexcept {
  if (t_tid == 0) t_tid = static_cast<std::uint32_t>(syscall(SYS_gettid));
  return t_tid;
}

std::uint8_t* align_up(std::uint8_t* p, std::size_t a) noexcept {
  return reinterpret_cast<std::uint8_t*>((reinterpret_cast<std::uintptr_t>(p) + a - 1) & ~(a - 1));
}

std::size_t page_bytes() noexcept { return PageSource::page_size(); }

// [front, user) and [user + size, rear): the zones a block's bytes must not spill into.
struct Zones {
  std::uint8_t* front;
  std::uint8_t* rear;
  std::uint8_t* inner;  // small blocks: the inner block's start (nullptr for guarded ones)
};

Zones zones_of(const CheckedHeader* h) noexcept {
  std::uint8_t* user = user_of(h);
  if (h->flags & kBlockGuarded) {
    std::size_t page = page_bytes();
    auto floor = reinterpret_cast<std::uintptr_t>(user) & ~(page - 1);
    auto ceil = (reinterpret_cast<std::uintptr_t>(user) + h->size + page - 1) & ~(page - 1);
    return {reinterpret_cast<std::uint8_t*>(floor), reinterpret_cast<std::uint8_t*>(ceil), nullptr};
  }
  Segment* segment = segment_of(h);
  Page* page = page_of(segment, h);
  auto* inner = reinterpret_cast<std::uint8_t*>(const_cast<CheckedHeader*>(h));
  if (h->flags & kBlockPadded) {
    std::size_t offset = static_cast<std::size_t>(inner - page->start);
    inner = page->start + offset - offset % page->block_size;
  }
  return {user - kFrontZone, inner + page->block_size, inner};
}

// The first byte in [from, to) that is not `value` (to if none), and how many differ.
// (__builtin_memcpy: the malloc is built with -fno-builtin, and a libc call per word
// cost a fifth of larson's time.)
const std::uint8_t* first_not(const std::uint8_t* from, const std::uint8_t* to, std::uint8_t value,
                              std::size_t* bad) noexcept {
  const std::uint64_t word = 0x0101010101010101ull * value;
  const std::uint8_t* p = from;
  // The common case, all intact: unaligned loads (as cheap as aligned ones on x86-64),
  // 32 bytes a step, then 8, then one last 8-byte load that ends at `to` (overlapping
  // bytes already seen), so a rear zone of 16-40 bytes, the usual, takes 2-5 loads and
  // no byte loop. The freed bytes of a block leaving quarantine are the largest thing
  // checked mode reads.
  if (to - p >= 8) {
    while (to - p >= 32) {
      std::uint64_t w[4];
      __builtin_memcpy(w, p, 32);
      if (((w[0] ^ word) | (w[1] ^ word) | (w[2] ^ word) | (w[3] ^ word)) != 0) break;
      p += 32;
    }
    std::uint64_t w;
    while (to - p >= 8) {
      __builtin_memcpy(&w, p, 8);
      if (w != word) break;
      p += 8;
    }
    if (to - p < 8) {
      __builtin_memcpy(&w, to - 8, 8);
      if (w == word) {
        if (bad) *bad = 0;
        return to;
      }
    }
  }
  // A bad byte in [p, to) (every byte before p is intact): find and count them.
  const std::uint8_t* first = to;
  std::size_t n = 0;
  while (p < to) {
    if (to - p >= 8) {
      std::uint64_t w;
      __builtin_memcpy(&w, p, 8);
      if (w == word) {
        p += 8;
        continue;
      }
    }
    if (*p != value) {
      if (first == to) first = p;
      ++n;
    }
    ++p;
  }
  if (bad) *bad = n;
  return first;
}

bool header_sane(const CheckedHeader* h) noexcept {
  return h->seal == header_seal(h) && (h->state == BlockState::kLive || h->state == BlockState::kQuarantined ||
          h->state == BlockState::kReleased) &&
         h->kind >= AllocKind::kMalloc && h->kind <= AllocKind::kNewArray;
}

// A header written over: its tag and size no longer say where the block's zones are
// (reading them could fault), so only front[] is looked at, the header's last 8 bytes,
// which are a small block's front zone. Reports it (if asked); always false.
bool broken_header(const CheckedHeader* h, const char* where, bool report, const std::uint32_t* here) noexcept {
  if (!report) return false;
  const std::uint8_t* user = reinterpret_cast<const std::uint8_t*>(h) + kHeaderSize;
  const std::uint8_t* f = nullptr;
  std::size_t bad = 0;
  for (const std::uint8_t* p = user; p > h->front;) {
    --p;
    if (*p != kFrontByte) {
      if (f == nullptr) f = p;
      ++bad;
    }
  }
  const char* detail = f ? "the block's header before it was overwritten too"
                         : "a write landed in the block's header, 9 to 64 bytes before the block (the 8 just before it are intact)";
  BugReport bug{BugKind::kUnderflow, where, f ? f : user, nullptr, f ? f - user : -1, bad, detail, !g_exit_checked, 0};
  bug.here_stack = here;
  report_bug(bug);
  return false;
}

// Checks the zones around a live or quarantined block; reports what it finds. True if intact.
// here: the detecting stack, captured beforehand by a caller that holds a lock (nullptr:
// each report captures its own).
bool verify_zones(const CheckedHeader* h, const char* where, bool report,
                  const std::uint32_t* here = nullptr) noexcept {
  if (!header_sane(h)) return broken_header(h, where, report, here);
  auto bug_at = [&](BugKind kind, const std::uint8_t* at, std::size_t n, const char* detail) {
    BugReport bug{kind, where, at, h, at - user_of(h), n, detail, !g_exit_checked, 0};
    bug.here_stack = here;
    report_bug(bug);
  };
  std::uint8_t* user = user_of(h);
  Zones z = zones_of(h);
  bool ok = true;
  std::size_t bad = 0;
  // Underflow: the byte nearest the block start first (what the program wrote last, usually).
  const std::uint8_t* f = nullptr;
  static_assert(kFrontZone == 8);
  std::uint64_t front;
  constexpr std::uint64_t kFrontWord = 0x0101010101010101ull * kFrontByte;
  bool front_whole = z.front + kFrontZone == user;
  if (front_whole) __builtin_memcpy(&front, user - kFrontZone, kFrontZone);
  if (!front_whole || front != kFrontWord) {
    for (const std::uint8_t* p = user; p > z.front;) {
      --p;
      if (*p != kFrontByte) {
        if (f == nullptr) f = p;
        ++bad;
      }
    }
  }
  if (f != nullptr) {
    ok = false;
    if (report) bug_at(BugKind::kUnderflow, f, bad, nullptr);
  }
  if (z.inner != nullptr && z.inner + 8 < reinterpret_cast<const std::uint8_t*>(h)) {
    // An aligned block: the padding before its header is front zone too.
    const std::uint8_t* pad = first_not(z.inner + 8, reinterpret_cast<const std::uint8_t*>(h), kFrontByte, &bad);
    if (pad != reinterpret_cast<const std::uint8_t*>(h)) {
      ok = false;
      if (report) bug_at(BugKind::kUnderflow, pad, bad, "in the alignment padding");
    }
  }
  const std::uint8_t* r = first_not(user + h->size, z.rear, kRearByte, &bad);
  if (r != z.rear) {
    ok = false;
    if (report) bug_at(BugKind::kOverflow, r, bad, nullptr);
  }
  return ok;
}

// Call with the shard's lock held.
void live_link_locked(CheckedHeader* h) noexcept {
  Shard& s = g_shards[h->shard];
  h->prev = nullptr;
  h->next = s.head;
  if (s.head) s.head->prev = h;
  s.head = h;
  ++s.blocks;
  s.bytes += h->size;
}

void live_unlink(CheckedHeader* h) noexcept {
  Shard& s = g_shards[h->shard];
  LockGuard guard(s.lock);
  if (h->prev) h->prev->next = h->next;
  else s.head = h->next;
  if (h->next) h->next->prev = h->prev;
  --s.blocks;
  s.bytes -= h->size;
}

std::uint8_t thread_shard() noexcept {
  static __thread std::uint8_t t_shard_plus_one __attribute__((tls_model("initial-exec"))) = 0;
  if (t_shard_plus_one == 0)
    t_shard_plus_one = static_cast<std::uint8_t>(g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards + 1);
  return static_cast<std::uint8_t>(t_shard_plus_one - 1);
}

// Back to the heap (small) or to the huge layer (guarded).
void release(CheckedHeader* h) noexcept {
  h->state = BlockState::kReleased;
  if (h->flags & kBlockGuarded) {
    guarded_release(h);
    return;
  }
  Zones z = zones_of(h);
  Segment* segment = segment_of(z.inner);
  free_block(segment, page_of(segment, z.inner), reinterpret_cast<Block*>(z.inner));
}

// A block leaving quarantine: still all kFreedByte, zones intact?
void verify_freed(CheckedHeader* h, const char* where) noexcept {
  if (h->flags & kBlockGuarded) return;  // no access while quarantined: a write faulted already
  std::uint8_t* user = user_of(h);
  std::size_t bad = 0;
  const std::uint8_t* w = first_not(user, user + h->size, kFreedByte, &bad);
  if (w != user + h->size)
    report_bug({BugKind::kUseAfterFree, where, w, h, w - user, bad, nullptr, true, 0});
  verify_zones(h, where, true);
}

std::size_t quarantine_cost(const CheckedHeader* h) noexcept { return h->size + kHeaderSize; }

// Slots of one ring mapping: enough for the whole bound in the smallest blocks (a
// header and one byte), within [2^10, 2^20]; a fuller ring gives back its oldest.
std::size_t ring_capacity() noexcept {
  std::size_t want = g_options.quarantine / (kHeaderSize + 1) + 1, capacity = std::size_t{1} << 10;
  while (capacity < want && capacity < (std::size_t{1} << 20)) capacity <<= 1;
  return capacity;
}

bool ring_map(Quarantine& q) noexcept {
  if (q.capacity != 0 || q.failed) return q.capacity != 0;
  std::size_t capacity = ring_capacity();
  void* m = mmap(nullptr, capacity * sizeof(QuarantineSlot), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    q.failed = true;
    warning("checked mode: no memory for a quarantine ring; freed blocks go back at once\n");
    return false;
  }
  q.ring = static_cast<QuarantineSlot*>(m);
  q.capacity = capacity;
  return true;
}

// Blocks leave a ring in batches of at most this many, taken under the lock and
// verified outside it (release() takes the heap's locks, which fork takes first).
constexpr std::size_t kLeavingBatch = 64;

// Takes the oldest blocks off while the ring is over `target` bytes (or full); how many.
std::size_t ring_take(Quarantine& q, std::size_t target, QuarantineSlot* out) noexcept {
  std::size_t n = 0;
  while (n < kLeavingBatch && q.tail != q.head && (q.bytes > target || q.head - q.tail >= q.capacity)) {
    out[n] = q.at(q.tail++);
    q.bytes -= out[n].cost;
    ++n;
  }
  return n;
}

void prefetch_block(const QuarantineSlot& s) noexcept {
  // The header and the first lines of the bytes to verify; the hardware follows the rest.
  auto* p = reinterpret_cast<const char*>(s.h);
  std::size_t lines = s.cost > 256 ? 4 : (s.cost + 63) / 64;
  for (std::size_t i = 0; i < lines; ++i) __builtin_prefetch(p + i * 64);
}

// Blocks off a ring: verified (they are cold by now: each is prefetched a few ahead)
// and given back.
void leave_quarantine(QuarantineSlot* leaving, std::size_t n, const char* where) noexcept {
  constexpr std::size_t kAhead = 4;
  for (std::size_t i = 0; i < n && i < kAhead; ++i) prefetch_block(leaving[i]);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) prefetch_block(leaving[i + kAhead]);
    verify_freed(leaving[i].h, where);
    release(leaving[i].h);
  }
}

// h is live, unlinked and verified: fills it (or protects it) and queues it; the
// oldest blocks over the bound leave. The fill is done under the lock, so that a
// concurrent poolkit_malloc_check() never sees a queued block half filled (and the
// lock's atomic exchange comes before the fill's stores, not behind them).
void quarantine_put(CheckedHeader* h) noexcept {
  std::uint32_t in_use = g_next_shard.load(std::memory_order_relaxed);
  std::size_t bound = g_options.quarantine / (in_use == 0 ? 1 : in_use < kShards ? in_use : kShards);
  // Over the bound: the oldest go down to 15/16 of it, so they go back to their pages
  // in batches (one at a time, each would refill a full page by one block).
  std::size_t target = bound - bound / 16;
  Quarantine& q = g_quarantines[thread_shard()];
  QuarantineSlot leaving[kLeavingBatch];
  std::size_t n = 0;
  bool more = false;  // still over the target after the first batch
  {
    LockGuard guard(q.lock);
    h->state = BlockState::kQuarantined;
    if (h->flags & kBlockGuarded) guarded_protect_freed(h);
    else std::memset(user_of(h), kFreedByte, h->size);
    if (!ring_map(q)) {
      leaving[n++] = {h, quarantine_cost(h)};
    } else {
      if (q.head - q.tail == q.capacity) n = ring_take(q, target, leaving);  // full: room first
      q.at(q.head++) = {h, quarantine_cost(h)};
      q.bytes += quarantine_cost(h);
      bool over = q.bytes > bound;
      if (n == 0 && over) n = ring_take(q, target, leaving);
      more = over && q.bytes > target;
    }
  }
  leave_quarantine(leaving, n, "the quarantine (a freed block leaving it)");
  while (more) {
    {
      LockGuard guard(q.lock);
      n = ring_take(q, target, leaving);
      more = q.bytes > target;
    }
    leave_quarantine(leaving, n, "the quarantine (a freed block leaving it)");
  }
}

// As the unchecked realloc: a small block stays where it is while the new size fits
// its inner block and uses at least half of it; the zones move with the end.
bool resize_in_place(CheckedHeader* h, std::size_t size) noexcept {
  if (h->flags & kBlockGuarded) return size == h->size;
  std::uint8_t* user = user_of(h);
  Zones z = zones_of(h);
  std::size_t room = static_cast<std::size_t>(z.rear - user) - kMinRearZone;
  if (size > room || size < room / 2) return false;
  if (size > h->size) std::memset(user + h->size, kFreshByte, size - h->size);
  std::memset(user + size, kRearByte, static_cast<std::size_t>(z.rear - (user + size)));
  Shard& s = g_shards[h->shard];
  LockGuard guard(s.lock);
  s.bytes = s.bytes - h->size + size;
  h->size = size;
  h->seal = header_seal(h);
  return true;
}

enum class Found { kBlock, kInterior, kNotBlock, kHeaderBroken, kNotOurs };
struct Located {
  Found found;
  CheckedHeader* h;  // the block (kBlock, kInterior; kHeaderBroken: its would-be header)
};

CheckedHeader* header_at_inner(Page* page, std::uint8_t* inner) noexcept {
  std::uint64_t tag;
  __builtin_memcpy(&tag, inner, 8);
  auto* user = reinterpret_cast<std::uint8_t*>(tag ^ kTagKey);
  if (user < inner + kHeaderSize || user > inner + page->block_size - kMinRearZone) return nullptr;
  auto* h = reinterpret_cast<CheckedHeader*>(user - kHeaderSize);
  return h->tag == tag ? h : nullptr;
}

Located locate(const void* p) noexcept {
  auto* b = static_cast<std::uint8_t*>(const_cast<void*>(p));
  Segment* segment = segment_lookup(p);
  if (segment == nullptr || segment->kind == SegmentKind::kHuge) {
    CheckedHeader* h = guarded_find(p);
    if (h == nullptr) return {segment == nullptr ? Found::kNotOurs : Found::kNotBlock, nullptr};
    return {user_of(h) == b ? Found::kBlock : Found::kInterior, h};
  }
  std::size_t slice = static_cast<std::size_t>(b - reinterpret_cast<std::uint8_t*>(segment)) >> kSliceShift;
  if (slice == 0 || !((slices_in_use(segment) >> slice) & 1)) return {Found::kNotBlock, nullptr};
  Page* page = page_of(segment, p);
  if (b < page->start || !(page->flags & kPageChecked)) return {Found::kNotBlock, nullptr};
  std::size_t offset = static_cast<std::size_t>(b - page->start);
  // reserved, not capacity: the owner extends capacity while other threads free here.
  if (offset >= std::size_t{page->reserved} * page->block_size) return {Found::kNotBlock, nullptr};
  std::uint8_t* inner = page->start + offset - offset % page->block_size;
  CheckedHeader* h = header_at_inner(page, inner);
  if (h != nullptr) return {user_of(h) == b ? Found::kBlock : Found::kInterior, h};
  // A standard block whose tag was overwritten (underflow), or one already given back.
  // (Past capacity, the slot was never handed out: not a block. Only a bad pointer
  // reads capacity here, so a race with the owner's extension cannot matter.)
  bool handed_out = offset < std::size_t{page->capacity} * page->block_size;
  if (b == inner + kHeaderSize && handed_out) return {Found::kHeaderBroken, reinterpret_cast<CheckedHeader*>(inner)};
  return {Found::kNotBlock, nullptr};
}

bool on_this_stack(const void* p) noexcept {
  char here;
  auto x = reinterpret_cast<std::uintptr_t>(p), sp = reinterpret_cast<std::uintptr_t>(&here);
  return x >= sp - 4096 && x < sp + (std::size_t{8} << 20);
}

void report_bad_pointer(const void* p, const Located& where, const char* call) noexcept {
  BugReport bug{BugKind::kInvalidFree, call, p, nullptr, 0, 0, nullptr, true, 0};
  switch (where.found) {
    case Found::kInterior:
      bug.kind = BugKind::kInteriorFree;
      bug.block = where.h;
      bug.offset = static_cast<const std::uint8_t*>(p) - user_of(where.h);
      break;
    case Found::kHeaderBroken:
      if (where.h->state == BlockState::kReleased) {
        bug.kind = BugKind::kDoubleFree;
        bug.detail = "the block already left the quarantine (its stacks are gone)";
      } else {
        bug.kind = BugKind::kUnderflow;
        bug.offset = -static_cast<std::ptrdiff_t>(kHeaderSize);
        bug.detail = "the block's header was overwritten, so it cannot be freed";
      }
      break;
    case Found::kNotOurs:
      if (on_this_stack(p)) bug.kind = BugKind::kStackFree;
      bug.detail = "not an address malloc returned";
      break;
    default:
      bug.detail = (reinterpret_cast<std::uintptr_t>(p) & 15) != 0 ? "unaligned: no block starts there"
                                                                    : "no live block starts there";
      break;
  }
  report_bug(bug);
}


}  // namespace

void checked_init() noexcept {
  depot_init();
  if (g_options.check) zero_init();
  checked_signals_init();
}

void* checked_alloc(std::size_t size, std::size_t alignment, AllocKind kind, bool force_guard) noexcept {
  Heap* heap = t_heap;
  if (PK_UNLIKELY(heap->is_empty_sentinel)) {
    heap = heap_for_thread();
    if (heap == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (alignment < kMinBlock) alignment = kMinBlock;
  if (size == 0 && alignment == kMinBlock && g_options.check && !g_options.check_pages) {
    if (void* z = zero_alloc(kind)) return z;
  }
  std::size_t need;
  if (__builtin_add_overflow(size, kHeaderSize + kMinRearZone + (alignment - kMinBlock), &need)) need = SIZE_MAX;
  bool guard = force_guard || t_checked_guard_all || g_options.check_pages || need > g_options.mmap_threshold ||
               alignment > kMaxPageAlignment || (g_options.sample && size <= kSampleMax && sample_this_one());
  CheckedHeader* h = nullptr;
  if (guard) {
    h = guarded_alloc(size, alignment);
    // POOLKIT_CHECK=3 out of mappings (vm.max_map_count): an ordinary checked block instead.
    if (h == nullptr && !force_guard && need <= g_options.mmap_threshold && alignment <= kMaxPageAlignment) guard = false;
    else if (h == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (!guard) {
    auto* inner = static_cast<std::uint8_t*>(malloc_inner(heap, need));
    if (inner == nullptr) return nullptr;  // errno set
    std::uint8_t* user = align_up(inner + kHeaderSize, alignment);
    h = reinterpret_cast<CheckedHeader*>(user - kHeaderSize);
    h->tag = kTagKey ^ reinterpret_cast<std::uintptr_t>(user);
    h->flags = 0;
    if (inner != reinterpret_cast<std::uint8_t*>(h)) {
      h->flags = kBlockPadded;
      __builtin_memcpy(inner, &h->tag, 8);
      std::memset(inner + 8, kFrontByte, static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(h) - inner - 8));
    }
  }
  std::uint8_t* user = user_of(h);
  h->size = size;
  h->kind = kind;
  h->state = BlockState::kLive;
  h->shard = thread_shard();
  h->thread = this_thread();
  h->free_stack = 0;
  h->alloc_stack = depot_capture();
  h->seal = header_seal(h);
  Zones z = zones_of(h);
  // Linked and filled under the lock, so that poolkit_malloc_check() never sees the
  // block half made (and the lock's exchange does not wait behind the fill's stores).
  LockGuard lock(g_shards[h->shard].lock);
  live_link_locked(h);
  std::memset(z.front, kFrontByte, static_cast<std::size_t>(user - z.front));
  std::memset(user, kFreshByte, size);
  std::memset(user + size, kRearByte, static_cast<std::size_t>(z.rear - (user + size)));
  return user;
}

void checked_free_at(void* p, AllocKind kind, std::size_t sized, const char* call) noexcept {
  if (p == nullptr) return;
  if (zero_owns(p)) {
    zero_free(p, kind, call);
    return;
  }
  Located where = locate(p);
  if (where.found == Found::kNotOurs && free_foreign_if_known(p)) return;  // glibc's, from before us
  if (where.found != Found::kBlock) {
    report_bad_pointer(p, where, call);
    return;  // "log": the bad free is skipped
  }
  CheckedHeader* h = where.h;
  if (h->state != BlockState::kLive) {
    report_bug({BugKind::kDoubleFree, call, p, h, 0, 0, nullptr, true, 0});
    return;
  }
  if (h->kind != kind) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "allocated with %s, released with %s", alloc_kind_name(h->kind),
                  call);
    report_bug({BugKind::kMismatch, call, p, h, 0, 0, detail, true, 0});
  } else if (sized != kUnknownSize && sized != h->size) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "%s was given %zu bytes; the block has %zu", call, sized,
                  static_cast<std::size_t>(h->size));
    report_bug({BugKind::kSizedDelete, call, p, h, 0, 0, detail, true, 0});
  }
  // A header written over: report it, and leave the block alone (its links may be gone).
  if (!verify_zones(h, call, true) && !header_sane(h)) return;
  live_unlink(h);
  h->free_stack = depot_capture();
  if (g_options.quarantine == 0) {
    if (!(h->flags & kBlockGuarded)) std::memset(user_of(h), kFreedByte, h->size);  // no stale contents
    release(h);
  } else {
    quarantine_put(h);
  }
}

void checked_free(void* p, AllocKind kind, std::size_t sized) noexcept {
  const char* call = kind == AllocKind::kMalloc ? "free()" : kind == AllocKind::kNew ? "operator delete" : "operator delete[]";
  checked_free_at(p, kind, sized, call);
}

void* checked_realloc(void* p, std::size_t size) noexcept {
  Located where = locate(p);
  std::size_t old;
  if (zero_owns(p)) {
    old = 0;
  } else if (where.found == Found::kNotOurs && foreign_usable_size(p) != 0) {
    old = foreign_usable_size(p);
  } else if (where.found != Found::kBlock) {
    report_bad_pointer(p, where, "realloc()");
    errno = EINVAL;
    return nullptr;
  } else if (where.h->state != BlockState::kLive) {
    report_bug({BugKind::kDoubleFree, "realloc()", p, where.h, 0, 0, "realloc of a freed block", true, 0});
    errno = EINVAL;
    return nullptr;
  } else {
    old = where.h->size;
    verify_zones(where.h, "realloc()", true);
    if (resize_in_place(where.h, size)) return p;
  }
  void* q = g_options.check ? checked_alloc(size, 0, AllocKind::kMalloc, false) : fast_malloc(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old < size ? old : size);
  checked_free_at(p, AllocKind::kMalloc, kUnknownSize, "realloc()");
  return q;
}

std::size_t checked_usable(const void* p) noexcept {
  if (p == nullptr || zero_owns(p)) return 0;
  Located where = locate(p);
  if (where.found == Found::kNotOurs) return foreign_usable_size(p);
  if (where.found != Found::kBlock || where.h->state != BlockState::kLive) return 0;
  return where.h->size;
}

bool checked_owns(const void* p) noexcept { return zero_owns(p) || guarded_find(p) != nullptr; }

bool checked_free_unmapped(void* p) noexcept {
  if (!zero_owns(p) && guarded_find(p) == nullptr) return false;
  checked_free(p, AllocKind::kMalloc, kUnknownSize);
  return true;
}

int checked_verify_all(bool report) noexcept {
  int damaged = 0;
  const char* where = g_exit_checked ? "the check of every live block at exit" : "poolkit_malloc_check()";
  // The detecting stack, captured before any lock is taken: a thread's first capture
  // may allocate (the dynamic loader's block for libunwind's per-thread cache), and
  // that allocation takes this thread's shard lock, which the walk below may hold.
  const std::uint32_t here = report && !g_exit_checked ? depot_capture() : 0;
  for (Shard& s : g_shards) {
    LockGuard guard(s.lock);
    for (CheckedHeader* h = s.head; h != nullptr; h = h->next)
      if (!verify_zones(h, where, report, &here)) ++damaged;
  }
  for (Quarantine& q : g_quarantines) {
    LockGuard guard(q.lock);
    for (std::size_t i = q.tail; i != q.head; ++i) {
      CheckedHeader* h = q.at(i).h;
      if (h->flags & kBlockGuarded) continue;
      std::uint8_t* user = user_of(h);
      std::size_t bad = 0;
      const std::uint8_t* w = first_not(user, user + h->size, kFreedByte, &bad);
      if (w != user + h->size) {
        ++damaged;
        if (report) {
          BugReport bug{BugKind::kUseAfterFree, where, w, h, w - user, bad, nullptr, !g_exit_checked, 0};
          bug.here_stack = &here;
          report_bug(bug);
        }
      }
    }
  }
  return damaged;
}

void checked_at_exit() noexcept {
  g_exit_checked = true;
  std::size_t stacks, bytes;
  depot_stats(&stacks, &bytes);
  verbose("checked mode: %zu distinct call stacks in %zu KiB\n", stacks, bytes >> 10);
  checked_verify_all(true);
  if (g_options.leaks) {
    CheckedHeader* heads[kShards];
    for (int i = 0; i < kShards; ++i) {
      g_shards[i].lock.lock();
      heads[i] = g_shards[i].head;
    }
    leak_report(heads, kShards);
    for (int i = kShards - 1; i >= 0; --i) g_shards[i].lock.unlock();
  }
}

void checked_flush_quarantine() noexcept {
  for (Quarantine& q : g_quarantines) {
    QuarantineSlot leaving[kLeavingBatch];
    for (;;) {
      std::size_t n;
      {
        LockGuard guard(q.lock);
        n = ring_take(q, 0, leaving);
      }
      if (n == 0) break;
      leave_quarantine(leaving, n, "malloc_trim() (emptying the quarantine)");
    }
  }
}

void checked_lock_all() noexcept {
  for (Shard& s : g_shards) s.lock.lock();
  for (Quarantine& q : g_quarantines) q.lock.lock();
  depot_lock();
}

void checked_unlock_all(ForkSide side) noexcept {
  depot_unlock(side);
  for (int i = kShards - 1; i >= 0; --i) release_after_fork(g_quarantines[i].lock, side);
  for (int i = kShards - 1; i >= 0; --i) release_after_fork(g_shards[i].lock, side);
}

}  // namespace poolkit::malloc_impl
