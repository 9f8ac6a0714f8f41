#include "engine/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

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

// A Kafka topic config that sluice stores without acting on it: its type, Kafka 4.4's default
// and valid range (LogConfig; ints are Java ints).
struct StoredKey {
  const char* name;
  ConfigValueType type;
  const char* default_value;
  int64_t min;
  int64_t max;
};

constexpr int64_t kIntMax = INT32_MAX;
constexpr int64_t kLongMax = INT64_MAX;

constexpr StoredKey kStoredKeys[] = {
    {"compression.gzip.level", ConfigValueType::kInt, "-1", -1, 9},
    {"compression.lz4.level", ConfigValueType::kInt, "9", 1, 17},
    {"delete.retention.ms", ConfigValueType::kLong, "86400000", 0, kLongMax},
    {"errors.deadletterqueue.group.enable", ConfigValueType::kBoolean, "false", 0, 0},
    {"file.delete.delay.ms", ConfigValueType::kLong, "60000", 0, kLongMax},
    {"follower.replication.throttled.replicas", ConfigValueType::kList, "", 0, 0},
    {"leader.replication.throttled.replicas", ConfigValueType::kList, "", 0, 0},
    {"local.retention.bytes", ConfigValueType::kLong, "-2", -2, kLongMax},
    {"local.retention.ms", ConfigValueType::kLong, "-2", -2, kLongMax},
    {"max.compaction.lag.ms", ConfigValueType::kLong, "9223372036854775807", 1, kLongMax},
    {"max.decompressed.message.bytes", ConfigValueType::kInt, "2147483639", 1, 2147483639},
    {"message.timestamp.after.max.ms", ConfigValueType::kLong, "3600000", 0, kLongMax},
    {"message.timestamp.before.max.ms", ConfigValueType::kLong, "9223372036854775807", 0, kLongMax},
    {"min.cleanable.dirty.ratio", ConfigValueType::kDouble, "0.5", 0, 1},
    {"min.compaction.lag.ms", ConfigValueType::kLong, "0", 0, kLongMax},
    {"preallocate", ConfigValueType::kBoolean, "false", 0, 0},
    {"remote.copy.lag.bytes", ConfigValueType::kLong, "-1", -1, kLongMax},
    {"remote.copy.lag.ms", ConfigValueType::kLong, "0", -1, kLongMax},
    {"remote.log.copy.disable", ConfigValueType::kBoolean, "false", 0, 0},
    {"remote.log.delete.on.disable", ConfigValueType::kBoolean, "false", 0, 0},
    {"remote.storage.enable", ConfigValueType::kBoolean, "false", 0, 0},
    {"segment.index.bytes", ConfigValueType::kInt, "10485760", 4, kIntMax},
    {"segment.jitter.ms", ConfigValueType::kLong, "0", 0, kLongMax},
    {"unclean.leader.election.enable", ConfigValueType::kBoolean, "false", 0, 0},
};

const StoredKey* FindStoredKey(const std::string& name) {
  for (const StoredKey& k : kStoredKeys) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

Result<bool> ParseBool(const std::string& key, const std::string& value) {
  std::string v = Trim(value);
  for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (v == "true") return true;
  if (v == "false") return false;
  return MakeError(ErrorCode::kInvalidArgument,
                   key + ": '" + value + "' is not a boolean (true or false)");
}

// The items of a comma-separated list, trimmed; empty items dropped as Kafka's LIST type does.
std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string item = Trim(value.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

bool IsDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch)) != 0;
  });
}

