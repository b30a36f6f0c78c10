// checked.hpp (private): the drop-in malloc's checked mode (POOLKIT_CHECK=1), a layer
// above the heaps. Each block the program gets is carved out of a bigger block of the
// ordinary allocator (an "inner" block) and framed so that misuse shows:
//
//   small blocks (on pages):   [ header 64 B | user bytes (size) | rear zone >= 16 B ]
//                                         ^ last 16 B of the header: front zone
//   guarded blocks (own mapping: huge blocks, POOLKIT_CHECK=3, POOLKIT_SAMPLE):
//     [ segment | header | ... | guard page | front zone | user bytes | rear < 16 B ][ guard page ]
//
// Front and rear zones hold fixed byte patterns, checked at free, realloc,
// poolkit_malloc_check() and for every live block at exit. A freed block is filled
// with a pattern and held in a quarantine bounded in bytes (POOLKIT_QUARANTINE); the
// pattern is verified when it leaves. Guarded blocks end against a PROT_NONE page and
// are made inaccessible while in quarantine; the SIGSEGV handler turns a fault on
// them into a report. The header records the allocating call's kind, the requested
// size and the ids of the allocation and free call stacks (checked_depot.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "internal.hpp"

namespace poolkit::malloc_impl {

// The family of the call that made or released a block: a mismatch is reported.
enum class AllocKind : std::uint8_t { kMalloc = 1, kNew = 2, kNewArray = 3 };
inline constexpr std::size_t kUnknownSize = SIZE_MAX;  // free() and unsized delete

enum class BlockState : std::uint8_t { kLive = 0x4c, kQuarantined = 0x51, kReleased = 0x52 };
// kBlockPadded: a small block whose header is not at its inner block's start (an
// aligned block); without it the inner block starts at the header, found without a division.
enum BlockFlags : std::uint8_t { kBlockGuarded = 1, kBlockPadded = 2 };

inline constexpr std::uint8_t kFrontByte = 0xfa;  // the 8 B before a block
inline constexpr std::uint8_t kRearByte = 0xfb;   // the bytes after it
inline constexpr std::uint8_t kFreshByte = 0xbe;  // a new block (never zero by accident)
inline constexpr std::uint8_t kFreedByte = 0xdf;  // a freed block, verified on leaving quarantine
inline constexpr std::size_t kFrontZone = 8;
inline constexpr std::size_t kMinRearZone = 16;
inline constexpr std::size_t kSampleMax = std::size_t{64} << 10;  // POOLKIT_SAMPLE: blocks up to 64 KiB
inline constexpr std::uint64_t kTagKey = 0x5bd1e9955bd1e995ull;

// Invariants: tag == kTagKey ^ user address (so a header names its block, and any
// other pointer fails); state says where the block is (live: in the live list of
// shard `shard`; quarantined: in a quarantine ring; released: back in the heap);
// seal == header_seal(h) (so a write into the header shows, not only one into front[]);
// front[] is all kFrontByte for small blocks. For small blocks the header sits at
// user - 64 == the inner block's start; for guarded blocks at the segment's huge_user.
struct CheckedHeader {
  std::uint64_t tag;
  CheckedHeader* prev;  // the live list
  CheckedHeader* next;
  std::uint64_t size;   // requested bytes
  std::uint32_t alloc_stack;  // stack depot ids (0: none)
  std::uint32_t free_stack;
  AllocKind kind;
  BlockState state;
  std::uint8_t flags;   // BlockFlags
  std::uint8_t shard;
  std::uint32_t thread;  // kernel thread id of the allocating thread
  std::uint64_t seal;    // header_seal(): a hash of the fields fixed while the block lives
  std::uint8_t front[kFrontZone];
};
static_assert(sizeof(CheckedHeader) == 64);
inline constexpr std::size_t kHeaderSize = sizeof(CheckedHeader);

PK_INLINE std::uint8_t* user_of(const CheckedHeader* h) noexcept {
  return reinterpret_cast<std::uint8_t*>(h->tag ^ kTagKey);
}

// The fields a live or quarantined block keeps (not the list links, the state or the
// free stack, which change), mixed so that any byte written into them shows.
PK_INLINE std::uint64_t header_seal(const CheckedHeader* h) noexcept {
  std::uint64_t fixed = std::uint64_t{h->alloc_stack} | std::uint64_t{static_cast<std::uint8_t>(h->kind)} << 32 |
                        std::uint64_t{h->flags} << 40 | std::uint64_t{h->shard} << 48;
  std::uint64_t x = h->tag ^ (h->size * 0x9e3779b97f4a7c15ull) ^ (fixed * 0xc2b2ae3d27d4eb4full) ^
                    (std::uint64_t{h->thread} << 17);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 29);
}

