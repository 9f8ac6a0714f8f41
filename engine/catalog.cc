#include "engine/catalog.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>

#include "segment/small_file.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

constexpr int kLegacyCatalogVersion = 1;

const segment::SmallFileKind& CatalogKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kCatalogMagic, f::kCatalogVersion2,
                                           f::kCatalogCurrentVersion};
  return kind;
}

const segment::SmallFileKind& PartitionMetaKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kPartitionMetaMagic, f::kPartitionMetaVersion1,
                                           f::kPartitionMetaCurrentVersion};
  return kind;
}

json ConfigJson(const TopicConfig& config) {
  json out = json::object();
  for (const auto& [k, v] : ConfigToMap(config)) out[k] = v;
  return out;
}

// The topic config in `j` (an object of strings), or an error naming `what`.
Result<TopicConfig> ParseConfig(const json& j, const std::string& what) {
  if (!j.is_object()) return MakeError(ErrorCode::kCorruption, what + ": config is not an object");
  std::map<std::string, std::string> kv;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return MakeError(ErrorCode::kCorruption, what + ": config '" + k + "' is not a string");
    }
    kv[k] = v.get<std::string>();
  }
  auto config = ApplyConfig(TopicConfig{}, kv);
  if (!config) return MakeError(ErrorCode::kCorruption, what + ": " + config.error().context);
  return *config;
}

Result<TopicMap> ParseTopics(const json& doc, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  if (!doc.contains("topics") || !doc["topics"].is_object()) return bad("no topics object");
  TopicMap topics;
  for (const auto& [name, t] : doc["topics"].items()) {
    if (!ValidateTopicName(name)) return bad("topic name '" + name + "' is not valid");
    if (!t.is_object() || !t.contains("partitions") || !t["partitions"].is_number_integer() ||
        !t.contains("config")) {
      return bad("topic '" + name + "' is malformed");
    }
    TopicInfo info;
    info.name = name;
    const auto partitions = t["partitions"].get<int64_t>();
    if (partitions < 1 || partitions > kMaxPartitions) {
      return bad("topic '" + name + "' has " + std::to_string(partitions) +
                 " partitions, outside [1, " + std::to_string(kMaxPartitions) + "]");
    }
    info.partitions = static_cast<int32_t>(partitions);
    if (t.contains("id")) {
      if (!t["id"].is_string()) return bad("topic '" + name + "': id is not a string");
      info.id = t["id"].get<std::string>();
    }
    ASSIGN_OR_RETURN(info.config, ParseConfig(t["config"], path + ": topic '" + name + "'"));
    topics.emplace(name, std::move(info));
  }
  return topics;
}

}  // namespace

Status ValidateTopicName(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") {
    return MakeError(ErrorCode::kInvalidArgument, "topic name '" + name + "' is not allowed");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "topic name '" + name + "' may only hold [a-zA-Z0-9._-]");
    }
  }
  return {};
}

Result<TopicMap> DecodeCatalogPayload(const std::string& json_text, const std::string& path) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kCorruption, path + ": not a JSON object");
  }
  return ParseTopics(doc, path);
}

Result<TopicMap> LoadCatalog(io::FileSystem& fs, const std::string& dir) {
  const std::string path = io::JoinPath(dir, kCatalogFile);
  auto file = segment::ReadSmallFile(fs, path, CatalogKind());
  if (file) return DecodeCatalogPayload(file->payload, path);
  if (file.error().code != ErrorCode::kNotFound) return std::move(file).error();

  // Format version 1: plain JSON with a version field.
  const std::string legacy = io::JoinPath(dir, kLegacyCatalogFile);
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(legacy));
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kCorruption, legacy + ": not a JSON object");
  }
  if (!doc.contains("version") || !doc["version"].is_number_integer()) {
    return MakeError(ErrorCode::kCorruption, legacy + ": no version");
  }
  if (doc["version"].get<int64_t>() != kLegacyCatalogVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     legacy + ": catalog version " + doc["version"].dump());
  }
  return ParseTopics(doc, legacy);
}

