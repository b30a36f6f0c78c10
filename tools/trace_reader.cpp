// tools/trace_reader.cpp: the checks and decoding of trace files (trace_reader.hpp).
#include "trace_reader.hpp"

#include <lz4.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace poolkit::trace {

namespace {

std::string where(const std::string& name, std::uint64_t offset) {
  return name + ": at offset " + std::to_string(offset) + ": ";
}

template <class T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Decodes one chunk's records. `base` is the chunk's offset in the file, for messages.
class ChunkDecoder {
 public:
  ChunkDecoder(Trace& trace, const std::string& name, std::uint64_t base, std::uint32_t thread)
      : trace_(trace), name_(name), base_(base), thread_(thread) {}

  void decode(const unsigned char* data, std::size_t n) {
    std::size_t at = 0;
    while (at < n) {
      const std::size_t left = n - at;
      const auto type = static_cast<RecordType>(data[at]);
      switch (type) {
        case RecordType::kEvent: at += event(data + at, left, at); break;
        case RecordType::kPackedEvent: at += packed_event(data + at, left, at); break;
        case RecordType::kStack: at += stack(data + at, left, at); break;
        case RecordType::kThread: at += thread(data + at, left, at); break;
        case RecordType::kModule: at += module(data + at, left, at); break;
        case RecordType::kProcess: at += process(data + at, left, at); break;
        default:
          fail(at, "unknown record type " + std::to_string(data[at]));
      }
    }
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw TraceError(where(name_, base_) + "corrupted chunk (thread " + std::to_string(thread_) +
                     "): record at byte " + std::to_string(at) + " of its data: " + what);
  }
  void need(std::size_t at, std::size_t left, std::size_t bytes, const char* what) const {
    if (bytes > left) fail(at, std::string(what) + " record cut short (" + std::to_string(bytes) +
                                   " bytes needed, " + std::to_string(left) + " left)");
  }

  std::size_t event(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, sizeof(EventRecord), "event");
    add_event(load<EventRecord>(p), at);
    return sizeof(EventRecord);
  }

  // A varint of the packed event at `at`, read from p[*i], within `left` bytes.
  std::uint64_t varint(const unsigned char* p, std::size_t left, std::size_t* i, std::size_t at) const {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (*i >= left) fail(at, "packed event cut short (" + std::to_string(left) + " bytes left)");
      const unsigned char byte = p[(*i)++];
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    fail(at, "packed event with a number longer than 64 bits");
  }

