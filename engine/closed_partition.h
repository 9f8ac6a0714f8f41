#pragma once

// The stats of a partition that is not open, read from its files without opening its log: what
// `topic list` and `topic describe` show for the partitions an engine has not used yet (after a
// clean shutdown partitions open at their first use, and opening one reserves disk space, maps its
// last segment and, at close, trims and syncs it again: too much for a listing of 1,000).
//
// It answers only when the files are exactly what a clean close leaves, checked with the parsers
// PartitionLog::Open uses, so that the answer is the one opening would give: the recovery point
// decodes and lies in the last segment; every segment's header is valid and its index decodes and
// covers the whole file (which is how a sealed segment, and an active one after a clean close, says
// it was verified); the recovery point lies within the last segment's file; the segments join up.
// The high watermark is then the last index's next offset, the log start the first segment's base,
// the size the files' lengths. Anything else (a crash's unverified tail, a missing or damaged file,
// an index to rebuild, no segment yet) is "cannot tell": the caller opens the partition, and
// opening says what is wrong. Not checked: whether the disk has room and the files can be written,
// which only an append needs.
//
// Reads 2 small files per partition and, per segment, its length, its 32-byte header and its index;
// writes nothing. The caller keeps the partition from being opened meanwhile.

#include <optional>
#include <string>

#include "engine/partition_log.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

// The stats of the cleanly closed partition in `dir`; nullopt when its files are not those of a
// clean close, or could not be read.
std::optional<PartitionStats> StatsOfClosedPartition(io::FileSystem& fs, const std::string& dir);

}  // namespace sluice::engine
