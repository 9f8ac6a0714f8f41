#pragma once

// PartitionLog: one partition's log: sealed segments plus one active segment, in one directory.
//
// Writes: appenders queue their frames (offsets are assigned and idempotent producers checked as
// they are queued, under mu_, with no I/O). One thread at a time holds the *writer role*: it takes
// everything queued as one group and writes it with one gathered write (and, with flush=sync, one
// fdatasync covering all of it: group commit, whichever threads or connections the appends came
// from), then passes the role on. The role goes to whoever makes the log busy: a blocked appender
// (AppendBatches) writes on its own thread; an asynchronous one (AppendBatchesAsync) has a writer
// thread (PartitionLogHooks::run_writer) do it. After a group the role passes to the next queued
// blocked appender if it is first in the queue, else to a writer thread if anything is queued,
// else the log goes idle. So at most one group is being written at a time, no lock is held across
// I/O, offsets are assigned in queue order, and the high watermark (HW) advances over whole
// groups: it is always the end of a contiguous, written prefix (and, with flush=sync, a durable
// one).
//
// Locks, in the order they may be taken: cleaner_mu_ (cleaning passes and segment deletions),
// then mu_ (queue, offsets, producer state, writer role, HW stores), then segments_mu_ (the
// segment list) or rp_mu_ (recovery point and producer snapshot files). The writer holds none of
// them while it writes; callbacks and on_data run with none.
//
// Reads never take the append lock for long: they snapshot the segment list (shared_ptr) and the
// HW, and read frames below the HW from the segments' mappings. A ReadResult pins the segments it
// points into, so retention can delete files while readers still hold them.
//
// Errors. A failed write either is undone, and the log stays writable, or poisons the log:
//
// - Undone (retryable): the disk (or quota, or file-size limit) is full: kNoSpace from writing
//   frames to the active segment or from reserving space for them, and kNoSpace from creating the
//   next segment of a roll once the old one is sealed. Nothing of the failed write was published
//   or acknowledged: the HW did not move over it, the active segment's file is cut back to its
//   published end (Segment::Append; never below it), a half-made next segment is removed
//   (Segment::Create), and offsets and producer state go back to the HW. The appends of the failed
//   group and every append queued behind it fail with kNoSpace; the next append tries again, so
//   writes resume by themselves when space returns, with no gap and no reused acknowledged offset.
//   Close after such a failure is clean.
// - Poisoning: a failed fdatasync of a segment (flush=sync, the background flush, sealing at a
//   roll, Close), whatever its errno; any other failed write, reservation or truncate (EIO: a
//   failing device). Every later append fails with kPoisoned naming the first error, Flush
//   fails, Close fails (it abandons the active segment without trimming or syncing it); reads go
//   on. Why not undo these too: after a failed fsync the kernel may have dropped the dirty pages
//   and marked them clean, so the page cache no longer says what is on the disk and a later
//   fsync would succeed without writing them (STYLE.md: never retry fsync). An in-place reopen,
//   which would run recovery over those same cached pages and then move the recovery point over
//   them, would promise durability for bytes that may never reach the disk; so does a restart,
//   which is why it is left to an operator who has looked at the device (Kafka likewise takes a
//   log directory offline on any I/O error until the broker restarts). Other I/O errors mean a
//   failing device, where retrying by itself would keep writing to it. The log is reopened (and
//   recovered) by restarting.
// - A failed recovery-point write (a small file, written atomically) fails Flush and Close but
//   neither poisons nor fails appends: a recovery point older than the data is always safe
//   (recovery scans from it).
//
// Batches of one AppendBatches call are one unit: checked together, queued together, written in
// one group into one segment, and the HW moves over all of them or none.
//
// Idempotent producers: batches with a producer id and a base sequence are checked against the
// partition's producer state (ProducerStateTable: duplicates, fencing, sequence gaps) under the
// append lock, atomically with offset assignment, and the state is updated when the batch is
// queued, so a batch queued behind an in-flight one of the same producer is checked against it.
// The state is kept across restarts as Kafka keeps it: a producer snapshot
// (`<offset>.snapshot`, FORMAT.md) is written at each roll (as of the new segment's base) and at a
// clean close (as of the log's end), and opening loads the newest usable one at or below the log's
// end, then replays the batch headers after it, so a retry of a batch rolled into a sealed segment
// before a restart is still a duplicate. Snapshots go with their segments (retention). A damaged
// snapshot is never deleted: open falls back to an older one, or replays the batch headers of the
// last kMaxProducerReplaySegments (8) segments, and says so; one past the log's end (the log lost
// a tail, or repair cut it) is moved aside.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/log_cleaner.h"
#include "engine/partition_dictionary.h"
#include "engine/producer_state.h"
#include "segment/base/clock.h"
#include "segment/segment.h"