  std::size_t packed_event(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, 2, "packed event");
    EventRecord r{};
    r.type = RecordType::kEvent;
    r.call = static_cast<Call>(p[1]);
    if (!is_known_call(p[1])) fail(at, "unknown call " + std::to_string(static_cast<int>(p[1])));
    std::size_t i = 2;
    const std::uint64_t stack = varint(p, left, &i, at);
    if (stack > UINT32_MAX) fail(at, "stack id " + std::to_string(stack));
    r.stack = static_cast<std::uint32_t>(stack);
    r.time = last_.time + unzigzag(varint(p, left, &i, at));
    r.size = varint(p, left, &i, at);
    const std::uint64_t aux = varint(p, left, &i, at);
    r.aux = is_realloc(r.call) ? r.time - unzigzag(aux) : aux;
    r.ptr = last_.ptr + unzigzag(varint(p, left, &i, at));
    if (is_realloc(r.call)) r.old_ptr = r.ptr + unzigzag(varint(p, left, &i, at));
    last_.time = r.time;
    last_.ptr = r.ptr;
    add_event(r, at);
    return i;
  }

  void add_event(const EventRecord& r, std::size_t at) {
    if (!is_known_call(static_cast<std::uint8_t>(r.call)))
      fail(at, "unknown call " + std::to_string(static_cast<int>(r.call)));
    Event e{};
    e.call = r.call;
    e.thread = thread_;
    e.stack = r.stack;
    e.time = r.time;
    e.size = r.size;
    e.ptr = r.ptr;
    e.old_ptr = r.old_ptr;
    if (is_realloc(r.call)) {
      // A realloc that started while recording was being set up has no time before.
      e.time_before = r.aux != 0 && r.aux <= r.time ? r.aux : r.time;
    } else {
      e.align = r.aux;
      e.time_before = r.time;
    }
    trace_.events.push_back(e);
  }

  std::size_t stack(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, sizeof(StackRecord), "stack");
    const auto r = load<StackRecord>(p);
    if (r.depth == 0 || r.depth > kMaxStackDepth) fail(at, "stack depth " + std::to_string(r.depth));
    if (r.id == 0) fail(at, "stack id 0");
    const std::size_t bytes = sizeof r + 8 * std::size_t{r.depth};
    need(at, left, bytes, "stack");
    std::vector<std::uint64_t> frames(r.depth);
    for (std::size_t i = 0; i < r.depth; ++i) frames[i] = load<std::uint64_t>(p + sizeof r + 8 * i);
    trace_.stacks[r.id] = std::move(frames);
    return bytes;
  }

  std::size_t thread(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, sizeof(ThreadRecord), "thread");
    const auto r = load<ThreadRecord>(p);
    trace_.threads[r.thread] = ThreadInfo{r.thread, r.tid, r.time};
    return sizeof r;
  }

  std::size_t module(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, sizeof(ModuleRecord), "module");
    const auto r = load<ModuleRecord>(p);
    const std::size_t bytes = padded8(sizeof r + r.path_bytes);
    need(at, left, bytes, "module");
    if (r.start >= r.end) fail(at, "module with an empty address range");
    Module m{std::string(reinterpret_cast<const char*>(p + sizeof r), r.path_bytes), r.bias, r.start, r.end};
    const bool known = std::any_of(trace_.modules.begin(), trace_.modules.end(), [&](const Module& k) {
      return k.start == m.start && k.end == m.end && k.path == m.path;
    });
    if (!known) trace_.modules.push_back(std::move(m));
    return bytes;
  }

  std::size_t process(const unsigned char* p, std::size_t left, std::size_t at) {
    need(at, left, sizeof(ProcessRecord), "process");
    const auto r = load<ProcessRecord>(p);
    const std::size_t bytes = padded8(sizeof r + r.command_bytes);
    need(at, left, bytes, "process");
    trace_.command.clear();
    const char* text = reinterpret_cast<const char*>(p + sizeof r);
    std::string arg;
    for (std::size_t i = 0; i < r.command_bytes; ++i) {
      if (text[i] == '\0') {
        trace_.command.push_back(arg);
        arg.clear();
      } else {
        arg.push_back(text[i]);
      }
    }
    trace_.command.push_back(arg);
    return bytes;
  }

  Trace& trace_;
  const std::string& name_;
  std::uint64_t base_;
  std::uint32_t thread_;
  PackedEventBase last_;  // packed events are relative to the chunk's previous one
};

}  // namespace

const Module* Trace::module_of(std::uint64_t address) const {
  // Later records win: a range reused after dlclose belongs to the newer module.
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
    if (address >= it->start && address < it->end) return &*it;
  }
  return nullptr;
}

