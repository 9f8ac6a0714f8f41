#pragma once

// Where the commands get their data: one interface, two implementations. EmbeddedBackend works on
// the engine of --data-dir (cli/embedded_backend.cc); RemoteBackend talks to a running
// `sluice serve` over the Kafka protocol (--broker, cli/remote_backend.cc, through
// cli/kafka_client.h). The commands parse flags and format output themselves, so both modes print
// the same. What the Kafka protocol cannot tell (segment counts, sizes, commit times) is nullopt
// remotely; tables print "-" for it and JSON leaves the field out.
//
// Thread-safety: a backend, and each reader or sink it opens, is used by one thread at a time.
// Readers and sinks must not outlive their backend.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/kafka_client.h"
#include "engine/group_offsets.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/record_batch.h"

namespace sluice::cli {

using base::Offset;
using base::Result;
using base::Status;

// --- topics --------------------------------------------------------------------------------------

enum class IncludeInternal : bool { kNo, kYes };

struct TopicSummary {
  std::string name;
  int32_t partitions = 0;
  int64_t records = 0;                 // sum of (high watermark - log start offset)
  std::optional<uint64_t> size_bytes;  // embedded only
  int32_t offline_partitions = 0;      // partitions that cannot be read (damaged, missing)
};

struct PartitionSummary {
  int32_t partition = 0;
  Offset log_start_offset;
  Offset high_watermark;
  std::optional<uint64_t> segments;    // embedded only
  std::optional<uint64_t> size_bytes;  // embedded only
  std::optional<std::string> offline;  // why the partition cannot be read, when it cannot
};

struct TopicDetails {
  std::string name;
  std::vector<PartitionSummary> partitions;
  std::map<std::string, std::string> config;  // every key of engine::ConfigToMap
};

// --- groups --------------------------------------------------------------------------------------

struct GroupSummary {
  std::string group;
  std::set<std::string> topics;  // with committed offsets
  size_t partitions = 0;         // committed partitions
};

struct GroupPartitionLag {
  std::string topic;
  int32_t partition = 0;
  Offset committed;
  std::string metadata;
  std::optional<int64_t> commit_time_ms;  // embedded only (OffsetFetch has no commit time)
  bool topic_exists = true;               // false: the topic was deleted after the commit
  Offset log_start_offset;                // valid if topic_exists
  Offset end_offset;                      // the high watermark; valid if topic_exists
  int64_t lag_records = 0;
  // Age of the oldest unconsumed record (now - its timestamp); nullopt when nothing is unconsumed.
  std::optional<int64_t> lag_ms;
};

// Membership of a group: what a coordinator knows (remote); embedded there is none.
struct GroupState {
  std::string state;     // Kafka's: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead
  std::string assignor;  // the partition assignment strategy; empty if none
  struct Member {
    std::string member_id;
    std::string client_id;
    std::string host;
    std::vector<std::pair<std::string, int32_t>> assignment;  // (topic, partition)
  };
  std::vector<Member> members;
};

// --- records -------------------------------------------------------------------------------------

// One record to produce.
struct InputRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::optional<int64_t> timestamp;  // epoch ms; nullopt = now
};

struct SinkOptions {
  int32_t partition = -1;  // -1: by murmur2 of the key, records without a key round robin per batch
  int32_t batch_records = 1000;
  int64_t batch_bytes = 1 << 20;
  // Producer-side codec of the batches sent (Kafka's compression.type of a producer). A topic whose
  // compression.type names a codec gets what the broker stores anyway.
  base::Codec compression = base::Codec::kZstd;
};

// Produces records to one topic. Errors name the input lines at fault.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Adds a record read from input line `line_no`; may send earlier records.
  virtual Status Add(const InputRecord& record, int64_t line_no) = 0;
  // Sends what is pending and waits until every record added is stored (or failed).
  virtual Status Flush() = 0;
  // Records stored so far, and the bytes of their keys and values.
  virtual int64_t records() const = 0;
  virtual uint64_t bytes() const = 0;
};

// Reads the records of one topic's partitions at positions its caller keeps.
class RecordReader {
 public:
  // Return false to stop the read early.
  using RecordFn = std::function<bool(const segment::RecordView&)>;

