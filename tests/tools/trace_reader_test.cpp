// Tests of the trace reader on files made here byte by byte: a good file reads back
// exactly, and every kind of bad file (foreign, newer, truncated, corrupted) gets a
// TraceError or a warning naming what and where, never a crash.
#include <gtest/gtest.h>
#include <lz4.h>

#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "trace_analysis.hpp"
#include "trace_reader.hpp"

namespace {

using namespace poolkit::trace;
using Bytes = std::vector<unsigned char>;

template <class T>
void append(Bytes& out, const T& value) {
  // resize + memcpy rather than insert: g++ 12 at -O2 with TSan warns (falsely) that
  // vector::insert of a struct's bytes overflows its destination.
  const std::size_t at = out.size();
  out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);
}

Bytes header(std::uint32_t version = kFormatVersion) {
  FileHeader h{};
  std::memcpy(h.magic, kFileMagic, sizeof h.magic);
  h.version = version;
  h.header_bytes = sizeof h;
  h.pid = 42;
  Bytes out;
  append(out, h);
  return out;
}

// The one builder of events. `aux` (alignment, or realloc's time before) defaults to
// what a plain call carries: none, and for realloc its own time.
EventRecord event_record(Call call, std::uint64_t time, std::uint64_t size, std::uint64_t ptr,
                         std::uint64_t old_ptr = 0, std::uint32_t stack = 0,
                         std::optional<std::uint64_t> aux = std::nullopt) {
  EventRecord r{};
  r.type = RecordType::kEvent;
  r.call = call;
  r.stack = stack;
  r.time = time;
  r.size = size;
  r.aux = aux.value_or(is_realloc(call) ? time : 0);
  r.ptr = ptr;
  r.old_ptr = old_ptr;
  return r;
}

// The same as a version 1 record's bytes.
Bytes event(Call call, std::uint64_t time, std::uint64_t size, std::uint64_t ptr, std::uint64_t old_ptr = 0,
            std::uint32_t stack = 0) {
  Bytes out;
  append(out, event_record(call, time, size, ptr, old_ptr, stack));
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A chunk of `raw` records, compressed and checksummed as the writer does.
Bytes chunk(std::uint32_t thread, const Bytes& raw) {
  std::vector<char> packed(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(raw.size()))));
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(raw.data()), packed.data(),
                                     static_cast<int>(raw.size()), static_cast<int>(packed.size()));
  ChunkHeader h{kChunkMagic, thread, static_cast<std::uint32_t>(raw.size()), static_cast<std::uint32_t>(n), kCodecLz4,
                chunk_checksum(reinterpret_cast<const unsigned char*>(packed.data()), static_cast<std::size_t>(n))};
  Bytes out;
  append(out, h);
  out.insert(out.end(), packed.begin(), packed.begin() + n);
  return out;
}

// Two threads: #1 allocates 100 and 200 bytes and frees the first; #2 frees the second.
Bytes good_file() {
  const Bytes one = cat({event(Call::kMalloc, 10, 100, 0x1000), event(Call::kMalloc, 20, 200, 0x2000),
                         event(Call::kFree, 30, 0, 0x1000)});
  const Bytes two = event(Call::kFree, 40, 0, 0x2000);
  return cat({header(), chunk(1, one), chunk(2, two)});
}

std::string error_of(const Bytes& bytes) {
  try {
    parse_trace(bytes, "t.pktrace");
  } catch (const TraceError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TraceReader, ReadsAGoodFileBackExactly) {
  const Trace t = parse_trace(good_file(), "t.pktrace");
  EXPECT_EQ(t.pid, 42u);
  EXPECT_EQ(t.chunks, 2u);
  ASSERT_EQ(t.events.size(), 4u);
  EXPECT_EQ(t.events[0].size, 100u);
  EXPECT_EQ(t.events[3].thread, 2u);
  EXPECT_TRUE(t.warnings.empty());
  const Analysis a = analyze(t);
  EXPECT_EQ(a.allocations, 2u);
  EXPECT_EQ(a.releases, 2u);
  EXPECT_EQ(a.peak_live_bytes, 300u);
  EXPECT_EQ(a.peak_time, 20u);
  EXPECT_EQ(a.by_thread.at(2).cross_thread_releases, 1u);
  EXPECT_EQ(a.leaked_blocks, 0u);
}

TEST(TraceReader, OrdersChunksOfThreadsByTime) {
  // Thread 2's chunk comes first in the file but its call is later.
  const Bytes bytes = cat({header(), chunk(2, event(Call::kFree, 50, 0, 0x1000)),
                           chunk(1, event(Call::kMalloc, 5, 64, 0x1000))});
  const Trace t = parse_trace(bytes, "t.pktrace");
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0].call, Call::kMalloc);
  EXPECT_EQ(analyze(t).unknown_releases, 0u);
}