Trace parse_trace(const std::vector<unsigned char>& bytes, const std::string& name) {
  Trace trace;
  trace.path = name;
  trace.file_bytes = bytes.size();
  if (bytes.size() < sizeof(FileHeader)) {
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), kFileMagic, 8) != 0)
      throw TraceError(name + ": not a poolkit trace (no PKTRACE header at offset 0)");
    throw TraceError(name + ": truncated: " + std::to_string(bytes.size()) +
                     " bytes, shorter than the 32-byte file header (is it a poolkit trace?)");
  }
  const auto header = load<FileHeader>(bytes.data());
  if (std::memcmp(header.magic, kFileMagic, sizeof header.magic) != 0)
    throw TraceError(name + ": not a poolkit trace (no PKTRACE header at offset 0)");
  if (header.version > kFormatVersion)
    throw TraceError(name + ": written by a newer poolkit (trace format version " + std::to_string(header.version) +
                     "; this poolkit reads up to version " + std::to_string(kFormatVersion) + ")");
  if (header.version == 0) throw TraceError(where(name, 8) + "bad format version 0");
  if (header.header_bytes < sizeof(FileHeader) || header.header_bytes > bytes.size())
    throw TraceError(where(name, 12) + "bad header size " + std::to_string(header.header_bytes));
  trace.version = header.version;
  trace.pid = header.pid;
  trace.parent_pid = header.parent_pid;
  trace.start_unix_ns = header.start_unix_ns;

  std::vector<unsigned char> raw(kMaxChunkRawBytes);
  std::uint64_t at = header.header_bytes;
  while (at < bytes.size()) {
    const std::uint64_t left = bytes.size() - at;
    if (left < sizeof(ChunkHeader)) {
      trace.warnings.push_back(where(name, at) + "truncated: " + std::to_string(left) +
                               " bytes of a chunk header; read up to there (" + std::to_string(trace.chunks) +
                               " whole chunks)");
      break;
    }
    const auto chunk = load<ChunkHeader>(bytes.data() + at);
    if (chunk.magic != kChunkMagic)
      throw TraceError(where(name, at) + "corrupted: no chunk starts here (chunk " + std::to_string(trace.chunks + 1) +
                       ")");
    if (chunk.codec != kCodecLz4 && chunk.codec != kCodecStored)
      throw TraceError(where(name, at) + "unknown compression " + std::to_string(chunk.codec) +
                       " (a newer poolkit's file, or corrupted)");
    if (chunk.raw_bytes > kMaxChunkRawBytes || chunk.raw_bytes == 0)
      throw TraceError(where(name, at) + "corrupted chunk: " + std::to_string(chunk.raw_bytes) + " bytes of records");
    if (chunk.packed_bytes > left - sizeof(ChunkHeader)) {
      trace.warnings.push_back(where(name, at) + "truncated: the last chunk needs " +
                               std::to_string(chunk.packed_bytes) + " bytes, " +
                               std::to_string(left - sizeof(ChunkHeader)) + " are there; read up to there (" +
                               std::to_string(trace.chunks) + " whole chunks)");
      break;
    }
    const unsigned char* packed = bytes.data() + at + sizeof(ChunkHeader);
    if (chunk_checksum(packed, chunk.packed_bytes) != chunk.checksum)
      throw TraceError(where(name, at) + "corrupted chunk: checksum mismatch (chunk " +
                       std::to_string(trace.chunks + 1) + ", thread " + std::to_string(chunk.thread) + ")");
    int n = -1;
    if (chunk.codec == kCodecStored) {
      if (chunk.packed_bytes == chunk.raw_bytes) {
        std::memcpy(raw.data(), packed, chunk.raw_bytes);
        n = static_cast<int>(chunk.raw_bytes);
      }
    } else {
      n = LZ4_decompress_safe(reinterpret_cast<const char*>(packed), reinterpret_cast<char*>(raw.data()),
                              static_cast<int>(chunk.packed_bytes), static_cast<int>(raw.size()));
    }
    if (n < 0 || static_cast<std::uint32_t>(n) != chunk.raw_bytes)
      throw TraceError(where(name, at) + "corrupted chunk: does not decompress to its " +
                       std::to_string(chunk.raw_bytes) + " bytes");
    ChunkDecoder(trace, name, at, chunk.thread).decode(raw.data(), static_cast<std::size_t>(n));
    ++trace.chunks;
    at += sizeof(ChunkHeader) + chunk.packed_bytes;
  }
  // Chunks of different threads interleave in the file: order by time, keeping each
  // thread's own order (its clock never goes back).
  std::stable_sort(trace.events.begin(), trace.events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });
  return trace;
}

Trace read_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path + ": cannot open: " + std::strerror(errno));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw TraceError(path + ": read error: " + std::strerror(errno));
  return parse_trace(bytes, path);
}

}  // namespace poolkit::trace