namespace sluice::engine {

using base::Bytes;
using base::Offset;
using segment::BatchHeader;

struct AppendResult {
  Offset base_offset;
  Offset last_offset;
  // The batch repeated one an idempotent producer already appended: nothing was stored, and the
  // offsets are those of the original batch.
  bool duplicate = false;
};

// One batch to append: its bytes (Kafka RecordBatch v2) and the header parsed from them.
struct BatchToAppend {
  Bytes bytes;
  BatchHeader header;
};

// A stored batch: its bytes (Kafka RecordBatch v2, as stored) and parsed header.
struct StoredBatch {
  Bytes bytes;
  BatchHeader header;
};

struct ReadResult {
  std::vector<StoredBatch> batches;  // in offset order; the first may start before `from`
  Offset high_watermark;
  Offset log_start_offset;
  // Keeps the segments the batches point into alive; the views are valid while this is held.
  std::shared_ptr<const void> pin;
  // Where zstd batches that name a dictionary find it (compression.zstd.dictionary): give it to
  // the RecordDecoder (set_dictionaries) or DecompressBatch that reads these batches.
  std::shared_ptr<const base::ZstdDictionaries> dictionaries;
};

struct TimestampOffset {
  Offset offset;
  int64_t timestamp = -1;
};

struct PartitionStats {
  // Set when the partition could not be opened (Engine::DescribeTopic): why; the rest is zero.
  std::optional<base::Error> offline;
  Offset log_start_offset;
  Offset high_watermark;
  size_t segment_count = 0;
  uint64_t size_bytes = 0;  // bytes of all segments (headers and frames)
};

// How an asynchronous append ends: once, with the result AppendBatches would have returned.
using AppendCallback = std::function<void(Result<AppendResult>)>;

// What the log's owner lends it; each may be empty.
struct PartitionLogHooks {
  // Called each time the high watermark advances over a written group of batches: by the writing
  // thread, after the HW is stored and the group's asynchronous appends are told, with no lock of
  // the log held (an appender whose batch another thread wrote may see Append return before the
  // call). It must be cheap and must not throw; it may call the log.
  std::function<void()> on_data;
  // Called just before on_data, in the same way, with the high watermark as it is then: publishes
  // it to reader processes (engine/watermark.h).
  std::function<void(Offset hw)> publish_hw;
  // Runs a task on a writer thread (the engine's): how asynchronous appends get written. Empty:
  // the thread that makes the log busy writes, inside AppendBatchesAsync.
  std::function<void(std::function<void()>)> run_writer;
};

// kCreate: the directory may be created (a new partition); kExisting: it must exist.
enum class PartitionOpen : bool { kExisting, kCreate };

// The recovery point (`<partition dir>/recovery-point`, FORMAT.md): how far the log is known to be
// durable and valid. Opening never cuts below it.
inline constexpr char kRecoveryPointFile[] = "recovery-point";
struct RecoveryPoint {
  Offset segment_base;        // the segment the point is in
  segment::SegmentTail tail;  // the position in it, the offset there, the segment's max timestamp
};
std::string EncodeRecoveryPoint(const RecoveryPoint& rp);
// The one parser of the file (PartitionLog::Open, sluice verify): kCorruption naming `path` for a
// damaged file, kUnsupportedVersion for a newer one.
Result<RecoveryPoint> DecodeRecoveryPoint(Bytes file, const std::string& path);
// Reads `dir`'s recovery point; nullopt when it has none. Decoding errors as above.
Result<std::optional<RecoveryPoint>> ReadRecoveryPointFile(io::FileSystem& fs,
                                                           const std::string& dir);
// Replaces `dir`'s recovery point atomically and durably.
Status WriteRecoveryPointFile(io::FileSystem& fs, const std::string& dir, const RecoveryPoint& rp);

// Reads the batches of `segments` (oldest first, never empty) from `from` up to `hw`, at least one
// batch and then up to `max_bytes`: the read both a partition's writer (PartitionLog::Read) and a
// reader in another process (PartitionReader::Read) do over their own segment lists. kOutOfRange
// outside [log_start, hw]; `dir` names the partition in errors. The result pins `segments` and
// carries `dictionaries`.
Result<ReadResult> ReadSegments(
    std::shared_ptr<const std::vector<std::shared_ptr<segment::Segment>>> segments,
    Offset log_start, Offset hw, Offset from, size_t max_bytes, const std::string& dir,
    std::shared_ptr<const base::ZstdDictionaries> dictionaries);

// The log start offset set by DeleteRecords (`<partition dir>/log-start`, FORMAT.md): records
// below it are deleted even where their segment still holds later ones.
inline constexpr char kLogStartFile[] = "log-start";
// Reads `dir`'s log start; nullopt when it has none. kCorruption naming the file for a damaged
// one, kUnsupportedVersion for a newer one.
Result<std::optional<Offset>> ReadLogStartFile(io::FileSystem& fs, const std::string& dir);
// Replaces `dir`'s log start atomically and durably.
Status WriteLogStartFile(io::FileSystem& fs, const std::string& dir, Offset log_start);

class PartitionLog {
 public:
  // Opens (or creates) the log in `dir`. Recovery of the last segment is reported in `reports`.
  // `fs` and `clock` must outlive the log; `hooks` as described with PartitionLogHooks.
  //
  // Data the log acknowledged is never cut: a missing directory (kExisting), missing segment
  // files, segments that do not join up, or damage below the recovery point fail with kOffline
  // (naming the file, the byte position and the offsets at risk) and change nothing on disk.
  // Only an invalid tail above the recovery point (a torn write) is truncated, and reported.
  static Result<std::unique_ptr<PartitionLog>> Open(
      io::FileSystem& fs, std::string dir, const TopicConfig& config, const base::Clock& clock,
      std::vector<segment::RecoveryReport>* reports, PartitionLogHooks hooks = {},
      PartitionOpen mode = PartitionOpen::kExisting, const DictionaryOptions& dictionary = {});
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Appends validated batches (the caller has compressed them as the topic requires) at
  // consecutive offsets, all or none: they are checked together, then written in one group into
  // one segment, and the HW moves over all of them or none. Returns once they are readable
  // (flush=none) or durable (flush=sync), with the first batch's base offset and the last one's
  // last offset. The bytes are borrowed until the call returns. `batches` must not be empty.
  // Thread-safe.
  // Idempotent batches (producer id and base sequence >= 0) are checked in order, each against the
  // state the earlier ones of the call leave. If one repeats a remembered batch, nothing of the
  // call is appended (Kafka's rule): the result has `duplicate` set and that original's offsets,
  // once the original is readable/durable as above (or its write's error). A stale epoch is
  // kProducerFenced, a sequence gap kOutOfOrderSequence; either stores nothing of the call.
  // Producers idle for producer.id.expiration.ms (by the log's clock) are forgotten first.
  Result<AppendResult> AppendBatches(std::span<const BatchToAppend> batches);
  // The one-batch case of AppendBatches.
  Result<AppendResult> Append(Bytes batch, const BatchHeader& header);
  // AppendBatches without waiting for the write: the batches are checked and given their offsets
  // (and so ordered before any later append) before this returns, and `done` gets what
  // AppendBatches would have returned once they are readable or durable, on the writer's thread.
  // The bytes are borrowed until `done` is called. `done` is called before this returns when the
  // append is refused, repeats a batch already below the HW, or the log has no writer threads
  // (PartitionLogHooks::run_writer); this blocks only for an idempotent retry whose original is
  // still being written, until it is.
  void AppendBatchesAsync(std::span<const BatchToAppend> batches, AppendCallback done);