TEST(TraceReader, RefusesAnEmptyFile) {
  EXPECT_NE(error_of({}).find("shorter than the 32-byte file header"), std::string::npos) << error_of({});
}

TEST(TraceReader, RefusesAForeignFile) {
  const std::string text = "#!/bin/sh\necho this is a shell script, not a trace\n";
  const std::string e = error_of(Bytes(text.begin(), text.end()));
  EXPECT_NE(e.find("not a poolkit trace"), std::string::npos) << e;
  EXPECT_NE(e.find("offset 0"), std::string::npos) << e;
}

TEST(TraceReader, RefusesANewerFormatVersion) {
  Bytes bytes = good_file();
  const std::uint32_t newer = kFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &newer, 4);
  const std::string e = error_of(bytes);
  EXPECT_NE(e.find("newer poolkit"), std::string::npos) << e;
  EXPECT_NE(e.find("version " + std::to_string(newer)), std::string::npos) << e;
}

TEST(TraceReader, ReadsATruncatedFileUpToItsLastWholeChunk) {
  Bytes bytes = good_file();
  const std::size_t second = sizeof(FileHeader) + chunk(1, cat({event(Call::kMalloc, 10, 100, 0x1000),
                                                                 event(Call::kMalloc, 20, 200, 0x2000),
                                                                 event(Call::kFree, 30, 0, 0x1000)})).size();
  bytes.resize(bytes.size() - 5);  // the crash cut the last chunk
  const Trace t = parse_trace(bytes, "t.pktrace");
  EXPECT_EQ(t.chunks, 1u);
  EXPECT_EQ(t.events.size(), 3u);
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("truncated"), std::string::npos) << t.warnings[0];
  EXPECT_NE(t.warnings[0].find("offset " + std::to_string(second)), std::string::npos) << t.warnings[0];
}

TEST(TraceReader, ReadsAFileCutInsideAChunkHeader) {
  Bytes bytes = good_file();
  const Bytes whole = bytes;
  bytes.resize(bytes.size() - chunk(2, event(Call::kFree, 40, 0, 0x2000)).size() + 10);
  const Trace t = parse_trace(bytes, "t.pktrace");
  EXPECT_EQ(t.chunks, 1u);
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("chunk header"), std::string::npos) << t.warnings[0];
}

TEST(TraceReader, NamesTheChunkWhoseChecksumIsWrong) {
  Bytes bytes = good_file();
  bytes[sizeof(FileHeader) + sizeof(ChunkHeader) + 3] ^= 0x40;  // a flipped bit in chunk 1's data
  const std::string e = error_of(bytes);
  EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;
  EXPECT_NE(e.find("at offset " + std::to_string(sizeof(FileHeader))), std::string::npos) << e;
}

TEST(TraceReader, NamesTheOffsetWhereNoChunkStarts) {
  Bytes bytes = good_file();
  bytes[sizeof(FileHeader)] ^= 0xff;
  const std::string e = error_of(bytes);
  EXPECT_NE(e.find("no chunk starts here"), std::string::npos) << e;
  EXPECT_NE(e.find("offset 32"), std::string::npos) << e;
}

TEST(TraceReader, RefusesAnUnknownCompression) {
  Bytes bytes = good_file();
  const std::uint32_t codec = 9;
  std::memcpy(bytes.data() + sizeof(FileHeader) + offsetof(ChunkHeader, codec), &codec, 4);
  EXPECT_NE(error_of(bytes).find("unknown compression 9"), std::string::npos) << error_of(bytes);
}

