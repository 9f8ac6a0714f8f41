#pragma once

// The catalog: which topics exist, their partition counts and configuration. Persisted as
// <data>/catalog.json, replaced atomically (write, fsync, rename, fsync directory).

#include <map>
#include <string>

#include "engine/config.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  TopicConfig config;
};

using TopicMap = std::map<std::string, TopicInfo>;

// Reads <dir>/catalog.json; an absent file is an empty catalog. Malformed JSON, unknown keys or a
// newer catalog version are errors naming the file.
Result<TopicMap> LoadCatalog(io::FileSystem& fs, const std::string& dir);
Status SaveCatalog(io::FileSystem& fs, const std::string& dir, const TopicMap& topics);

// Topics whose names start with "__" are the engine's own (e.g. __consumer_offsets).
inline bool IsInternalTopic(const std::string& name) { return name.rfind("__", 0) == 0; }

// Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status ValidateTopicName(const std::string& name);

}  // namespace sluice::engine