  // Batches from the one containing `from` on, up to about `max_bytes` (at least one whole batch
  // when any exists), all below the HW. kOutOfRange if `from` is before the log start or past the
  // HW. Thread-safe.
  Result<ReadResult> Read(Offset from, size_t max_bytes) const;

  // The first record whose timestamp is >= `timestamp`; nullopt if there is none below the HW.
  Result<std::optional<TimestampOffset>> OffsetForTimestamp(int64_t timestamp) const;

  Offset high_watermark() const;
  Offset log_start_offset() const;
  PartitionStats Stats() const;

  // Waits until the HW is above `offset`, the log closes, or `timeout_ms` passes. Returns the HW.
  Offset WaitForData(Offset offset, int64_t timeout_ms) const;
  // How many WaitForData calls are blocked now (so a test can append only once one is waiting).
  int WaitingReadersForTesting() const;
  // How many appends are queued for the writer's next group.
  size_t QueuedAppendsForTesting() const;

  // Makes everything written so far durable and moves the recovery point (background flush).
  Status Flush();
  // True when flush.ms passed or flush.bytes accumulated since the last flush.
  bool FlushDue(int64_t now_ms) const;
  // Deletes the oldest sealed segments beyond retention.bytes / retention.ms.
  Status EnforceRetention(int64_t now_ms);
  // Deletes the sealed segments that hold only records below `offset` (whole segments: the log
  // start moves to the first remaining segment's base, which may be below `offset`).
  Status DeleteSegmentsBefore(Offset offset);
  // Kafka's DeleteRecords: the log start moves to `offset` (kLatest: the HW), durably (the
  // log-start file is written before anything else changes), then the sealed segments wholly
  // below it are deleted. Reads below it are kOutOfRange from then on, also after a restart.
  // `offset` past the HW (or negative, but for kLatest) is kOutOfRange; one at or below the log
  // start changes nothing. Returns the log start. A crash part way leaves the new log start and
  // segments below it that the next open deletes; never a record above it lost.
  static constexpr Offset kLatest = Offset(-1);
  Result<Offset> DeleteRecordsBefore(Offset offset);
  // The record with the largest timestamp (the first of them), below the HW and at or above the
  // log start (ListOffsets -3, KIP-734); nullopt for an empty log.
  Result<std::optional<TimestampOffset>> OffsetForMaxTimestamp() const;
  // One pass of the log cleaner over the sealed segments (engine/log_cleaner.h), for a topic
  // whose cleanup.policy has compact (else it does nothing and says why). Runs without blocking
  // appends or reads: it reads the segments' mappings, writes new files, and takes the segment
  // list's lock only to swap them in. Passes, retention and deletions of segments are serialised
  // with one another. Crash-safe (log_cleaner.h). Thread-safe.
  // A pass that fails (a damaged segment, a zstd dictionary a batch names that is missing or
  // damaged, an I/O error) changes nothing before its swap: its scratch files are removed, the
  // segments stay as they were, appends and reads go on; it is counted (CleanerTotals) and the
  // next pass tries again.
  Result<CleanStats> Clean(const CleanerOptions& options, CleanTrigger trigger);
  // The idempotent producers the partition remembers (DescribeProducers), as of the HW.
  ProducerSnapshot Producers() const;
  void SetConfig(const TopicConfig& config);