// ---- checked_block.cpp: the checked calls ----------------------------------------
void checked_init() noexcept;  // process_init, when POOLKIT_CHECK or POOLKIT_SAMPLE is set
/// force_guard: a sampled block (POOLKIT_SAMPLE without POOLKIT_CHECK) on its own pages.
void* checked_alloc(std::size_t size, std::size_t alignment, AllocKind kind, bool force_guard) noexcept;
// While set on a thread, its checked allocations are all guarded (own mapping, guard
// page), as force_guard: set around the dlopen of libunwind and every stack capture,
// so that what the dynamic loader allocates for libunwind (its records, each thread's
// TLS block) is out of reach of a heap overflow, whose report unwinds through it.
extern __thread bool t_checked_guard_all __attribute__((tls_model("initial-exec")));
void checked_free(void* p, AllocKind kind, std::size_t sized) noexcept;
void* checked_realloc(void* p, std::size_t size) noexcept;
std::size_t checked_usable(const void* p) noexcept;
int checked_verify_all(bool report) noexcept;  // poolkit_malloc_check(): damaged blocks found
void checked_at_exit() noexcept;
void checked_flush_quarantine() noexcept;  // malloc_trim: freed blocks verified and given back
void checked_lock_all() noexcept;  // fork
void checked_unlock_all(ForkSide side) noexcept;
/// A pointer of checked mode that the segment map does not name (a guarded block far
/// into its mapping, a zero-size block): freed and true, or false if not ours.
bool checked_free_unmapped(void* p) noexcept;
/// True when p is (or lies in) a block made by the checked layer (any mode).
bool checked_owns(const void* p) noexcept;

// ---- checked_guarded.cpp: blocks on their own pages, zero-size blocks, SIGSEGV ------
/// A block ending against a PROT_NONE page; its header is returned, nullptr on failure.
CheckedHeader* guarded_alloc(std::size_t size, std::size_t alignment) noexcept;
void guarded_protect_freed(CheckedHeader* h) noexcept;  // quarantine: no access
void guarded_release(CheckedHeader* h) noexcept;        // leaves quarantine: unmapped or cached
/// The header of the guarded block holding address a (its whole mapping), or nullptr.
CheckedHeader* guarded_find(const void* a) noexcept;
bool sample_this_one() noexcept;  // POOLKIT_SAMPLE: one block in N gets its own pages
void* zero_alloc(AllocKind kind) noexcept;  // malloc(0) in checked mode; nullptr when the region is full
bool zero_owns(const void* p) noexcept;
void zero_init() noexcept;
void zero_free(void* p, AllocKind kind, const char* call) noexcept;
void checked_signals_init() noexcept;

// ---- checked_depot.cpp: call stacks, deduplicated ---------------------------------
void depot_init() noexcept;
/// The caller's stack, malloc's own frames and then `skip` more left out. Never
/// inlined: it finds the program's call site from its own frame address.
[[gnu::noinline]] std::uint32_t depot_capture(int skip = 0) noexcept;
void depot_lock() noexcept;  // fork
void depot_unlock(ForkSide side) noexcept;
void depot_stats(std::size_t* stacks, std::size_t* bytes) noexcept;
int depot_get(std::uint32_t id, const void* const** frames) noexcept;

// ---- checked_report.cpp: one block of text per bug ---------------------------------
enum class BugKind {
  kOverflow, kUnderflow, kUseAfterFree, kDoubleFree, kInvalidFree, kInteriorFree, kStackFree,
  kMismatch, kSizedDelete, kZeroSizeUse, kGuardOverflow, kGuardUnderflow, kGuardUseAfterFree,
};
struct BugReport {
  BugKind kind;
  const char* detected_in;            // "free()", "realloc()", "exit", "a memory access", ...
  const void* address;                // the pointer passed, or the bad byte / faulting address
  const CheckedHeader* block;         // the block concerned, nullptr if none is known
  std::ptrdiff_t offset;              // of the first bad byte (or the access) from the block start
  std::size_t bad_bytes;              // how many bytes differ (0 if not counted)
  const char* detail;                 // extra line, or nullptr
  bool capture_here;                  // capture the detecting stack (false in a signal handler)
  int access;                         // 0 unknown, 1 read, 2 write
  std::uint32_t alloc_stack = 0;      // stacks of a block without a header (zero-size blocks)
  std::uint32_t free_stack = 0;
  int skip_frames = 0;                // of the detecting stack (a signal frame)
  // The detecting stack, captured before the caller took a lock (a capture may
  // allocate, and the allocation may take that lock): used instead of capturing.
  const std::uint32_t* here_stack = nullptr;
};
/// Prints the report and then does what POOLKIT_CHECK_ACTION says: returns only for "log".
void report_bug(const BugReport& bug) noexcept;
[[noreturn]] void report_fault_and_die(const BugReport& bug) noexcept;
const char* alloc_kind_name(AllocKind kind) noexcept;
void leak_report(CheckedHeader* const* shards_heads, int shard_count) noexcept;

}  // namespace poolkit::malloc_impl
