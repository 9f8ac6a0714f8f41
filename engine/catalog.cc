#include "engine/catalog.h"

#include <nlohmann/json.hpp>

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

constexpr int kCatalogVersion = 1;
constexpr char kCatalogFile[] = "catalog.json";

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

Result<TopicMap> LoadCatalog(io::FileSystem& fs, const std::string& dir) {
  const std::string path = io::JoinPath(dir, kCatalogFile);
  ASSIGN_OR_RETURN(bool exists, fs.Exists(path));
  if (!exists) return TopicMap{};
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path));
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("version") || !doc["version"].is_number_integer()) return bad("no version");
  if (doc["version"].get<int>() > kCatalogVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     path + ": catalog version " + std::to_string(doc["version"].get<int>()));
  }
  if (!doc.contains("topics") || !doc["topics"].is_object()) return bad("no topics object");
  TopicMap topics;
  for (const auto& [name, t] : doc["topics"].items()) {
    if (!t.is_object() || !t.contains("partitions") || !t["partitions"].is_number_integer() ||
        !t.contains("config") || !t["config"].is_object()) {
      return bad("topic '" + name + "' is malformed");
    }
    TopicInfo info;
    info.name = name;
    info.partitions = t["partitions"].get<int32_t>();
    if (info.partitions < 1) return bad("topic '" + name + "' has no partitions");
    std::map<std::string, std::string> kv;
    for (const auto& [k, v] : t["config"].items()) {
      if (!v.is_string()) return bad("config '" + k + "' of topic '" + name + "' is not a string");
      kv[k] = v.get<std::string>();
    }
    auto config = ApplyConfig(TopicConfig{}, kv);
    if (!config) return bad("topic '" + name + "': " + config.error().context);
    info.config = *config;
    topics.emplace(name, std::move(info));
  }
  return topics;
}

Status SaveCatalog(io::FileSystem& fs, const std::string& dir, const TopicMap& topics) {
  json doc;
  doc["version"] = kCatalogVersion;
  doc["topics"] = json::object();
  for (const auto& [name, info] : topics) {
    json config = json::object();
    for (const auto& [k, v] : ConfigToMap(info.config)) config[k] = v;
    doc["topics"][name] = {{"partitions", info.partitions}, {"config", config}};
  }
  std::string text = doc.dump(2) + "\n";
  return io::WriteFileAtomic(fs, io::JoinPath(dir, kCatalogFile), base::AsBytes(text));
}

}  // namespace sluice::engine