Status SaveCatalog(io::FileSystem& fs, const std::string& dir, const TopicMap& topics) {
  json doc;
  doc["topics"] = json::object();
  for (const auto& [name, info] : topics) {
    json t = {{"partitions", info.partitions}, {"config", ConfigJson(info.config)}};
    if (!info.id.empty()) t["id"] = info.id;
    doc["topics"][name] = t;
  }
  const std::string text = doc.dump(2) + "\n";
  return segment::WriteSmallFile(fs, io::JoinPath(dir, kCatalogFile), CatalogKind(),
                                 base::AsBytes(text));
}

Result<PartitionMeta> DecodePartitionMetaPayload(const std::string& json_text,
                                                 const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("topic") || !doc["topic"].is_string() || !doc.contains("partition") ||
      !doc["partition"].is_number_integer() || !doc.contains("topic_id") ||
      !doc["topic_id"].is_string() || !doc.contains("config")) {
    return bad("missing or malformed fields");
  }
  PartitionMeta meta;
  meta.topic = doc["topic"].get<std::string>();
  if (!ValidateTopicName(meta.topic)) return bad("topic name is not valid");
  const auto partition = doc["partition"].get<int64_t>();
  if (partition < 0 || partition >= kMaxPartitions) return bad("partition number out of range");
  meta.partition = static_cast<int32_t>(partition);
  meta.topic_id = doc["topic_id"].get<std::string>();
  ASSIGN_OR_RETURN(meta.config, ParseConfig(doc["config"], path));
  return meta;
}

Result<PartitionMeta> LoadPartitionMeta(io::FileSystem& fs, const std::string& partition_dir) {
  const std::string path = io::JoinPath(partition_dir, kPartitionMetaFile);
  ASSIGN_OR_RETURN(auto file, segment::ReadSmallFile(fs, path, PartitionMetaKind()));
  return DecodePartitionMetaPayload(file.payload, path);
}

Status SavePartitionMeta(io::FileSystem& fs, const std::string& partition_dir,
                         const PartitionMeta& meta) {
  json doc = {{"topic", meta.topic},
              {"topic_id", meta.topic_id},
              {"partition", meta.partition},
              {"config", ConfigJson(meta.config)}};
  const std::string text = doc.dump(2) + "\n";
  return segment::WriteSmallFile(fs, io::JoinPath(partition_dir, kPartitionMetaFile),
                                 PartitionMetaKind(), base::AsBytes(text));
}

std::optional<PartitionDirName> ParsePartitionDirName(const std::string& name) {
  std::string rest = name;
  bool deleted = false;
  constexpr std::string_view kDeleted = ".deleted";
  if (rest.size() > kDeleted.size() &&
      rest.compare(rest.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    // "<topic>-<n>.<ms>.deleted"
    rest.resize(rest.size() - kDeleted.size());
    const size_t dot = rest.rfind('.');
    if (dot == std::string::npos) return std::nullopt;
    rest.resize(dot);
    deleted = true;
  }
  const size_t dash = rest.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size()) return std::nullopt;
  int32_t partition = -1;
  const char* first = rest.data() + dash + 1;
  const char* last = rest.data() + rest.size();
  auto [end, ec] = std::from_chars(first, last, partition);
  if (ec != std::errc() || end != last || partition < 0 || partition >= kMaxPartitions) {
    return std::nullopt;
  }
  // One spelling per number: "t-01" is not partition 1 of t.
  if (std::to_string(partition) != std::string(first, last)) return std::nullopt;
  std::string topic = rest.substr(0, dash);
  if (!ValidateTopicName(topic)) return std::nullopt;
  return PartitionDirName{std::move(topic), partition, deleted};
}

std::string PartitionDirFor(const std::string& topic, int32_t partition) {
  return topic + "-" + std::to_string(partition);
}

std::string NewTopicId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

}  // namespace sluice::engine
