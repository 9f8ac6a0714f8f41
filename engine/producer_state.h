#pragma once

// Idempotent producers, with Kafka's semantics (KAFKA_PROTOCOL.md, gotcha 10):
//
// - ProducerStateTable: one partition's state per producer id (epoch and the last
//   kRememberedBatches batches), against which each idempotent batch is checked before it gets
//   offsets. It lives in PartitionLog, under the partition's append lock.
// - Producer-state snapshots (`<partition dir>/<offset, 20 digits>.snapshot`, Kafka's files of
//   the same name; FORMAT.md): a table's state as of an offset, written by PartitionLog at each
//   segment roll and at a clean close, and loaded at open before the batch headers after it are
//   replayed, so that a producer whose last batches were rolled into a sealed segment is still
//   known after a restart.
// - ProducerIdAllocator: hands out producer ids that are unique across restarts of a data
//   directory, by reserving blocks of ids in `<data>/producer-ids` (FORMAT.md).

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/io/file_system.h"
#include "segment/record_batch.h"

namespace sluice::engine {

using base::Offset;
using base::Result;
using base::Status;
using segment::BatchHeader;

// One appended batch of an idempotent producer.
struct ProducerBatch {
  int32_t first_seq = 0;
  int32_t last_seq = 0;
  Offset base_offset;
  Offset last_offset;
};

// One producer's state in a snapshot: its epoch, when it was last seen (the owner's clock, ms) and
// its last batches, oldest first (1 to kRememberedBatches of them).
struct ProducerSnapshotEntry {
  int64_t producer_id = -1;
  int16_t epoch = 0;
  int64_t last_seen_ms = 0;
  std::vector<ProducerBatch> batches;
};

// A partition's producer state as of `offset`: it covers exactly the batches below it.
struct ProducerSnapshot {
  Offset offset;
  std::vector<ProducerSnapshotEntry> producers;  // least recently recorded first
};

// The idempotent-producer state of one partition. A batch is idempotent when its producer id and
// base sequence are both >= 0. Rules, per producer id (Kafka's):
// - same epoch, (first, last) sequence equal to one of the last kRememberedBatches batches: a
//   duplicate (Check returns that batch; it is not appended again);
// - epoch older than the known one: kProducerFenced;
// - epoch newer than the known one: the sequence must be 0 (else kOutOfOrderSequence), and the
//   state restarts at this batch;
// - same epoch otherwise: the first sequence must be the last one + 1, wrapping from INT32_MAX to
//   0, else kOutOfOrderSequence. A retry of a batch older than the remembered ones is therefore
//   kOutOfOrderSequence, as in Kafka (which no longer returns DUPLICATE_SEQUENCE_NUMBER);
// - unknown producer id: any sequence is accepted and the state starts there.
//
// Forgetting (memory stays bounded): a producer whose last batch was recorded
// producer.id.expiration.ms or longer ago is forgotten by ExpireIdle (Kafka's rule; the owner
// calls it before each check, with its injected clock), and when more than `max_producers` are
// known, the least recently recorded ones are forgotten first. A forgotten producer's next batch
// is accepted as from an unknown producer, as in Kafka after expiration. Times are the owner's
// clock at Record (not the batch's timestamps, which the producer sets).
// Not thread-safe: the owner serialises calls.
class ProducerStateTable {
 public:
  static constexpr size_t kRememberedBatches = 5;
  // Producers remembered per partition: with 5 batches each, about 1 MiB.
  static constexpr size_t kDefaultMaxProducers = 4096;

 private:
  struct Entry {
    int16_t epoch = 0;
    int64_t last_seen_ms = 0;  // owner's clock when a batch of this producer was last recorded
    // The last `count` batches, oldest first, in a ring starting at `head`.
    std::array<ProducerBatch, kRememberedBatches> batches{};
    uint8_t head = 0;
    uint8_t count = 0;

    const ProducerBatch& At(size_t i) const { return batches[(head + i) % kRememberedBatches]; }
    const ProducerBatch& Last() const { return At(count - 1u); }
    void Push(const ProducerBatch& b);
  };

 public:
  explicit ProducerStateTable(size_t max_producers = kDefaultMaxProducers);

  static bool IsIdempotent(const BatchHeader& header) {
    return header.producer_id >= 0 && header.base_sequence >= 0;
  }
  // The sequence of the batch's last record: base sequence + last offset delta, wrapping past
  // INT32_MAX to 0 as Kafka does.
  static int32_t LastSequence(const BatchHeader& header);

  // Forgets every producer whose last batch was recorded `expiration_ms` or more before `now_ms`.
  // Cheap when none is due (it looks at the least recently recorded producer only).
  void ExpireIdle(int64_t now_ms, int64_t expiration_ms);

