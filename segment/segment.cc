#include "segment/segment.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "segment/base/checksum.h"
#include "segment/base/log.h"
#include "segment/format.h"

namespace sluice::segment {

using base::ErrorCode;
using base::MakeError;

namespace {

constexpr uint64_t kHeaderSize = format::kSegmentHeaderSize;

std::array<std::byte, kHeaderSize> EncodeHeader(Offset base, uint16_t flags = 0) {
  std::array<std::byte, kHeaderSize> h{};
  std::memcpy(h.data(), format::kSegmentMagic.data(), 8);
  base::StoreLE<uint16_t>(h.data() + 8, format::kSegmentCurrentVersion);
  base::StoreLE<uint16_t>(h.data() + 10, flags);
  base::StoreLE<int64_t>(h.data() + 16, base.value());
  base::StoreLE<uint64_t>(h.data() + 24, base::Xxh3(Bytes(h.data(), 24)));
  return h;
}

Status ValidateHeader(Bytes data, Offset base, const std::string& path,
                      uint16_t* flags_out = nullptr) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": segment header: " + why);
  };
  if (data.size() < kHeaderSize) return bad("file is shorter than its header");
  if (std::memcmp(data.data(), format::kSegmentMagic.data(), 8) != 0) return bad("bad magic");
  auto version = base::LoadLE<uint16_t>(data.data() + 8);
  if (version < format::kSegmentMinReadableVersion || version > format::kSegmentCurrentVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     path + ": segment format version " + std::to_string(version) +
                         " (this build reads " +
                         std::to_string(format::kSegmentMinReadableVersion) + ".." +
                         std::to_string(format::kSegmentCurrentVersion) + ")");
  }
  if (base::Xxh3(data.first(24)) != base::LoadLE<uint64_t>(data.data() + 24)) {
    return bad("checksum mismatch");
  }
  // Checked after the checksum, so that damage is not taken for a newer format.
  const auto flags = base::LoadLE<uint16_t>(data.data() + 10);
  if ((flags & ~format::kSegmentKnownFlags) != 0) {
    return MakeError(ErrorCode::kUnsupportedVersion, path + ": segment header flags " +
                                                         std::to_string(flags) +
                                                         " that this build does not know");
  }
  if (base::LoadLE<int64_t>(data.data() + 16) != base.value()) {
    return bad("base offset does not match the file name");
  }
  if (flags_out != nullptr) *flags_out = flags;
  return {};
}

bool AllZero(Bytes b) {
  return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// Bytes from `pos` to the last non-zero byte before the first 4 KiB-aligned block that is all
// zero: an estimate of what a torn tail held, bounded by where sequential writes stopped.
uint64_t NonZeroExtent(Bytes data, uint64_t pos) {
  constexpr uint64_t kBlock = 4096;
  uint64_t end = pos;
  uint64_t block = pos & ~(kBlock - 1);
  while (block < data.size()) {
    uint64_t lo = std::max(block, pos);
    uint64_t hi = std::min<uint64_t>(block + kBlock, data.size());
    Bytes part = data.subspan(lo, hi - lo);
    auto last =
        std::find_if(part.rbegin(), part.rend(), [](std::byte b) { return b != std::byte{0}; });
    if (last == part.rend()) break;
    end = lo + static_cast<uint64_t>(part.rend() - last);
    block += kBlock;
  }
  return end - pos;
}

}  // namespace

std::string Segment::LogPath(const std::string& dir, Offset base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRId64 ".log", base.value());
  return io::JoinPath(dir, name);
}

std::string Segment::IndexPath(const std::string& dir, Offset base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRId64 ".index", base.value());
  return io::JoinPath(dir, name);
}

std::optional<Offset> Segment::ParseLogName(const std::string& name) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    const int digit = name[i] - '0';
    if (v > (INT64_MAX - digit) / 10) return std::nullopt;  // v * 10 + digit would overflow
    v = v * 10 + digit;
  }
  return Offset(v);
}