  // Waits for in-flight appends, syncs, trims the active segment and writes its index so that the
  // next open needs no recovery. Later appends fail with kClosed. Fails if the log was poisoned
  // (not after an undone write: that leaves the log as clean as before it).
  Status Close();

  // Stops like a crash would: waits for in-flight appends, then closes files without syncing,
  // trimming or writing anything. Later appends fail with kClosed.
  void AbandonForTesting();
  // Whether a cleaning pass (or a segment deletion) holds the cleaner lock now.
  bool CleanerBusyForTesting();

  const std::string& dir() const { return dir_; }
  // The partition's zstd dictionaries (compression.zstd.dictionary): what the engine compresses
  // new batches with, and where readers find them. Lives as long as the log.
  PartitionDictionary& dictionary() const { return *dict_; }

 private:
  struct PendingFrame;
  struct Pending;
  // What WriteGroup did: the first `written` appends of the group are stored (durable with
  // flush=sync); if `status` is an error, the rest are not, and `retryable` says whether the
  // failure was undone (see Errors above) or poisons the log.
  struct GroupOutcome {
    size_t written = 0;
    Status status;
    bool retryable = false;
  };
  using SegmentList = std::vector<std::shared_ptr<segment::Segment>>;

  PartitionLog(io::FileSystem& fs, std::string dir, const TopicConfig& config,
               const base::Clock& clock);