  // Checks an idempotent batch: the remembered batch it duplicates, nullopt if it is to be
  // appended, or kProducerFenced / kOutOfOrderSequence (nothing is changed).
  Result<std::optional<ProducerBatch>> Check(const BatchHeader& header) const;

  // Records an idempotent batch that got offsets [base_offset, last_offset] at `now_ms`: after
  // Check accepted it, or when rebuilding the state from the log (where a batch of an epoch older
  // than the known one, which the log cannot hold, is ignored). May forget the least recently
  // recorded producer (the cap).
  void Record(const BatchHeader& header, Offset base_offset, Offset last_offset, int64_t now_ms);

  // One producer's state (or its absence), saved before a Record so that the Record can be undone
  // (Restore) when its batch is not written after all.
  class Saved {
   private:
    friend class ProducerStateTable;
    int64_t producer_id_ = -1;
    std::optional<Entry> entry_;
  };
  Saved Save(int64_t producer_id) const;
  // Puts a saved state back (Records made after the Save are undone by restoring the Saves in
  // reverse order). The producer counts as recorded most recently for the cap and keeps its saved
  // last-seen time for expiration.
  void Restore(Saved saved);

  // The state as of `end`, for a snapshot: each producer's remembered batches below `end`, least
  // recently recorded producer first. The table may already hold batches at or above `end` (queued
  // behind a roll); they are left out, and so is a producer that has no remembered batch below
  // `end` (its batches below it were pushed out of the ring, or replaced by a newer epoch's): after
  // a replay from `end` it is known again, and if those later batches were lost in a crash it is
  // unknown, as after its expiration.
  ProducerSnapshot SnapshotBelow(Offset end) const;
  // Replaces the state with a snapshot's. Last-seen times later than `now_ms` (a clock that went
  // back) are taken as `now_ms`. The cap applies.
  void Load(const ProducerSnapshot& snapshot, int64_t now_ms);

  void Clear();
  size_t producer_count() const { return producers_.size(); }
  size_t max_producers() const { return max_producers_; }

 private:
  struct Node {
    Entry entry;
    std::list<int64_t>::iterator recency;  // this producer's place in recency_
  };

  // Inserts or replaces a producer's entry, making it the most recently recorded, then applies the
  // cap.
  void Put(int64_t producer_id, const Entry& entry);
  void Forget(std::unordered_map<int64_t, Node>::iterator it);

  size_t max_producers_;
  std::unordered_map<int64_t, Node> producers_;
  std::list<int64_t> recency_;  // producer ids, least recently recorded first
};

// The `<offset>.snapshot` file image of a snapshot, and its parser (FORMAT.md): kCorruption naming
// `path` for a damaged file (including one whose batches are not below its offset, or whose offset
// is not `expected_offset`, the one its name gives), kUnsupportedVersion for a newer one.
std::string EncodeProducerSnapshot(const ProducerSnapshot& snapshot);
Result<ProducerSnapshot> DecodeProducerSnapshot(base::Bytes image, const std::string& path,
                                                Offset expected_offset);
// "<20 digits>.snapshot" for `offset`, and its parser (nullopt for any other name).
std::string ProducerSnapshotName(Offset offset);
std::optional<Offset> ParseProducerSnapshotName(const std::string& name);

// Hands out producer ids, unique across restarts of the data directory: before handing out any
// id of a block of kBlockSize, it durably writes the block's end as the next free id to
// `<data>/producer-ids` (replaced atomically; FORMAT.md). Ids left in a block when the engine stops
// are never used. The file is read at the first allocation, so a damaged file fails allocations
// (kCorruption), not the opening of the engine. Thread-safe. `fs` must outlive the allocator.
class ProducerIdAllocator {
 public:
  static constexpr int64_t kBlockSize = 1000;
  static constexpr char kFileName[] = "producer-ids";

  ProducerIdAllocator(io::FileSystem& fs, std::string data_dir);

  // The next unused id. Fails if the file cannot be read or the next block cannot be reserved
  // (then no id is handed out; a later call tries again), and with kClosed after Close.
  Result<int64_t> Allocate();
  // Later allocations fail with kClosed (the engine is giving up its data directory).
  void Close();

 private:
  io::FileSystem& fs_;
  const std::string path_;
  std::mutex mu_;  // guards the fields below; held across the file write
  bool loaded_ = false;
  bool closed_ = false;
  int64_t next_ = 0;   // next id to hand out
  int64_t limit_ = 0;  // ids below this are reserved on disk
};

// The `producer-ids` file image holding `next_free`, and its parser (FORMAT.md).
std::string EncodeProducerIds(int64_t next_free);
Result<int64_t> DecodeProducerIds(base::Bytes image);

}  // namespace sluice::engine