Segment::Segment(io::FileSystem& fs, std::string dir, Offset base, const SegmentOptions& options)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      options_(options),
      log_path_(LogPath(dir_, base)) {}

Segment::~Segment() {
  std::unique_lock lock(file_mu_);
  if (file_) file_->Close().IgnoreError();
}

size_t Segment::IndexCapacityFor(uint64_t bytes, const SegmentOptions& options) {
  // The most a segment can hold: its capacity, or a header and one frame of the largest size.
  uint64_t most =
      std::max<uint64_t>(bytes, kHeaderSize + format::kFramePrefixSize + format::kMaxFramePayload);
  uint64_t step =
      std::max<uint64_t>(options.index_interval_bytes, format::kFramePrefixSize + kBatchHeaderSize);
  return static_cast<size_t>(most / step + 2);
}

Status Segment::OpenFiles(uint64_t map_bytes) {
  ASSIGN_OR_RETURN(map_, fs_.Map(log_path_, map_bytes));
  return {};
}

void Segment::Publish(const SegmentTail& tail) {
  {
    std::lock_guard lock(tail_mu_);
    tail_ = tail;
  }
  end_.store(tail.end.value(), std::memory_order_release);
}

SegmentTail Segment::tail() const {
  std::lock_guard lock(tail_mu_);
  return tail_;
}

Result<std::unique_ptr<Segment>> Segment::Create(io::FileSystem& fs, const std::string& dir,
                                                 Offset base, const SegmentOptions& options) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, options));
  seg->capacity_bytes_ = std::max<uint64_t>(options.capacity_bytes, kHeaderSize);
  // A leftover file of this name can only be an empty segment from a roll that failed half way:
  // every offset before `base` lives in earlier segments.
  ASSIGN_OR_RETURN(seg->file_, fs.OpenWritable(seg->log_path_, io::OpenMode::kCreateOrTruncate));
  auto fail = [&](Error e) -> Error {
    seg->file_->Close().IgnoreError();
    seg->file_.reset();
    fs.Remove(seg->log_path_).IgnoreError();
    return e;
  };
  if (Status s = seg->Reserve(kHeaderSize); !s) return fail(std::move(s).error());
  auto header = EncodeHeader(base);
  const Bytes pieces[] = {Bytes(header)};
  if (Status s = seg->file_->WriteAt(FilePos(0), pieces); !s) return fail(std::move(s).error());
  // The header is durable before any frame can be: recovery never meets a half-made segment
  // holding data.
  if (Status s = seg->file_->Sync(); !s) return fail(std::move(s).error());
  if (Status s = fs.SyncDir(dir); !s) return fail(std::move(s).error());
  if (Status s = seg->OpenFiles(kActiveMapBytes); !s) return fail(std::move(s).error());
  seg->index_ =
      std::make_unique<SegmentIndex>(base, IndexCapacityFor(seg->capacity_bytes_, options));
  seg->Publish({FilePos(kHeaderSize), base, -1});
  return seg;
}

Result<std::unique_ptr<Segment>> Segment::OpenFollower(io::FileSystem& fs, const std::string& dir,
                                                       Offset base, const SegmentOptions& options) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, options));
  ASSIGN_OR_RETURN(uint64_t size, fs.FileSize(seg->log_path_));
  if (size < kHeaderSize) {
    return MakeError(ErrorCode::kNotFound, seg->log_path_ + ": no segment header yet");
  }
  seg->capacity_bytes_ = std::max<uint64_t>(options.capacity_bytes, kHeaderSize);
  // As much address space as an active segment: the file grows under the mapping.
  RETURN_IF_ERROR(seg->OpenFiles(kActiveMapBytes));
  RETURN_IF_ERROR(
      ValidateHeader(seg->map_->data().first(kHeaderSize), base, seg->log_path_, &seg->flags_));
  seg->index_ =
      std::make_unique<SegmentIndex>(base, IndexCapacityFor(seg->capacity_bytes_, options));
  seg->Publish({FilePos(kHeaderSize), base, -1});
  return seg;
}

