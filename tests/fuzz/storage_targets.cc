#include "tests/fuzz/storage_targets.h"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <set>
#include <vector>

#include "engine/catalog.h"
#include "engine/group_offsets.h"
#include "engine/partition_log.h"
#include "engine/producer_state.h"
#include "engine/snapshot.h"
#include "segment/base/check.h"
#include "segment/base/checksum.h"
#include "segment/format.h"
#include "segment/frame.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "segment/segment.h"
#include "segment/segment_index.h"

namespace sluice::fuzz {
namespace {

using base::Bytes;
using base::ErrorCode;
using base::FilePos;
using base::Offset;
using base::Status;
namespace seg = segment;
namespace f = segment::format;

using Buffer = std::vector<std::byte>;

// An exactly sized heap copy: ASan flags any read past its end.
Buffer Copy(Bytes b) { return Buffer(b.begin(), b.end()); }
Bytes View(const Buffer& b) { return {b.data(), b.size()}; }

void CheckCode(const base::Error& e, std::initializer_list<ErrorCode> allowed, const char* what) {
  for (ErrorCode c : allowed) {
    if (e.code == c) return;
  }
  SLUICE_CHECK(false, std::string(what) + " failed with an undocumented error: " + e.ToString());
}

std::string Format(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, args...);
  return buf;
}

std::string Nullable(const std::optional<std::string_view>& s) {
  return s ? "'" + Escape(*s) + "'" : std::string("null");
}

// --- record batches ------------------------------------------------------------------------------

std::string BatchLine(const seg::BatchHeader& h) {
  return Format("batch base=%" PRId64 " count=%" PRId32 " codec=", h.base_offset, h.record_count) +
         std::string(base::CodecName(h.codec())) + "\n";
}

std::string RecordLine(const seg::RecordView& r) {
  std::string line =
      Format("record offset=%" PRId64 " ts=%" PRId64 " key=", r.offset, r.timestamp) +
      Nullable(r.key) + " value=" + Nullable(r.value);
  for (const seg::RecordHeader& h : r.headers) {
    line += " header='" + Escape(h.key) + "'=" + Nullable(h.value);
  }
  return line + "\n";
}

// Decodes every record of a parsed batch, appending a line per record to `out` (also those before
// an error) and raising `*max_ts` to the largest timestamp.
Status RenderRecords(Bytes batch, const seg::BatchHeader& h, std::string& out, int64_t* max_ts) {
  seg::RecordDecoder decoder(kFuzzMaxDecompressedBytes);
  RETURN_IF_ERROR(decoder.Reset(batch, h));
  seg::RecordView rec;
  int32_t count = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, decoder.Next(rec));
    if (!more) break;
    ++count;
    SLUICE_CHECK(rec.offset >= h.base_offset && rec.offset - h.base_offset <= h.last_offset_delta,
                 "a record's offset lies outside its batch");
    out += RecordLine(rec);
    *max_ts = std::max(*max_ts, rec.timestamp);
  }
  SLUICE_CHECK(count == h.record_count, "the decoder ended before the header's record count");
  return {};
}

bool SameBatchFields(const seg::BatchHeader& a, const seg::BatchHeader& b) {
  return a.base_offset == b.base_offset && a.partition_leader_epoch == b.partition_leader_epoch &&
         (a.attributes & ~0x7) == (b.attributes & ~0x7) &&
         a.last_offset_delta == b.last_offset_delta && a.base_timestamp == b.base_timestamp &&
         a.max_timestamp == b.max_timestamp && a.producer_id == b.producer_id &&
         a.producer_epoch == b.producer_epoch && a.base_sequence == b.base_sequence &&
         a.record_count == b.record_count;
}

FuzzOutcome CheckBatch(Bytes batch) {
  FuzzOutcome out;
  auto header = seg::ParseBatchHeader(batch);
  if (!header) {
    CheckCode(header.error(), {ErrorCode::kCorruption}, "ParseBatchHeader");
    out.error = header.error().code;
    return out;
  }
  const seg::BatchHeader& h = *header;
  SLUICE_CHECK(h.size_bytes() == batch.size(), "a parsed batch's length differs from its bytes");
  const Status crc = seg::VerifyBatchCrc(batch, h);
  if (!crc) {
    CheckCode(crc.error(), {ErrorCode::kCorruption}, "VerifyBatchCrc");
    out.error = ErrorCode::kCorruption;
  }
  // The records are decoded even when the CRC fails: the decoder must cope with any bytes.
  std::string records;
  int64_t max_ts = seg::kNoTimestamp;
  const Status decoded = RenderRecords(batch, h, records, &max_ts);
  if (!decoded) {
    CheckCode(decoded.error(), {ErrorCode::kCorruption, ErrorCode::kTooLarge}, "RecordDecoder");
  }

  // DecompressBatch (serving old clients) must agree with the decoder: the plain batch it makes is
  // well formed and holds the same records.
  auto plain = seg::DecompressBatch(batch, h, kFuzzMaxDecompressedBytes);
  if (plain) {
    const Bytes p = base::AsBytes(*plain);
    auto ph = seg::ParseBatchHeader(p);
    SLUICE_CHECK(ph.has_value(), "DecompressBatch made a batch that does not parse");
    SLUICE_CHECK(ph->codec() == base::Codec::kNone && SameBatchFields(h, *ph),
                 "DecompressBatch changed more than the codec and length");
    if (h.codec() == base::Codec::kNone) {
      SLUICE_CHECK(std::equal(p.begin(), p.end(), batch.begin(), batch.end()),
                   "DecompressBatch changed an uncompressed batch");
    } else {
      SLUICE_CHECK(seg::VerifyBatchCrc(p, *ph).has_value(), "DecompressBatch left a bad CRC");
    }
    std::string plain_records;
    int64_t plain_max_ts = seg::kNoTimestamp;
    const Status plain_decoded = RenderRecords(p, *ph, plain_records, &plain_max_ts);
    SLUICE_CHECK(plain_decoded.has_value() == decoded.has_value(),
                 "records decode from the compressed batch xor from its decompressed copy");
    SLUICE_CHECK(!decoded || plain_records == records, "the decompressed copy holds other records");
  } else {
    CheckCode(plain.error(), {ErrorCode::kCorruption, ErrorCode::kTooLarge}, "DecompressBatch");
    SLUICE_CHECK(!decoded, "DecompressBatch failed on records the decoder accepted");
  }
  if (decoded) {
    auto computed = seg::ComputeMaxTimestamp(batch, h);
    SLUICE_CHECK(computed.has_value() && *computed == max_ts,
                 "ComputeMaxTimestamp disagrees with the records");
  }
  if (!out.error && !decoded) out.error = decoded.error().code;
  out.summary = BatchLine(h) + records;
  return out;
}

