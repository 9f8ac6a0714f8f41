#include "engine/config.h"

#include <charconv>

#include "segment/format.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;

Result<int64_t> ParseInt(const std::string& key, const std::string& value, int64_t min,
                         int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    return MakeError(ErrorCode::kInvalidArgument, key + ": '" + value + "' is not an integer");
  }
  if (v < min || v > max) {
    return MakeError(ErrorCode::kInvalidArgument, key + ": " + value + " is outside [" +
                                                      std::to_string(min) + ", " +
                                                      std::to_string(max) + "]");
  }
  return v;
}

std::string PolicyName(CompressionPolicy p) {
  switch (p) {
    case CompressionPolicy::kZstd:
      return "zstd";
    case CompressionPolicy::kLz4:
      return "lz4";
    case CompressionPolicy::kNone:
      return "none";
    case CompressionPolicy::kProducer:
      return "producer";
  }
  return "zstd";
}

}  // namespace

base::Codec TopicConfig::StorageCodec() const {
  switch (compression) {
    case CompressionPolicy::kZstd:
      return base::Codec::kZstd;
    case CompressionPolicy::kLz4:
      return base::Codec::kLz4;
    case CompressionPolicy::kNone:
    case CompressionPolicy::kProducer:
      return base::Codec::kNone;
  }
  return base::Codec::kNone;
}

Result<TopicConfig> ApplyConfig(const TopicConfig& base,
                                const std::map<std::string, std::string>& changes) {
  TopicConfig c = base;
  constexpr int64_t kMax = INT64_MAX;
  for (const auto& [key, value] : changes) {
    if (key == "compression.type") {
      if (value == "zstd") {
        c.compression = CompressionPolicy::kZstd;
      } else if (value == "lz4") {
        c.compression = CompressionPolicy::kLz4;
      } else if (value == "none" || value == "uncompressed") {
        c.compression = CompressionPolicy::kNone;
      } else if (value == "producer") {
        c.compression = CompressionPolicy::kProducer;
      } else {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "compression.type: '" + value + "' is not one of zstd, lz4, none, producer");
      }
    } else if (key == "compression.zstd.level") {
      ASSIGN_OR_RETURN(int64_t v, ParseInt(key, value, 1, 19));
      c.compression_level = static_cast<int>(v);
    } else if (key == "flush") {
      if (value == "none") {
        c.flush = FlushMode::kNone;
      } else if (value == "sync") {
        c.flush = FlushMode::kSync;
      } else {
        return MakeError(ErrorCode::kInvalidArgument, "flush: '" + value + "' is not none or sync");
      }
    } else if (key == "flush.ms") {
      ASSIGN_OR_RETURN(c.flush_ms, ParseInt(key, value, 1, kMax));
    } else if (key == "flush.bytes") {
      ASSIGN_OR_RETURN(c.flush_bytes, ParseInt(key, value, 1, kMax));
    } else if (key == "segment.bytes") {
      ASSIGN_OR_RETURN(
          c.segment_bytes,
          ParseInt(key, value, 4096, static_cast<int64_t>(segment::format::kMaxSegmentBytes)));
    } else if (key == "segment.ms") {
      ASSIGN_OR_RETURN(c.segment_ms, ParseInt(key, value, 1, kMax));
    } else if (key == "retention.bytes") {
      ASSIGN_OR_RETURN(c.retention_bytes, ParseInt(key, value, -1, kMax));
    } else if (key == "retention.ms") {
      ASSIGN_OR_RETURN(c.retention_ms, ParseInt(key, value, -1, kMax));
    } else if (key == "index.interval.bytes") {
      ASSIGN_OR_RETURN(c.index_interval_bytes, ParseInt(key, value, 1, 1ll << 30));
    } else if (key == "max.message.bytes") {
      ASSIGN_OR_RETURN(c.max_message_bytes,
                       ParseInt(key, value, 128, segment::format::kMaxFramePayload));
    } else if (key == "producer.id.expiration.ms") {
      // Kafka: at least 1. A producer is forgotten once idle this long.
      ASSIGN_OR_RETURN(c.producer_id_expiration_ms, ParseInt(key, value, 1, kMax));
    } else {
      return MakeError(ErrorCode::kInvalidArgument, "unknown topic config '" + key + "'");
    }
  }
  return c;
}

std::map<std::string, std::string> ConfigToMap(const TopicConfig& c) {
  return {
      {"compression.type", PolicyName(c.compression)},
      {"compression.zstd.level", std::to_string(c.compression_level)},
      {"flush", c.flush == FlushMode::kSync ? "sync" : "none"},
      {"flush.ms", std::to_string(c.flush_ms)},
      {"flush.bytes", std::to_string(c.flush_bytes)},
      {"segment.bytes", std::to_string(c.segment_bytes)},
      {"segment.ms", std::to_string(c.segment_ms)},
      {"retention.bytes", std::to_string(c.retention_bytes)},
      {"retention.ms", std::to_string(c.retention_ms)},
      {"index.interval.bytes", std::to_string(c.index_interval_bytes)},
      {"max.message.bytes", std::to_string(c.max_message_bytes)},
      {"producer.id.expiration.ms", std::to_string(c.producer_id_expiration_ms)},
  };
}

Result<std::pair<std::string, std::string>> ParseConfigEntry(const std::string& entry) {
  size_t eq = entry.find('=');
  if (eq == std::string::npos || eq == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "config '" + entry + "' is not key=value");
  }
  return std::pair{entry.substr(0, eq), entry.substr(eq + 1)};
}

}  // namespace sluice::engine