SegmentTail Segment::Follow(Offset limit, uint64_t file_bytes, FrameVerify verify,
                            std::string* why) {
  SegmentTail tail = this->tail();
  const Bytes data = map_->data().first(std::min(file_bytes, map_->data().size()));
  while (tail.next_offset < limit && tail.end.value() < data.size()) {
    FrameRead r = ReadFrame(data, tail.end, verify);
    if (r.kind == FrameRead::Kind::kEnd) break;
    if (r.kind == FrameRead::Kind::kBad) {
      *why = r.error;
      break;
    }
    const BatchHeader& h = r.frame.header;
    if (Offset(h.base_offset) >= limit) break;
    if (!OffsetFollows(Offset(h.base_offset), tail.next_offset) ||
        h.last_offset() - base_.value() > UINT32_MAX || r.frame.end().value() > UINT32_MAX) {
      *why = "frame has base offset " + std::to_string(h.base_offset) + " where " +
             std::to_string(tail.next_offset.value()) + " was expected";
      break;
    }
    FrameMeta meta{Offset(h.base_offset), Offset(h.last_offset()), h.max_timestamp,
                   r.frame.size_bytes()};
    MaybeIndex(meta, tail.end, tail.max_timestamp);
    tail.end = r.frame.end();
    tail.next_offset = meta.last_offset + 1;
    tail.max_timestamp = std::max(tail.max_timestamp, h.max_timestamp);
  }
  Publish(tail);
  return tail;
}

Result<std::unique_ptr<Segment>> Segment::OpenSealed(io::FileSystem& fs, const std::string& dir,
                                                     Offset base, const SegmentOptions& options,
                                                     IndexRepair repair) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, options));
  ASSIGN_OR_RETURN(uint64_t size, fs.FileSize(seg->log_path_));
  if (size < kHeaderSize) {
    return MakeError(ErrorCode::kCorruption, seg->log_path_ + ": shorter than a segment header");
  }
  seg->capacity_bytes_ = size;
  RETURN_IF_ERROR(seg->OpenFiles(size));
  Bytes data = seg->map_->data();
  RETURN_IF_ERROR(ValidateHeader(data, base, seg->log_path_, &seg->flags_));

  const std::string index_path = IndexPath(dir, base);
  auto file = fs.ReadFile(index_path);
  if (file) {
    auto decoded = SegmentIndex::Decode(base::AsBytes(*file), base, 0);
    if (decoded && decoded->tail.end.value() == size) {
      seg->index_ = std::move(decoded->index);
      seg->Publish(decoded->tail);
      seg->sealed_ = true;
      return seg;
    }
    if (repair == IndexRepair::kYes) {
      base::LogWarning(
          index_path + ": " +
          (decoded ? std::string("does not describe its log") : decoded.error().context) +
          "; rebuilding it from the log");
    }
  } else if (file.error().code != ErrorCode::kNotFound) {
    return std::move(file).error();
  }
  seg->index_ = std::make_unique<SegmentIndex>(base, IndexCapacityFor(size, options));
  std::string why;
  SegmentTail tail = seg->Scan({FilePos(kHeaderSize), base, -1}, data, &why);
  if (tail.end.value() != size) {
    if (why.empty()) why = "zeroed space before the end of a sealed segment";
    return seg->CorruptAt(tail.end, why);
  }
  seg->Publish(tail);
  seg->sealed_ = true;
  if (repair == IndexRepair::kNo) return seg;
  if (Status s = seg->WriteIndex(tail); !s) {
    base::LogWarning("could not write " + index_path + ": " + s.error().ToString());
  }
  return seg;
}

