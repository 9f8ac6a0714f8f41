#pragma once

// One segment of a partition: a data file `<base>.log` of frames and its sparse `<base>.index`.
//
// A segment is either *active* (the last of its partition: preallocated, appended to, its file open
// for writing) or *sealed* (trimmed, fsynced, immutable). Threading: one writer at a time calls the
// writer methods (the partition serialises them); any number of readers call the reader methods
// concurrently and without locks. Appended frames become visible to readers when Append returns
// (they reached the page cache); they are durable after the next Sync returns.
//
// Readers see the file through one read-only mapping kept for the segment's lifetime. The files may
// be removed (retention) while readers still hold the Segment: the mapping stays valid until the
// last holder lets go.

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>

#include "segment/frame.h"
#include "segment/io/file_system.h"
#include "segment/segment_index.h"

namespace sluice::segment {

using base::Status;

struct SegmentOptions {
  // Size of a segment: it rolls when the next frame would not fit. A segment without frames
  // accepts one frame of any size.
  uint64_t capacity_bytes = 1ull << 30;
  // Disk blocks are reserved (fallocate) ahead of the writes, up to the capacity, in steps that
  // start at 1 MiB and double with what the segment holds up to this size: a busy partition
  // reserves 64 MiB at a time, and a topic of a thousand quiet partitions takes 1 GiB of disk,
  // not a whole step (64 GiB) or segment (1 TiB) for each.
  uint64_t preallocate_bytes = 64ull << 20;
  // A frame gets an index entry when this many bytes were written since the previous entry.
  uint32_t index_interval_bytes = 4096;
};

// Metadata of one frame being appended, for the index and the tail.
struct FrameMeta {
  Offset base_offset;
  Offset last_offset;
  int64_t max_timestamp = -1;
  uint64_t size_bytes = 0;  // prefix + batch
};

// What recovery of an active segment found.
struct RecoveryReport {
  std::string path;
  FilePos scanned_from;
  uint64_t scanned_bytes = 0;
  bool truncated = false;
  FilePos truncated_at;        // where the first invalid frame started
  Offset first_lost_offset;    // the offset that frame would have had
  uint64_t dropped_bytes = 0;  // non-zero bytes discarded from truncated_at on
  std::string reason;          // why the frame was invalid
};

enum class TornTail : bool { kTruncate, kRefuse };

// Whether opening a sealed segment may rewrite its index when it does not describe the log.
enum class IndexRepair : bool { kNo, kYes };

// The error (kOffline) for damage found at `at` in `path`, below the durable point `durable`:
// names the file, the byte position and the offsets at risk.
Error BelowRecoveryPoint(const std::string& path, FilePos at, std::optional<Offset> first_at_risk,
                         const SegmentTail& durable, const std::string& why);

// Checks a segment file's header (its first bytes `data`, FORMAT.md) for the segment of base
// offset `base`: kCorruption naming `path` when it is damaged, kUnsupportedVersion when a newer
// sluice wrote it (or set a flag this build does not know). The one parser of the header, for
// opening and for verification. `flags`, when given, gets the header's flags.
Status ValidateSegmentHeader(Bytes data, Offset base, const std::string& path,
                             uint16_t* flags = nullptr);

// The header of a segment file of base offset `base` with `flags` (format::kSegmentFlag*).
std::array<std::byte, format::kSegmentHeaderSize> EncodeSegmentHeader(Offset base,
                                                                      uint16_t flags = 0);

// How many bytes from `pos` on were written, as recovery estimates a torn tail: up to the last
// non-zero byte before the first 4 KiB-aligned block that is all zero (preallocated space).
uint64_t WrittenBytesAfter(Bytes data, uint64_t pos);

class Segment {
 public:
  // "<dir>/00000000000000001234.log" for base 1234.
  static std::string LogPath(const std::string& dir, Offset base);
  static std::string IndexPath(const std::string& dir, Offset base);
  // Parses a segment file name; nullopt if `name` is not "<20 digits>.log".
  static std::optional<Offset> ParseLogName(const std::string& name);

  // Creates a new empty active segment: header written and fsynced, its first step (1 MiB, see
  // SegmentOptions::preallocate_bytes) reserved.
  static Result<std::unique_ptr<Segment>> Create(io::FileSystem& fs, const std::string& dir,
                                                 Offset base, const SegmentOptions& options);

