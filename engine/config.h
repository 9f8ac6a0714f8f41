#pragma once

// Per-topic configuration, with Kafka's key names where Kafka has one. Parsed from and printed as
// key=value strings (catalog.json, `--config k=v`).

#include <cstdint>
#include <map>
#include <string>

#include "segment/base/codec.h"
#include "segment/base/result.h"

namespace sluice::engine {

using base::Error;
using base::Result;
using base::Status;

enum class CompressionPolicy : uint8_t {
  kZstd,      // store uncompressed producer batches zstd-compressed (default)
  kLz4,       // ... lz4-compressed
  kNone,      // store uncompressed batches as they are
  kProducer,  // store every batch as the producer sent it
};

enum class FlushMode : uint8_t {
  kNone,  // acknowledge once in the page cache; flush in the background (flush.ms, flush.bytes)
  kSync,  // acknowledge after an fdatasync covering the batch (group commit)
};

struct TopicConfig {
  CompressionPolicy compression = CompressionPolicy::kZstd;
  int compression_level = 3;  // zstd level (compression.zstd.level)
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

  // The codec new uncompressed batches are stored with, kNone for none/producer.
  base::Codec StorageCodec() const;
};

// Applies `changes` (keys: compression.type, compression.zstd.level, flush, flush.ms, flush.bytes,
// segment.bytes, segment.ms, retention.bytes, retention.ms, index.interval.bytes,
// max.message.bytes, producer.id.expiration.ms) on top of `base`. Unknown keys and bad values are
// kInvalidArgument.
Result<TopicConfig> ApplyConfig(const TopicConfig& base,
                                const std::map<std::string, std::string>& changes);

// Every key with its value, as ApplyConfig reads them back.
std::map<std::string, std::string> ConfigToMap(const TopicConfig& config);

// Parses "key=value".
Result<std::pair<std::string, std::string>> ParseConfigEntry(const std::string& entry);

}  // namespace sluice::engine