Result<std::unique_ptr<Segment>> Segment::OpenActive(io::FileSystem& fs, const std::string& dir,
                                                     Offset base, const SegmentOptions& options,
                                                     std::optional<SegmentTail> durable,
                                                     RecoveryReport* report, TornTail torn_tail) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, options));
  report->path = seg->log_path_;
  ASSIGN_OR_RETURN(uint64_t size, fs.FileSize(seg->log_path_));
  seg->capacity_bytes_ = std::max(options.capacity_bytes, size);
  ASSIGN_OR_RETURN(seg->file_, fs.OpenWritable(seg->log_path_, io::OpenMode::kOpenExisting));

  // Data the recovery point says is durable is never cut: if the file no longer holds it, the
  // partition must go offline with the file untouched (the caller reports it; `sluice repair`
  // decides what to do with it).
  if (durable && durable->end.value() > kHeaderSize && size < durable->end.value()) {
    return BelowRecoveryPoint(seg->log_path_, FilePos(size), std::nullopt, *durable,
                              "the file is " + std::to_string(size) + " bytes long");
  }
  // A crash while the segment was being created leaves a file without a durable header, and so
  // without data (the header is synced before any frame is written): start it afresh.
  // Anything else that lacks a header (a zeroed header in front of frames) is damage, reported
  // before anything about the file changes.
  bool fresh = size < kHeaderSize;
  if (!fresh) {
    RETURN_IF_ERROR(seg->OpenFiles(size));
    Bytes data = seg->map_->data().first(size);
    fresh = AllZero(data.first(kHeaderSize));
    if (!fresh) RETURN_IF_ERROR(ValidateHeader(data, base, seg->log_path_));
    if (fresh && durable && durable->end.value() > kHeaderSize) {
      return BelowRecoveryPoint(seg->log_path_, FilePos(0), base, *durable,
                                "the segment header is zeroed");
    }
    if (fresh && NonZeroExtent(data, kHeaderSize) != 0) {
      return seg->CorruptAt(FilePos(0), "the segment header is zeroed but the file holds data");
    }
    seg->map_.reset();
  }
  if (fresh) {
    seg->file_->Close().IgnoreError();
    seg->file_.reset();
    ASSIGN_OR_RETURN(auto created, Create(fs, dir, base, options));
    return created;
  }

  // The index checkpoint, if usable, and the recovery point: start at whichever is earlier.
  SegmentTail start{FilePos(kHeaderSize), base, -1};
  std::unique_ptr<SegmentIndex> index;
  bool clean = false;
  const size_t capacity = IndexCapacityFor(seg->capacity_bytes_, options);
  auto file = fs.ReadFile(IndexPath(dir, base));
  if (file) {
    auto decoded = SegmentIndex::Decode(base::AsBytes(*file), base, capacity);
    if (decoded && decoded->tail.end.value() <= size) {
      clean = decoded->tail.end.value() == size;
      start = decoded->tail;
      index = std::move(decoded->index);
    }
  }
  if (!index) index = std::make_unique<SegmentIndex>(base, capacity);
  if (!clean && durable && durable->end < start.end && durable->end.value() >= kHeaderSize) {
    start = *durable;
  }
  size_t keep = index->size();
  while (keep > 0 && index->at(keep - 1).position >= start.end.value()) --keep;
  index->Truncate(keep);
  seg->index_ = std::move(index);
  seg->bytes_since_index_ = keep == 0 ? 0 : start.end.value() - seg->index_->at(keep - 1).position;

  // Re-extend a segment trimmed by a clean close, then map it whole. Only the file's length may be
  // read while scanning.
  seg->allocated_bytes_ = size;
  RETURN_IF_ERROR(seg->Reserve(size));
  RETURN_IF_ERROR(seg->OpenFiles(kActiveMapBytes));
  Bytes data = seg->map_->data().first(seg->allocated_bytes_);
  RETURN_IF_ERROR(ValidateHeader(data, base, seg->log_path_, &seg->flags_));

  seg->modified_ = !clean;
  report->scanned_from = start.end;
  std::string why;
  SegmentTail tail = seg->Scan(start, data, &why);
  report->scanned_bytes = tail.end - start.end;
  if (durable && tail.end < durable->end) {
    // Damage where the log was durable and valid: not a torn write of a crash.
    return BelowRecoveryPoint(seg->log_path_, tail.end, tail.next_offset, *durable,
                              why.empty() ? "the log ends there" : why);
  }
  if (why.empty() && NonZeroExtent(data, tail.end.value()) > 0) {
    // Zeroed space where the next frame would start, but written bytes after it: a write that
    // reached the disk out of order. Left there, they would sit behind the frames appended next,
    // and a later scan could run into them (or take a stale frame for a new one).
    why = "zeroed space followed by written bytes";
  }
  if (!why.empty() && torn_tail == TornTail::kRefuse) {
    return MakeError(ErrorCode::kOffline,
                     seg->log_path_ + ": invalid frame at byte " +
                         std::to_string(tail.end.value()) + " (offset " +
                         std::to_string(tail.next_offset.value()) + " on: " + why +
                         "), and without a valid recovery point it cannot be told from a torn "
                         "write");
  }
  if (!why.empty()) {
    report->truncated = true;
    report->truncated_at = tail.end;
    report->first_lost_offset = tail.next_offset;
    report->dropped_bytes = NonZeroExtent(data, tail.end.value());
    report->reason = why;
    // Cut the file at the bad frame and zero everything after it, so that no stale frame can
    // reappear behind the ones written next.
    RETURN_IF_ERROR(seg->file_->Truncate(tail.end.value()));
    seg->allocated_bytes_ = RoomAfter(tail.end.value(), seg->allocated_bytes_);
    RETURN_IF_ERROR(seg->file_->Allocate(seg->allocated_bytes_));
    RETURN_IF_ERROR(seg->file_->Sync());
  }
  seg->Publish(tail);
  return seg;
}

