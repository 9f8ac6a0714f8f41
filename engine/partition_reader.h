#pragma once

// PartitionReader: one partition's log as seen by a reader beside a writer in another process
// (sluice consume --follow, replay on a data directory that `sluice produce` or `sluice serve`
// holds), or with no writer at all. It takes no lock on the data directory and never writes,
// truncates, repairs or recovers anything: segment files are mapped read-only, a bad index is
// worked around, a torn tail is simply not read. (The one file it writes to is the shared watermark
// page, whose waiters count it raises while it waits; engine/watermark.h.)
//
// How far it reads (its high watermark):
// - With a published watermark (engine/watermark.h: a writer has opened the partition since it
//   was created or last closed by an older sluice): up to that, the writer's own high watermark
//   (after the write with flush=none, after the fsync with flush=sync). A writer that died leaves
//   its last value, which is still a prefix of what it acknowledged.
// - Without one: up to the recovery point (`recovery-point`, which no open ever cuts below; after
//   a clean close it is the log's end) and the whole of every sealed segment.
// New data is found by catching up: the watermark is read first, then the file's length, then the
// frames between the published end and the watermark (Segment::Follow explains why no byte read
// can be trimmed away); a roll is followed by opening the segment whose base is the next offset.
// Retention deleting old segments is noticed at the next catch-up (the first segment's file is
// gone): the log start moves, reads below it are kOutOfRange, and a reader holding a ReadResult
// keeps its mappings.
//
// Thread-safety: every method may be called from any thread; catch-ups are serialised by mu_, and
// reads use a snapshot of the segment list as PartitionLog's do.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/partition_log.h"
#include "engine/watermark.h"
#include "segment/dictionary.h"
#include "segment/segment.h"

namespace sluice::engine {

class PartitionReader {
 public:
  // Opens the partition in `dir` for reading. `fs` must outlive the reader. kNotFound when the
  // directory or its segments are missing.
  static Result<std::unique_ptr<PartitionReader>> Open(io::FileSystem& fs, std::string dir,
                                                       const TopicConfig& config);

  // As PartitionLog's, after catching up with the writer.
  Result<ReadResult> Read(Offset from, size_t max_bytes);
  Result<std::optional<TimestampOffset>> OffsetForTimestamp(int64_t timestamp);
  Result<PartitionStats> Stats();
  // Waits until the readable high watermark is above `offset` or `timeout_ms` passes: on the
  // writer's futex when it publishes a watermark, else (no writer) in timed steps of at most 1 s
  // that look for one. Returns the readable high watermark.
  Result<Offset> WaitForData(Offset offset, int64_t timeout_ms);

  // The generation of the writer's watermark followed (0: none).
  uint64_t WriterGenerationForTesting();

 private:
  using SegmentList = std::vector<std::shared_ptr<segment::Segment>>;
  PartitionReader(io::FileSystem& fs, std::string dir, const TopicConfig& config);
  // Brings the segment list and its published tail up to how far it may read. mu_ held.
  Status CatchUpLocked();
  // The high watermark the writer allows (or, without one, the recovery point's). mu_ held.
  Result<Offset> LimitLocked(const SegmentList& list);
  // Catches up and returns the list, the log start and the readable high watermark.
  struct View {
    std::shared_ptr<const SegmentList> segments;
    Offset log_start;
    Offset hw;
  };
  Result<View> Current();

  io::FileSystem& fs_;
  const std::string dir_;
  const segment::SegmentOptions options_;
  // The partition's zstd dictionaries, each loaded from its file when a batch first names it (a
  // dictionary the writer trains later is found the same way).
  const std::shared_ptr<const segment::DictionaryStore> dictionaries_;

  std::mutex mu_;               // guards the fields below; held across a catch-up
  std::condition_variable cv_;  // timed waits without a writer (nothing notifies it)
  std::shared_ptr<const SegmentList> segments_;  // never empty
  Offset hw_;                                    // readable high watermark
  // The first segment's base, or above it the log start DeleteRecords stored (kLogStartFile),
  // read at each catch-up: a reader never shows records the writer's process deleted.
  Offset log_start_;
  Offset limit_;                                   // the limit of the last catch-up (LimitLocked)
  std::unique_ptr<PublishedWatermark> watermark_;  // null until a writer publishes one
  std::string
      stuck_;  // why the last catch-up stopped short of the writer's watermark (logged once)
};

}  // namespace sluice::engine
