#include "tests/fuzz/storage_seeds.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/catalog.h"
#include "engine/group_offsets.h"
#include "engine/partition_log.h"
#include "engine/producer_state.h"
#include "engine/snapshot.h"
#include "segment/base/check.h"
#include "segment/base/checksum.h"
#include "segment/base/codec.h"
#include "segment/format.h"
#include "segment/frame.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "segment/segment.h"
#include "segment/segment_index.h"
#include "segment/small_file.h"

namespace sluice::fuzz {
namespace {

using base::Codec;
using base::ErrorCode;
using base::FilePos;
using base::Offset;
namespace seg = segment;
namespace f = segment::format;

std::string Format(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, args...);
  return buf;
}

std::byte* Data(std::string& s) { return reinterpret_cast<std::byte*>(s.data()); }

StorageSeed Valid(std::string name, std::string bytes, std::string summary) {
  return {std::move(name), std::move(bytes), std::nullopt, std::move(summary)};
}
StorageSeed Rejected(std::string name, std::string bytes, ErrorCode error,
                     std::optional<std::string> summary = std::nullopt) {
  return {std::move(name), std::move(bytes), error, std::move(summary)};
}

std::string Flip(std::string s, size_t pos) {
  s.at(pos) = static_cast<char>(s.at(pos) ^ 0x10);
  return s;
}

// --- record batches ------------------------------------------------------------------------------

struct SeedRecord {
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  int64_t timestamp;
  std::vector<seg::RecordHeader> headers;
};

const std::vector<SeedRecord>& SeedRecords() {
  static const std::vector<SeedRecord> records = {
      {"k0", "v0", 1000, {}},
      {std::nullopt, "v1 with spaces", 1001, {{"h", "x"}, {"n", std::nullopt}}},
      {"k2", std::nullopt, 999, {}},  // a timestamp below the first: a negative delta
  };
  return records;
}

std::string Quoted(const std::optional<std::string_view>& s) {
  return s ? "'" + Escape(*s) + "'" : std::string("null");
}

// The summary lines of SeedRecords() at offsets from `base`; `append_time` replaces every
// timestamp (LogAppendTime batches).
std::string SeedRecordLines(int64_t base, std::optional<int64_t> append_time = std::nullopt) {
  std::string out;
  int64_t offset = base;
  for (const SeedRecord& r : SeedRecords()) {
    out += Format("record offset=%" PRId64 " ts=%" PRId64 " key=", offset++,
                  append_time.value_or(r.timestamp)) +
           Quoted(r.key) + " value=" + Quoted(r.value);
    for (const seg::RecordHeader& h : r.headers) {
      out += " header='" + Escape(h.key) + "'=" + Quoted(h.value);
    }
    out += "\n";
  }
  return out;
}

std::string BatchLine(int64_t base, int32_t count, Codec codec) {
  return Format("batch base=%" PRId64 " count=%" PRId32 " codec=", base, count) +
         std::string(base::CodecName(codec)) + "\n";
}

std::string SeedBatch(Codec codec, seg::ProducerInfo producer = {}) {
  seg::BatchBuilder b;
  for (const SeedRecord& r : SeedRecords()) b.Add(r.key, r.value, r.timestamp, r.headers);
  return b.Build(codec, 0, producer).value();
}

// `plain` (uncompressed) with its records section replaced by `section` of `codec`.
std::string WithRecordsSection(const std::string& plain, Codec codec, const std::string& section) {
  std::string out = plain.substr(0, seg::kBatchHeaderSize) + section;
  base::StoreBE<int32_t>(Data(out) + seg::batch_field::kBatchLength,
                         static_cast<int32_t>(out.size() - 12));
  base::StoreBE<int16_t>(Data(out) + seg::batch_field::kAttributes, static_cast<int16_t>(codec));
  seg::UpdateBatchCrc({Data(out), out.size()});
  return out;
}

std::string RecordsSection(const std::string& plain) { return plain.substr(seg::kBatchHeaderSize); }

// A zstd frame without a content size (as streaming compressors write): one raw block.
std::string ZstdRawFrame(const std::string& content) {
  std::string out("\x28\xb5\x2f\xfd", 4);
  out += '\x00';  // frame header descriptor: no content size, not single-segment
  out += '\x08';  // window descriptor: 2 KiB
  const uint32_t block = (static_cast<uint32_t>(content.size()) << 3) | 1;  // last, raw
  out += static_cast<char>(block & 0xff);
  out += static_cast<char>((block >> 8) & 0xff);
  out += static_cast<char>((block >> 16) & 0xff);
  return out + content;
}

// Xerial framing of snappy (as the Java client writes it): magic, versions, one block.
std::string XerialSnappy(const std::string& content) {
  std::string block;
  SLUICE_CHECK(base::Compress(Codec::kSnappy, 0, base::AsBytes(content), block).has_value(),
               "snappy");
  std::string out("\x82SNAPPY\0", 8);
  out += std::string("\0\0\0\1\0\0\0\1", 8);
  std::string len(4, '\0');
  base::StoreBE<uint32_t>(Data(len), static_cast<uint32_t>(block.size()));
  return out + len + block;
}

std::vector<StorageSeed> RecordBatchSeeds() {
  std::vector<StorageSeed> seeds;
  const std::string plain = SeedBatch(Codec::kNone);
  const std::string lines = SeedRecordLines(0);
  for (Codec c : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    seeds.push_back(Valid("valid-" + std::string(base::CodecName(c)) + "-3", SeedBatch(c),
                          BatchLine(0, 3, c) + lines));
  }
  const std::string section = RecordsSection(plain);
  seeds.push_back(Valid("valid-snappy-xerial-3",
                        WithRecordsSection(plain, Codec::kSnappy, XerialSnappy(section)),
                        BatchLine(0, 3, Codec::kSnappy) + lines));
  seeds.push_back(Valid("valid-zstd-no-content-size-3",
                        WithRecordsSection(plain, Codec::kZstd, ZstdRawFrame(section)),
                        BatchLine(0, 3, Codec::kZstd) + lines));
  {
    std::string two;
    const std::string head = section.substr(0, 20);
    SLUICE_CHECK(base::Compress(Codec::kZstd, 0, base::AsBytes(head), two).has_value(), "zstd");
    two += ZstdRawFrame(section.substr(20));
    seeds.push_back(Valid("valid-zstd-two-frames-3", WithRecordsSection(plain, Codec::kZstd, two),
                          BatchLine(0, 3, Codec::kZstd) + lines));
  }
  {
    seg::BatchBuilder empty;
    seeds.push_back(Valid("valid-none-0", empty.Build().value(), BatchLine(0, 0, Codec::kNone)));
  }
  {
    std::string b = plain;
    base::StoreBE<int16_t>(Data(b) + seg::batch_field::kAttributes, 0x8);  // LogAppendTime
    base::StoreBE<int64_t>(Data(b) + seg::batch_field::kMaxTimestamp, 5000);
    seg::UpdateBatchCrc({Data(b), b.size()});
    seeds.push_back(Valid("valid-log-append-time-3", b,
                          BatchLine(0, 3, Codec::kNone) + SeedRecordLines(0, 5000)));
  }
  seeds.push_back(Valid("valid-producer-3", SeedBatch(Codec::kLz4, {42, 3, 17}),
                        BatchLine(0, 3, Codec::kLz4) + lines));
  {
    std::string b = SeedBatch(Codec::kZstd);
    seg::SetBaseOffset({Data(b), b.size()}, Offset(1000));  // not covered by the CRC
    seeds.push_back(Valid("valid-base-1000-zstd-3", b,
                          BatchLine(1000, 3, Codec::kZstd) + SeedRecordLines(1000)));
  }

  const std::string zstd = SeedBatch(Codec::kZstd);
  seeds.push_back(Rejected("truncated-header", plain.substr(0, 60), ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("truncated-last-byte", plain.substr(0, plain.size() - 1), ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("truncated-zstd-half", zstd.substr(0, zstd.size() / 2), ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("flipped-last-byte", Flip(plain, plain.size() - 1), ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("flipped-magic", Flip(plain, seg::batch_field::kMagic), ErrorCode::kCorruption));
  seeds.push_back(Rejected("flipped-zstd-records", Flip(zstd, seg::kBatchHeaderSize + 6),
                           ErrorCode::kCorruption));
  {
    // A right CRC over a header claiming a fourth record: the three decode, then the decoder
    // reports the missing one.
    std::string b = plain;
    base::StoreBE<int32_t>(Data(b) + seg::batch_field::kRecordCount, 4);
    base::StoreBE<int32_t>(Data(b) + seg::batch_field::kLastOffsetDelta, 3);
    seg::UpdateBatchCrc({Data(b), b.size()});
    seeds.push_back(Rejected("fewer-records-than-counted", b, ErrorCode::kCorruption,
                             BatchLine(0, 4, Codec::kNone) + lines));
  }
  {
    std::string b = plain;
    base::StoreBE<int16_t>(Data(b) + seg::batch_field::kAttributes, 5);
    seg::UpdateBatchCrc({Data(b), b.size()});
    seeds.push_back(Rejected("unknown-codec", b, ErrorCode::kCorruption));
  }
  {
    // A zstd frame declaring 4 MiB of content with one 3-byte block: rejected, not allocated.
    std::string frame("\x28\xb5\x2f\xfd\xa0", 5);  // single segment, 4-byte content size
    std::string size(4, '\0');
    base::StoreLE<uint32_t>(Data(size), 4u << 20);
    frame += size + std::string("\x19\x00\x00", 3) + "abc";
    seeds.push_back(Rejected("zstd-declares-more-than-it-holds",
                             WithRecordsSection(plain, Codec::kZstd, frame), ErrorCode::kCorruption,
                             BatchLine(0, 3, Codec::kZstd)));
  }
  {
    // A snappy block declaring 4 MiB (varint) followed by 3 bytes.
    const std::string block(
        "\x80\x80\x80\x02\x08"
        "abc",
        8);
    seeds.push_back(Rejected("snappy-declares-more-than-it-holds",
                             WithRecordsSection(plain, Codec::kSnappy, block),
                             ErrorCode::kCorruption, BatchLine(0, 3, Codec::kSnappy)));
  }
  return seeds;
}

// --- frames --------------------------------------------------------------------------------------

std::string SmallBatch(int count, const std::string& prefix, Offset base) {
  seg::BatchBuilder b;
  for (int i = 0; i < count; ++i) b.Add(prefix + std::to_string(i), "value", 10 + i);
  std::string batch = b.Build().value();
  seg::SetBaseOffset({Data(batch), batch.size()}, base);
  return batch;
}

std::string Frame(const std::string& batch) {
  const auto length = static_cast<uint32_t>(batch.size());
  seg::FramePrefix prefix;
  seg::EncodeFramePrefix(
      prefix, length,
      base::Xxh3(base::AsBytes(batch), seg::FrameSeed(length, f::kFrameTypeRecordBatchV2)));
  return std::string(reinterpret_cast<const char*>(prefix.data()), prefix.size()) + batch;
}

// Three frames of 2, 1 and 3 records from offset `base` on.
std::vector<std::string> SeedBatches(int64_t base) {
  return {SmallBatch(2, "a", Offset(base)), SmallBatch(1, "b", Offset(base + 2)),
          SmallBatch(3, "c", Offset(base + 3))};
}

std::string FrameLine(uint64_t pos, int64_t base, int32_t count, uint64_t bytes) {
  return Format("frame pos=%" PRIu64 " base=%" PRId64 " count=%" PRId32 " bytes=%" PRIu64 "\n", pos,
                base, count, bytes);
}

// The frame lines of SeedBatches(base) written from position `pos` on (only the first `n`).
std::string SeedFrameLines(uint64_t pos, int64_t base, size_t n = 3) {
  const std::vector<std::string> batches = SeedBatches(base);
  const int32_t counts[] = {2, 1, 3};
  const int64_t bases[] = {base, base + 2, base + 3};
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t bytes = f::kFramePrefixSize + batches[i].size();
    out += FrameLine(pos, bases[i], counts[i], bytes);
    pos += bytes;
  }
  return out;
}

std::vector<StorageSeed> FrameSeeds() {
  std::vector<StorageSeed> seeds;
  const std::vector<std::string> batches = SeedBatches(0);
  const std::string a = Frame(batches[0]);
  const std::string b = Frame(batches[1]);
  const std::string c = Frame(batches[2]);
  const std::string all = a + b + c;
  seeds.push_back(Valid("valid-three-frames", all, SeedFrameLines(0, 0) + "end\n"));
  seeds.push_back(
      Valid("valid-zeroed-tail", all + std::string(100, '\0'), SeedFrameLines(0, 0) + "end\n"));
  seeds.push_back(Valid("valid-empty", "", "end\n"));
  seeds.push_back(Rejected("torn-third-frame", all.substr(0, a.size() + b.size() + c.size() / 2),
                           ErrorCode::kCorruption,
                           SeedFrameLines(0, 0, 2) + Format("bad pos=%zu\n", a.size() + b.size())));
  seeds.push_back(Rejected("flipped-second-payload", Flip(all, a.size() + 40),
                           ErrorCode::kCorruption,
                           SeedFrameLines(0, 0, 1) + Format("bad pos=%zu\n", a.size())));
  {
    std::string x = all;
    base::StoreLE<uint16_t>(Data(x) + 4, 2);  // unknown frame type
    seeds.push_back(Rejected("unknown-type", x, ErrorCode::kCorruption, "bad pos=0\n"));
  }
  {
    std::string x = all;
    base::StoreLE<uint32_t>(Data(x), f::kMaxFramePayload + 1);
    seeds.push_back(Rejected("oversized-length", x, ErrorCode::kCorruption, "bad pos=0\n"));
  }
  return seeds;
}

// --- sparse index --------------------------------------------------------------------------------

std::string IndexSummary(int64_t base, uint64_t end, int64_t next, int64_t max_ts,
                         const std::vector<seg::IndexEntry>& entries) {
  std::string out = Format("index base=%" PRId64 " end=%" PRIu64 " next=%" PRId64 " maxts=%" PRId64
                           " entries=%zu\n",
                           base, end, next, max_ts, entries.size());
  for (const seg::IndexEntry& e : entries) {
    out += Format("entry rel=%" PRIu32 " pos=%" PRIu32 " ts=%" PRId64 "\n", e.relative_offset,
                  e.position, e.max_timestamp_before);
  }
  return out;
}

std::string EncodeIndex(int64_t base, const seg::SegmentTail& tail,
                        const std::vector<seg::IndexEntry>& entries) {
  seg::SegmentIndex index(Offset(base), entries.size());
  for (const seg::IndexEntry& e : entries) index.Add(e);
  return index.Encode(tail);
}

void FixIndexChecksum(std::string& file) {
  base::Xxh3Stream h;
  h.Update(base::AsBytes(file).first(48));
  h.Update(base::AsBytes(file).subspan(f::kIndexHeaderSize));
  base::StoreLE<uint64_t>(Data(file) + 48, h.Digest());
}

std::vector<StorageSeed> SegmentIndexSeeds() {
  std::vector<StorageSeed> seeds;
  const std::vector<seg::IndexEntry> entries = {{0, 32, -1}, {10, 4128, 1005}, {25, 8200, 1020}};
  const seg::SegmentTail tail{FilePos(9000), Offset(1040), 1039};
  const std::string three = EncodeIndex(1000, tail, entries);
  seeds.push_back(
      Valid("valid-three-entries", three, IndexSummary(1000, 9000, 1040, 1039, entries)));
  seeds.push_back(Valid("valid-empty", EncodeIndex(0, {FilePos(32), Offset(0), -1}, {}),
                        IndexSummary(0, 32, 0, -1, {})));
  seeds.push_back(
      Rejected("flipped-entry", Flip(three, f::kIndexHeaderSize + 20), ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("truncated-entry", three.substr(0, three.size() - 8), ErrorCode::kCorruption));
  seeds.push_back(Rejected("truncated-header", three.substr(0, 40), ErrorCode::kCorruption));
  {
    std::string x = three;
    base::StoreLE<uint16_t>(Data(x) + 8, f::kIndexCurrentVersion + 1);
    FixIndexChecksum(x);
    seeds.push_back(Rejected("future-version", x, ErrorCode::kUnsupportedVersion));
  }
  {
    // Entries swapped, checksum right: the order is checked, not only the checksum.
    std::string x = three;
    std::swap_ranges(x.begin() + f::kIndexHeaderSize + 16, x.begin() + f::kIndexHeaderSize + 32,
                     x.begin() + f::kIndexHeaderSize + 32);
    FixIndexChecksum(x);
    seeds.push_back(Rejected("entries-out-of-order", x, ErrorCode::kCorruption));
  }
  {
    // An entry at an offset the header says the segment does not reach.
    std::string x = three;
    base::StoreLE<int64_t>(Data(x) + 32, 1020);  // next offset below the last entry's 1025
    FixIndexChecksum(x);
    seeds.push_back(Rejected("entry-beyond-tail", x, ErrorCode::kCorruption));
  }
  return seeds;
}

// --- segments ------------------------------------------------------------------------------------

struct BuiltSegment {
  std::string log;
  std::string index;  // empty if none was written
  std::vector<uint64_t> frame_pos;
  uint64_t end = 0;
};

constexpr char kSegmentDir[] = "/seeds";

// A segment as sluice writes it: created, three frames appended, then closed cleanly (trimmed,
// index written) or abandoned after a sync (preallocated tail left, no index), as after a crash.
BuiltSegment BuildSegment(int64_t base, bool clean) {
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  SLUICE_CHECK(fs.CreateDir(kSegmentDir).has_value(), "mkdir");
  seg::SegmentOptions options;
  options.capacity_bytes = 1u << 20;
  options.preallocate_bytes = 4096;
  options.index_interval_bytes = 256;
  auto s = seg::Segment::Create(fs, kSegmentDir, Offset(base), options).value();
  BuiltSegment out;
  uint64_t pos = f::kSegmentHeaderSize;
  const int32_t counts[] = {2, 1, 3};
  int64_t next = base;
  const std::vector<std::string> batches = SeedBatches(base);
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string frame = Frame(batches[i]);
    const base::Bytes pieces[] = {base::AsBytes(frame)};
    const seg::FrameMeta meta[] = {{Offset(next), Offset(next + counts[i] - 1), 10, frame.size()}};
    SLUICE_CHECK(s->Append(pieces, meta).has_value(), "append");
    out.frame_pos.push_back(pos);
    pos += frame.size();
    next += counts[i];
  }
  out.end = pos;
  SLUICE_CHECK(s->Sync().has_value(), "sync");
  SLUICE_CHECK((clean ? s->CloseClean() : s->CloseAbandoned()).has_value(), "close");
  out.log = fs.ReadFile(seg::Segment::LogPath(kSegmentDir, Offset(base))).value();
  if (auto index = fs.ReadFile(seg::Segment::IndexPath(kSegmentDir, Offset(base)))) {
    out.index = *index;
  }
  return out;
}

std::string Tail(const char* what, uint64_t end, int64_t next) {
  return Format("%s end=%" PRIu64 " next=%" PRId64, what, end, next);
}

std::string ErrorLine(const char* what, ErrorCode code) {
  return std::string(what) + " error=" + std::string(base::ErrorCodeName(code)) + "\n";
}

std::vector<StorageSeed> SegmentOpenSeeds() {
  std::vector<StorageSeed> seeds;
  const BuiltSegment clean = BuildSegment(0, /*clean=*/true);
  SLUICE_CHECK(!clean.index.empty() && clean.log.size() == clean.end, "a clean close trims");
  const std::string frames = SeedFrameLines(f::kSegmentHeaderSize, 0);
  const std::string whole = Tail("active", clean.end, 6) + " truncated_at=-\n" + frames +
                            Tail("sealed", clean.end, 6) + "\n" + frames;
  seeds.push_back(Valid("valid-clean-with-index", SegmentOpenInput(clean.log, clean.index), whole));
  seeds.push_back(Valid("valid-clean-no-index", SegmentOpenInput(clean.log, ""), whole));
  {
    const BuiltSegment b = BuildSegment(1000, /*clean=*/true);
    const std::string f1000 = SeedFrameLines(f::kSegmentHeaderSize, 1000);
    seeds.push_back(Valid("valid-base-1000-with-index", SegmentOpenInput(b.log, b.index),
                          Tail("active", b.end, 1006) + " truncated_at=-\n" + f1000 +
                              Tail("sealed", b.end, 1006) + "\n" + f1000));
  }
  {
    // After a crash: the preallocated, zeroed tail is the end of an active segment, but inside a
    // sealed one it is damage.
    const BuiltSegment b = BuildSegment(0, /*clean=*/false);
    SLUICE_CHECK(b.index.empty() && b.log.size() > b.end, "an abandoned segment stays long");
    seeds.push_back(Valid("valid-preallocated-tail", SegmentOpenInput(b.log, ""),
                          Tail("active", b.end, 6) + " truncated_at=-\n" + frames +
                              ErrorLine("sealed", ErrorCode::kCorruption)));
  }
  const uint64_t second = clean.frame_pos[1];
  const uint64_t third = clean.frame_pos[2];
  seeds.push_back(Rejected("torn-third-frame",
                           SegmentOpenInput(clean.log.substr(0, third + 30), ""),
                           ErrorCode::kCorruption,
                           Tail("active", third, 3) + Format(" truncated_at=%" PRIu64 "\n", third) +
                               SeedFrameLines(f::kSegmentHeaderSize, 0, 2) +
                               ErrorLine("sealed", ErrorCode::kCorruption)));
  seeds.push_back(
      Rejected("flipped-second-frame", SegmentOpenInput(Flip(clean.log, second + 40), ""),
               ErrorCode::kCorruption,
               Tail("active", second, 2) + Format(" truncated_at=%" PRIu64 "\n", second) +
                   SeedFrameLines(f::kSegmentHeaderSize, 0, 1) +
                   ErrorLine("sealed", ErrorCode::kCorruption)));
  seeds.push_back(Rejected(
      "flipped-header-magic", SegmentOpenInput(Flip(clean.log, 0), ""), ErrorCode::kCorruption,
      ErrorLine("active", ErrorCode::kCorruption) + ErrorLine("sealed", ErrorCode::kCorruption)));
  {
    std::string log = clean.log;
    base::StoreLE<uint16_t>(Data(log) + 8, f::kSegmentCurrentVersion + 1);
    seeds.push_back(Rejected("future-version", SegmentOpenInput(log, clean.index),
                             ErrorCode::kUnsupportedVersion,
                             ErrorLine("active", ErrorCode::kUnsupportedVersion) +
                                 ErrorLine("sealed", ErrorCode::kUnsupportedVersion)));
  }
  return seeds;
}

// --- snapshots -----------------------------------------------------------------------------------

std::string SnapshotSummary(const std::string& topic, int64_t created, const std::string& blob,
                            const std::map<int32_t, Offset>& offsets) {
  std::string out = "snapshot topic='" + Escape(topic) + "'" +
                    Format(" created=%" PRId64, created) + " blob='" + Escape(blob) + "'\n";
  for (const auto& [p, o] : offsets) {
    out += Format("offset partition=%" PRId32 " offset=%" PRId64 "\n", p, o.value());
  }
  return out;
}

std::string Snapshot(const std::string& topic, int64_t created, const std::string& blob,
                     const std::map<int32_t, Offset>& offsets) {
  engine::SnapshotInfo info;
  info.topic = topic;
  info.created_ms = created;
  info.offsets = offsets;
  return engine::EncodeSnapshotFile(info, base::AsBytes(blob));
}

void FixSnapshotChecksum(std::string& file) {
  base::StoreLE<uint64_t>(Data(file) + file.size() - 8,
                          base::Xxh3(base::AsBytes(file).first(file.size() - 8)));
}

std::vector<StorageSeed> SnapshotSeeds() {
  std::vector<StorageSeed> seeds;
  const std::map<int32_t, Offset> offsets = {{0, Offset(100)}, {1, Offset(250)}, {2, Offset(0)}};
  const std::string blob("state\x00\x01 bytes", 13);
  const std::string three = Snapshot("orders", 1700000000000, blob, offsets);
  seeds.push_back(Valid("valid-three-partitions", three,
                        SnapshotSummary("orders", 1700000000000, blob, offsets)));
  seeds.push_back(Valid("valid-empty-blob", Snapshot("t", 5, "", {{5, Offset(7)}}),
                        SnapshotSummary("t", 5, "", {{5, Offset(7)}})));
  seeds.push_back(
      Valid("valid-no-partitions", Snapshot("t", 0, "x", {}), SnapshotSummary("t", 0, "x", {})));
  seeds.push_back(Rejected("truncated", three.substr(0, three.size() - 3), ErrorCode::kCorruption));
  seeds.push_back(Rejected("truncated-to-header", three.substr(0, 20), ErrorCode::kCorruption));
  seeds.push_back(Rejected("flipped-blob", Flip(three, three.size() - 12), ErrorCode::kCorruption));
  const size_t partitions_at = 26 + 6;  // after the topic "orders"
  {
    std::string x = three;
    base::StoreLE<uint16_t>(Data(x) + 8, 2);
    FixSnapshotChecksum(x);
    seeds.push_back(Rejected("future-version", x, ErrorCode::kUnsupportedVersion));
  }
  {
    std::string x = three;
    base::StoreLE<uint16_t>(Data(x) + 10, 1);
    FixSnapshotChecksum(x);
    seeds.push_back(Rejected("unknown-flags", x, ErrorCode::kCorruption));
  }
  {
    std::string x = three;
    std::swap_ranges(x.begin() + partitions_at, x.begin() + partitions_at + 12,
                     x.begin() + partitions_at + 12);
    FixSnapshotChecksum(x);
    seeds.push_back(Rejected("partitions-out-of-order", x, ErrorCode::kCorruption));
  }
  {
    std::string x = three;
    base::StoreLE<uint32_t>(Data(x) + 12, 1000);  // more partitions than the file holds
    FixSnapshotChecksum(x);
    seeds.push_back(Rejected("partition-count-too-large", x, ErrorCode::kCorruption));
  }
  {
    std::string x = three;
    const size_t blob_len_at = partitions_at + 3 * 12;
    base::StoreLE<uint64_t>(Data(x) + blob_len_at, 1ull << 40);
    FixSnapshotChecksum(x);
    seeds.push_back(Rejected("blob-length-too-large", x, ErrorCode::kCorruption));
  }
  return seeds;
}

// --- __consumer_offsets --------------------------------------------------------------------------

struct OffsetsRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
};

std::string OffsetsBatch(const std::vector<OffsetsRecord>& records) {
  seg::BatchBuilder b;
  for (const OffsetsRecord& r : records) {
    b.Add(r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
          r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, 1);
  }
  return b.Build().value();
}

std::string CommitLine(const std::string& g, const std::string& t, int32_t p, int64_t o,
                       int64_t time, const std::string& meta) {
  return "commit group='" + Escape(g) + "' topic='" + Escape(t) + "'" +
         Format(" partition=%" PRId32 " offset=%" PRId64 " time=%" PRId64, p, o, time) +
         " metadata='" + Escape(meta) + "'\n";
}

std::vector<StorageSeed> OffsetsBatchSeeds() {
  using engine::CommittedOffset;
  using engine::EncodeOffsetKey;
  using engine::EncodeOffsetValue;
  std::vector<StorageSeed> seeds;
  const int64_t t = 1700000000000;
  const std::vector<OffsetsRecord> records = {
      {EncodeOffsetKey("g1", "orders", 0), EncodeOffsetValue({Offset(42), "meta", t})},
      {EncodeOffsetKey("g1", "orders", 1), EncodeOffsetValue({Offset(7), "", t + 1})},
      {EncodeOffsetKey("g2", "orders", 0), std::nullopt},
  };
  const std::string lines = CommitLine("g1", "orders", 0, 42, t, "meta") +
                            CommitLine("g1", "orders", 1, 7, t + 1, "") +
                            "tombstone group='g2' topic='orders' partition=0\n";
  const std::string batch = OffsetsBatch(records);
  seeds.push_back(Valid("valid-commits-and-tombstone", batch, lines));
  seeds.push_back(
      Valid("valid-empty-strings",
            OffsetsBatch({{EncodeOffsetKey("", "", -1), EncodeOffsetValue({Offset(0), "", 0})}}),
            CommitLine("", "", -1, 0, 0, "")));
  seeds.push_back(
      Rejected("flipped-record", Flip(batch, batch.size() - 3), ErrorCode::kCorruption));
  const std::string good_key = EncodeOffsetKey("g1", "orders", 0);
  const std::string good_value = EncodeOffsetValue({Offset(42), "meta", t});
  auto bad = [&](const char* name, OffsetsRecord r) {
    // The bad record second: the first still decodes, and the error names the second's offset.
    seeds.push_back(Rejected(name, OffsetsBatch({records[0], std::move(r)}), ErrorCode::kCorruption,
                             CommitLine("g1", "orders", 0, 42, t, "meta") + "bad offset=1\n"));
  };
  bad("null-key", {std::nullopt, good_value});
  bad("key-version-2", {"\x02" + good_key.substr(1), good_value});
  bad("key-trailing-byte", {good_key + "x", good_value});
  bad("key-string-past-end", {good_key.substr(0, 4), good_value});
  bad("value-truncated", {good_key, good_value.substr(0, good_value.size() - 1)});
  bad("value-version-0", {good_key, std::string(1, '\0') + good_value.substr(1)});
  return seeds;
}

// --- small files ---------------------------------------------------------------------------------

// A small file of `magic` at `version` around `payload`, as the envelope's encoder writes it.
std::string Envelope(const f::Magic& magic, uint16_t version, const std::string& payload) {
  return seg::EncodeSmallFile({magic, version, version}, base::AsBytes(payload));
}

// Recomputes a small file's checksum (after a field was changed on purpose).
std::string FixEnvelopeChecksum(std::string file) {
  base::StoreLE<uint64_t>(Data(file) + file.size() - 8,
                          base::Xxh3(base::AsBytes(file).first(file.size() - 8)));
  return file;
}

std::string WithU16(std::string file, size_t at, uint16_t v) {
  base::StoreLE<uint16_t>(Data(file) + at, v);
  return FixEnvelopeChecksum(std::move(file));
}

std::string SmallInput(SmallFileType type, const std::string& file) {
  return SmallFileInput(type, file);
}

constexpr char kSeedTopicId[] = "0123456789abcdef0123456789abcdef";

engine::TopicConfig LoudConfig() {
  return engine::ApplyConfig(
             {}, {{"compression.type", "lz4"}, {"retention.ms", "60000"}, {"flush", "sync"}})
      .value();
}
const char kLoudConfigText[] = "config=[compression.type=lz4 flush=sync retention.ms=60000]";

// The file SaveCatalog writes for `topics`.
std::string SavedCatalog(const engine::TopicMap& topics) {
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  SLUICE_CHECK(fs.CreateDir("/d").has_value() && engine::SaveCatalog(fs, "/d", topics).has_value(),
               "SaveCatalog");
  return fs.ReadFile("/d/catalog").value();
}

std::string CatalogEnvelope(const std::string& json_text) {
  return Envelope(f::kCatalogMagic, f::kCatalogCurrentVersion, json_text);
}

std::vector<StorageSeed> CatalogSeeds() {
  using T = SmallFileType;
  std::vector<StorageSeed> seeds;
  engine::TopicMap topics;
  topics["orders"] = {"orders", 3, LoudConfig(), kSeedTopicId};
  topics["__consumer_offsets"] = {"__consumer_offsets", 50, {}, std::string(32, 'e')};
  const std::string catalog = SavedCatalog(topics);
  const std::string two = "topic name=__consumer_offsets partitions=50 id='" +
                          std::string(32, 'e') +
                          "' config=[]\ntopic name=orders partitions=3 id='" + kSeedTopicId + "' " +
                          kLoudConfigText + "\n";
  seeds.push_back(Valid("catalog-valid-two-topics", SmallInput(T::kCatalog, catalog),
                        "catalog topics=2\n" + two));
  seeds.push_back(Valid("catalog-valid-empty", SmallInput(T::kCatalog, SavedCatalog({})),
                        "catalog topics=0\n"));
  seeds.push_back(
      Valid("catalog-valid-no-id-written-by-hand",
            SmallInput(T::kCatalog,
                       CatalogEnvelope(R"({ "topics" : { "t" : { "config" : { "compression.type" :)"
                                       R"( "uncompressed" } , "partitions" : 1 } } })")),
            "catalog topics=1\ntopic name=t partitions=1 id='' config=[compression.type=none]\n"));
  seeds.push_back(Rejected("catalog-truncated", SmallInput(T::kCatalog, catalog.substr(0, 40)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("catalog-flipped-payload", SmallInput(T::kCatalog, Flip(catalog, 30)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("catalog-flipped-magic", SmallInput(T::kCatalog, Flip(catalog, 3)),
                           ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("catalog-future-version",
               SmallInput(T::kCatalog, WithU16(catalog, 8, f::kCatalogCurrentVersion + 1)),
               ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("catalog-version-1-in-envelope",
                           SmallInput(T::kCatalog, WithU16(catalog, 8, 1)),
                           ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("catalog-unknown-flag", SmallInput(T::kCatalog, WithU16(catalog, 10, 1)),
                           ErrorCode::kUnsupportedVersion));
  auto bad_json = [&](const char* name, const std::string& text) {
    seeds.push_back(
        Rejected(name, SmallInput(T::kCatalog, CatalogEnvelope(text)), ErrorCode::kCorruption));
  };
  bad_json("catalog-not-json", R"({"topics": {"t": )");
  bad_json("catalog-topics-not-object", R"({"topics": []})");
  bad_json("catalog-zero-partitions", R"({"topics": {"t": {"partitions": 0, "config": {}}}})");
  bad_json("catalog-too-many-partitions",
           R"({"topics": {"t": {"partitions": 100001, "config": {}}}})");
  bad_json("catalog-bad-topic-name", R"({"topics": {"a/b": {"partitions": 1, "config": {}}}})");
  bad_json("catalog-unknown-config-key",
           R"({"topics": {"t": {"partitions": 1, "config": {"colour": "red"}}}})");
  bad_json("catalog-config-value-not-string",
           R"({"topics": {"t": {"partitions": 1, "config": {"flush.ms": 5}}}})");
  bad_json("catalog-id-not-string",
           R"({"topics": {"t": {"partitions": 1, "id": 7, "config": {}}}})");

  // Format version 1: <data>/catalog.json, as sluice wrote it then (dump(2) and a newline).
  nlohmann::json v1;
  v1["version"] = 1;
  v1["topics"]["orders"] = {{"partitions", 2}, {"config", engine::ConfigToMap(LoudConfig())}};
  const std::string legacy = v1.dump(2) + "\n";
  seeds.push_back(
      Valid("catalog-json-valid", SmallInput(T::kLegacyCatalog, legacy),
            std::string("catalog.json topics=1\ntopic name=orders partitions=2 id='' ") +
                kLoudConfigText + "\n"));
  seeds.push_back(Valid("catalog-json-valid-empty",
                        SmallInput(T::kLegacyCatalog, R"({"version":1,"topics":{}})"),
                        "catalog.json topics=0\n"));
  seeds.push_back(Rejected("catalog-json-truncated",
                           SmallInput(T::kLegacyCatalog, legacy.substr(0, legacy.size() / 2)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("catalog-json-version-2",
                           SmallInput(T::kLegacyCatalog, R"({"version":2,"topics":{}})"),
                           ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("catalog-json-no-version",
                           SmallInput(T::kLegacyCatalog, R"({"topics":{}})"),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("catalog-json-array", SmallInput(T::kLegacyCatalog, "[1, 2]"),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected(
      "catalog-json-bad-zstd-level",
      SmallInput(
          T::kLegacyCatalog,
          R"({"version":1,"topics":{"t":{"partitions":1,"config":{"compression.zstd.level":"23"}}}})"),
      ErrorCode::kCorruption));
  return seeds;
}

std::string SavedPartitionMeta(const engine::PartitionMeta& meta) {
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  SLUICE_CHECK(
      fs.CreateDir("/p").has_value() && engine::SavePartitionMeta(fs, "/p", meta).has_value(),
      "SavePartitionMeta");
  return fs.ReadFile("/p/partition").value();
}

std::vector<StorageSeed> PartitionMetaSeeds() {
  using T = SmallFileType;
  std::vector<StorageSeed> seeds;
  const std::string own = SavedPartitionMeta({"t", kSeedTopicId, 0, LoudConfig(), 1});
  seeds.push_back(Valid("partition-valid", SmallInput(T::kPartitionMeta, own),
                        std::string("partition topic=t id='") + kSeedTopicId +
                            "' partition=0 partitions=1 " + kLoudConfigText + "\n"));
  seeds.push_back(Valid("partition-valid-another-partition",
                        SmallInput(T::kPartitionMeta, SavedPartitionMeta({"orders", "", 7, {}, 8})),
                        "partition topic=orders id='' partition=7 partitions=8 config=[]\n"));
  auto envelope = [](const std::string& text) {
    return Envelope(f::kPartitionMetaMagic, f::kPartitionMetaCurrentVersion, text);
  };
  // Version 1 carries no partition count; it is still read.
  seeds.push_back(Valid(
      "partition-valid-v1",
      SmallInput(T::kPartitionMeta, Envelope(f::kPartitionMetaMagic, 1,
                                             R"({"topic": "t", "topic_id": "", "partition": 0, )"
                                             R"("config": {}})")),
      "partition topic=t id='' partition=0 config=[]\n"));
  seeds.push_back(Rejected("partition-truncated", SmallInput(T::kPartitionMeta, own.substr(0, 60)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("partition-flipped", SmallInput(T::kPartitionMeta, Flip(own, 40)),
                           ErrorCode::kCorruption));
  seeds.push_back(
      Rejected("partition-future-version",
               SmallInput(T::kPartitionMeta, WithU16(own, 8, f::kPartitionMetaCurrentVersion + 1)),
               ErrorCode::kUnsupportedVersion));
  seeds.push_back(
      Rejected("partition-catalog-magic",
               SmallInput(T::kPartitionMeta, Envelope(f::kCatalogMagic, 1, R"({"topics":{}})")),
               ErrorCode::kCorruption));
  auto bad_json = [&](const char* name, const std::string& text) {
    seeds.push_back(
        Rejected(name, SmallInput(T::kPartitionMeta, envelope(text)), ErrorCode::kCorruption));
  };
  bad_json("partition-negative",
           R"({"topic": "t", "topic_id": "", "partition": -1, "config": {}})");
  bad_json("partition-too-large",
           R"({"topic": "t", "topic_id": "", "partition": 100000, "config": {}})");
  bad_json("partition-no-topic-id", R"({"topic": "t", "partition": 0, "config": {}})");
  bad_json("partition-bad-topic-name",
           R"({"topic": "..", "topic_id": "", "partition": 0, "config": {}})");
  bad_json("partition-v2-without-count",
           R"({"topic": "t", "topic_id": "", "partition": 0, "config": {}})");
  bad_json("partition-count-below-partition",
           R"({"topic": "t", "topic_id": "", "partition": 3, "partitions": 3, "config": {}})");
  bad_json("partition-config-not-object",
           R"({"topic": "t", "topic_id": "", "partition": 0, "config": "zstd"})");
  return seeds;
}

// The 32-byte payload of a recovery point.
std::string RecoveryPointPayload(int64_t base, uint64_t end, int64_t next, int64_t max_ts) {
  std::string p(f::kRecoveryPointPayloadSize, '\0');
  base::StoreLE<int64_t>(Data(p) + 0, base);
  base::StoreLE<uint64_t>(Data(p) + 8, end);
  base::StoreLE<int64_t>(Data(p) + 16, next);
  base::StoreLE<int64_t>(Data(p) + 24, max_ts);
  return p;
}

// A version-1 file (before the envelope): the same layout with the length field zero.
std::string LegacySmallFile(const f::Magic& magic, const std::string& payload) {
  std::string file = Envelope(magic, 1, payload);
  base::StoreLE<uint32_t>(Data(file) + 12, 0);
  return FixEnvelopeChecksum(std::move(file));
}

std::vector<StorageSeed> RecoveryPointSeeds() {
  using T = SmallFileType;
  std::vector<StorageSeed> seeds;
  const std::string v2 =
      engine::EncodeRecoveryPoint({Offset(1000), {FilePos(4128), Offset(1040), 1039}});
  seeds.push_back(Valid("recovery-point-valid", SmallInput(T::kRecoveryPoint, v2),
                        "recovery-point version=2 base=1000 end=4128 next=1040 maxts=1039\n"));
  seeds.push_back(
      Valid("recovery-point-valid-empty-segment",
            SmallInput(T::kRecoveryPoint,
                       engine::EncodeRecoveryPoint({Offset(0), {FilePos(32), Offset(0), -1}})),
            "recovery-point version=2 base=0 end=32 next=0 maxts=-1\n"));
  const std::string v1 =
      LegacySmallFile(f::kRecoveryPointMagic, RecoveryPointPayload(1000, 4128, 1040, 1039));
  seeds.push_back(Valid("recovery-point-valid-v1", SmallInput(T::kRecoveryPoint, v1),
                        "recovery-point version=1 base=1000 end=4128 next=1040 maxts=1039\n"));
  seeds.push_back(Rejected("recovery-point-truncated",
                           SmallInput(T::kRecoveryPoint, v2.substr(0, v2.size() - 1)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("recovery-point-flipped", SmallInput(T::kRecoveryPoint, Flip(v2, 20)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("recovery-point-v1-flipped", SmallInput(T::kRecoveryPoint, Flip(v1, 30)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("recovery-point-future-version",
                           SmallInput(T::kRecoveryPoint, WithU16(v2, 8, 3)),
                           ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("recovery-point-version-0",
                           SmallInput(T::kRecoveryPoint, WithU16(v2, 8, 0)),
                           ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("recovery-point-unknown-flag",
                           SmallInput(T::kRecoveryPoint, WithU16(v2, 10, 4)),
                           ErrorCode::kUnsupportedVersion));
  {
    // Version 2 with the length zero: only version 1 takes its size from the kind.
    std::string x = v2;
    base::StoreLE<uint32_t>(Data(x) + 12, 0);
    seeds.push_back(Rejected("recovery-point-v2-length-zero",
                             SmallInput(T::kRecoveryPoint, FixEnvelopeChecksum(x)),
                             ErrorCode::kCorruption));
  }
  auto inconsistent = [&](const char* name, int64_t b, uint64_t end, int64_t next) {
    seeds.push_back(Rejected(
        name,
        SmallInput(T::kRecoveryPoint,
                   Envelope(f::kRecoveryPointMagic, 2, RecoveryPointPayload(b, end, next, -1))),
        ErrorCode::kCorruption));
  };
  inconsistent("recovery-point-negative-base", -1, 32, 0);
  inconsistent("recovery-point-next-below-base", 100, 32, 99);
  inconsistent("recovery-point-inside-header", 0, 31, 0);
  seeds.push_back(Rejected(
      "recovery-point-short-payload",
      SmallInput(T::kRecoveryPoint, Envelope(f::kRecoveryPointMagic, 2,
                                             RecoveryPointPayload(0, 32, 0, -1).substr(0, 24))),
      ErrorCode::kCorruption));
  return seeds;
}

std::string ProducerIdsPayload(int64_t next) {
  std::string p(f::kProducerIdsPayloadSize, '\0');
  base::StoreLE<int64_t>(Data(p), next);
  return p;
}

std::vector<StorageSeed> ProducerIdsSeeds() {
  using T = SmallFileType;
  std::vector<StorageSeed> seeds;
  const std::string v2 = engine::EncodeProducerIds(5000);
  seeds.push_back(Valid("producer-ids-valid", SmallInput(T::kProducerIds, v2),
                        "producer-ids version=2 next=5000 allocated=5000\n"));
  seeds.push_back(Valid("producer-ids-valid-zero",
                        SmallInput(T::kProducerIds, engine::EncodeProducerIds(0)),
                        "producer-ids version=2 next=0 allocated=0\n"));
  const std::string v1 = LegacySmallFile(f::kProducerIdsMagic, ProducerIdsPayload(3000));
  seeds.push_back(Valid("producer-ids-valid-v1", SmallInput(T::kProducerIds, v1),
                        "producer-ids version=1 next=3000 allocated=3000\n"));
  seeds.push_back(Valid(
      "producer-ids-valid-exhausted",
      SmallInput(T::kProducerIds, engine::EncodeProducerIds(INT64_MAX - 5)),
      Format("producer-ids version=2 next=%" PRId64 " allocated=exhausted\n", INT64_MAX - 5)));
  seeds.push_back(Rejected("producer-ids-truncated", SmallInput(T::kProducerIds, v2.substr(0, 20)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("producer-ids-flipped", SmallInput(T::kProducerIds, Flip(v2, 17)),
                           ErrorCode::kCorruption));
  seeds.push_back(Rejected("producer-ids-future-version",
                           SmallInput(T::kProducerIds, WithU16(v2, 8, 3)),
                           ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected(
      "producer-ids-negative",
      SmallInput(T::kProducerIds, Envelope(f::kProducerIdsMagic, 2, ProducerIdsPayload(-1))),
      ErrorCode::kCorruption));
  seeds.push_back(Rejected(
      "producer-ids-long-payload",
      SmallInput(T::kProducerIds,
                 Envelope(f::kProducerIdsMagic, 2, ProducerIdsPayload(1) + ProducerIdsPayload(2))),
      ErrorCode::kCorruption));
  seeds.push_back(Rejected(
      "producer-ids-recovery-point-magic",
      SmallInput(T::kProducerIds, Envelope(f::kRecoveryPointMagic, 2, ProducerIdsPayload(1))),
      ErrorCode::kCorruption));
  return seeds;
}

std::vector<StorageSeed> SmallFileSeeds() {
  std::vector<StorageSeed> seeds;
  for (auto* kind : {CatalogSeeds, PartitionMetaSeeds, RecoveryPointSeeds, ProducerIdsSeeds}) {
    for (StorageSeed& s : kind()) seeds.push_back(std::move(s));
  }
  seeds.push_back(Rejected("empty", "", ErrorCode::kCorruption, ""));
  return seeds;
}

// --- producer snapshots --------------------------------------------------------------------------

struct RawProducer {
  int64_t id;
  int16_t epoch;
  int64_t seen_ms;
  std::vector<engine::ProducerBatch> batches;
  uint8_t reserved = 0;  // the byte after the batch count
};

// A producer-snapshot payload laid out by hand (FORMAT.md), so that damaged ones can be built;
// `count` overrides the producer count.
std::string ProducerSnapshotPayload(int64_t offset, const std::vector<RawProducer>& producers,
                                    std::optional<uint32_t> count = std::nullopt) {
  std::string p(f::kProducerSnapshotHeaderSize, '\0');
  base::StoreLE<int64_t>(Data(p), offset);
  base::StoreLE<uint32_t>(Data(p) + 8, count.value_or(static_cast<uint32_t>(producers.size())));
  for (const RawProducer& r : producers) {
    std::string e(f::kProducerSnapshotEntrySize, '\0');
    base::StoreLE<int64_t>(Data(e), r.id);
    base::StoreLE<int16_t>(Data(e) + 8, r.epoch);
    base::StoreLE<uint8_t>(Data(e) + 10, static_cast<uint8_t>(r.batches.size()));
    base::StoreLE<uint8_t>(Data(e) + 11, r.reserved);
    base::StoreLE<int64_t>(Data(e) + 16, r.seen_ms);
    for (const engine::ProducerBatch& b : r.batches) {
      std::string x(f::kProducerSnapshotBatchSize, '\0');
      base::StoreLE<int32_t>(Data(x), b.first_seq);
      base::StoreLE<int32_t>(Data(x) + 4, b.last_seq);
      base::StoreLE<int64_t>(Data(x) + 8, b.base_offset.value());
      base::StoreLE<int64_t>(Data(x) + 16, b.last_offset.value());
      e += x;
    }
    p += e;
  }
  return p;
}

std::string RawProducerSnapshot(int64_t offset, const std::vector<RawProducer>& producers,
                                std::optional<uint32_t> count = std::nullopt) {
  return Envelope(f::kProducerSnapshotMagic, f::kProducerSnapshotCurrentVersion,
                  ProducerSnapshotPayload(offset, producers, count));
}

engine::ProducerSnapshot ToSnapshot(int64_t offset, const std::vector<RawProducer>& producers) {
  engine::ProducerSnapshot s;
  s.offset = Offset(offset);
  for (const RawProducer& r : producers) {
    s.producers.push_back({r.id, r.epoch, r.seen_ms, r.batches});
  }
  return s;
}

std::string ProducerSnapshotSummary(int64_t offset, const std::vector<RawProducer>& producers) {
  std::string out =
      Format("producer-snapshot offset=%" PRId64 " producers=%zu\n", offset, producers.size());
  for (const RawProducer& p : producers) {
    out += Format("producer id=%" PRId64 " epoch=%d seen=%" PRId64 "\n", p.id,
                  static_cast<int>(p.epoch), p.seen_ms);
    for (const engine::ProducerBatch& b : p.batches) {
      out += Format("batch seq=%" PRId32 "-%" PRId32 " offsets=%" PRId64 "-%" PRId64 "\n",
                    b.first_seq, b.last_seq, b.base_offset.value(), b.last_offset.value());
    }
  }
  return out;
}

// A valid seed, written by the engine's encoder (and checked to match the layout above).
StorageSeed ValidProducerSnapshot(std::string name, int64_t offset,
                                  const std::vector<RawProducer>& producers) {
  std::string file = engine::EncodeProducerSnapshot(ToSnapshot(offset, producers));
  SLUICE_CHECK(file == RawProducerSnapshot(offset, producers),
               "the seeds' producer-snapshot layout differs from the encoder's");
  return Valid(std::move(name), std::move(file), ProducerSnapshotSummary(offset, producers));
}

std::vector<StorageSeed> ProducerSnapshotSeeds() {
  using B = engine::ProducerBatch;
  std::vector<StorageSeed> seeds;
  // Least recently recorded first; producer 42 was last seen after the target's clock (loaded as
  // seen now), producer 0's batch wraps its sequence past INT32_MAX, producer 9 remembers 5.
  const std::vector<RawProducer> three = {
      {7, 0, 1'600'000'000'000, {B{0, 4, Offset(10), Offset(14)}, B{5, 9, Offset(15), Offset(19)}}},
      {0, 2, 1'650'000'000'000, {B{INT32_MAX - 1, 1, Offset(900), Offset(903)}}},
      {42,
       3,
       1'800'000'000'000,
       {B{0, 0, Offset(20), Offset(20)}, B{1, 1, Offset(30), Offset(30)},
        B{2, 5, Offset(40), Offset(43)}, B{6, 6, Offset(50), Offset(50)},
        B{7, 9, Offset(998), Offset(999)}}},
  };
  const std::string valid = RawProducerSnapshot(1000, three);
  seeds.push_back(ValidProducerSnapshot("valid-three-producers", 1000, three));
  seeds.push_back(ValidProducerSnapshot("valid-empty", 0, {}));
  seeds.push_back(ValidProducerSnapshot("valid-empty-at-offset", 500, {}));
  seeds.push_back(ValidProducerSnapshot(
      "valid-extremes", INT64_MAX,
      {{INT64_MAX,
        INT16_MAX,
        INT64_MIN,
        {B{INT32_MAX, INT32_MAX, Offset(INT64_MAX - 2), Offset(INT64_MAX - 1)}}},
       {0, 0, INT64_MAX, {B{0, 0, Offset(0), Offset(0)}}}}));

  seeds.push_back(Rejected("truncated", valid.substr(0, valid.size() - 5), ErrorCode::kCorruption));
  seeds.push_back(Rejected("truncated-to-header", valid.substr(0, 20), ErrorCode::kCorruption));
  seeds.push_back(Rejected("flipped", Flip(valid, 60), ErrorCode::kCorruption));
  seeds.push_back(Rejected("future-version", WithU16(valid, 8, 2), ErrorCode::kUnsupportedVersion));
  seeds.push_back(Rejected("unknown-flags", WithU16(valid, 10, 1), ErrorCode::kUnsupportedVersion));
  seeds.push_back(
      Rejected("recovery-point-magic",
               Envelope(f::kRecoveryPointMagic, 1, ProducerSnapshotPayload(1000, three)),
               ErrorCode::kCorruption));
  auto bad = [&](const char* name, int64_t offset, const std::vector<RawProducer>& producers,
                 std::optional<uint32_t> count = std::nullopt) {
    seeds.push_back(
        Rejected(name, RawProducerSnapshot(offset, producers, count), ErrorCode::kCorruption));
  };
  bad("count-too-large", 1000, three, 4);
  bad("count-beyond-payload", 1000, three, 1000000);
  bad("bytes-after-entries", 1000, three, 2);
  // Named after offset 0 (names give no negative offsets), which the file does not hold.
  bad("negative-offset", -1, {});
  const B one{0, 0, Offset(1), Offset(1)};
  bad("negative-id", 10, {{-1, 0, 0, {one}}});
  bad("negative-epoch", 10, {{1, -1, 0, {one}}});
  bad("reserved-byte-set", 10, {{1, 0, 0, {one}, /*reserved=*/1}});
  bad("no-batches", 10, {{1, 0, 0, {}}});
  bad("six-batches", 100,
      {{1,
        0,
        0,
        {B{0, 0, Offset(1), Offset(1)}, B{1, 1, Offset(2), Offset(2)},
         B{2, 2, Offset(3), Offset(3)}, B{3, 3, Offset(4), Offset(4)},
         B{4, 4, Offset(5), Offset(5)}, B{5, 5, Offset(6), Offset(6)}}}});
  bad("producer-twice", 10, {{1, 0, 0, {one}}, {1, 0, 0, {one}}});
  bad("batch-at-offset", 10, {{1, 0, 0, {B{0, 0, Offset(9), Offset(10)}}}});
  bad("batches-out-of-order", 10,
      {{1, 0, 0, {B{0, 0, Offset(5), Offset(5)}, B{1, 1, Offset(3), Offset(3)}}}});
  bad("batches-overlap", 10,
      {{1, 0, 0, {B{0, 1, Offset(2), Offset(3)}, B{2, 2, Offset(3), Offset(3)}}}});
  bad("batch-ends-before-it-starts", 10, {{1, 0, 0, {B{0, 0, Offset(5), Offset(4)}}}});
  bad("negative-offsets", 10, {{1, 0, 0, {B{0, 0, Offset(-3), Offset(-2)}}}});
  bad("negative-sequence", 10, {{1, 0, 0, {B{-1, 0, Offset(1), Offset(1)}}}});
  return seeds;
}

constexpr StorageTarget kTargets[] = {
    {"record_batch", FuzzRecordBatch, RecordBatchSeeds},
    {"frame", FuzzFrames, FrameSeeds},
    {"segment_index", FuzzSegmentIndex, SegmentIndexSeeds},
    {"segment_open", FuzzSegmentOpen, SegmentOpenSeeds},
    {"snapshot", FuzzSnapshotFile, SnapshotSeeds},
    {"offsets_record", FuzzOffsetsBatch, OffsetsBatchSeeds},
    {"small_files", FuzzSmallFile, SmallFileSeeds},
    {"producer_snapshot", FuzzProducerSnapshot, ProducerSnapshotSeeds},
};

}  // namespace

std::span<const StorageTarget> StorageTargets() { return kTargets; }

}  // namespace sluice::fuzz