// Sets the batch length to the buffer's size and recomputes the CRC-32C.
bool RepairBatch(Buffer& b) {
  if (b.size() < seg::kBatchHeaderSize || b.size() - 12 > INT32_MAX) return false;
  base::StoreBE<int32_t>(b.data() + seg::batch_field::kBatchLength,
                         static_cast<int32_t>(b.size() - 12));
  b[seg::batch_field::kMagic] = std::byte{2};
  seg::UpdateBatchCrc(b);
  return true;
}

// --- frames --------------------------------------------------------------------------------------

std::string FrameLine(const seg::Frame& fr) {
  return Format("frame pos=%" PRIu64 " base=%" PRId64 " count=%" PRId32 " bytes=%" PRIu64 "\n",
                fr.pos.value(), fr.header.base_offset, fr.header.record_count, fr.size_bytes());
}

struct FrameWalk {
  std::vector<seg::Frame> frames;
  seg::FrameRead::Kind end = seg::FrameRead::Kind::kEnd;
  FilePos end_pos;
};

FrameWalk WalkFrames(Bytes data, seg::FrameVerify verify) {
  FrameWalk w;
  FilePos pos(0);
  for (;;) {
    seg::FrameRead r = seg::ReadFrame(data, pos, verify);
    if (r.kind != seg::FrameRead::Kind::kFrame) {
      SLUICE_CHECK(r.kind == seg::FrameRead::Kind::kEnd || !r.error.empty(),
                   "a bad frame without a reason");
      w.end = r.kind;
      w.end_pos = pos;
      return w;
    }
    const seg::Frame& fr = r.frame;
    SLUICE_CHECK(fr.pos == pos && fr.end().value() <= data.size() &&
                     fr.batch.data() == data.data() + pos.value() + f::kFramePrefixSize &&
                     fr.batch.size() >= seg::kBatchHeaderSize,
                 "a frame lies outside the bytes read");
    auto h = seg::ParseBatchHeader(fr.batch);
    SLUICE_CHECK(h.has_value() && h->batch_length == fr.header.batch_length,
                 "a frame's batch header does not parse");
    w.frames.push_back(fr);
    pos = fr.end();
  }
}

// Recomputes the checksum of every frame whose prefix and length are readable, from position
// `pos` on, as long as frames follow one another.
void RepairFrames(Buffer& b, uint64_t pos) {
  while (b.size() - pos >= f::kFramePrefixSize) {
    std::byte* p = b.data() + pos;
    const auto length = base::LoadLE<uint32_t>(p);
    const auto type = base::LoadLE<uint16_t>(p + 4);
    if (length > b.size() - pos - f::kFramePrefixSize) return;
    base::StoreLE<uint64_t>(
        p + 8, base::Xxh3(Bytes(p + f::kFramePrefixSize, length), seg::FrameSeed(length, type)));
    const Bytes data = View(b);
    seg::FrameRead strict = seg::ReadFrame(data, FilePos(pos), seg::FrameVerify::kChecksum);
    seg::FrameRead loose = seg::ReadFrame(data, FilePos(pos), seg::FrameVerify::kHeaderOnly);
    SLUICE_CHECK(strict.kind == loose.kind, "a frame with a right checksum reads differently");
    if (strict.kind != seg::FrameRead::Kind::kFrame) return;
    pos = strict.frame.end().value();
  }
}

FuzzOutcome CheckFrames(Bytes data) {
  FuzzOutcome out;
  const FrameWalk strict = WalkFrames(data, seg::FrameVerify::kChecksum);
  const FrameWalk loose = WalkFrames(data, seg::FrameVerify::kHeaderOnly);
  // Skipping checksums accepts a superset.
  SLUICE_CHECK(loose.frames.size() >= strict.frames.size(), "header-only reading saw fewer frames");
  for (size_t i = 0; i < strict.frames.size(); ++i) {
    SLUICE_CHECK(loose.frames[i].pos == strict.frames[i].pos &&
                     loose.frames[i].size_bytes() == strict.frames[i].size_bytes(),
                 "header-only reading saw other frames");
  }
  for (const seg::Frame& fr : strict.frames) out.summary += FrameLine(fr);
  if (strict.end == seg::FrameRead::Kind::kBad) {
    out.error = ErrorCode::kCorruption;
    out.summary += Format("bad pos=%" PRIu64 "\n", strict.end_pos.value());
  } else {
    out.summary += "end\n";
  }
  return out;
}

// --- sparse index --------------------------------------------------------------------------------

// The base offset the file says it belongs to; the segment named after it, as file names give
// bases: never negative (a negative one is passed as 0, which the file then does not match).
Offset IndexBase(Bytes file) {
  return Offset(file.size() >= 24 ? std::max<int64_t>(0, base::LoadLE<int64_t>(file.data() + 16))
                                  : 0);
}

FuzzOutcome CheckIndex(Bytes file) {
  FuzzOutcome out;
  constexpr size_t kExtra = 4;
  const Offset base = IndexBase(file);
  auto decoded = seg::SegmentIndex::Decode(file, base, kExtra);
  if (!decoded) {
    CheckCode(decoded.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "SegmentIndex::Decode");
    out.error = decoded.error().code;
    return out;
  }
  const seg::SegmentIndex& index = *decoded->index;
  const seg::SegmentTail& tail = decoded->tail;
  SLUICE_CHECK(index.base_offset() == base && index.capacity() == index.size() + kExtra,
               "a decoded index has the wrong base or room");
  // The format is canonical: encoding what was decoded gives the file back.
  const std::string again = index.Encode(tail);
  SLUICE_CHECK(base::AsBytes(again).size() == file.size() &&
                   std::equal(file.begin(), file.end(), base::AsBytes(again).begin()),
               "an index does not re-encode to its file");
  out.summary = Format(
      "index base=%" PRId64 " end=%" PRIu64 " next=%" PRId64 " maxts=%" PRId64 " entries=%zu\n",
      base.value(), tail.end.value(), tail.next_offset.value(), tail.max_timestamp, index.size());
  for (size_t i = 0; i < index.size(); ++i) {
    const seg::IndexEntry& e = index.at(i);
    out.summary += Format("entry rel=%" PRIu32 " pos=%" PRIu32 " ts=%" PRId64 "\n",
                          e.relative_offset, e.position, e.max_timestamp_before);
    // Decode checked base + rel < next_offset, so the sum does not overflow.
    auto floor = index.FloorByOffset(base + e.relative_offset);
    SLUICE_CHECK(floor.has_value() && floor->position == e.position,
                 "FloorByOffset misses an entry's own offset");
  }
  if (index.size() > 0) {
    SLUICE_CHECK(base.value() == 0 || !index.FloorByOffset(base - 1).has_value(),
                 "FloorByOffset found an entry before the base");
    index.FloorByTime(INT64_MAX);
    index.FloorByTime(INT64_MIN);
  }
  return out;
}

