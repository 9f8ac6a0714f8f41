#pragma once

// Per-topic configuration, with Kafka's key names where Kafka has one. Parsed from and printed as
// key=value strings (catalog.json, `--config k=v`).

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "segment/base/codec.h"
#include "segment/base/result.h"

namespace sluice::engine {

using base::Error;
using base::Result;
using base::Status;

enum class CompressionPolicy : uint8_t {
  kZstd,      // store uncompressed producer batches zstd-compressed
  kLz4,       // ... lz4-compressed
  kNone,      // store uncompressed batches as they are
  kProducer,  // store every batch as the producer sent it (default, as Kafka)
};

// compression.zstd.dictionary (sluice's own key).
enum class ZstdDictionaryMode : uint8_t {
  kNone,  // zstd without a dictionary
  kAuto,  // each partition trains a dictionary from its records and compresses with it
};

enum class FlushMode : uint8_t {
  kNone,  // acknowledge once in the page cache; flush in the background (flush.ms, flush.bytes)
  kSync,  // acknowledge after an fdatasync covering the batch (group commit)
};

enum class TimestampType : uint8_t {
  kCreateTime,     // records keep the producer's timestamps
  kLogAppendTime,  // each batch is stamped with the broker's clock as it is appended
};

// What DescribeConfigs reports of a key (Kafka's ConfigEntry.ConfigType / DescribeConfigs v3).
enum class ConfigValueType : int8_t {
  kBoolean = 1,
  kString = 2,
  kInt = 3,
  kLong = 5,
  kDouble = 6,
  kList = 7,
};

// One key a topic accepts: Kafka 4.4's topic configs (LogConfig) plus sluice's own (flush,
// flush.bytes, producer.id.expiration.ms).
struct ConfigKeyInfo {
  std::string name;
  ConfigValueType type;
  std::string broker_synonym;  // the broker-wide key Kafka names as its synonym; empty: none
  bool sluice_only = false;    // not a Kafka topic config
};

// Every key ApplyConfig accepts, in name order.
const std::vector<ConfigKeyInfo>& TopicConfigKeys();

struct TopicConfig {
  CompressionPolicy compression = CompressionPolicy::kProducer;
  int compression_level = 3;  // zstd level (compression.zstd.level)
  // compression.zstd.dictionary: with kAuto and compression.type=zstd, the batches the broker
  // compresses use a dictionary the partition trained (engine/partition_dictionary.h).
  ZstdDictionaryMode zstd_dictionary = ZstdDictionaryMode::kNone;
  FlushMode flush = FlushMode::kNone;
  int64_t flush_ms = 1000;                        // background flush interval (flush=none)
  int64_t flush_bytes = 64ll << 20;               // background flush after this many bytes
  int64_t segment_bytes = 1ll << 30;              // roll when a segment would exceed this
  int64_t segment_ms = 7ll * 24 * 3600 * 1000;    // roll when the active segment is this old
  int64_t retention_bytes = -1;                   // per partition; -1 = unlimited
  int64_t retention_ms = 7ll * 24 * 3600 * 1000;  // -1 = unlimited
  int64_t index_interval_bytes = 4096;
  int64_t max_message_bytes = 16ll << 20;  // largest batch accepted
  // An idempotent producer not seen for this long is forgotten (Kafka's producer.id.expiration.ms;
  // set per topic, or for the whole broker with `serve --topic-config`).
  int64_t producer_id_expiration_ms = 86'400'000;
  TimestampType message_timestamp_type = TimestampType::kCreateTime;  // message.timestamp.type
  // min.insync.replicas: validated and stored. Kafka 4.4 caps it at the replication factor, so on
  // one broker acks=all is served whatever it is (tests/clients/test_config_diff.py checks this).
  int32_t min_insync_replicas = 1;
  int64_t flush_messages = INT64_MAX;  // flush.messages; 1 selects flush=sync when given
  // cleanup.policy: `delete` (retention.ms / retention.bytes remove old segments), `compact` (the
  // log cleaner keeps the latest record per key: engine/log_cleaner.h), or both. A topic without
  // `delete` keeps its segments whatever retention.* says, as in Kafka.
  bool cleanup_delete = true;
  bool cleanup_compact = false;
  // The log cleaner's settings (Kafka's names; read from `stored` by ApplyConfig, which stays the
  // source of what DescribeConfigs shows). A tombstone (null value) stays delete.retention.ms
  // after the cleaner first kept it; segments whose records are all older than
  // min.compaction.lag.ms may be cleaned; a partition is cleaned once its dirty part (segments
  // not cleaned yet) is min.cleanable.dirty.ratio of its cleanable bytes, or once a record has
  // waited max.compaction.lag.ms.
  int64_t delete_retention_ms = 86'400'000;
  double min_cleanable_dirty_ratio = 0.5;
  int64_t min_compaction_lag_ms = 0;
  int64_t max_compaction_lag_ms = INT64_MAX;
  // Kafka topic configs sluice validates, stores and describes but has no mechanism for
  // (replication, compaction, tiered storage, ...): key -> value as described. A key absent here
  // has Kafka's default.
  std::map<std::string, std::string> stored;
  // Keys set on this topic itself (at creation or by AlterConfigs), which DescribeConfigs reports
  // as DYNAMIC_TOPIC_CONFIG even when equal to the default. Kept in the catalog beside the values.
  std::set<std::string> overrides;

  // The codec new uncompressed batches are stored with, kNone for none/producer.
  base::Codec StorageCodec() const;
};

// Applies `changes` (keys: TopicConfigKeys()) on top of `base`, validated with Kafka 4.4's types
// and ranges (sluice's own where its mechanism is narrower, e.g. segment.bytes). Unknown keys, bad
// values and what sluice cannot do (remote.storage.enable=true,
// compression.type gzip/snappy) are kInvalidArgument naming the key. `overrides` is unchanged.
Result<TopicConfig> ApplyConfig(const TopicConfig& base,
                                const std::map<std::string, std::string>& changes);

// Every key with its value, as ApplyConfig reads them back (`overrides` is not in it).
std::map<std::string, std::string> ConfigToMap(const TopicConfig& config);

// Parses "key=value".
Result<std::pair<std::string, std::string>> ParseConfigEntry(const std::string& entry);

}  // namespace sluice::engine