// Validates `value` for a stored key and returns it as DescribeConfigs shows it.
Result<std::string> ParseStored(const StoredKey& k, const std::string& value) {
  const std::string key = k.name;
  switch (k.type) {
    case ConfigValueType::kBoolean: {
      ASSIGN_OR_RETURN(bool b, ParseBool(key, value));
      if (b && key == "remote.storage.enable") {
        return MakeError(ErrorCode::kInvalidArgument,
                         key + ": sluice has no tiered (remote) storage");
      }
      return std::string(b ? "true" : "false");
    }
    case ConfigValueType::kInt:
    case ConfigValueType::kLong: {
      if (key == "compression.gzip.level") {
        ASSIGN_OR_RETURN(int64_t v, ParseInt(key, Trim(value), -1, 9));
        if (v == 0) {
          return MakeError(ErrorCode::kInvalidArgument, key + ": 0 is not in [1, 9] or -1");
        }
        return std::to_string(v);
      }
      ASSIGN_OR_RETURN(int64_t v, ParseInt(key, Trim(value), k.min, k.max));
      return std::to_string(v);
    }
    case ConfigValueType::kDouble: {
      const std::string t = Trim(value);
      char* end = nullptr;
      const double d = std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size() || !(d >= 0 && d <= 1)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         key + ": '" + value + "' is not a number in [0, 1]");
      }
      return t;
    }
    case ConfigValueType::kList: {
      // Throttled replicas: "*" or partition:broker pairs (Kafka's ThrottledReplicaListValidator).
      const auto items = SplitList(value);
      if (items.size() == 1 && items[0] == "*") return std::string("*");
      for (const auto& item : items) {
        const size_t colon = item.find(':');
        if (colon == std::string::npos || !IsDigits(Trim(item.substr(0, colon))) ||
            !IsDigits(Trim(item.substr(colon + 1)))) {
          return MakeError(
              ErrorCode::kInvalidArgument,
              key + ": '" + value +
                  "' must be '*' or [partitionId]:[brokerId],[partitionId]:[brokerId],...");
        }
      }
      return JoinList(items);
    }
    case ConfigValueType::kString:
      break;
  }
  return value;
}

}  // namespace