// Sets the entry count from the size (when it fits) and recomputes the checksum.
bool RepairIndex(Buffer& b) {
  if (b.size() < f::kIndexHeaderSize) return false;
  if ((b.size() - f::kIndexHeaderSize) % f::kIndexEntrySize == 0 &&
      (b.size() - f::kIndexHeaderSize) / f::kIndexEntrySize <= UINT32_MAX) {
    base::StoreLE<uint32_t>(b.data() + 12, static_cast<uint32_t>((b.size() - f::kIndexHeaderSize) /
                                                                 f::kIndexEntrySize));
  }
  base::Xxh3Stream h;
  h.Update(Bytes(b.data(), 48));
  h.Update(Bytes(b.data() + f::kIndexHeaderSize, b.size() - f::kIndexHeaderSize));
  base::StoreLE<uint64_t>(b.data() + 48, h.Digest());
  return true;
}

// --- segments on MemFs ---------------------------------------------------------------------------

constexpr char kDir[] = "/p";

struct SegmentFiles {
  Bytes log;
  std::optional<Bytes> index;
};

SegmentFiles SplitSegmentInput(Bytes data) {
  if (data.size() < 4) return {data, std::nullopt};
  const uint64_t n = std::min<uint64_t>(base::LoadLE<uint32_t>(data.data()), data.size() - 4);
  SegmentFiles files{data.subspan(4, n), std::nullopt};
  if (Bytes rest = data.subspan(4 + n); !rest.empty()) files.index = rest;
  return files;
}

// The base offset the log's header names: the file is named after it (as with IndexBase, a
// negative one becomes 0).
Offset LogBase(Bytes log) {
  return Offset(log.size() >= 24 ? std::max<int64_t>(0, base::LoadLE<int64_t>(log.data() + 16))
                                 : 0);
}

seg::SegmentOptions FuzzSegmentOptions() {
  seg::SegmentOptions o;
  o.capacity_bytes = 1u << 20;
  o.preallocate_bytes = 4096;
  // An index reserves an entry per interval of the largest possible segment (one 256 MiB frame):
  // at 64 KiB that is 4K entries, where a small interval would make every open allocate (and the
  // sanitizers poison) megabytes. Every segment still gets its first entry.
  o.index_interval_bytes = 64 << 10;
  return o;
}

void PutFile(io::FileSystem& fs, const std::string& path, Bytes contents) {
  auto file = fs.OpenWritable(path, io::OpenMode::kCreateOrTruncate);
  SLUICE_CHECK(file.has_value(), "MemFs open");
  const Bytes pieces[] = {contents};
  SLUICE_CHECK((*file)->WriteAt(FilePos(0), pieces).has_value(), "MemFs write");
  SLUICE_CHECK((*file)->Sync().has_value(), "MemFs sync");
  SLUICE_CHECK((*file)->Close().has_value(), "MemFs close");
}

void PutSegment(io::FileSystem& fs, const SegmentFiles& files, Offset base) {
  SLUICE_CHECK(fs.CreateDir(kDir).has_value(), "MemFs mkdir");
  PutFile(fs, seg::Segment::LogPath(kDir, base), files.log);
  if (files.index) PutFile(fs, seg::Segment::IndexPath(kDir, base), *files.index);
}

// Reads every published frame from the first on, checking that offsets run without gaps from the
// base to the tail. Appends a line per frame to `out`.
Status WalkSegment(const seg::Segment& s, std::string& out) {
  const seg::SegmentTail tail = s.tail();
  FilePos pos(f::kSegmentHeaderSize);
  Offset next = s.base_offset();
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<seg::Frame> fr, s.FrameAt(pos));
    if (!fr) break;
    int64_t last = 0;
    if (Offset(fr->header.base_offset) != next ||
        __builtin_add_overflow(fr->header.base_offset, fr->header.last_offset_delta, &last) ||
        last == INT64_MAX) {
      return base::MakeError(ErrorCode::kCorruption, "frame offsets do not follow on");
    }
    out += FrameLine(*fr);
    next = Offset(last + 1);
    pos = fr->end();
  }
  if (pos != tail.end || next != tail.next_offset) {
    return base::MakeError(ErrorCode::kCorruption, "the frames do not end at the tail");
  }
  return {};
}

// A one-record batch, appended after recovery to check the segment takes writes where it ended.
const std::string& ProbeBatch() {
  static const std::string batch = [] {
    seg::BatchBuilder b;
    b.Add("probe-key", "probe-value", 7);
    return b.Build().value();
  }();
  return batch;
}

// Appends the probe batch at the tail and reads it back. `strict`: the open verified the frames
// (no index file was given). A checksum-valid index that lies about its log is trusted by a clean
// open, and then the probe may not be found where the index says frames are; that must not crash.
void AppendProbe(seg::Segment& s, bool strict) {
  const seg::SegmentTail tail = s.tail();
  std::string batch = ProbeBatch();
  const uint64_t frame_bytes = f::kFramePrefixSize + batch.size();
  if (tail.next_offset.value() == INT64_MAX || !s.HasRoomFor(frame_bytes, tail.next_offset) ||
      tail.end.value() + frame_bytes > UINT32_MAX) {
    return;
  }
  seg::SetBaseOffset({reinterpret_cast<std::byte*>(batch.data()), batch.size()}, tail.next_offset);
  const auto length = static_cast<uint32_t>(batch.size());
  seg::FramePrefix prefix;
  seg::EncodeFramePrefix(
      prefix, length,
      base::Xxh3(base::AsBytes(batch), seg::FrameSeed(length, f::kFrameTypeRecordBatchV2)));
  const Bytes pieces[] = {Bytes(prefix), base::AsBytes(batch)};
  const seg::FrameMeta meta[] = {{tail.next_offset, tail.next_offset, 7, frame_bytes}};
  SLUICE_CHECK(s.Append(pieces, meta).has_value(), "append after recovery failed");
  auto found = s.FindByOffset(tail.next_offset);
  if (!strict) return;
  SLUICE_CHECK(found.has_value() && found->has_value() &&
                   (*found)->header.base_offset == tail.next_offset.value() &&
                   (*found)->pos == tail.end,
               "the frame appended after recovery does not read back");
}

std::string TailLine(const char* what, const seg::SegmentTail& t) {
  return Format("%s end=%" PRIu64 " next=%" PRId64, what, t.end.value(), t.next_offset.value());
}