  // Opens a sealed segment. Its index is trusted when it describes the log exactly; otherwise the
  // log is scanned with every checksum verified and the index rewritten. Damage is kCorruption.
  // With IndexRepair::kNo (readers beside a writer) a bad index is only worked around.
  static Result<std::unique_ptr<Segment>> OpenSealed(io::FileSystem& fs, const std::string& dir,
                                                     Offset base, const SegmentOptions& options,
                                                     IndexRepair repair = IndexRepair::kYes);

  // Opens a segment that another process writes (or wrote), for reading only: nothing in its files
  // is ever changed. Only the header is published; Follow publishes frames. kNotFound when the file
  // is missing or its header is not written yet (a segment being created).
  static Result<std::unique_ptr<Segment>> OpenFollower(io::FileSystem& fs, const std::string& dir,
                                                       Offset base, const SegmentOptions& options);

  // Opens the last segment of a partition for appending. `durable` is the recovery point's state
  // when it lies in this segment. Unless the segment was closed cleanly (its index covers the whole
  // file), frames are verified from min(recovery point, index checkpoint) on, and the file is
  // truncated at the first invalid one *above* `durable`; `report` says what was found. A file
  // shorter than `durable`, or invalid below it, is kOffline (BelowRecoveryPoint) and nothing in
  // it is changed.
  // With TornTail::kRefuse (the partition's recovery point is missing or damaged, so a torn write
  // cannot be told from damage) any invalid frame is kOffline too.
  static Result<std::unique_ptr<Segment>> OpenActive(io::FileSystem& fs, const std::string& dir,
                                                     Offset base, const SegmentOptions& options,
                                                     std::optional<SegmentTail> durable,
                                                     RecoveryReport* report,
                                                     TornTail torn_tail = TornTail::kTruncate);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // --- writer (active segment only, one caller at a time) ------------------------------------

  // Room for a frame of `frame_bytes` whose last offset is `last_offset`?
  bool HasRoomFor(uint64_t frame_bytes, Offset last_offset) const;
  // Writes the frames whose bytes are the concatenation of `pieces`, described in order by
  // `frames`, at the end of the segment with one gathered write, then publishes them to readers.
  // On error nothing is published, and the file is cut back to the published end (a failed write
  // may have written a prefix, a failed fallocate reserved part of the range): what the failed
  // write left can then never be taken for frames by a recovery, and its blocks are freed. If the
  // cut fails too, it is retried before the next write and done by a clean close. So after a
  // failed Append (a full disk) the next one may simply try again; whether that is wise for other
  // errors is the caller's decision. Never cuts below the published end.
  // With `synced`, the frames are made durable by the same call (WritableFile::WriteAtAndSync:
  // one io_uring submission for the write and its fdatasync), and when the write succeeded
  // `*synced` gets the fdatasync's outcome; the frames are published either way, as by an Append
  // followed by Sync.
  Status Append(std::span<const Bytes> pieces, std::span<const FrameMeta> frames,
                Status* synced = nullptr);
  // fdatasync of the data file.
  Status Sync();
  // Makes the segment sealed: trims the file to its data, fsyncs it, writes the index, closes the
  // file. Readers are unaffected.
  Status Seal();
  // Writes the index as a checkpoint covering frames before `durable.end` (active segments).
  Status WriteIndexCheckpoint(const SegmentTail& durable);
  // Trims the preallocated tail and writes the index, for a clean shutdown; the segment can be
  // reopened with OpenActive without a scan. Closes the file.
  Status CloseClean();
  // Closes the file without trimming (after an I/O error, or for a crash simulation).
  Status CloseAbandoned();

  // --- follower (OpenFollower; one caller at a time) -----------------------------------------

  // Publishes the frames from the published end on whose base offsets are below `limit`, reading
  // no byte at or past `file_bytes`. The caller takes `file_bytes` (the file's length) *after* it
  // learnt `limit` from the writer: every frame below `limit` was then wholly written, and a file
  // the writer trimmed (sealed) before publishing `limit` is seen trimmed, so no byte read can be
  // cut away under the mapping. Stops, without error, at zeroed space, the end of `file_bytes`, a
  // frame at or past `limit`, or one that does not read as the next frame (`*why` says which of the
  // last). kChecksum verifies each frame before publishing it. Returns the published tail.
  SegmentTail Follow(Offset limit, uint64_t file_bytes, FrameVerify verify, std::string* why);

  // --- readers (any thread) ------------------------------------------------------------------