const std::vector<ConfigKeyInfo>& TopicConfigKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    std::vector<ConfigKeyInfo> out = {
        {"cleanup.policy", ConfigValueType::kList, "log.cleanup.policy"},
        {"compression.type", ConfigValueType::kString, "compression.type"},
        {"compression.zstd.dictionary", ConfigValueType::kString, "", true},
        {"compression.zstd.level", ConfigValueType::kInt, "compression.zstd.level"},
        {"flush", ConfigValueType::kString, "", true},
        {"flush.bytes", ConfigValueType::kLong, "", true},
        {"flush.messages", ConfigValueType::kLong, "log.flush.interval.messages"},
        {"flush.ms", ConfigValueType::kLong, ""},
        {"index.interval.bytes", ConfigValueType::kInt, "log.index.interval.bytes"},
        {"max.message.bytes", ConfigValueType::kInt, "message.max.bytes"},
        {"message.timestamp.type", ConfigValueType::kString, "log.message.timestamp.type"},
        {"min.insync.replicas", ConfigValueType::kInt, "min.insync.replicas"},
        {"producer.id.expiration.ms", ConfigValueType::kLong, "", true},
        {"retention.bytes", ConfigValueType::kLong, "log.retention.bytes"},
        {"retention.ms", ConfigValueType::kLong, ""},
        {"segment.bytes", ConfigValueType::kInt, "log.segment.bytes"},
        {"segment.ms", ConfigValueType::kLong, ""},
    };
    // Kafka's broker-wide synonyms of the stored keys (as DescribeConfigs names them).
    const std::map<std::string, std::string> synonyms = {
        {"compression.gzip.level", "compression.gzip.level"},
        {"compression.lz4.level", "compression.lz4.level"},
        {"delete.retention.ms", "log.cleaner.delete.retention.ms"},
        {"file.delete.delay.ms", "log.segment.delete.delay.ms"},
        {"local.retention.bytes", "log.local.retention.bytes"},
        {"local.retention.ms", "log.local.retention.ms"},
        {"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"},
        {"max.decompressed.message.bytes", "max.decompressed.message.bytes"},
        {"message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms"},
        {"message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms"},
        {"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"},
        {"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"},
        {"preallocate", "log.preallocate"},
        {"remote.copy.lag.bytes", "log.remote.copy.lag.bytes"},
        {"remote.copy.lag.ms", "log.remote.copy.lag.ms"},
        {"segment.index.bytes", "log.index.size.max.bytes"},
        {"unclean.leader.election.enable", "unclean.leader.election.enable"},
    };
    for (const StoredKey& k : kStoredKeys) {
      auto it = synonyms.find(k.name);
      out.push_back({k.name, k.type, it == synonyms.end() ? "" : it->second});
    }
    std::sort(out.begin(), out.end(),
              [](const ConfigKeyInfo& a, const ConfigKeyInfo& b) { return a.name < b.name; });
    return out;
  }();
  return keys;
}

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
      } else if (value == "gzip" || value == "snappy") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "compression.type: sluice does not compress with " + value +
                             " on the broker; use producer (batches the producer compressed "
                             "with " +
                             value + " are stored as they come), zstd or lz4");
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "compression.type: '" + value +
                             "' is not one of producer, zstd, lz4, uncompressed (none)");
      }
    } else if (key == "compression.zstd.level") {
      // Kafka's range (zstd's negative "fast" levels up to its maximum, 22).
      ASSIGN_OR_RETURN(int64_t v, ParseInt(key, value, -131072, 22));
      c.compression_level = static_cast<int>(v);
    } else if (key == "compression.zstd.dictionary") {
      if (value == "none") {
        c.zstd_dictionary = ZstdDictionaryMode::kNone;
      } else if (value == "auto") {
        c.zstd_dictionary = ZstdDictionaryMode::kAuto;
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         key + ": '" + value + "' is not none or auto");
      }
    } else if (key == "flush") {
      if (value == "none") {
        c.flush = FlushMode::kNone;
      } else if (value == "sync") {
        c.flush = FlushMode::kSync;
      } else {
        return MakeError(ErrorCode::kInvalidArgument, "flush: '" + value + "' is not none or sync");
      }
    } else if (key == "flush.ms") {
      ASSIGN_OR_RETURN(c.flush_ms, ParseInt(key, value, 0, kMax));
    } else if (key == "flush.messages") {
      ASSIGN_OR_RETURN(c.flush_messages, ParseInt(key, value, 1, kMax));
      // Kafka flushes after every record with 1 before it answers: sluice's flush=sync.
      if (c.flush_messages == 1 && !changes.count("flush")) c.flush = FlushMode::kSync;
    } else if (key == "flush.bytes") {
      ASSIGN_OR_RETURN(c.flush_bytes, ParseInt(key, value, 1, kMax));
    } else if (key == "segment.bytes") {
      ASSIGN_OR_RETURN(
          c.segment_bytes,
          ParseInt(key, value, 4096, static_cast<int64_t>(segment::format::kMaxSegmentBytes)));
    } else if (key == "segment.ms") {
      ASSIGN_OR_RETURN(c.segment_ms, ParseInt(key, value, 1, kMax));
    } else if (key == "retention.bytes") {
      // Kafka accepts any value; a negative one means no limit.
      ASSIGN_OR_RETURN(c.retention_bytes, ParseInt(key, value, INT64_MIN, kMax));
    } else if (key == "retention.ms") {
      ASSIGN_OR_RETURN(c.retention_ms, ParseInt(key, value, -1, kMax));
    } else if (key == "index.interval.bytes") {
      ASSIGN_OR_RETURN(c.index_interval_bytes, ParseInt(key, value, 0, 1ll << 30));
    } else if (key == "max.message.bytes") {
      ASSIGN_OR_RETURN(c.max_message_bytes,
                       ParseInt(key, value, 0, segment::format::kMaxFramePayload));
    } else if (key == "producer.id.expiration.ms") {
      // Kafka: at least 1. A producer is forgotten once idle this long.
      ASSIGN_OR_RETURN(c.producer_id_expiration_ms, ParseInt(key, value, 1, kMax));
    } else if (key == "message.timestamp.type") {
      if (value == "CreateTime") {
        c.message_timestamp_type = TimestampType::kCreateTime;
      } else if (value == "LogAppendTime") {
        c.message_timestamp_type = TimestampType::kLogAppendTime;
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         key + ": '" + value + "' is not CreateTime or LogAppendTime");
      }
    } else if (key == "min.insync.replicas") {
      ASSIGN_OR_RETURN(int64_t v, ParseInt(key, value, 1, INT32_MAX));
      c.min_insync_replicas = static_cast<int32_t>(v);
    } else if (key == "cleanup.policy") {
      const auto items = SplitList(value);
      bool compact = false;
      bool del = false;
      for (const auto& item : items) {
        if (item == "compact") {
          compact = true;
        } else if (item == "delete") {
          del = true;
        } else {
          return MakeError(ErrorCode::kInvalidArgument,
                           "cleanup.policy: '" + item + "' is not compact or delete");
        }
      }
      if (items.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "cleanup.policy: give compact, delete or compact,delete");
      }
      c.cleanup_compact = compact;
      c.cleanup_delete = del;
    } else if (const StoredKey* k = FindStoredKey(key)) {
      ASSIGN_OR_RETURN(std::string v, ParseStored(*k, value));
      if (v == k->default_value) {
        c.stored.erase(key);
      } else {
        c.stored[key] = v;
      }
    } else {
      return MakeError(ErrorCode::kInvalidArgument, "Unknown topic config name: " + key);
    }
  }
  auto stored_long = [&c](const char* key) {
    auto it = c.stored.find(key);
    return it == c.stored.end() ? FindStoredKey(key)->default_value : it->second;
  };
  const int64_t min_lag = std::strtoll(stored_long("min.compaction.lag.ms").c_str(), nullptr, 10);
  const int64_t max_lag = std::strtoll(stored_long("max.compaction.lag.ms").c_str(), nullptr, 10);
  if (min_lag > max_lag) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "conflict topic config setting min.compaction.lag.ms (" +
                         std::to_string(min_lag) + ") > max.compaction.lag.ms (" +
                         std::to_string(max_lag) + ")");
  }
  // The cleaner's settings, typed (the stored strings were validated above).
  c.min_compaction_lag_ms = min_lag;
  c.max_compaction_lag_ms = max_lag;
  c.delete_retention_ms = std::strtoll(stored_long("delete.retention.ms").c_str(), nullptr, 10);
  c.min_cleanable_dirty_ratio =
      std::strtod(stored_long("min.cleanable.dirty.ratio").c_str(), nullptr);
  return c;
}