FuzzOutcome CheckSegmentOpen(Bytes data) {
  FuzzOutcome out;
  const SegmentFiles files = SplitSegmentInput(data);
  const Offset base = LogBase(files.log);
  const seg::SegmentOptions options = FuzzSegmentOptions();

  // Active: the recovery scan. Without an index file every frame it keeps was verified.
  {
    io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
    PutSegment(fs, files, base);
    seg::RecoveryReport report;
    auto opened = seg::Segment::OpenActive(fs, kDir, base, options, std::nullopt, &report);
    if (!opened) {
      CheckCode(opened.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
                "OpenActive");
      out.error = opened.error().code;
      out.summary += "active error=" + std::string(base::ErrorCodeName(opened.error().code)) + "\n";
    } else {
      seg::Segment& s = **opened;
      const seg::SegmentTail tail = s.tail();
      SLUICE_CHECK(tail.end.value() >= f::kSegmentHeaderSize && tail.next_offset >= base,
                   "recovery published an impossible tail");
      if (report.truncated) {
        SLUICE_CHECK(
            report.truncated_at == tail.end && report.first_lost_offset == tail.next_offset,
            "recovery reports a cut other than where it ended");
        out.error = ErrorCode::kCorruption;
      }
      std::string frames;
      const Status walked = WalkSegment(s, frames);
      SLUICE_CHECK(walked.has_value() || files.index.has_value(),
                   "recovery kept a frame that does not read back");
      out.summary +=
          TailLine("active", tail) +
          (report.truncated ? Format(" truncated_at=%" PRIu64, report.truncated_at.value())
                            : std::string(" truncated_at=-")) +
          "\n" + frames;
      // Recovery leaves a segment that takes the next frame where it ended, and that opens again
      // as it was left.
      AppendProbe(s, /*strict=*/!files.index);
      const seg::SegmentTail appended = s.tail();
      SLUICE_CHECK(s.Sync().has_value() && s.CloseAbandoned().has_value(), "close after recovery");
      opened->reset();
      seg::RecoveryReport again;
      auto reopened = seg::Segment::OpenActive(fs, kDir, base, options, std::nullopt, &again);
      if (!files.index) {
        SLUICE_CHECK(reopened.has_value() && !again.truncated,
                     "a recovered segment does not reopen cleanly: " +
                         (reopened ? again.reason : reopened.error().ToString()));
        const seg::SegmentTail t = (*reopened)->tail();
        SLUICE_CHECK(t.end == appended.end && t.next_offset == appended.next_offset,
                     "a recovered segment reopens with another tail");
      }
      if (reopened) (*reopened)->CloseAbandoned().IgnoreError();
    }
  }

  // Sealed: trusted only when its index describes it exactly, else verified whole.
  {
    io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
    PutSegment(fs, files, base);
    auto opened = seg::Segment::OpenSealed(fs, kDir, base, options);
    if (!opened) {
      CheckCode(opened.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
                "OpenSealed");
      out.summary += "sealed error=" + std::string(base::ErrorCodeName(opened.error().code)) + "\n";
    } else {
      const seg::Segment& s = **opened;
      std::string frames;
      const Status walked = WalkSegment(s, frames);
      SLUICE_CHECK(files.index.has_value() ||
                       (walked.has_value() && s.tail().end.value() == files.log.size()),
                   "a sealed segment opened without covering its file");
      out.summary += TailLine("sealed", s.tail()) + "\n" + frames;
    }
  }
  return out;
}

// Recomputes the log header's checksum, every frame checksum and the index's.
bool RepairSegmentInput(Buffer& b) {
  if (b.size() < 4) return false;
  const uint64_t n = std::min<uint64_t>(base::LoadLE<uint32_t>(b.data()), b.size() - 4);
  Buffer log(b.begin() + 4, b.begin() + static_cast<ptrdiff_t>(4 + n));
  Buffer index(b.begin() + static_cast<ptrdiff_t>(4 + n), b.end());
  if (log.size() >= f::kSegmentHeaderSize) {
    base::StoreLE<uint64_t>(log.data() + 24, base::Xxh3(Bytes(log.data(), 24)));
    RepairFrames(log, f::kSegmentHeaderSize);
  }
  if (!index.empty()) RepairIndex(index);
  std::copy(log.begin(), log.end(), b.begin() + 4);
  std::copy(index.begin(), index.end(), b.begin() + static_cast<ptrdiff_t>(4 + n));
  return true;
}

// --- snapshots -----------------------------------------------------------------------------------

FuzzOutcome CheckSnapshot(Bytes file) {
  FuzzOutcome out;
  auto decoded = engine::DecodeSnapshotFile(file, "fuzz.snap");
  if (!decoded) {
    CheckCode(decoded.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "DecodeSnapshotFile");
    out.error = decoded.error().code;
    return out;
  }
  const engine::SnapshotInfo& info = decoded->info;
  const Bytes blob = decoded->blob;
  SLUICE_CHECK(blob.size() == info.blob_bytes &&
                   (blob.empty() || (blob.data() >= file.data() &&
                                     blob.data() + blob.size() <= file.data() + file.size())),
               "a snapshot's blob lies outside its file");
  const std::string again = engine::EncodeSnapshotFile(info, blob);
  SLUICE_CHECK(again.size() == file.size() &&
                   std::equal(file.begin(), file.end(), base::AsBytes(again).begin()),
               "a snapshot does not re-encode to its file");
  out.summary = "snapshot topic='" + Escape(info.topic) + "'" +
                Format(" created=%" PRId64, info.created_ms) + " blob='" +
                Escape(base::AsString(blob)) + "'\n";
  for (const auto& [partition, offset] : info.offsets) {
    out.summary +=
        Format("offset partition=%" PRId32 " offset=%" PRId64 "\n", partition, offset.value());
  }
  return out;
}

bool RepairSnapshot(Buffer& b) {
  if (b.size() < 8) return false;
  base::StoreLE<uint64_t>(b.data() + b.size() - 8, base::Xxh3(Bytes(b.data(), b.size() - 8)));
  return true;
}

// --- producer snapshots --------------------------------------------------------------------------

// The offset the file says it holds, which names it: never negative, as with IndexBase.
Offset ProducerSnapshotOffset(Bytes file) {
  constexpr size_t kOffsetAt = 16;  // the payload's first field, after the envelope's header
  return Offset(file.size() >= kOffsetAt + 8
                    ? std::max<int64_t>(0, base::LoadLE<int64_t>(file.data() + kOffsetAt))
                    : 0);
}

std::string ProducerSnapshotText(const engine::ProducerSnapshot& s) {
  std::string out = Format("producer-snapshot offset=%" PRId64 " producers=%zu\n", s.offset.value(),
                           s.producers.size());
  for (const engine::ProducerSnapshotEntry& p : s.producers) {
    out += Format("producer id=%" PRId64 " epoch=%d seen=%" PRId64 "\n", p.producer_id,
                  static_cast<int>(p.epoch), p.last_seen_ms);
    for (const engine::ProducerBatch& b : p.batches) {
      out += Format("batch seq=%" PRId32 "-%" PRId32 " offsets=%" PRId64 "-%" PRId64 "\n",
                    b.first_seq, b.last_seq, b.base_offset.value(), b.last_offset.value());
    }
  }
  return out;
}