  Offset base_offset() const { return base_; }
  const std::string& log_path() const { return log_path_; }
  // The published tail: frames before `end` are complete and readable.
  SegmentTail tail() const;
  // Bytes of the segment's data (header and frames) published so far.
  uint64_t size_bytes() const { return tail().end.value(); }
  bool sealed() const { return sealed_.load(std::memory_order_acquire); }
  // Written by the log cleaner (format::kSegmentFlagCompacted): offsets may have gaps.
  bool compacted() const { return (flags_ & format::kSegmentFlagCompacted) != 0; }
  size_t index_entries() const { return index_->size(); }

  // The frame that contains `offset` or, if none does, the first frame after it; nullopt when the
  // segment has no record at or after `offset`. Checksums are verified.
  Result<std::optional<Frame>> FindByOffset(Offset offset) const;
  // The first frame whose maxTimestamp is >= `timestamp`; nullopt if none.
  Result<std::optional<Frame>> FindByTime(int64_t timestamp) const;
  // The frame at `pos`, which must be a frame boundary; nullopt at the published end. kHeaderOnly
  // skips the payload checksum (for walks that only need batch headers, such as rebuilding
  // producer state: published frames were verified when written or recovered).
  Result<std::optional<Frame>> FrameAt(FilePos pos,
                                       FrameVerify verify = FrameVerify::kChecksum) const;

  // Hints that the segment is about to be read sequentially.
  void AdviseSequential() const;

  // Removes the segment's files (retention). Readers holding the segment keep reading the mapping.
  Status RemoveFiles();

 private:
  Segment(io::FileSystem& fs, std::string dir, Offset base, const SegmentOptions& options);

  // An active segment's mapping spans this much address space, so that it covers every byte the
  // segment can come to hold (readers never touch bytes past the published end).
  static constexpr uint64_t kActiveMapBytes = 4ull << 30;
  static size_t IndexCapacityFor(uint64_t bytes, const SegmentOptions& options);
  Status OpenFiles(uint64_t map_bytes);
  Result<std::optional<Frame>> ScanFrom(FilePos pos, Offset offset, int64_t timestamp) const;
  Error CorruptAt(FilePos pos, const std::string& why) const;
  void Publish(const SegmentTail& tail);
  // Verifies frames from `tail.end`, adding index entries; stops at the first invalid frame or the
  // end of data. Returns the tail after the last valid frame and sets *why for an invalid one.
  SegmentTail Scan(SegmentTail tail, Bytes data, std::string* why);
  void MaybeIndex(const FrameMeta& frame, FilePos pos, int64_t max_ts_before);
  // Whether a frame starting at `base_offset` may follow frames that end before `next`: right
  // after them, or (compacted segments) anywhere after them.
  bool OffsetFollows(Offset base_offset, Offset next) const {
    return compacted() ? base_offset >= next : base_offset == next;
  }
  Status WriteIndex(const SegmentTail& tail);
  Status CloseFile(bool trim);

  io::FileSystem& fs_;
  const std::string dir_;
  const Offset base_;
  const SegmentOptions options_;
  const std::string log_path_;
  uint16_t flags_ = 0;  // the header's flags; set before the segment is shared
  // Guards the lifetime of file_: writes and syncs hold it shared, sealing and closing exclusive.
  mutable std::shared_mutex file_mu_;
  std::unique_ptr<io::WritableFile> file_;  // null once sealed or closed
  std::mutex index_file_mu_;                // serialises writes of the .index file
  std::unique_ptr<io::MappedFile> map_;
  std::unique_ptr<SegmentIndex> index_;
  uint64_t capacity_bytes_ = 0;   // roll threshold
  uint64_t allocated_bytes_ = 0;  // the data file's length (reserved with fallocate); writer only
  // The file differs from a cleanly closed segment (trimmed, index covering it): set by writes,
  // reservations and recovery; a clean close of an unmodified segment does no I/O. Writer only.
  bool modified_ = true;
  // Reserves room for the data file to hold `end` bytes, one preallocation step ahead.
  Status Reserve(uint64_t end);
  // `length`, or more if the file would end less than a frame prefix after data ending at `end`.
  static uint64_t RoomAfter(uint64_t end, uint64_t length);
  // Truncates the data file to the published end `end` (after a failed write). Writer only.
  Status CutTo(uint64_t end);
  // A failed write left bytes past the published end that could not be cut yet. Writer only.
  bool uncut_tail_ = false;
  uint64_t bytes_since_index_ = 0;  // writer only

  // The published tail. Readers bound their scans by end_ alone (lock-free); tail() takes the
  // mutex for a consistent triple.
  std::atomic<uint64_t> end_{0};
  mutable std::mutex tail_mu_;
  SegmentTail tail_;
  std::atomic<bool> sealed_{false};
};

}  // namespace sluice::segment
