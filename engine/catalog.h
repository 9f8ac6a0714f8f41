#pragma once

// The catalog: which topics exist, their ids, partition counts and configuration. It is an index
// over the partition directories, which are the truth: each `<topic>-<partition>/` holds a
// `partition` file naming its topic, topic id, partition number and the topic's configuration, so
// that a missing or damaged catalog is rebuilt from the directories (Engine::Open) rather than
// hiding or replacing them. Both files are small files (segment/small_file.h; FORMAT.md).
//
// Persisted as <data>/catalog, replaced atomically (write, fsync, rename, fsync directory).
// <data>/catalog.json is the catalog of format version 1, read when <data>/catalog is absent.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  TopicConfig config;
  // 32 hex digits, random at creation: tells this topic's directories from those of an earlier
  // topic of the same name. Empty for topics created before ids existed.
  std::string id;
};

using TopicMap = std::map<std::string, TopicInfo>;

inline constexpr char kCatalogFile[] = "catalog";
inline constexpr char kLegacyCatalogFile[] = "catalog.json";
// The largest partition count a topic may have (and that a catalog may claim).
inline constexpr int32_t kMaxPartitions = 100000;

// Reads <dir>/catalog, else <dir>/catalog.json. kNotFound when neither exists. A damaged file is
// kCorruption naming it; a newer version kUnsupportedVersion.
Result<TopicMap> LoadCatalog(io::FileSystem& fs, const std::string& dir);
Status SaveCatalog(io::FileSystem& fs, const std::string& dir, const TopicMap& topics);

// What a partition directory says about itself (`<topic>-<partition>/partition`).
struct PartitionMeta {
  std::string topic;
  std::string topic_id;
  int32_t partition = 0;
  TopicConfig config;
};

inline constexpr char kPartitionMetaFile[] = "partition";
Result<PartitionMeta> LoadPartitionMeta(io::FileSystem& fs, const std::string& partition_dir);
Status SavePartitionMeta(io::FileSystem& fs, const std::string& partition_dir,
                         const PartitionMeta& meta);
// The payload codecs, for tests and the fuzzer (the envelope is checked by the callers above).
Result<TopicMap> DecodeCatalogPayload(const std::string& json_text, const std::string& path);
Result<PartitionMeta> DecodePartitionMetaPayload(const std::string& json_text,
                                                 const std::string& path);

// An entry of the data directory that looks like a partition directory: "<topic>-<n>", or
// "<topic>-<n>.<ms>.deleted" for one that a topic deletion renamed before removing it.
struct PartitionDirName {
  std::string topic;
  int32_t partition = 0;
  bool deleted = false;
};
std::optional<PartitionDirName> ParsePartitionDirName(const std::string& name);
std::string PartitionDirFor(const std::string& topic, int32_t partition);

// A new random topic id.
std::string NewTopicId();

// Topics whose names start with "__" are the engine's own (e.g. __consumer_offsets).
inline bool IsInternalTopic(const std::string& name) { return name.rfind("__", 0) == 0; }

// Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status ValidateTopicName(const std::string& name);

}  // namespace sluice::engine