// The decoder's promises (FORMAT.md, "Producer snapshots").
void CheckProducerSnapshotRules(const engine::ProducerSnapshot& s, Offset named) {
  SLUICE_CHECK(s.offset == named, "a producer snapshot holds another offset than its name");
  std::set<int64_t> ids;
  for (const engine::ProducerSnapshotEntry& p : s.producers) {
    SLUICE_CHECK(p.producer_id >= 0 && p.epoch >= 0 && ids.insert(p.producer_id).second &&
                     !p.batches.empty() &&
                     p.batches.size() <= engine::ProducerStateTable::kRememberedBatches,
                 "a producer snapshot entry breaks the format's rules");
    Offset after(-1);
    for (const engine::ProducerBatch& b : p.batches) {
      SLUICE_CHECK(b.first_seq >= 0 && b.last_seq >= 0 && b.base_offset > after &&
                       b.last_offset >= b.base_offset && b.last_offset < s.offset,
                   "a producer snapshot's batches are out of order or not below its offset");
      after = b.last_offset;
    }
  }
}

// The state a table that remembers at most `cap` producers holds after loading `s` at `now_ms`,
// as SnapshotBelow(end) gives it: the `cap` most recently recorded producers, each with its batches
// below `end` (left out when it has none), last seen no later than `now_ms`.
engine::ProducerSnapshot LoadedBelow(const engine::ProducerSnapshot& s, Offset end, size_t cap,
                                     int64_t now_ms) {
  engine::ProducerSnapshot out;
  out.offset = end;
  const size_t first = s.producers.size() > cap ? s.producers.size() - cap : 0;
  for (size_t i = first; i < s.producers.size(); ++i) {
    engine::ProducerSnapshotEntry e = s.producers[i];
    e.last_seen_ms = std::min(e.last_seen_ms, now_ms);
    std::erase_if(e.batches, [&](const engine::ProducerBatch& b) { return b.last_offset >= end; });
    if (!e.batches.empty()) out.producers.push_back(std::move(e));
  }
  return out;
}

// A batch header of producer `id` at `epoch` with sequences first..last (wrapping past INT32_MAX
// to 0, as LastSequence reads them).
seg::BatchHeader ProducerHeader(int64_t id, int16_t epoch, int32_t first_seq, int32_t last_seq) {
  seg::BatchHeader h;
  h.producer_id = id;
  h.producer_epoch = epoch;
  h.base_sequence = first_seq;
  h.last_offset_delta =
      last_seq >= first_seq ? last_seq - first_seq : INT32_MAX - first_seq + last_seq + 1;
  SLUICE_CHECK(engine::ProducerStateTable::LastSequence(h) == last_seq, "ProducerHeader");
  return h;
}

// Loads a decoded snapshot as PartitionLog does at open, and checks the table holds its state.
void CheckLoadedProducerState(const engine::ProducerSnapshot& s) {
  using engine::ProducerStateTable;
  constexpr int64_t kNowMs = 1'700'000'000'000;  // earlier last-seen times than some seeds'
  const std::string whole = ProducerSnapshotText(LoadedBelow(s, s.offset, SIZE_MAX, kNowMs));
  ProducerStateTable table;
  table.Load(s, kNowMs);
  SLUICE_CHECK(table.producer_count() == s.producers.size(),
               "a loaded producer snapshot lost or gained producers");
  SLUICE_CHECK(ProducerSnapshotText(table.SnapshotBelow(s.offset)) == whole,
               "a loaded producer snapshot does not give its state back");

  // Below lower offsets (those a roll would snapshot at while later batches are queued), and
  // written and read back there.
  std::vector<Offset> ends = {Offset(0), s.offset};
  if (!s.producers.empty()) {
    for (const engine::ProducerBatch& b : s.producers.front().batches) {
      ends.push_back(b.last_offset);
      ends.push_back(b.last_offset + 1);
    }
  }
  for (const Offset end : ends) {
    const engine::ProducerSnapshot below = table.SnapshotBelow(end);
    const std::string text = ProducerSnapshotText(below);
    SLUICE_CHECK(text == ProducerSnapshotText(LoadedBelow(s, end, SIZE_MAX, kNowMs)),
                 "a loaded producer snapshot gives other state below a lower offset");
    const std::string image = engine::EncodeProducerSnapshot(below);
    auto again = engine::DecodeProducerSnapshot(base::AsBytes(image), "fuzz/below", end);
    SLUICE_CHECK(again.has_value() && ProducerSnapshotText(*again) == text,
                 "a producer snapshot taken below an offset does not read back there");
  }

  // A retry of each remembered batch is a duplicate of it; an older epoch is fenced; the next
  // sequence is accepted (or is itself a remembered batch's).
  for (const engine::ProducerSnapshotEntry& p : s.producers) {
    for (const engine::ProducerBatch& b : p.batches) {
      auto r = table.Check(ProducerHeader(p.producer_id, p.epoch, b.first_seq, b.last_seq));
      SLUICE_CHECK(r.has_value() && r->has_value() && (*r)->first_seq == b.first_seq &&
                       (*r)->last_seq == b.last_seq,
                   "a retry of a loaded producer's batch is not found as a duplicate");
    }
    if (p.epoch > 0) {
      const engine::ProducerBatch& b = p.batches.back();
      auto r = table.Check(ProducerHeader(p.producer_id, static_cast<int16_t>(p.epoch - 1),
                                          b.first_seq, b.last_seq));
      SLUICE_CHECK(!r && r.error().code == ErrorCode::kProducerFenced,
                   "a loaded producer's older epoch is not fenced");
    }
    const int32_t last = p.batches.back().last_seq;
    const int32_t next = last == INT32_MAX ? 0 : last + 1;
    auto r = table.Check(ProducerHeader(p.producer_id, p.epoch, next, next));
    SLUICE_CHECK(
        r.has_value() && (!r->has_value() || ((*r)->first_seq == next && (*r)->last_seq == next)),
        "a loaded producer's next sequence is refused");
  }

  // Expiry counts from each loaded last-seen time, whatever it is (a snapshot may hold any i64):
  // the least recently recorded producers idle that long are forgotten, up to the first that is
  // not (loaded last-seen times are at most now: none is idle for a negative time).
  for (const int64_t expiration_ms : {int64_t{INT64_MAX}, int64_t{86'400'000}}) {
    table.ExpireIdle(kNowMs, expiration_ms);
    size_t due = 0;
    for (; due < s.producers.size(); ++due) {
      int64_t idle_ms = 0;
      const bool beyond_i64 =
          __builtin_sub_overflow(kNowMs, std::min(s.producers[due].last_seen_ms, kNowMs), &idle_ms);
      if (!beyond_i64 && idle_ms < expiration_ms) break;
    }
    SLUICE_CHECK(table.producer_count() == s.producers.size() - due,
                 "ExpireIdle forgets other producers than those idle that long");
  }

  // Under a cap, the most recently recorded producers are the ones kept.
  constexpr size_t kCap = 2;
  ProducerStateTable capped(kCap);
  capped.Load(s, kNowMs);
  SLUICE_CHECK(ProducerSnapshotText(capped.SnapshotBelow(s.offset)) ==
                   ProducerSnapshotText(LoadedBelow(s, s.offset, kCap, kNowMs)),
               "a producer snapshot loaded under a cap keeps other producers");
}