Status ValidateSegmentHeader(Bytes data, Offset base, const std::string& path, uint16_t* flags) {
  return ValidateHeader(data, base, path, flags);
}

std::array<std::byte, format::kSegmentHeaderSize> EncodeSegmentHeader(Offset base, uint16_t flags) {
  return EncodeHeader(base, flags);
}

uint64_t WrittenBytesAfter(Bytes data, uint64_t pos) { return NonZeroExtent(data, pos); }

Error BelowRecoveryPoint(const std::string& path, FilePos at, std::optional<Offset> first_at_risk,
                         const SegmentTail& durable, const std::string& why) {
  std::string risk = first_at_risk ? std::to_string(first_at_risk->value()) : "?";
  return MakeError(ErrorCode::kOffline, path + ": damaged at byte " + std::to_string(at.value()) +
                                            " (" + why + "), below the recovery point at byte " +
                                            std::to_string(durable.end.value()) + "; offsets [" +
                                            risk + ", " +
                                            std::to_string(durable.next_offset.value()) +
                                            ") were acknowledged as durable and are at risk");
}

Error Segment::CorruptAt(FilePos pos, const std::string& why) const {
  return MakeError(ErrorCode::kCorruption,
                   log_path_ + " at position " + std::to_string(pos.value()) + ": " + why);
}

void Segment::MaybeIndex(const FrameMeta& frame, FilePos pos, int64_t max_ts_before) {
  // A follower's index is sized by the topic's segment.bytes; a segment written under a larger
  // one simply gets no more entries (lookups scan further).
  if (index_->size() < index_->capacity() &&
      (index_->size() == 0 || bytes_since_index_ >= options_.index_interval_bytes)) {
    index_->Add({static_cast<uint32_t>(frame.base_offset - base_),
                 static_cast<uint32_t>(pos.value()), max_ts_before});
    bytes_since_index_ = 0;
  }
  bytes_since_index_ += frame.size_bytes;
}

