#pragma once

// Read-only verification of a partition directory, for `sluice verify`: every segment header, every
// frame's bounds and checksum, batch headers, offset contiguity within and across segments, and
// each index file against the log it describes. Never writes: unlike opening a log, it does not
// recover or truncate anything.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "segment/io/file_system.h"
#include "segment/segment_index.h"

namespace sluice::segment {

struct VerifyProblem {
  enum class Kind : uint8_t {
    kLog,              // a segment header or frame is invalid, or segments do not join up
    kBatchCrc,         // a valid frame holds a batch whose CRC-32C does not match
    kIndexUnreadable,  // the index cannot be read or decoded
    kIndexMismatch,    // the index decodes but does not describe its log
    // Batches name a zstd dictionary that cannot be loaded (missing or damaged file): reads of
    // them fail. `file` is the dictionary's, `offset` the first batch that needs it.
    kDictionaryNeeded,
    // A dictionary file that does not load, which no batch names (open trains a new one if it
    // was the newest).
    kDictionaryDamaged,
  };
  Kind kind = Kind::kLog;
  std::string file;
  uint64_t position = 0;  // byte position in `file`
  int64_t offset = -1;    // the record offset concerned, -1 if none
  std::string what;
};

// What VerifyPartition found in one segment file: enough to tell, as opening would, whether its
// damage lies below or above a recovery point, and where the log could be cut (sluice repair).
struct SegmentVerifyReport {
  Offset base;
  std::string path;
  uint64_t size_bytes = 0;
  // Why the segment header is not valid (then nothing else of the file was read); kCorruption or
  // kUnsupportedVersion (ValidateSegmentHeader).
  std::optional<base::Error> header_error;
  // The valid frames from the start of the file: they end at `valid.end`, before
  // `valid.next_offset`.
  SegmentTail valid;
  // Why the frame at `valid.end` is not valid; empty when the frames end there cleanly (zeroed
  // space or the end of the file).
  std::string bad_frame;
  // Where the bytes written after the valid frames end, as recovery estimates it
  // (WrittenBytesAfter): larger than `valid.end` when something follows them (damage, a torn
  // write, frames behind zeroed space). Preallocated zeros are not read past the first zero block.
  uint64_t written_end = 0;
  // The header's bytes are all zero (with nothing written after them: a segment whose creation
  // did not finish, which opening creates afresh).
  bool header_zeroed = false;
  // Its index decodes and covers exactly the whole file: opening trusts it and scans nothing.
  bool index_covers_file = false;
};

struct PartitionVerifyReport {
  std::string dir;
  int segments = 0;
  int64_t frames = 0;
  int64_t records = 0;
  uint64_t bytes = 0;
  Offset start_offset;
  Offset next_offset;
  std::vector<VerifyProblem> problems;               // empty: healthy
  std::vector<SegmentVerifyReport> segment_reports;  // one per segment file, in offset order
  int64_t max_producer_id = -1;  // the largest producer id of any valid batch, -1 if none
  // The zstd dictionaries (segment/dictionary.h) the valid batches name: id -> batches naming it.
  std::map<uint32_t, int64_t> dictionaries;
};

// Verifies every segment in `dir`. An I/O error reading the directory is an Error; damage is
// reported in `problems`.
Result<PartitionVerifyReport> VerifyPartition(io::FileSystem& fs, const std::string& dir);

}  // namespace sluice::segment