FuzzOutcome CheckProducerSnapshot(Bytes file) {
  FuzzOutcome out;
  const Offset named = ProducerSnapshotOffset(file);
  const std::string name = engine::ProducerSnapshotName(named);
  const std::optional<Offset> parsed = engine::ParseProducerSnapshotName(name);
  SLUICE_CHECK(parsed.has_value() && *parsed == named,
               "a producer snapshot's name does not parse back to its offset");
  auto decoded = engine::DecodeProducerSnapshot(file, "fuzz/" + name, named);
  if (!decoded) {
    CheckCode(decoded.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "DecodeProducerSnapshot");
    out.error = decoded.error().code;
    return out;
  }
  CheckProducerSnapshotRules(*decoded, named);
  // One version, no flags, reserved bytes zero: the format is canonical.
  const std::string again = engine::EncodeProducerSnapshot(*decoded);
  SLUICE_CHECK(again.size() == file.size() &&
                   std::equal(file.begin(), file.end(), base::AsBytes(again).begin()),
               "a producer snapshot does not re-encode to its file");
  CheckLoadedProducerState(*decoded);
  out.summary = ProducerSnapshotText(*decoded);
  return out;
}

// Sets the envelope's payload length from the size and recomputes its checksum.
bool RepairProducerSnapshot(Buffer& b) {
  if (b.size() < f::kSmallFileOverhead) return false;
  base::StoreLE<uint32_t>(b.data() + 12, static_cast<uint32_t>(b.size() - f::kSmallFileOverhead));
  base::StoreLE<uint64_t>(b.data() + b.size() - 8, base::Xxh3(Bytes(b.data(), b.size() - 8)));
  return true;
}

// --- __consumer_offsets --------------------------------------------------------------------------

FuzzOutcome CheckOffsetsBatch(Bytes batch) {
  FuzzOutcome out;
  auto header = seg::ParseBatchHeader(batch);
  if (!header) {
    CheckCode(header.error(), {ErrorCode::kCorruption}, "ParseBatchHeader");
    out.error = header.error().code;
    return out;
  }
  if (!seg::VerifyBatchCrc(batch, *header)) out.error = ErrorCode::kCorruption;
  seg::RecordDecoder decoder(kFuzzMaxDecompressedBytes);
  if (Status s = decoder.Reset(batch, *header); !s) {
    CheckCode(s.error(), {ErrorCode::kCorruption, ErrorCode::kTooLarge}, "RecordDecoder");
    if (!out.error) out.error = s.error().code;
    return out;
  }
  seg::RecordView rec;
  for (;;) {
    auto more = decoder.Next(rec);
    if (!more) {
      CheckCode(more.error(), {ErrorCode::kCorruption, ErrorCode::kTooLarge}, "RecordDecoder");
      if (!out.error) out.error = more.error().code;
      break;
    }
    if (!*more) break;
    auto r = engine::DecodeOffsetRecord(rec.key, rec.value, rec.offset);
    if (!r) {
      CheckCode(r.error(), {ErrorCode::kCorruption}, "DecodeOffsetRecord");
      if (!out.error) out.error = r.error().code;
      out.summary += Format("bad offset=%" PRId64 "\n", rec.offset);
      continue;
    }
    // The layout is canonical: the record re-encodes to its bytes.
    SLUICE_CHECK(rec.key && engine::EncodeOffsetKey(r->group, r->topic, r->partition) == *rec.key,
                 "an offsets key does not re-encode to its bytes");
    SLUICE_CHECK(r->value.has_value() == rec.value.has_value() &&
                     (!r->value || engine::EncodeOffsetValue(*r->value) == *rec.value),
                 "an offsets value does not re-encode to its bytes");
    const std::string key = "group='" + Escape(r->group) + "' topic='" + Escape(r->topic) + "'" +
                            Format(" partition=%" PRId32, r->partition);
    if (r->value) {
      out.summary += "commit " + key +
                     Format(" offset=%" PRId64 " time=%" PRId64, r->value->offset.value(),
                            r->value->commit_time_ms) +
                     " metadata='" + Escape(r->value->metadata) + "'\n";
    } else {
      out.summary += "tombstone " + key + "\n";
    }
  }
  return out;
}

// --- small files ---------------------------------------------------------------------------------

constexpr char kDataDir[] = "/d";
constexpr char kPartitionDirName[] = "t-0";

io::testing::MemFs& WithDir(io::testing::MemFs& fs, const std::string& dir) {
  SLUICE_CHECK(fs.CreateDir(dir).has_value(), "MemFs mkdir");
  return fs;
}

// A loaded config must print and parse back to itself (the catalog and partition files store it
// as ConfigToMap's strings).
std::string ConfigText(const engine::TopicConfig& config) {
  const std::map<std::string, std::string> printed = engine::ConfigToMap(config);
  auto parsed = engine::ApplyConfig(engine::TopicConfig{}, printed);
  SLUICE_CHECK(parsed.has_value() && engine::ConfigToMap(*parsed) == printed,
               "a loaded topic config does not parse back from its printed form");
  // Only what differs from the defaults, so that a summary reads as what the file says.
  const std::map<std::string, std::string> defaults = engine::ConfigToMap(engine::TopicConfig{});
  std::string out;
  for (const auto& [k, v] : printed) {
    if (defaults.at(k) != v) out += (out.empty() ? "" : " ") + k + "=" + Escape(v);
  }
  return "config=[" + out + "]";
}

// Checks what a loaded catalog must satisfy whatever the file said, and renders it.
std::string CatalogText(const engine::TopicMap& topics) {
  std::string out;
  for (const auto& [name, info] : topics) {
    SLUICE_CHECK(name == info.name && engine::ValidateTopicName(name).has_value() &&
                     info.partitions >= 1 && info.partitions <= engine::kMaxPartitions,
                 "a loaded catalog holds a topic the format does not allow");
    out += "topic name=" + Escape(name) + Format(" partitions=%" PRId32, info.partitions) +
           " id='" + Escape(info.id) + "' " + ConfigText(info.config) + "\n";
  }
  return out;
}

