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
#include "segment/format.h"
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
  // The topic's partition count when the file was written (> partition); 0 in files of version 1,
  // which do not say.
  int32_t topic_partitions = 0;
};

inline constexpr char kPartitionMetaFile[] = "partition";
Result<PartitionMeta> LoadPartitionMeta(io::FileSystem& fs, const std::string& partition_dir);
Status SavePartitionMeta(io::FileSystem& fs, const std::string& partition_dir,
                         const PartitionMeta& meta);
// The payload codecs, for tests and the fuzzer (the envelope is checked by the callers above).
Result<TopicMap> DecodeCatalogPayload(const std::string& json_text, const std::string& path);
// `version` is the envelope's: "partitions" is required from version 2 on.
Result<PartitionMeta> DecodePartitionMetaPayload(
    const std::string& json_text, const std::string& path,
    uint16_t version = segment::format::kPartitionMetaCurrentVersion);

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

// What the catalog and the partition directories say together: the catalog Engine::Open ends up
// with and what it changes on disk to get there. Planned without writing anything, so that
// `sluice verify` shows exactly what an open would do; Engine::Open carries it out.
struct CatalogPlan {
  enum class Source : uint8_t {
    kCurrent,  // <data>/catalog was read
    kLegacy,   // <data>/catalog.json (format version 1) was read: open converts it
    kMissing,  // neither exists
    kDamaged,  // the file in `damaged_file` is damaged (`damage` says how): open keeps it aside
    kNewer,    // written by a newer sluice (`damage` says so): open refuses the data directory,
               // since rebuilding it from the directories could lose what it knows
  };
  Source source = Source::kMissing;
  std::string damaged_file;
  std::optional<base::Error> damage;

  // What becomes of each entry of the data directory that is named like a partition directory.
  enum class Fate : uint8_t {
    kListed,   // a partition of a topic in the catalog
    kAdopted,  // not in the catalog: its topic or partition is added from it
    kRemoved,  // a `.deleted` directory, or a partition of a topic whose deletion is finished
    kForeign,  // its `partition` file names another topic or partition: left alone
    kIgnored,  // holds neither a log nor a readable `partition` file: left alone
  };
  struct Dir {
    std::string name;  // in the data directory
    Fate fate = Fate::kListed;
    std::string why;  // for kAdopted, kRemoved, kForeign, kIgnored: a sentence
  };
  std::vector<Dir> dirs;

  TopicMap catalog;                  // the reconciled catalog
  std::vector<std::string> changes;  // sentences, in the order open makes them
  bool save = false;                 // open writes the reconciled catalog
};

// Plans the reconciliation of the catalog in `data_dir` with its partition directories; topics
// adopted from directories that do not say their configuration get `default_config`. With a
// catalog of a newer sluice (kNewer), the plan is what the directories alone say. Errors are I/O
// errors.
Result<CatalogPlan> PlanCatalog(io::FileSystem& fs, const std::string& data_dir,
                                const TopicConfig& default_config);

// Topics whose names start with "__" are the engine's own (e.g. __consumer_offsets).
inline bool IsInternalTopic(const std::string& name) { return name.rfind("__", 0) == 0; }

// Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status ValidateTopicName(const std::string& name);

}  // namespace sluice::engine