std::map<std::string, std::string> ConfigToMap(const TopicConfig& c) {
  std::map<std::string, std::string> out = {
      {"compression.type", PolicyName(c.compression)},
      {"compression.zstd.level", std::to_string(c.compression_level)},
      {"compression.zstd.dictionary",
       c.zstd_dictionary == ZstdDictionaryMode::kAuto ? "auto" : "none"},
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
      {"message.timestamp.type",
       c.message_timestamp_type == TimestampType::kLogAppendTime ? "LogAppendTime" : "CreateTime"},
      {"min.insync.replicas", std::to_string(c.min_insync_replicas)},
      {"flush.messages", std::to_string(c.flush_messages)},
      {"cleanup.policy", c.cleanup_compact && c.cleanup_delete ? "compact,delete"
                         : c.cleanup_compact                   ? "compact"
                                                               : "delete"},
  };
  for (const StoredKey& k : kStoredKeys) {
    auto it = c.stored.find(k.name);
    out[k.name] = it == c.stored.end() ? k.default_value : it->second;
  }
  return out;
}

Result<std::pair<std::string, std::string>> ParseConfigEntry(const std::string& entry) {
  size_t eq = entry.find('=');
  if (eq == std::string::npos || eq == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "config '" + entry + "' is not key=value");
  }
  return std::pair{entry.substr(0, eq), entry.substr(eq + 1)};
}

}  // namespace sluice::engine
