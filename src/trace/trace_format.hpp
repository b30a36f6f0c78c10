// trace/trace_format.hpp: the file `poolkit trace` writes (libpoolkit-trace.so) and
// `poolkit report` / `poolkit replay` read (tools/trace_reader). One header for the
// writer and the reader, so the two can never disagree; docs/trace.md has the tables.
//
// A file is a FileHeader followed by self-contained chunks. Each chunk is one thread's
// buffer of records, LZ4-compressed, with its own header and checksum, so a crash loses
// only the unflushed buffers and a truncated file reads up to its last whole chunk.
// Inside a chunk, records follow each other, each starting with its RecordType byte;
// fixed records are padded to 8 bytes, packed events (version 2) are not. All integers
// are little-endian (the machine's order: traces are read on the machine, or at least
// the architecture, that wrote them).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace poolkit::trace {

inline constexpr char kFileMagic[8] = {'P', 'K', 'T', 'R', 'A', 'C', 'E', '\n'};
// 1: events as 48-byte EventRecords. 2: events packed (PackedEvent below), a quarter of
// the bytes to compress and write. A reader reads both.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kChunkMagic = 0x4b43'4b50;  // "PKCK" read as bytes
inline constexpr std::uint32_t kCodecLz4 = 1;
// Records as they are (version 2): a thread whose records hardly compress (random sizes
// and addresses) stores them rather than spend LZ4's time for a few percent.
inline constexpr std::uint32_t kCodecStored = 2;
// A writer never produces more: the reader refuses bigger sizes as corruption.
inline constexpr std::uint32_t kMaxChunkRawBytes = 1u << 20;
inline constexpr int kMaxStackDepth = 64;

struct FileHeader {
  char magic[8];
  std::uint32_t version;       // kFormatVersion of the writer
  std::uint32_t header_bytes;  // sizeof(FileHeader) of the writer: chunks start here
  std::uint32_t pid;
  std::uint32_t parent_pid;    // the tracing parent after fork, else getppid()
  std::uint64_t start_unix_ns; // wall clock when this file was started
};
static_assert(sizeof(FileHeader) == 32);

struct ChunkHeader {
  std::uint32_t magic;         // kChunkMagic
  std::uint32_t thread;        // the writer's thread number (ThreadRecord::thread)
  std::uint32_t raw_bytes;     // records after decompression, <= kMaxChunkRawBytes
  std::uint32_t packed_bytes;  // bytes following this header
  std::uint32_t codec;         // kCodecLz4 or kCodecStored (packed_bytes == raw_bytes)
  std::uint32_t checksum;      // chunk_checksum() of the packed bytes
};
static_assert(sizeof(ChunkHeader) == 24);

enum class RecordType : std::uint8_t {
  kEvent = 1,    // EventRecord: one call of the malloc family
  kStack = 2,    // StackRecord + depth return addresses (u64)
  kThread = 3,   // ThreadRecord: a thread's first record
  kModule = 4,   // ModuleRecord + path bytes: a loaded executable or shared object
  kProcess = 5,  // ProcessRecord + command line bytes (NUL-separated arguments)
  kPackedEvent = 6,  // an event in varints (PackedEvent), version 2
};

// The call a program made. Allocation calls return `ptr`; release calls take it.
enum class Call : std::uint8_t {
  kMalloc = 1,
  kCalloc = 2,         // size is n * size
  kRealloc = 3,        // old_ptr -> ptr; aux is the time before the call (see EventRecord)
  kReallocArray = 4,
  kPosixMemalign = 5,  // aux is the alignment (also for the four below)
  kAlignedAlloc = 6,
  kMemalign = 7,
  kValloc = 8,
  kPvalloc = 9,
  kNew = 10,           // operator new (aux: alignment for the align_val_t forms, else 0)
  kNewArray = 11,      // operator new[]
  kFree = 20,
  kDelete = 21,        // operator delete; size is the sized form's size, else 0
  kDeleteArray = 22,   // operator delete[]
};

inline constexpr bool is_release(Call call) noexcept { return static_cast<int>(call) >= 20; }
inline constexpr bool is_realloc(Call call) noexcept {
  return call == Call::kRealloc || call == Call::kReallocArray;
}
inline constexpr bool is_known_call(std::uint8_t c) noexcept { return (c >= 1 && c <= 11) || (c >= 20 && c <= 22); }

// Times are nanoseconds of CLOCK_MONOTONIC since the file's start. A release's time is
// taken before the block is handed back and an allocation's after it is obtained, so
// that across threads the order by time never puts a block's reuse before its free.
// realloc is both: aux holds the time before (when the old block goes), time the time
// after (when the new one exists).
struct EventRecord {
  RecordType type;       // kEvent
  Call call;
  std::uint16_t reserved;
  std::uint32_t stack;   // StackRecord id, 0 when unknown (before set-up, or re-entered)
  std::uint64_t time;
  std::uint64_t size;    // requested bytes (0 for free and unsized delete)
  std::uint64_t aux;     // alignment, or realloc's time before
  std::uint64_t ptr;     // returned block (allocations, realloc), released block (releases)
  std::uint64_t old_ptr; // realloc's argument
};
static_assert(sizeof(EventRecord) == 48);