// <data>/catalog, or <data>/catalog.json (format version 1, read only when there is no catalog).
FuzzOutcome CheckCatalog(Bytes file, bool legacy) {
  using Source = engine::CatalogPlan::Source;
  FuzzOutcome out;
  const std::string name = legacy ? engine::kLegacyCatalogFile : engine::kCatalogFile;
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  PutFile(WithDir(fs, kDataDir), io::JoinPath(kDataDir, name), file);
  auto loaded = engine::LoadCatalog(fs, kDataDir);
  // What Engine::Open and `sluice verify` make of the same file: they use the catalog, keep a
  // damaged one aside, or refuse a newer one; never fail on it.
  auto plan = engine::PlanCatalog(fs, kDataDir, engine::TopicConfig{});
  SLUICE_CHECK(plan.has_value(), "PlanCatalog failed over a catalog file: " +
                                     (plan ? std::string() : plan.error().ToString()));
  if (!loaded) {
    CheckCode(loaded.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "LoadCatalog");
    out.error = loaded.error().code;
    const bool damaged = loaded.error().code == ErrorCode::kCorruption;
    SLUICE_CHECK(plan->source == (damaged ? Source::kDamaged : Source::kNewer) &&
                     (!damaged || plan->damaged_file == name) && plan->catalog.empty() &&
                     !plan->save,
                 "PlanCatalog classifies a catalog LoadCatalog rejects otherwise");
    return out;
  }
  const std::string text = CatalogText(*loaded);
  SLUICE_CHECK(plan->source == (legacy ? Source::kLegacy : Source::kCurrent) &&
                   CatalogText(plan->catalog) == text && plan->save == legacy,
               "PlanCatalog takes another catalog from the file LoadCatalog accepts");
  // Saved and loaded again, it is the same catalog; and saving is deterministic.
  io::testing::MemFs again(io::testing::MetadataDurability::kImmediate);
  WithDir(again, kDataDir);
  const std::string saved_path = io::JoinPath(kDataDir, engine::kCatalogFile);
  SLUICE_CHECK(engine::SaveCatalog(again, kDataDir, *loaded).has_value(), "SaveCatalog");
  const std::string saved = again.ReadFile(saved_path).value();
  auto reloaded = engine::LoadCatalog(again, kDataDir);
  SLUICE_CHECK(reloaded.has_value() && CatalogText(*reloaded) == text,
               "a catalog does not save and load back to itself");
  SLUICE_CHECK(engine::SaveCatalog(again, kDataDir, *reloaded).has_value() &&
                   again.ReadFile(saved_path).value() == saved,
               "a catalog saved again gives another file");
  out.summary = name + Format(" topics=%zu\n", loaded->size()) + text;
  return out;
}

std::string PartitionMetaText(const engine::PartitionMeta& meta) {
  SLUICE_CHECK(engine::ValidateTopicName(meta.topic).has_value() && meta.partition >= 0 &&
                   meta.partition < engine::kMaxPartitions,
               "a loaded partition file names a topic or partition the format does not allow");
  // Version 1 files carry no partition count (0).
  return "partition topic=" + Escape(meta.topic) + " id='" + Escape(meta.topic_id) + "'" +
         Format(" partition=%" PRId32 " ", meta.partition) +
         (meta.topic_partitions > 0 ? Format("partitions=%" PRId32 " ", meta.topic_partitions)
                                    : std::string()) +
         ConfigText(meta.config) + "\n";
}

// <data>/t-0/partition.
FuzzOutcome CheckPartitionMeta(Bytes file) {
  using Fate = engine::CatalogPlan::Fate;
  FuzzOutcome out;
  const std::string dir = io::JoinPath(kDataDir, kPartitionDirName);
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  PutFile(WithDir(WithDir(fs, kDataDir), dir), io::JoinPath(dir, engine::kPartitionMetaFile), file);
  auto meta = engine::LoadPartitionMeta(fs, dir);
  // With no catalog, the directory is adopted when the file names it, left alone when it names
  // another partition, and ignored when unreadable (it holds no log either).
  auto plan = engine::PlanCatalog(fs, kDataDir, engine::TopicConfig{});
  SLUICE_CHECK(
      plan.has_value() && plan->dirs.size() == 1 && plan->dirs[0].name == kPartitionDirName,
      "PlanCatalog did not plan the one partition directory");
  const Fate fate = plan->dirs[0].fate;
  if (!meta) {
    CheckCode(meta.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "LoadPartitionMeta");
    out.error = meta.error().code;
    SLUICE_CHECK(fate == Fate::kIgnored && plan->catalog.empty(),
                 "PlanCatalog used a partition file LoadPartitionMeta rejects");
    return out;
  }
  const std::string text = PartitionMetaText(*meta);
  if (meta->topic == "t" && meta->partition == 0) {
    const auto it = plan->catalog.find("t");
    SLUICE_CHECK(fate == Fate::kAdopted && it != plan->catalog.end() &&
                     it->second.partitions == std::max(1, meta->topic_partitions) &&
                     (meta->topic_id.empty() || it->second.id == meta->topic_id) &&
                     engine::ConfigToMap(it->second.config) == engine::ConfigToMap(meta->config),
                 "PlanCatalog adopted the partition otherwise than its file says");
  } else {
    SLUICE_CHECK(fate == Fate::kForeign && plan->catalog.empty(),
                 "PlanCatalog adopted a directory whose file names another partition");
  }
  io::testing::MemFs again(io::testing::MetadataDurability::kImmediate);
  WithDir(WithDir(again, kDataDir), dir);
  const std::string saved_path = io::JoinPath(dir, engine::kPartitionMetaFile);
  // Saved at the current version, which needs the topic's partition count (a version-1 file has
  // none: the engine writes the count it knows, here the least that holds the partition).
  engine::PartitionMeta to_save = *meta;
  if (to_save.topic_partitions == 0) to_save.topic_partitions = to_save.partition + 1;
  SLUICE_CHECK(engine::SavePartitionMeta(again, dir, to_save).has_value(), "SavePartitionMeta");
  const std::string saved = again.ReadFile(saved_path).value();
  auto reloaded = engine::LoadPartitionMeta(again, dir);
  SLUICE_CHECK(reloaded.has_value() && PartitionMetaText(*reloaded) == PartitionMetaText(to_save),
               "a partition file does not save and load back to itself");
  SLUICE_CHECK(engine::SavePartitionMeta(again, dir, *reloaded).has_value() &&
                   again.ReadFile(saved_path).value() == saved,
               "a partition file saved again gives another file");
  out.summary = text;
  return out;
}

// A fixed-size small file (recovery point, producer ids) decodes to its payload: encoded again at
// the current version, it must be the same payload; at the current version, the same file.
void CheckReencoded(Bytes file, const std::string& again, size_t payload_size,
                    uint16_t current_version, const char* what) {
  constexpr size_t kPayloadAt = 16;
  const Bytes a = base::AsBytes(again);
  SLUICE_CHECK(file.size() == f::kSmallFileOverhead + payload_size && a.size() == file.size() &&
                   std::equal(a.begin() + kPayloadAt, a.begin() + kPayloadAt + payload_size,
                              file.begin() + kPayloadAt),
               std::string(what) + " does not re-encode to its payload");
  if (base::LoadLE<uint16_t>(file.data() + 8) == current_version) {
    SLUICE_CHECK(std::equal(a.begin(), a.end(), file.begin()),
                 std::string(what) + " of the current version does not re-encode to its file");
  }
}