TEST(TraceReader, RefusesAChunkThatDoesNotDecompressToItsSize) {
  Bytes bytes = cat({header(), chunk(1, event(Call::kMalloc, 1, 8, 0x10))});
  const std::uint32_t wrong = sizeof(EventRecord) + 8;
  std::memcpy(bytes.data() + sizeof(FileHeader) + offsetof(ChunkHeader, raw_bytes), &wrong, 4);
  EXPECT_NE(error_of(bytes).find("does not decompress"), std::string::npos) << error_of(bytes);
}

TEST(TraceReader, NamesAnUnknownRecordType) {
  Bytes raw = event(Call::kMalloc, 1, 8, 0x10);
  raw.insert(raw.end(), 8, 0x77);
  const std::string e = error_of(cat({header(), chunk(1, raw)}));
  EXPECT_NE(e.find("unknown record type 119"), std::string::npos) << e;
  EXPECT_NE(e.find("record at byte 48"), std::string::npos) << e;
}

TEST(TraceReader, NamesAnUnknownCall) {
  Bytes raw = event(Call::kMalloc, 1, 8, 0x10);
  raw[1] = 99;
  EXPECT_NE(error_of(cat({header(), chunk(1, raw)})).find("unknown call 99"), std::string::npos);
}

TEST(TraceReader, NamesARecordCutShort) {
  Bytes raw = event(Call::kMalloc, 1, 8, 0x10);
  raw.resize(20);
  const std::string e = error_of(cat({header(), chunk(1, raw)}));
  EXPECT_NE(e.find("event record cut short"), std::string::npos) << e;
}

TEST(TraceReader, RefusesABadStackRecord) {
  StackRecord s{RecordType::kStack, 0, 0, 1};
  Bytes raw;
  append(raw, s);
  EXPECT_NE(error_of(cat({header(), chunk(1, raw)})).find("stack depth 0"), std::string::npos);
}

// The events the writer packs (version 2): every field's extreme, deltas that go back,
// realloc with and without its time before.
std::vector<EventRecord> packed_sample() {
  return {event_record(Call::kMalloc, 5, 100, 0x7f00'0000'1000, 0, 1, 0),
          event_record(Call::kAlignedAlloc, 9, 4096, 0x7f00'0000'0000, 0, UINT32_MAX, 4096),
          event_record(Call::kRealloc, 20, 300, 0x5555'0000'2000, 0x7f00'0000'1000, 3, 12),
          event_record(Call::kRealloc, 21, 0, 0, 0x5555'0000'2000, 3, 0),  // realloc(p, 0), no time before
          event_record(Call::kCalloc, 1'000'000'000'000, UINT64_MAX, UINT64_MAX - 15, 0, 0, 0),
          event_record(Call::kFree, 1'000'000'000'001, 0, 0x10, 0, 2, 0)};
}

Bytes packed(const std::vector<EventRecord>& events) {
  Bytes out(kMaxPackedEventBytes * events.size());
  PackedEventBase base;
  unsigned char* at = out.data();
  for (const EventRecord& e : events) at = pack_event(at, e, base);
  out.resize(static_cast<std::size_t>(at - out.data()));
  return out;
}

TEST(TraceReader, ReadsPackedEventsBackExactly) {
  const std::vector<EventRecord> sample = packed_sample();
  const Bytes raw = packed(sample);
  EXPECT_LT(raw.size(), sample.size() * sizeof(EventRecord) / 2);
  // Two chunks with the same events: each chunk's deltas start afresh.
  const Trace t = parse_trace(cat({header(), chunk(1, raw), chunk(1, raw)}), "t.pktrace");
  ASSERT_EQ(t.events.size(), 2 * sample.size());
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const Event& e = t.events[i];
    const EventRecord& r = sample[i / 2];  // in time order: each event and its copy
    EXPECT_EQ(e.call, r.call) << i;
    EXPECT_EQ(e.stack, r.stack) << i;
    EXPECT_EQ(e.time, r.time) << i;
    EXPECT_EQ(e.size, r.size) << i;
    EXPECT_EQ(e.ptr, r.ptr) << i;
    EXPECT_EQ(e.old_ptr, r.old_ptr) << i;
    if (is_realloc(r.call)) {
      EXPECT_EQ(e.time_before, r.aux != 0 ? r.aux : r.time) << i;
    } else {
      EXPECT_EQ(e.align, r.aux) << i;
    }
  }
}