  virtual ~RecordReader() = default;
  // Prepares reading these partitions from these offsets. Called once, before Read.
  virtual Status Assign(const std::vector<std::pair<int32_t, Offset>>& starts) = 0;
  // Calls fn, in offset order, for the records of `partition` at or after `from` that are
  // available now (about 1 MiB of them), without waiting. kOutOfRange if `from` was deleted by
  // retention. `from` never goes back below a record fn took.
  virtual Status Read(int32_t partition, Offset from, const RecordFn& fn) = 0;
  // Waits up to `timeout_ms` until `partition` has a record at or after `from`.
  virtual Status Wait(int32_t partition, Offset from, int64_t timeout_ms) = 0;
};

// --- the backend ---------------------------------------------------------------------------------

class Backend {
 public:
  virtual ~Backend() = default;

  // Topics. Bad arguments (name, partition count, config) are kInvalidArgument; an unknown topic
  // kNotFound.
  virtual Status CreateTopic(const std::string& name, int32_t partitions,
                             const std::map<std::string, std::string>& config) = 0;
  virtual Result<std::vector<TopicSummary>> ListTopics(IncludeInternal internal) = 0;
  virtual Result<TopicDetails> DescribeTopic(const std::string& name) = 0;
  virtual Status DeleteTopic(const std::string& name) = 0;
  virtual Status AlterTopicConfig(const std::string& name,
                                  const std::map<std::string, std::string>& config) = 0;
  // Grows a topic to `count` partitions (never shrinks it: kInvalidArgument).
  virtual Status AddPartitions(const std::string& name, int32_t count) = 0;

  // Every partition of `topic`, by partition number: log start offset, high watermark, ...
  virtual Result<std::vector<PartitionSummary>> Partitions(const std::string& topic) = 0;
  // The first offset whose record has a timestamp >= `timestamp_ms`; nullopt if none.
  virtual Result<std::optional<Offset>> OffsetForTimestamp(const std::string& topic,
                                                           int32_t partition,
                                                           int64_t timestamp_ms) = 0;

  // Committed group offsets of `topic`'s partitions, by partition.
  virtual Result<std::map<int32_t, engine::CommittedOffset>> FetchCommitted(
      const std::string& group, const std::string& topic) = 0;
  // Commits offsets of one group, atomically.
  virtual Status Commit(const std::string& group,
                        std::span<const engine::OffsetCommit> commits) = 0;
  // Groups with committed offsets, by name.
  virtual Result<std::vector<GroupSummary>> ListGroups() = 0;
  // Per committed partition, by topic and partition. kNotFound if the group has no commits.
  virtual Result<std::vector<GroupPartitionLag>> DescribeGroup(const std::string& group) = 0;
  virtual Result<std::vector<engine::ResetPlanEntry>> ResetOffsets(const std::string& group,
                                                                   const std::string& topic,
                                                                   engine::ResetTarget target,
                                                                   engine::DryRun dry_run) = 0;
  // State and members of a group. Embedded: no coordinator runs, so a group with commits is Empty
  // and one without is Dead (a running server holds the data directory's lock).
  virtual Result<GroupState> DescribeGroupState(const std::string& group) = 0;
  // kNotFound if the group has no committed offsets.
  virtual Status DeleteGroup(const std::string& group) = 0;

  // Records. The topic must exist.
  virtual Result<std::unique_ptr<RecordSink>> OpenSink(const std::string& topic,
                                                       const SinkOptions& options) = 0;
  virtual Result<std::unique_ptr<RecordReader>> OpenReader(const std::string& topic) = 0;
};

// The backend of --data-dir. `engine` must outlive it.
std::unique_ptr<Backend> NewEmbeddedBackend(engine::Engine& engine);
// The backend of --broker HOST:PORT: connects and checks that the broker answers. A malformed
// address is kInvalidArgument; a broker that does not answer within a few seconds kIoError.
// `client`: the broker address (`bootstrap`), librdkafka's debug contexts and the user's client
// properties (Context::Client()).
Result<std::unique_ptr<Backend>> ConnectRemoteBackend(const kafka::ClientConfig& client);

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), so that a key lands in the
// partition Kafka's default partitioner would choose: (Murmur2(key) & 0x7fffffff) % partitions.
uint32_t Murmur2(std::string_view data);

}  // namespace sluice::cli
