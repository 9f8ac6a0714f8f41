#pragma once

// Replay: rebuild state from a topic's history (event sourcing). A replay delivers the records of
// some partitions of a topic, from a start to an end, to a user fold.
//
// - Order: per partition, records arrive in offset order (partitions one after the other), or, with
//   ReplayOrder::kByTimestamp, merged across partitions by timestamp (ties broken by partition,
//   then offset), which is deterministic for a given cut.
// - A consistent cut: the end offset of every partition is fixed when the replay starts, before any
//   record is read, so a rebuild "up to now" is reproducible while producers keep appending.
// - Follow: after the cut, the replay keeps delivering new records as they arrive (per partition,
// in
//   offset order, starting exactly at the cut: no gap, no duplicate) until `stop` is requested.

#include <cstdint>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "segment/record_batch.h"

namespace sluice::engine {

struct ReplayFrom {
  enum class Kind : uint8_t { kEarliest, kOffset, kTimestamp };
  Kind kind = Kind::kEarliest;
  int64_t value = 0;

  static ReplayFrom Earliest() { return {}; }
  // The same offset in every replayed partition.
  static ReplayFrom Offset(int64_t offset) { return {Kind::kOffset, offset}; }
  // The first record whose timestamp is >= `timestamp_ms`, per partition.
  static ReplayFrom Timestamp(int64_t timestamp_ms) { return {Kind::kTimestamp, timestamp_ms}; }
};

struct ReplayTo {
  enum class Kind : uint8_t { kHighWatermark, kOffset, kTimestamp, kFollow };
  Kind kind = Kind::kHighWatermark;
  int64_t value = 0;

  // Everything up to the high watermarks taken when the replay starts ("now").
  static ReplayTo Now() { return {}; }
  // Records with offsets below `offset` (exclusive), capped at the high watermark at the start.
  static ReplayTo Offset(int64_t offset) { return {Kind::kOffset, offset}; }
  // Per partition, stops before the first record whose timestamp is >= `timestamp_ms`.
  static ReplayTo Timestamp(int64_t timestamp_ms) { return {Kind::kTimestamp, timestamp_ms}; }
  // Up to now, then every new record until stopped.
  static ReplayTo Follow() { return {Kind::kFollow, 0}; }
};

enum class ReplayOrder : uint8_t { kPerPartition, kByTimestamp };

// The order of a kByTimestamp replay: by record timestamp, then partition, then offset (so that
// equal timestamps replay deterministically). Remote replays (cli) merge by the same rule.
inline bool MergedBefore(int64_t ts_a, int32_t partition_a, int64_t offset_a, int64_t ts_b,
                         int32_t partition_b, int64_t offset_b) {
  if (ts_a != ts_b) return ts_a < ts_b;
  if (partition_a != partition_b) return partition_a < partition_b;
  return offset_a < offset_b;
}

struct ReplayOptions {
  std::string topic;
  std::vector<int32_t> partitions;  // empty: all
  ReplayFrom from;
  ReplayTo to;
  ReplayOrder order = ReplayOrder::kPerPartition;
  // Where to start each partition, overriding `from` for the partitions it names (snapshots).
  std::map<int32_t, Offset> start_offsets;
  // For ReplayTo::Follow(): requests the end. Also checked between batches in other modes.
  std::stop_token stop;
  // Bytes fetched per read.
  size_t read_bytes = 4 << 20;
};

// Called once per record. `partition` is the record's partition. Returning an error ends the
// replay with that error. The views in `record` are valid only during the call.
using ReplayFold = std::function<Status(int32_t partition, const segment::RecordView& record)>;

struct ReplayStats {
  int64_t records = 0;
  int64_t batches = 0;
  uint64_t stored_bytes = 0;  // bytes of batches as stored (compressed)
  // Per partition: the offset the replay started at, and the offset after the last record
  // delivered (the cut, unless following or stopped).
  std::map<int32_t, Offset> start_offsets;
  std::map<int32_t, Offset> end_offsets;
};

// Runs a replay. Errors: kNotFound (topic, partition), kOutOfRange (a start below the log start:
// that history was deleted by retention), the fold's error, or a read error.
Result<ReplayStats> Replay(const Engine& engine, const ReplayOptions& options,
                           const ReplayFold& fold);

}  // namespace sluice::engine
