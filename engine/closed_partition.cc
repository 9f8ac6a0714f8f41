#include "engine/closed_partition.h"

#include <algorithm>
#include <vector>

#include "engine/log_cleaner.h"
#include "segment/format.h"
#include "segment/segment.h"
#include "segment/segment_index.h"

namespace sluice::engine {
namespace {

using segment::Segment;
using segment::SegmentTail;

// The tail of the segment at `base` when its file is what a seal or a clean close leaves: a valid
// header, and an index that decodes and covers the whole file (what Segment::OpenSealed trusts
// without a scan, and what Segment::OpenActive takes for a clean close). nullopt otherwise.
std::optional<SegmentTail> ClosedSegmentTail(io::FileSystem& fs, const std::string& dir,
                                             Offset base) {
  const std::string log = Segment::LogPath(dir, base);
  auto size = fs.FileSize(log);
  if (!size || *size < segment::format::kSegmentHeaderSize) return std::nullopt;
  {
    auto header = fs.Map(log, segment::format::kSegmentHeaderSize);
    if (!header || !segment::ValidateSegmentHeader((*header)->data(), base, log)) {
      return std::nullopt;
    }
  }
  auto file = fs.ReadFile(Segment::IndexPath(dir, base));
  if (!file) return std::nullopt;
  auto decoded = segment::SegmentIndex::Decode(base::AsBytes(*file), base, 0);
  if (!decoded || decoded->tail.end.value() != *size) return std::nullopt;
  return decoded->tail;
}

}  // namespace

std::optional<PartitionStats> StatsOfClosedPartition(io::FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names) return std::nullopt;
  std::vector<Offset> bases;
  for (const std::string& name : *names) {
    if (auto base = Segment::ParseLogName(name)) bases.push_back(*base);
    // A cleaner swap to finish (or scratch files to remove): opening changes the segments.
    if (name == kCleanerSwapFile || (name.size() > 8 && name.ends_with(kCleanedSuffix))) {
      return std::nullopt;
    }
  }
  // No segment yet: opening creates the first one.
  if (bases.empty()) return std::nullopt;
  std::sort(bases.begin(), bases.end());

  // Without a valid recovery point opening verifies the whole last segment; with one in another
  // segment it rewrites it (or, past the last segment, takes the partition offline).
  auto rp = ReadRecoveryPointFile(fs, dir);
  if (!rp || !rp->has_value() || (*rp)->segment_base != bases.back()) return std::nullopt;

  PartitionStats stats;
  stats.log_start_offset = bases.front();
  stats.segment_count = bases.size();
  SegmentTail last;
  for (size_t i = 0; i < bases.size(); ++i) {
    auto tail = ClosedSegmentTail(fs, dir, bases[i]);
    if (!tail) return std::nullopt;
    // Segments that do not join up take the partition offline.
    if (i + 1 < bases.size() && tail->next_offset != bases[i + 1]) return std::nullopt;
    stats.size_bytes += tail->end.value();
    last = *tail;
  }
  // A last segment that no longer holds what the recovery point says is durable is offline.
  if ((*rp)->tail.end > last.end) return std::nullopt;
  stats.high_watermark = last.next_offset;
  // The log start DeleteRecords set. Damaged, or past the end (opening rewrites it): open.
  auto log_start = ReadLogStartFile(fs, dir);
  if (!log_start || (*log_start && **log_start > stats.high_watermark)) return std::nullopt;
  if (*log_start) stats.log_start_offset = std::max(stats.log_start_offset, **log_start);
  return stats;
}

}  // namespace sluice::engine
