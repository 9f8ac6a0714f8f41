#pragma once

// The CLI's Kafka client for --broker: RAII wrappers and synchronous helpers over librdkafka's C
// API. kafka_client.cc is the one file that includes <librdkafka/rdkafka.h>; nothing of librdkafka
// shows in this header.
//
// Every call waits at most ClientConfig::timeout_ms (a producer's Flush: its delivery timeout).
// Errors are values. Their context names the operation and carries the broker's or librdkafka's
// message; their code says what went wrong: kNotFound (unknown topic, partition or group),
// kInvalidArgument (bad topic name, partition count or config), kAlreadyExists, kBusy (a group
// with active members), kRefused (the broker's authorizer denied it), kTimeout, kIoError (the
// broker cannot be reached), kInternal (the rest). librdkafka's own log lines go to base::LogInfo
// (shown with --verbose); ClientConfig::debug sets its `debug` contexts (`sluice -vv` or
// `--client-debug protocol,admin`).
//
// Thread-safety: each object is used by one thread at a time (librdkafka's threads are internal).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/acl_store.h"
#include "segment/base/result.h"
#include "segment/record_batch.h"

namespace sluice::cli::kafka {

using base::Result;
using base::Status;

struct ClientConfig {
  std::string bootstrap;        // HOST:PORT
  int64_t timeout_ms = 10'000;  // per request
  // AdminClient::Connect's first request: how long an unreachable broker takes to be reported.
  int64_t connect_timeout_ms = 5'000;
  std::string debug;  // librdkafka's `debug` contexts (e.g. "broker,protocol"); empty: none
  // librdkafka properties the user gave (-X, --client-config, a profile's "client"), set after
  // the CLI's own: security.protocol, ssl.*, sasl.* for a secured listener. Values may be secrets:
  // errors name the key, never the value.
  std::vector<std::pair<std::string, std::string>> properties;
};

struct TopicMetadata {
  std::string name;
  int32_t partitions = 0;
  // Partitions the broker reports without a leader (LEADER_NOT_AVAILABLE, or any other
  // partition error): sluice's broker answers so for an offline partition (net/PROTOCOL.md).
  std::map<int32_t, std::string> offline;  // partition -> the broker's error
};

// ListOffsets queries: besides a timestamp (epoch ms), these two.
inline constexpr int64_t kLatest = -1;    // the high watermark
inline constexpr int64_t kEarliest = -2;  // the log start offset

struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string host;
  std::vector<std::pair<std::string, int32_t>> assignment;  // (topic, partition)
};

// A group as DescribeGroups tells it.
struct GroupDescription {
  std::string state;  // Kafka's names: Empty, Stable, PreparingRebalance, ..., Dead, Unknown
  std::string assignor;
  std::vector<GroupMember> members;
};

struct GroupOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // -1: nothing committed
  std::string metadata;
};