FuzzOutcome CheckRecoveryPoint(Bytes file) {
  FuzzOutcome out;
  auto rp = engine::DecodeRecoveryPoint(file, "fuzz/recovery-point");
  if (!rp) {
    CheckCode(rp.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "DecodeRecoveryPoint");
    out.error = rp.error().code;
    return out;
  }
  SLUICE_CHECK(rp->segment_base.value() >= 0 && rp->tail.next_offset >= rp->segment_base &&
                   rp->tail.end.value() >= f::kSegmentHeaderSize,
               "a decoded recovery point breaks the format's rules");
  const std::string again = engine::EncodeRecoveryPoint(*rp);
  CheckReencoded(file, again, f::kRecoveryPointPayloadSize, f::kRecoveryPointCurrentVersion,
                 "a recovery point");
  out.summary = Format("recovery-point version=%" PRIu16 " base=%" PRId64 " end=%" PRIu64
                       " next=%" PRId64 " maxts=%" PRId64 "\n",
                       base::LoadLE<uint16_t>(file.data() + 8), rp->segment_base.value(),
                       rp->tail.end.value(), rp->tail.next_offset.value(), rp->tail.max_timestamp);
  return out;
}

// <data>/producer-ids, decoded and then used by the allocator as the engine does.
FuzzOutcome CheckProducerIds(Bytes file) {
  using engine::ProducerIdAllocator;
  FuzzOutcome out;
  auto next = engine::DecodeProducerIds(file);
  io::testing::MemFs fs(io::testing::MetadataDurability::kImmediate);
  const std::string path = io::JoinPath(kDataDir, ProducerIdAllocator::kFileName);
  PutFile(WithDir(fs, kDataDir), path, file);
  ProducerIdAllocator allocator(fs, kDataDir);
  auto id = allocator.Allocate();
  if (!next) {
    CheckCode(next.error(), {ErrorCode::kCorruption, ErrorCode::kUnsupportedVersion},
              "DecodeProducerIds");
    out.error = next.error().code;
    SLUICE_CHECK(!id && id.error().code == next.error().code,
                 "the allocator takes a producer-ids file DecodeProducerIds rejects");
    return out;
  }
  SLUICE_CHECK(*next >= 0, "a decoded producer-ids file holds a negative id");
  CheckReencoded(file, engine::EncodeProducerIds(*next), f::kProducerIdsPayloadSize,
                 f::kProducerIdsCurrentVersion, "a producer-ids file");
  out.summary = Format("producer-ids version=%" PRIu16 " next=%" PRId64,
                       base::LoadLE<uint16_t>(file.data() + 8), *next);
  if (*next > INT64_MAX - ProducerIdAllocator::kBlockSize) {
    SLUICE_CHECK(!id && id.error().code == ErrorCode::kOutOfRange,
                 "the allocator hands out an id past the last block");
    out.summary += " allocated=exhausted\n";
    return out;
  }
  // The first id is the stored one, and the next block is reserved on disk before it is used.
  SLUICE_CHECK(id.has_value() && *id == *next, "the allocator does not resume at the stored id");
  auto stored = engine::DecodeProducerIds(base::AsBytes(fs.ReadFile(path).value()));
  SLUICE_CHECK(stored.has_value() && *stored == *next + ProducerIdAllocator::kBlockSize,
               "the allocator did not reserve the next block");
  out.summary += Format(" allocated=%" PRId64 "\n", *id);
  return out;
}

FuzzOutcome CheckSmallFile(Bytes data) {
  if (data.empty()) return {ErrorCode::kCorruption, ""};
  const Bytes file = data.subspan(1);
  switch (static_cast<SmallFileType>(static_cast<uint8_t>(data[0]) % kSmallFileTypes)) {
    case SmallFileType::kCatalog:
      return CheckCatalog(file, /*legacy=*/false);
    case SmallFileType::kLegacyCatalog:
      return CheckCatalog(file, /*legacy=*/true);
    case SmallFileType::kPartitionMeta:
      return CheckPartitionMeta(file);
    case SmallFileType::kRecoveryPoint:
      return CheckRecoveryPoint(file);
    case SmallFileType::kProducerIds:
      return CheckProducerIds(file);
  }
  SLUICE_CHECK(false, "unreachable");
  return {};
}

// Sets the envelope's payload length from the size and recomputes its checksum (not for the
// legacy catalog, which has no envelope).
bool RepairSmallFile(Buffer& b) {
  if (b.size() < 1 + f::kSmallFileOverhead ||
      static_cast<uint8_t>(b[0]) % kSmallFileTypes ==
          static_cast<uint8_t>(SmallFileType::kLegacyCatalog)) {
    return false;
  }
  std::byte* p = b.data() + 1;
  const size_t size = b.size() - 1;
  base::StoreLE<uint32_t>(p + 12, static_cast<uint32_t>(size - f::kSmallFileOverhead));
  base::StoreLE<uint64_t>(p + size - 8, base::Xxh3(Bytes(p, size - 8)));
  return true;
}

// Runs `check` on a copy of `data` and, if `repair` changes that copy, on the repaired bytes too.
template <typename Check, typename Repair>
FuzzOutcome CheckWithRepair(Bytes data, Check check, Repair repair) {
  const Buffer copy = Copy(data);
  FuzzOutcome out = check(View(copy));
  Buffer fixed = copy;
  if (repair(fixed) && fixed != copy) check(View(fixed));
  return out;
}

}  // namespace

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\' && c != '\'') {
      out += c;
    } else {
      out += Format("\\x%02x", u);
    }
  }
  return out;
}

std::string SmallFileInput(SmallFileType type, std::string_view file) {
  return std::string(1, static_cast<char>(type)) + std::string(file);
}

std::string SegmentOpenInput(std::string_view log, std::string_view index) {
  std::string out(4, '\0');
  base::StoreLE<uint32_t>(reinterpret_cast<std::byte*>(out.data()),
                          static_cast<uint32_t>(log.size()));
  out += log;
  out += index;
  return out;
}

FuzzOutcome FuzzRecordBatch(Bytes data) { return CheckWithRepair(data, CheckBatch, RepairBatch); }

FuzzOutcome FuzzFrames(Bytes data) {
  return CheckWithRepair(data, CheckFrames, [](Buffer& b) {
    RepairFrames(b, 0);
    return true;
  });
}

FuzzOutcome FuzzSegmentIndex(Bytes data) { return CheckWithRepair(data, CheckIndex, RepairIndex); }

FuzzOutcome FuzzSegmentOpen(Bytes data) {
  return CheckWithRepair(data, CheckSegmentOpen, RepairSegmentInput);
}

FuzzOutcome FuzzSnapshotFile(Bytes data) {
  return CheckWithRepair(data, CheckSnapshot, RepairSnapshot);
}

FuzzOutcome FuzzProducerSnapshot(Bytes data) {
  return CheckWithRepair(data, CheckProducerSnapshot, RepairProducerSnapshot);
}

FuzzOutcome FuzzOffsetsBatch(Bytes data) {
  return CheckWithRepair(data, CheckOffsetsBatch, RepairBatch);
}

FuzzOutcome FuzzSmallFile(Bytes data) {
  return CheckWithRepair(data, CheckSmallFile, RepairSmallFile);
}

}  // namespace sluice::fuzz