SegmentTail Segment::Scan(SegmentTail tail, Bytes data, std::string* why) {
  for (;;) {
    FrameRead r = ReadFrame(data, tail.end, FrameVerify::kChecksum);
    if (r.kind == FrameRead::Kind::kEnd) return tail;
    if (r.kind == FrameRead::Kind::kBad) {
      *why = r.error;
      return tail;
    }
    const BatchHeader& h = r.frame.header;
    if (!OffsetFollows(Offset(h.base_offset), tail.next_offset)) {
      *why = "frame has base offset " + std::to_string(h.base_offset) + " where " +
             std::to_string(tail.next_offset.value()) + " was expected";
      return tail;
    }
    if (h.last_offset() - base_.value() > UINT32_MAX || r.frame.end().value() > UINT32_MAX) {
      *why = "frame lies beyond what a segment can address";
      return tail;
    }
    FrameMeta meta{Offset(h.base_offset), Offset(h.last_offset()), h.max_timestamp,
                   r.frame.size_bytes()};
    MaybeIndex(meta, tail.end, tail.max_timestamp);
    tail.end = r.frame.end();
    tail.next_offset = meta.last_offset + 1;
    tail.max_timestamp = std::max(tail.max_timestamp, h.max_timestamp);
  }
}

// A file that ends fewer than a frame prefix's bytes after the data would read, after a crash, as a
// torn frame (a partial prefix is bad even when zeroed): the reserved length is the data's end or
// at least a prefix beyond it.
uint64_t Segment::RoomAfter(uint64_t end, uint64_t length) {
  return length > end && length - end < format::kFramePrefixSize ? end + format::kFramePrefixSize
                                                                 : length;
}

Status Segment::Reserve(uint64_t end) {
  if (end <= allocated_bytes_ && allocated_bytes_ != 0 &&
      RoomAfter(end, allocated_bytes_) == allocated_bytes_) {
    return {};
  }
  modified_ = true;
  // One step ahead of what is needed, but not past the capacity unless a frame needs it. The
  // step doubles with the reservation, from 1 MiB up to preallocate_bytes.
  constexpr uint64_t kFirstStep = 1 << 20;
  const uint64_t step = std::max<uint64_t>(
      std::min(options_.preallocate_bytes, std::max(allocated_bytes_, kFirstStep)), 4096);
  const uint64_t target = RoomAfter(
      end, std::max(end, std::min(capacity_bytes_, std::max(end, allocated_bytes_) + step)));
  RETURN_IF_ERROR(file_->Allocate(target));
  allocated_bytes_ = target;
  return {};
}

Status Segment::CutTo(uint64_t end) {
  RETURN_IF_ERROR(file_->Truncate(end));
  // The reservation went with the cut: the next write reserves again.
  allocated_bytes_ = end;
  uncut_tail_ = false;
  return {};
}

bool Segment::HasRoomFor(uint64_t frame_bytes, Offset last_offset) const {
  const uint64_t end = end_.load(std::memory_order_relaxed);
  return (end == kHeaderSize || end + frame_bytes <= capacity_bytes_) &&
         last_offset - base_ <= static_cast<int64_t>(UINT32_MAX);
}

Status Segment::Append(std::span<const Bytes> pieces, std::span<const FrameMeta> frames,
                       Status* synced) {
  std::shared_lock lock(file_mu_);
  SLUICE_CHECK(file_ != nullptr, "append to a sealed segment");
  SegmentTail t = tail();
  uint64_t bytes = 0;
  for (const FrameMeta& f : frames) bytes += f.size_bytes;
  if (uncut_tail_) RETURN_IF_ERROR(CutTo(t.end.value()));
  modified_ = true;
  Status written = Reserve(t.end.value() + bytes);
  if (written) {
    written = synced != nullptr ? file_->WriteAtAndSync(t.end, pieces, synced)
                                : file_->WriteAt(t.end, pieces);
  }
  if (!written) {
    uncut_tail_ = true;
    // Retried before the next write, and done by a clean close.
    CutTo(t.end.value()).IgnoreError();
    return written;
  }
  for (const FrameMeta& f : frames) {
    SLUICE_CHECK(f.base_offset == t.next_offset, "frames must be appended in offset order");
    MaybeIndex(f, t.end, t.max_timestamp);
    t.end += f.size_bytes;
    t.next_offset = f.last_offset + 1;
    t.max_timestamp = std::max(t.max_timestamp, f.max_timestamp);
  }
  Publish(t);
  return {};
}

