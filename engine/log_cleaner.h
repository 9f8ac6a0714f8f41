#pragma once

// The log cleaner (Kafka's log compaction) of a partition whose topic has cleanup.policy=compact:
// it rewrites the partition's sealed segments keeping, per key, only the latest record.
// PartitionLog::Clean runs one pass; this header holds what the pass is told and reports, and the
// crash recovery of its last step. How a pass works (segment/FORMAT.md, "Log compaction"):
//
// 1. The cleanable segments are the sealed ones (never the active one) whose records are all
//    older than min.compaction.lag.ms. Those without the header flag `compacted` are *dirty*
//    (never cleaned). A pass is due when dirty bytes are min.cleanable.dirty.ratio of the
//    cleanable bytes, or a dirty record waited max.compaction.lag.ms (CleanTrigger::kNow: always).
// 2. An offset map (hash of the key -> latest offset) is built over the dirty segments, in
//    memory bounded by CleanerOptions::dedupe_buffer_bytes. When it fills, the pass cleans only up
//    to the segments it covered (Kafka's rule; the rest waits for the next pass).
// 3. The segments from the log start to the end of the map's range are rewritten, grouped into
//    files of at most segment.bytes, each named after its group's first base offset and flagged
//    `compacted`. A record is kept unless the map holds a later offset for its key; a record
//    without a key is dropped (Kafka's cleaner drops them; a compacted topic refuses them); a
//    tombstone (null value) is kept until delete.retention.ms after the pass that first kept it
//    (its batch carries that deadline, as Kafka's KIP-534 does: attribute bit 6, base timestamp =
//    the deadline, record timestamps unchanged). Offsets are preserved (gaps are normal). A batch
//    keeps its producer id, epoch and base sequence; one that loses all its records is dropped,
//    unless it is one of its idempotent producer's remembered batches or the last batch of its
//    group: those stay as empty batches (no records, same offsets), so that producer state and
//    the offsets at which segments join survive every later open. Batches are decoded with the
//    partition's zstd dictionaries (compression.zstd.dictionary=auto), as every reader decodes
//    them, and a rewritten batch is compressed again with its codec and, if its frame named a
//    dictionary, with that same dictionary: it names the same dictionary at the same offsets, so
//    the dictionaries' removal rule (partition_dictionary.h) holds for cleaned segments. A
//    dictionary that is missing or damaged stops the pass with an error naming its file (before
//    the manifest: nothing is rewritten or removed; the pass is counted as failed and tried again
//    next time, so a restored file is picked up).
// 4. The swap, crash-safe: the new files are written as `<base>.cleaned` scratch files and
//    fsynced; a `cleaner-swap` manifest naming the old and the new segments is written atomically;
//    then the indexes of the new names are removed, the scratch files renamed into place, the old
//    segments removed, and the manifest removed. At open, FinishCleanerSwap rolls a manifest
//    forward (so a crash leaves the old segments or the new ones, never a mix), and removes
//    scratch files without a manifest: they are copies of data the old segments still hold,
//    never the only copy of anything.
//
// Readers are never blocked: the pass reads the segments' mappings with no lock; the swap
// replaces the partition's segment list under its short list lock, and a reader holding the old
// list keeps the old segments' mappings (the files are unlinked, the mappings stay valid).

#include <atomic>
#include <cstdint>
#include <string>

#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

// The manifest of a swap in progress, and the suffix of scratch files, in a partition directory.
inline constexpr char kCleanerSwapFile[] = "cleaner-swap";
inline constexpr char kCleanedSuffix[] = ".cleaned";

struct CleanerOptions {
  // Memory for the offset map of one pass (Kafka's log.cleaner.dedupe.buffer.size): 24 bytes an
  // entry, filled to 90%. The map is sized to the dirty records, up to this.
  uint64_t dedupe_buffer_bytes = 128ull << 20;
  // The pace of a pass (Kafka's log.cleaner.io.max.bytes.per.second): segment bytes read (by both
  // phases) plus bytes written, per second; 0: as fast as it goes. Engine::RunCleaner, the
  // background cleaner, paces its passes; Engine::CompactTopic, which a caller waits for (`sluice
  // topic compact`, the cleaning of __consumer_offsets at open), does not. Unlike Kafka's (no
  // limit) the default is a pace: measured beside flush=sync producers on a 2-vCPU VM, an unpaced
  // pass raised their p99 6-12x, one paced at 100 MB/s 1.02-1.25x, at 50 MB/s 0.96-1.13x
  // (bench/RESULTS.md). At 50 MB/s a pass cleans about 22 MB/s of a topic that keeps a quarter of
  // its records.
  uint64_t io_max_bytes_per_second = 50'000'000;
  // When set and true, a pass in progress stops (its scratch files are removed). Borrowed.
  const std::atomic<bool>* stop = nullptr;
};

// kIfDue: clean only when the dirty ratio or max.compaction.lag.ms says so (the background
// cleaner); kNow: clean whatever is cleanable (`sluice topic compact`, tests).
enum class CleanTrigger : bool { kIfDue, kNow };

// What one pass did, over the range it rewrote.
struct CleanStats {
  bool cleaned = false;  // false: nothing was rewritten; `why` says why
  std::string why;
  size_t segments_before = 0;  // segments in the cleaned range, before and after
  size_t segments_after = 0;
  int64_t records_before = 0;
  int64_t records_after = 0;
  uint64_t bytes_before = 0;  // segment file bytes
  uint64_t bytes_after = 0;
  int64_t tombstones_dropped = 0;  // tombstones past delete.retention.ms
  int64_t keyless_dropped = 0;     // records without a key (appended before the topic compacted)
  base::Offset cleaned_up_to;      // records below this offset were deduplicated
  bool map_full = false;           // the offset map filled: the pass stopped early
  // Wall time of the pass's steps: building the offset map over the dirty segments, rewriting
  // (filter, write, sync), and the swap (manifest, renames, opening the new segments).
  double map_seconds = 0;
  double rewrite_seconds = 0;
  double swap_seconds = 0;
};

// The cleaner's totals since the process started (all partitions), for /metrics.
struct CleanerTotals {
  uint64_t passes = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t records_removed = 0;
  // Passes that stopped with an error and changed nothing (not those a close stopped).
  uint64_t failed_passes = 0;
};
CleanerTotals CleanerTotalsNow();
void AddCleanerTotals(const CleanStats& stats);

// At open of the partition in `dir`, before its segments are listed: finishes a swap that a
// crash interrupted (a `cleaner-swap` manifest is present), or removes the scratch files of a
// pass that never reached its manifest. A damaged manifest is kOffline, and nothing is changed.
base::Status FinishCleanerSwap(io::FileSystem& fs, const std::string& dir);

// Whether `dir` holds a swap to finish or scratch files (so its files are not what a clean close
// leaves: closed_partition.h).
base::Result<bool> CleanerLeftovers(io::FileSystem& fs, const std::string& dir);

}  // namespace sluice::engine
