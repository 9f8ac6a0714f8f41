#pragma once

// Read-only verification of a partition directory, for `sluice verify`: every segment header, every
// frame's bounds and checksum, batch headers, offset contiguity within and across segments, and
// each index file against the log it describes. Never writes: unlike opening a log, it does not
// recover or truncate anything.

#include <string>
#include <vector>

#include "segment/io/file_system.h"
#include "segment/segment_index.h"

namespace sluice::segment {

struct VerifyProblem {
  std::string file;
  uint64_t position = 0;  // byte position in `file`
  int64_t offset = -1;    // the record offset concerned, -1 if none
  std::string what;
};

struct PartitionVerifyReport {
  std::string dir;
  int segments = 0;
  int64_t frames = 0;
  int64_t records = 0;
  uint64_t bytes = 0;
  Offset start_offset;
  Offset next_offset;
  std::vector<VerifyProblem> problems;  // empty: healthy
};

// Verifies every segment in `dir`. An I/O error reading the directory is an Error; damage is
// reported in `problems`.
Result<PartitionVerifyReport> VerifyPartition(io::FileSystem& fs, const std::string& dir);

}  // namespace sluice::segment