  std::shared_ptr<const SegmentList> Snapshot() const;
  // The log start: the first segment's base, or the DeleteRecords start if that is later.
  Offset LogStartOf(const SegmentList& list) const;
  segment::SegmentOptions SegmentOptionsFor(const TopicConfig& config) const;
  // The writer: writes `group`, rolling segments as needed. Called without mu_.
  GroupOutcome WriteGroup(std::vector<Pending*>& group, const TopicConfig& config);

  // The steps of an append (AppendBatches, AppendBatchesAsync):
  // Fills w's frames from `batches` (no lock).
  static void PrepareFrames(std::span<const BatchToAppend> batches, Pending& w);
  // Checks idempotent batches against the producer state and records them, then assigns the
  // frames their offsets. Returns nullopt when `w` may be queued; a result when the call repeats
  // a batch (waiting, with `lock` released, until the original is below the HW); or why not.
  Result<std::optional<AppendResult>> AdmitLocked(std::unique_lock<std::mutex>& lock,
                                                  std::span<const BatchToAppend> batches,
                                                  Pending& w);
  // What a writer has to do once it has released mu_ (FinishRound).
  struct WriterRound {
    std::vector<Pending*> finished;  // asynchronous appends to tell, then delete
    bool advanced = false;           // the HW moved: call on_data
    bool start_writer = false;       // the writer role passed to a writer thread
  };
  // The writer role's one round: writes everything queued as one group, moves the HW, finishes
  // the group's appends (and fails those behind a failed write). Releases mu_ while writing.
  void WriteQueuedGroupLocked(std::unique_lock<std::mutex>& lock, WriterRound& round);
  // Passes the writer role on after a round (PartitionLog above).
  void PassWriterRoleLocked(WriterRound& round);
  // Records `p`'s outcome: wakes a blocked appender, or adds an asynchronous one to `round`.
  void FinishLocked(Pending* p, Status result, WriterRound& round);
  // Without mu_: calls the finished appends' callbacks, on_data, and hands the role on.
  void FinishRound(WriterRound& round);
  // Gives the writer role to a writer thread (or, without one, takes it on this thread).
  void StartWriter();
  // A writer thread's task: rounds while the role stays with writer threads.
  void RunWriter();
  // The second half of a roll, after the active segment was sealed: creates the next segment,
  // starting at `next_base`, and makes it active. If it fails, the sealed segment stays last and
  // the next write tries again.
  Status CreateNextSegment(Offset next_base, const TopicConfig& config);
  // Under mu_: after a retryable failure, fails `failed` (the unwritten rest of a group and the
  // appends queued behind it, in queue order) and puts offsets and producer state back to the HW.
  void UndoLocked(std::span<Pending* const> failed, const Error& error, WriterRound& round);
  Status WriteRecoveryPoint(Offset segment_base, const segment::SegmentTail& tail);
  // Drops the oldest sealed segments while `doomed(segment, total bytes)` says so. cleaner_mu_
  // held.
  template <typename Pred>
  Status DropOldestSegments(Pred doomed);
  // Clean's pass itself (log_cleaner.cc). cleaner_mu_ not held.
  Result<CleanStats> CleanPass(const CleanerOptions& options, CleanTrigger trigger);
  Error PoisonError() const;
  // At open, with segments_ set: loads producers_ from the newest usable snapshot of `snapshots`
  // (their offsets, ascending) and replays the batch headers after it (PartitionLog above). Fails
  // only if a snapshot past the log's end cannot be moved aside.
  Status LoadProducerState(const std::vector<Offset>& snapshots);
  // Where the batch starting at `at` is (segment index, frame position); the log's end is found
  // too. kCorruption if no batch starts there.
  Result<std::pair<size_t, base::FilePos>> LocateBatch(Offset at) const;
  // Records the idempotent batches from `pos` in segments_[segment] to the end of the log.
  void ReplayProducerBatches(size_t segment, base::FilePos pos, int64_t now_ms);
  // Writes the producer snapshot as of `at` (the batches below it). Called without mu_.
  Status WriteProducerSnapshot(Offset at);