// A chunk of `raw` records stored as they are (kCodecStored).
Bytes stored_chunk(std::uint32_t thread, const Bytes& raw) {
  ChunkHeader h{kChunkMagic, thread, static_cast<std::uint32_t>(raw.size()), static_cast<std::uint32_t>(raw.size()),
                kCodecStored, chunk_checksum(raw.data(), raw.size())};
  Bytes out;
  append(out, h);
  out.insert(out.end(), raw.begin(), raw.end());
  return out;
}

TEST(TraceReader, ReadsStoredChunksBesideCompressedOnes) {
  const Bytes raw = packed(packed_sample());
  const Trace t = parse_trace(cat({header(), stored_chunk(1, raw), chunk(2, raw)}), "t.pktrace");
  EXPECT_EQ(t.chunks, 2u);
  EXPECT_EQ(t.events.size(), 2 * packed_sample().size());
}

TEST(TraceReader, RefusesAStoredChunkWhoseSizesDisagree) {
  Bytes bytes = cat({header(), stored_chunk(1, packed(packed_sample()))});
  std::uint32_t raw_bytes = 0;
  std::memcpy(&raw_bytes, bytes.data() + sizeof(FileHeader) + offsetof(ChunkHeader, raw_bytes), 4);
  ++raw_bytes;
  std::memcpy(bytes.data() + sizeof(FileHeader) + offsetof(ChunkHeader, raw_bytes), &raw_bytes, 4);
  EXPECT_NE(error_of(bytes).find("does not decompress"), std::string::npos) << error_of(bytes);
}

TEST(TraceReader, TheAnalysisLabelsEvenTheLargestSize) {
  // Only a damaged file holds such a size; the analysis must still label it.
  const Trace t = parse_trace(cat({header(), chunk(1, event(Call::kMalloc, 1, UINT64_MAX, 0x10))}), "t.pktrace");
  const Analysis a = analyze(t);
  ASSERT_EQ(a.by_size.size(), 1u);
  EXPECT_EQ(a.by_size[0].label.substr(0, 2), "> ") << a.by_size[0].label;
}

TEST(TraceReader, ReadsVersion1Files) {
  Bytes bytes = good_file();
  const std::uint32_t one = 1;
  std::memcpy(bytes.data() + offsetof(FileHeader, version), &one, 4);
  const Trace t = parse_trace(bytes, "t.pktrace");
  EXPECT_EQ(t.version, 1u);
  EXPECT_EQ(t.events.size(), 4u);
}

TEST(TraceReader, NamesAPackedEventCutShort) {
  Bytes raw = packed(packed_sample());
  raw.resize(raw.size() - 1);
  const std::string e = error_of(cat({header(), chunk(1, raw)}));
  EXPECT_NE(e.find("packed event cut short"), std::string::npos) << e;
  Bytes endless = {static_cast<unsigned char>(RecordType::kPackedEvent), 1};
  endless.insert(endless.end(), 11, 0xff);
  const std::string e2 = error_of(cat({header(), chunk(1, endless)}));
  EXPECT_NE(e2.find("longer than 64 bits"), std::string::npos) << e2;
}

TEST(TraceReader, SurvivesRandomDamage) {
  const unsigned seed = 20261129;
  std::mt19937 rng(seed);
  for (int round = 0; round < 3000; ++round) {
    Bytes bytes = round % 2 == 0 ? good_file() : cat({header(), chunk(1, packed(packed_sample()))});
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<unsigned char>(rng());
    if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
    try {
      const Trace t = parse_trace(bytes, "t.pktrace");
      (void)analyze(t);
    } catch (const TraceError&) {
    }
  }
  SUCCEED() << "seed " << seed;
}

}  // namespace