// Metadata, topic and group administration, and ListOffsets, on one connection to the broker.
class AdminClient {
 public:
  // Creates the client and checks that the broker answers a Metadata request.
  static Result<std::unique_ptr<AdminClient>> Connect(const ClientConfig& config);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Every topic the broker lists (never auto-creates one).
  Result<std::vector<TopicMetadata>> ListTopics();
  Status CreateTopic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& config);
  Status DeleteTopic(const std::string& name);
  // Grows the topic to `count` partitions (CreatePartitions).
  Status CreatePartitions(const std::string& name, int32_t count);
  // Every config entry of a topic (DescribeConfigs).
  Result<std::map<std::string, std::string>> DescribeTopicConfig(const std::string& name);
  // Replaces the topic's whole configuration with `config` (AlterConfigs: keys left out return to
  // their defaults).
  Status ReplaceTopicConfig(const std::string& name,
                            const std::map<std::string, std::string>& config);
  // One ListOffsets request for (partition, query) pairs of `topic`; a query is kLatest,
  // kEarliest or a timestamp. Returns an offset per pair, -1 where no record has a timestamp at or
  // after the query.
  Result<std::vector<int64_t>> ListOffsets(const std::string& topic,
                                           const std::vector<std::pair<int32_t, int64_t>>& queries);

  // Ids of the groups the broker knows.
  Result<std::vector<std::string>> ListGroups();
  // Committed offsets of `group` for these (topic, partition) pairs (offset -1: none). A list is
  // needed: librdkafka 2.0.2 asks for "all partitions" with an empty topic array, not a null one,
  // and so gets nothing back.
  Result<std::vector<GroupOffset>> ListGroupOffsets(
      const std::string& group, const std::vector<std::pair<std::string, int32_t>>& partitions);
  // Commits offsets (with their metadata) for `group` in one OffsetCommit as a simple consumer
  // (AlterConsumerGroupOffsets): refused with kBusy while the group has active members.
  Status AlterGroupOffsets(const std::string& group, const std::vector<GroupOffset>& offsets);
  Status DeleteGroup(const std::string& group);
  // State and members of `group` (DescribeGroups). A group the broker does not know is Dead.
  Result<GroupDescription> DescribeGroup(const std::string& group);

  // ACLs (CreateAcls, DescribeAcls, DeleteAcls). A broker without an authorizer answers
  // SECURITY_DISABLED (kInvalidArgument here), one that refuses the caller
  // CLUSTER_AUTHORIZATION_FAILED (kRefused).
  Status CreateAcls(const std::vector<engine::AclBinding>& bindings);
  Result<std::vector<engine::AclBinding>> DescribeAcls(const engine::AclBindingFilter& filter);
  // Per filter, the bindings it removed.
  Result<std::vector<std::vector<engine::AclBinding>>> DeleteAcls(
      const std::vector<engine::AclBindingFilter>& filters);

 private:
  struct Impl;
  explicit AdminClient(std::unique_ptr<Impl> impl);
  Result<std::vector<TopicMetadata>> ListTopicsWithin(int64_t timeout_ms);
  std::unique_ptr<Impl> impl_;
};

struct ProducerOptions {
  int32_t batch_records = 1000;           // batch.num.messages
  int64_t batch_bytes = 1 << 20;          // batch.size
  int64_t max_message_bytes = 1'000'000;  // message.max.bytes: the largest request batch
  std::string compression = "zstd";       // compression.codec: none, gzip, snappy, lz4, zstd
};

// An idempotent producer (acks=all; order kept per partition across retries).
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> Create(const ClientConfig& config,
                                                  const ProducerOptions& options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues one record (copied); `tag` identifies it in a delivery failure. A timestamp of nullopt
  // (or 0, which librdkafka reads as "unset") is the time of sending. Waits while librdkafka's
  // queue is full. Fails with the first delivery failure seen so far.
  Status Send(const std::string& topic, int32_t partition, std::optional<std::string_view> key,
              std::optional<std::string_view> value, std::span<const segment::RecordHeader> headers,
              std::optional<int64_t> timestamp_ms, int64_t tag);
  // Waits until every queued record was delivered or failed; fails with the first failure.
  Status Flush();

  // Records the broker acknowledged.
  int64_t delivered() const;
  // The tag of the first record that failed, if any.
  std::optional<int64_t> first_failed_tag() const;

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads partitions of one topic from given offsets, each on its own queue (no consumer group).
class Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Create(const ClientConfig& config,
                                                  const std::string& topic);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Starts fetching `partition` at `offset`. Each partition is started at most once.
  Status Start(int32_t partition, int64_t offset);
  // The next record of a started partition, waiting up to `timeout_ms` for one; nullptr if none
  // came. The view stays valid until Pop(partition) or the next Peek of the partition. Fails if
  // the broker has been unreachable for longer than the client's timeout.
  Result<const segment::RecordView*> Peek(int32_t partition, int64_t timeout_ms);
  // Consumes the record the last Peek of `partition` returned.
  void Pop(int32_t partition);

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cli::kafka
