#pragma once

// The crash sweep's workload (tests/engine/crash_sweep_slow_test.cc): a script of engine
// operations (create topics, appends with flush=sync and flush=none, flushes, rolls through small
// segments and segment.ms, group commits, resets and deletions, snapshots, deletes by retention
// and DeleteSegmentsBefore, a topic deletion and re-creation, a clean restart, producer ids, an
// idempotent producer, keyed appends to a compacted topic with a trained zstd dictionary and
// passes of the log cleaner over it), and the ledger in which it records what the engine
// acknowledged, for the checks after a crash.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "segment/base/clock.h"
#include "segment/io/file_system.h"

namespace sluice::engine::crash_sweep {

inline constexpr char kSweepDataDir[] = "/data";
inline constexpr char kSweepGroup[] = "sweep-group";
inline constexpr char kSweepOtherGroup[] = "sweep-other";  // committed, reset and deleted
inline constexpr char kSweepSnapshotName[] = "sweep";

// --- the ledger: what the workload was told -----------------------------------------------------

struct PartitionLedger {
  // Values of the acknowledged appends, by offset: the workload's appends to one partition are
  // acknowledged in order with contiguous offsets from 0, since it stops at its first error.
  std::vector<std::string> acked;
  size_t durable = 0;                  // acked[0, durable) were acknowledged as durable
  std::vector<std::string> in_flight;  // values of the append the crash interrupted, if any
  // A compacted topic's: the key of each acked record (acked[i]'s is keys[i]).
  std::vector<std::string> keys;
  // The workload asked (or is asking, when the crash came) to delete records below this: the log
  // start may be anywhere up to it, and no higher.
  int64_t deletable_below = 0;
};

enum class TopicState : uint8_t {
  kCreating,  // CreateTopic was interrupted: the topic may or may not exist
  kLive,      // created (acknowledged)
  kDeleting,  // DeleteTopic was interrupted: the topic may or may not exist
  kDeleted,   // deleted (acknowledged)
};

struct TopicLedger {
  TopicState state = TopicState::kCreating;
  FlushMode flush = FlushMode::kNone;
  bool retention = false;  // retention.bytes is set: EnforceRetention may delete its segments
  // cleanup.policy=compact: the log cleaner removes records a later one of their key replaced,
  // so offsets have gaps; each key's last acknowledged record stays.
  bool compacted = false;
  std::vector<PartitionLedger> partitions;
  // Configuration set at creation and by acknowledged alterations; and an alteration the crash
  // interrupted (its keys may hold either value).
  std::map<std::string, std::string> config;
  std::map<std::string, std::string> config_in_flight;
};

using TopicPartition = std::pair<std::string, int32_t>;
using GroupKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
// A group's committed offset, or nullopt once the group was deleted.
using GroupValue = std::optional<int64_t>;

inline std::string GroupKeyName(const GroupKey& key) {
  return std::get<0>(key) + "/" + std::get<1>(key) + "-" + std::to_string(std::get<2>(key));
}

struct Ledger {
  std::map<std::string, TopicLedger> topics;
  std::map<GroupKey, GroupValue> committed;         // as of the last acknowledged change
  std::map<GroupKey, GroupValue> commit_in_flight;  // the change the crash interrupted
  std::map<uint64_t, std::string> snapshots;        // acknowledged saves: sequence -> blob
  std::optional<std::string> snapshot_in_flight;    // blob of the save the crash interrupted
  int64_t max_producer_id = -1;                     // highest id handed out
  // The idempotent producer's last acknowledged batch (its bytes, as sent) and where it landed:
  // after a crash a retry of it must be recognised, not appended again.
  std::string idempotent_batch;
  TopicPartition idempotent_partition;
  int64_t idempotent_offset = -1;
  std::string op;  // the operation running (for reports)
};

// Runs the script on `fs` (a data directory at kSweepDataDir), recording every acknowledgement in
// `ledger`. Stops at the first failed operation (after a crash every file-system operation
// fails). Single-threaded and driven by a ManualClock, so the same script issues the same
// file-system operations every run. `fs`, `clock` and `ledger` must outlive the Workload.
class Workload {
 public:
  Workload(io::FileSystem& fs, base::ManualClock& clock, Ledger& ledger);
  ~Workload();  // Abandon()s
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  Status Run();
  // After a failed Run: stops the engine as a killed process would.
  void Abandon();

 private:
  class Script;
  std::unique_ptr<Script> script_;
};

}  // namespace sluice::engine::crash_sweep