// An event packed (version 2): the type byte, the call byte, then LEB128 varints:
//   stack id
//   zigzag(time - the previous event's time in this chunk; 0 before the first)
//   size
//   realloc: zigzag(time - aux), aux being its time before (0 when unknown: the
//            difference is then the time); other calls: aux (the alignment)
//   zigzag(ptr - the previous event's ptr in this chunk; 0 before the first)
//   realloc only: zigzag(old_ptr - ptr)
// Differences are taken modulo 2^64 and wrap back. At most 2 + 6 x 10 bytes.
inline constexpr std::size_t kMaxPackedEventBytes = 62;

inline constexpr std::uint64_t zigzag(std::uint64_t difference) noexcept {
  return (difference << 1) ^ (0 - (difference >> 63));
}
inline constexpr std::uint64_t unzigzag(std::uint64_t z) noexcept { return (z >> 1) ^ (0 - (z & 1)); }

// Always inlined: called six times an event on the tracer's hot path.
__attribute__((always_inline)) inline unsigned char* put_varint(unsigned char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return p;
}

// The running values a chunk's packed events are relative to (both sides keep one).
struct PackedEventBase {
  std::uint64_t time = 0;
  std::uint64_t ptr = 0;
};

// Writes `e` (an EventRecord's fields) at p; returns the end. Always inlined too: g++
// kept it a call in record(), 11% of a traced allocation loop.
__attribute__((always_inline)) inline unsigned char* pack_event(unsigned char* p, const EventRecord& e,
                                                                PackedEventBase& base) noexcept {
  *p++ = static_cast<unsigned char>(RecordType::kPackedEvent);
  *p++ = static_cast<unsigned char>(e.call);
  p = put_varint(p, e.stack);
  p = put_varint(p, zigzag(e.time - base.time));
  p = put_varint(p, e.size);
  p = put_varint(p, is_realloc(e.call) ? zigzag(e.time - e.aux) : e.aux);
  p = put_varint(p, zigzag(e.ptr - base.ptr));
  if (is_realloc(e.call)) p = put_varint(p, zigzag(e.old_ptr - e.ptr));
  base.time = e.time;
  base.ptr = e.ptr;
  return p;
}

// A call stack, innermost frame (the caller of malloc) first. Defined once per file,
// before the first event that uses its id, in the same or another thread's chunk.
struct StackRecord {
  RecordType type;       // kStack
  std::uint8_t depth;    // 1..kMaxStackDepth return addresses follow
  std::uint16_t reserved;
  std::uint32_t id;      // >= 1
};
static_assert(sizeof(StackRecord) == 8);

struct ThreadRecord {
  RecordType type;       // kThread
  std::uint8_t reserved[3];
  std::uint32_t thread;  // small number, 1 = the first thread that allocated
  std::uint32_t tid;     // the kernel's thread id
  std::uint32_t reserved2;
  std::uint64_t time;
};
static_assert(sizeof(ThreadRecord) == 24);

// A module's load bias (dlpi_addr) and the address range of its PT_LOAD segments: a
// return address in [start, end) is, in the file, (address - 1 - bias) (addr2line's input).
// Re-sent whenever the set of loaded modules changed before a new stack was recorded.
struct ModuleRecord {
  RecordType type;       // kModule
  std::uint8_t reserved;
  std::uint16_t path_bytes;  // followed by the path (no NUL), padded to 8
  std::uint32_t reserved2;
  std::uint64_t bias;
  std::uint64_t start;
  std::uint64_t end;
};
static_assert(sizeof(ModuleRecord) == 32);

struct ProcessRecord {
  RecordType type;       // kProcess
  std::uint8_t reserved;
  std::uint16_t command_bytes;  // followed by the command line (NUL-separated), padded to 8
  std::uint32_t pid;
  std::uint64_t time;
};
static_assert(sizeof(ProcessRecord) == 16);

inline constexpr std::size_t padded8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

// The checksum of a chunk's packed bytes: 8 bytes a step (a chunk of tens of KiB costs
// microseconds), catches flipped bits and torn writes.
inline std::uint32_t chunk_checksum(const unsigned char* data, std::size_t n) noexcept {
  std::uint64_t h = 0x9e37'79b9'7f4a'7c15ull ^ n;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&w, data + i, 8);  // one load (g++ 12 kept the byte loop below: 8 loads)
    } else {
      for (int b = 0; b < 8; ++b) w |= static_cast<std::uint64_t>(data[i + b]) << (8 * b);
    }
    h = (h ^ w) * 0xff51'afd7'ed55'8ccdull;
    h ^= h >> 32;
  }
  for (; i < n; ++i) h = (h ^ data[i]) * 0x100'0000'01b3ull;
  h ^= h >> 29;
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

inline const char* call_name(Call call) noexcept {
  switch (call) {
    case Call::kMalloc: return "malloc";
    case Call::kCalloc: return "calloc";
    case Call::kRealloc: return "realloc";
    case Call::kReallocArray: return "reallocarray";
    case Call::kPosixMemalign: return "posix_memalign";
    case Call::kAlignedAlloc: return "aligned_alloc";
    case Call::kMemalign: return "memalign";
    case Call::kValloc: return "valloc";
    case Call::kPvalloc: return "pvalloc";
    case Call::kNew: return "operator new";
    case Call::kNewArray: return "operator new[]";
    case Call::kFree: return "free";
    case Call::kDelete: return "operator delete";
    case Call::kDeleteArray: return "operator delete[]";
  }
  return "?";
}

}  // namespace poolkit::trace