Status Segment::Sync() {
  std::shared_lock lock(file_mu_);
  if (!file_) return {};  // sealed: already durable
  return file_->Sync();
}

Status Segment::WriteIndex(const SegmentTail& tail) {
  std::lock_guard lock(index_file_mu_);
  std::string image = index_->Encode(tail);
  return io::WriteFileAtomic(fs_, IndexPath(dir_, base_), base::AsBytes(image),
                             io::Durability::kVolatile);
}

Status Segment::WriteIndexCheckpoint(const SegmentTail& durable) { return WriteIndex(durable); }

Status Segment::CloseFile(bool trim) {
  std::unique_lock lock(file_mu_);
  if (!file_) return {};
  SegmentTail t = tail();
  Status s;
  if (!modified_) trim = false;  // already trimmed, synced and indexed: nothing to do
  if (trim) {
    s = file_->Truncate(t.end.value());
    if (s) s = file_->Sync();
  }
  Status closed = file_->Close();
  file_.reset();
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(closed);
  if (trim) {
    if (Status w = WriteIndex(t); !w) {
      // The index is derived data: the next open rebuilds it.
      base::LogWarning("could not write the index of " + log_path_ + ": " + w.error().ToString());
    }
  }
  return {};
}

Status Segment::Seal() {
  RETURN_IF_ERROR(CloseFile(/*trim=*/true));
  sealed_.store(true, std::memory_order_release);
  return {};
}

Status Segment::CloseClean() { return CloseFile(/*trim=*/true); }

Status Segment::CloseAbandoned() { return CloseFile(/*trim=*/false); }

Result<std::optional<Frame>> Segment::FrameAt(FilePos pos, FrameVerify verify) const {
  const uint64_t end = end_.load(std::memory_order_acquire);
  FrameRead r = ReadFrame(map_->data().first(end), pos, verify);
  switch (r.kind) {
    case FrameRead::Kind::kFrame:
      return std::optional<Frame>(r.frame);
    case FrameRead::Kind::kEnd:
      if (pos.value() == end) return std::optional<Frame>();
      return CorruptAt(pos, "zeroed space inside the log");
    case FrameRead::Kind::kBad:
      break;
  }
  return CorruptAt(pos, r.error);
}

Result<std::optional<Frame>> Segment::ScanFrom(FilePos pos, Offset offset,
                                               int64_t timestamp) const {
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<Frame> frame, FrameAt(pos));
    if (!frame) return frame;
    if (frame->header.last_offset() >= offset.value() && frame->header.max_timestamp >= timestamp) {
      return frame;
    }
    pos = frame->end();
  }
}

Result<std::optional<Frame>> Segment::FindByOffset(Offset offset) const {
  auto entry = index_->FloorByOffset(offset);
  FilePos pos(entry ? entry->position : kHeaderSize);
  return ScanFrom(pos, offset, INT64_MIN);
}

Result<std::optional<Frame>> Segment::FindByTime(int64_t timestamp) const {
  auto entry = index_->FloorByTime(timestamp);
  FilePos pos(entry ? entry->position : kHeaderSize);
  return ScanFrom(pos, Offset(INT64_MIN), timestamp);
}

void Segment::AdviseSequential() const { map_->AdviseSequential(); }

Status Segment::RemoveFiles() {
  for (const std::string& path : {log_path_, IndexPath(dir_, base_)}) {
    Status s = fs_.Remove(path);
    if (!s && s.error().code != ErrorCode::kNotFound) return s;
  }
  return {};
}

}  // namespace sluice::segment