  io::FileSystem& fs_;
  const std::string dir_;
  const base::Clock& clock_;
  PartitionLogHooks hooks_;  // set at open, then read-only

  // Taken first of the log's locks: serialises cleaning passes (Clean) with the deletion of
  // segments (retention, DeleteRecords), so that a pass's segments stay in the list until its
  // swap. Retention skips a round rather than wait for a pass; DeleteRecords makes a running pass
  // stop (a paced pass may run for minutes) and the next round cleans again.
  std::mutex cleaner_mu_;
  bool cleaner_broken_ = false;            // a swap failed part way: no more passes until reopened
  std::atomic<bool> cleaner_stop_{false};  // Close asks a running pass to stop
  std::atomic<int> cleaner_yield_{0};      // deletions waiting for cleaner_mu_: a pass stops

  mutable std::mutex mu_;               // guards the fields below up to segments_mu_
  mutable std::condition_variable cv_;  // HW advances and the writer going idle (readers, Close)
  TopicConfig config_;
  Offset next_offset_;          // next offset to assign
  std::atomic<int64_t> hw_{0};  // high watermark; written under mu_, read anywhere
  // The log start DeleteRecords set (0: none); written under rp_mu_ after the log-start file,
  // read anywhere. Never above hw_.
  std::atomic<int64_t> deleted_below_{0};
  std::deque<Pending*> queue_;  // appends waiting for a writer (asynchronous ones owned here)
  bool writer_active_ = false;  // some thread has the writer role (or a task for it is posted)
  int finishing_ = 0;           // writers past a round, still telling its appends (FinishRound)
  bool closed_ = false;
  mutable int waiting_readers_ = 0;  // WaitForData calls blocked in cv_
  std::optional<base::Error> poisoned_;
  // Counts undone writes (UndoLocked), so that an append waiting for the original of a duplicate
  // notices that the original was undone and checks again.
  uint64_t undo_count_ = 0;
  ProducerStateTable producers_;  // idempotent producers, as of the queued batches
  uint64_t unflushed_bytes_ = 0;
  int64_t last_flush_ms_ = 0;
  int64_t active_created_ms_ = 0;  // when the active segment was created or opened

  mutable std::mutex segments_mu_;
  std::shared_ptr<const SegmentList> segments_;  // never empty; last is active

  std::mutex rp_mu_;  // serialises recovery-point and producer-snapshot writes; guards below
  std::optional<std::pair<Offset, uint64_t>> rp_written_;  // (segment base, position) last written
  std::optional<Offset> snapshot_at_;    // the newest producer snapshot loaded or written
  std::set<Offset> unusable_snapshots_;  // damaged snapshots found at open: never written over

  std::unique_ptr<PartitionDictionary> dict_;  // set at open; thread-safe itself
};

}  // namespace sluice::engine
