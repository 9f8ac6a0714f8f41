#pragma once

// Committed consumer-group offsets: per (group, topic, partition), an offset, a metadata string and
// the commit time. Stored durably as records of the engine's internal topic __consumer_offsets
// (one partition; record layout in segment/FORMAT.md, "__consumer_offsets records"), and held in
// memory. At open the engine rebuilds the in-memory view by replaying that log with its own replay
// API. The topic is compacted (cleanup.policy=compact: the log cleaner, engine/log_cleaner.h,
// keeps the latest record per (group, topic, partition)), so open time stays bounded however many
// commits were made: it replays about one record per key plus the active segment.
//
// In a read-only engine (a reader beside a writer) the view is the log as of Open, and every
// write is refused by the engine.
//
// Thread-safety: every method may be called from any thread. Concurrent commits of the same key
// resolve as the log orders them: the in-memory view always equals a replay of the log.
// Durability: a commit returns once appended to __consumer_offsets, which is flush=sync by default,
// so an acknowledged commit survives a crash.

#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace sluice::engine {

inline constexpr char kConsumerOffsetsTopic[] = "__consumer_offsets";

struct OffsetCommit {
  std::string topic;
  int32_t partition = 0;
  Offset offset;
  std::string metadata;
};

struct CommittedOffset {
  Offset offset;
  std::string metadata;
  int64_t commit_time_ms = 0;
};

struct GroupPartitionStatus {
  std::string topic;
  int32_t partition = 0;
  CommittedOffset committed;
  Offset log_start_offset;
  Offset log_end_offset;  // the high watermark
  int64_t lag_records = 0;
  // Age of the oldest unconsumed record (now - its timestamp); nullopt when nothing is unconsumed.
  std::optional<int64_t> lag_ms;
};

struct ResetTarget {
  enum class Kind : uint8_t { kEarliest, kLatest, kOffset, kTimestamp };
  Kind kind = Kind::kEarliest;
  int64_t value = 0;
  static ResetTarget Earliest() { return {}; }
  static ResetTarget Latest() { return {Kind::kLatest, 0}; }
  static ResetTarget ToOffset(int64_t offset) { return {Kind::kOffset, offset}; }
  static ResetTarget ToTimestamp(int64_t timestamp_ms) { return {Kind::kTimestamp, timestamp_ms}; }
};

struct ResetPlanEntry {
  std::string topic;
  int32_t partition = 0;
  std::optional<Offset> current;
  Offset target;
};

enum class DryRun : bool { kNo, kYes };

// One record of __consumer_offsets (layout: segment/FORMAT.md, "__consumer_offsets records").
struct OffsetRecord {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  std::optional<CommittedOffset> value;  // nullopt: a tombstone (the commit was deleted)
};
// The key and value bytes of a record (value nullopt for a tombstone).
std::string EncodeOffsetKey(const std::string& group, const std::string& topic, int32_t partition);
std::string EncodeOffsetValue(const CommittedOffset& value);
// Parses a record's key and value (nullopt = null). kCorruption, naming `log_offset`, for a missing
// key, an unknown version, a string running past its field, or bytes left over. Strings are read
// with u16 lengths checked against the field's size, so nothing is allocated beyond it.
Result<OffsetRecord> DecodeOffsetRecord(std::optional<std::string_view> key,
                                        std::optional<std::string_view> value, int64_t log_offset);

class GroupOffsetStore {
 public:
  // Creates __consumer_offsets if needed and replays it. `engine` must outlive the store.
  static Result<std::unique_ptr<GroupOffsetStore>> Open(Engine& engine);

  // Commits offsets for one group, atomically (one batch). Fails with kInvalidArgument for an
  // empty group id, and with kNotFound for an unknown topic or partition. A negative offset is
  // stored as given, as Kafka stores it (kafkajs commits -2 to reset a group to the earliest
  // offset); readers of committed offsets take it as no position (the consumer's reset policy).
  Status Commit(const std::string& group, std::span<const OffsetCommit> commits);

  std::optional<CommittedOffset> Fetch(const std::string& group, const std::string& topic,
                                       int32_t partition) const;
  // Every committed offset of a group, by (topic, partition).
  std::map<std::pair<std::string, int32_t>, CommittedOffset> FetchAll(
      const std::string& group) const;
  std::vector<std::string> ListGroups() const;
  // Per committed partition: offset, high watermark, lag in records and in time.
  Result<std::vector<GroupPartitionStatus>> Describe(const std::string& group) const;
  // Removes every committed offset of the group. kNotFound if it has none.
  Status DeleteGroup(const std::string& group);
  // Removes the group's committed offsets of these partitions (Kafka's OffsetDelete), durably;
  // partitions without one are skipped. Returns how many were removed.
  Result<size_t> DeleteOffsets(const std::string& group,
                               std::span<const std::pair<std::string, int32_t>> partitions);
  // Moves the group's offsets for every partition of `topic` to `target`; with DryRun::kYes only
  // returns the plan.
  Result<std::vector<ResetPlanEntry>> ResetOffsets(const std::string& group,
                                                   const std::string& topic, ResetTarget target,
                                                   DryRun dry_run);

  // Runs the log cleaner over __consumer_offsets now (its sealed segments; Engine::CompactTopic).
  // Deleted keys stay in memory (a few bytes each) until the next open: a commit appended before
  // a deletion but applied after it must still find the deletion.
  Status Compact();
  // Records replayed when the store opened (for tests and the open-time benchmark).
  int64_t records_replayed_at_open() const { return replayed_at_open_; }

 private:
  struct Entry {
    CommittedOffset value;
    int64_t log_offset = -1;  // offset in __consumer_offsets of the record that set this
    bool deleted = false;     // a tombstone
  };
  using Key = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition

  explicit GroupOffsetStore(Engine& engine) : engine_(engine) {}
  // Appends records (value nullopt = tombstone) and applies them.
  Status AppendAndApply(const std::vector<std::pair<Key, std::optional<CommittedOffset>>>& records);
  void Apply(const Key& key, const std::optional<CommittedOffset>& value, int64_t log_offset);

  Engine& engine_;
  mutable std::shared_mutex mu_;  // guards entries_ and the counters
  std::map<Key, Entry> entries_;
  int64_t replayed_at_open_ = 0;
};

}  // namespace sluice::engine
